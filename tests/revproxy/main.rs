//! Interoperability of the revproxy lab with programs written as the course's students wrote
//! theirs (tests/revproxy/peer.py): a proxy that reads only `privPolyId` and
//! acknowledges, one that reads only `privPoliId`, sends ids as strings and reads replies until
//! the server closes; a server that waits for the acknowledgement and one that does not; a
//! client that reads its reply with one `recv(1024)`; a server whose reply copies the request's
//! `payloadsize` (relayed by our proxy, judged by the client's hash check). Our proxy, server
//! and client must work in every pairing with them, and with the course's packet file
//! (solutions/revproxy/1327.PP_2.json). Needs `python3` (.ci/run installs it).

use socklab::grader::{start_server, Program};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/revproxy/peer.py");
const PACKET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/solutions/revproxy/1327.PP_2");
const HASH: &str = "5d5b56e93d61c78d2c28d0f6b5cf45d196b825b6";
const ACK: &str = "Successfully setup with reverse proxy";
/// No program of a test may take longer than this to answer or end.
const LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
enum Proxy {
    Ours,
    PyPolyId,
    PyPoliId,
}

#[derive(Clone, Copy, Debug)]
enum Server {
    Ours,
    PyAck,
    PyNoAck,
    /// A server whose reply copies the request's payloadsize (as a real student's does).
    PyCopySize,
}

#[derive(Clone, Copy, Debug)]
enum Client {
    Ours,
    Py,
}

fn python(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(PEER).args(args);
    cmd
}

fn start_proxy(kind: Proxy) -> (Program, SocketAddr) {
    let mut cmd = match kind {
        Proxy::Ours => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_revproc"));
            cmd.args(["-port", "0", "-host", "127.0.0.1"]);
            cmd
        }
        Proxy::PyPolyId => python(&["proxy", "polyid"]),
        Proxy::PyPoliId => python(&["proxy", "poliid"]),
    };
    start_server(&mut cmd)
        .unwrap_or_else(|e| panic!("the {kind:?} proxy starts (python3 needed): {e}"))
}

/// Starts server `id` of PP_2 and waits until it has registered.
fn start_rp_server(kind: Server, id: &str, proxy: SocketAddr) -> Program {
    let port = proxy.port().to_string();
    let mut cmd = match kind {
        Server::Ours => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rp_server"));
            cmd.args(["-id", id, "-pp", "PP_2", "-listen", "0", "-revproc", &port])
                .args(["-revhost", "127.0.0.1", "-host", "127.0.0.1"]);
            cmd
        }
        Server::PyAck => python(&["server", "ack", id, "PP_2", &port]),
        Server::PyNoAck => python(&["server", "noack", id, "PP_2", &port]),
        Server::PyCopySize => python(&["server", "copysize", id, "PP_2", &port]),
    };
    let (server, _) =
        start_server(&mut cmd).unwrap_or_else(|e| panic!("the {kind:?} server starts: {e}"));
    // Registered: the acknowledgement printed, or that the setup went without one.
    server
        .expect_line("the registration", LIMIT, |l| {
            l.contains(ACK) || l.starts_with("Setup sent")
        })
        .unwrap_or_else(|e| panic!("the {kind:?} server registers: {e}; {}", server.stderr()));
    server
}

/// Runs client `id` with the course's packet and returns its output; it must exit 0.
fn run_client(kind: Client, id: &str, proxy: SocketAddr) -> Vec<String> {
    let port = proxy.port().to_string();
    let mut cmd = match kind {
        Client::Ours => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rp_client"));
            cmd.args([
                "-id",
                id,
                "-revproc",
                &port,
                "-pkt",
                PACKET,
                "-revhost",
                "127.0.0.1",
            ]);
            cmd
        }
        Client::Py => python(&["client", id, &port, &format!("{PACKET}.json")]),
    };
    let client =
        Program::start(&mut cmd).unwrap_or_else(|e| panic!("the {kind:?} client starts: {e}"));
    client
        .run_to_end(LIMIT)
        .unwrap_or_else(|e| panic!("the {kind:?} client: {e}; {}", client.stderr()))
}

/// Two servers of PP_2 behind the proxy, three clients: each is answered with the packet's
/// SHA-1, by servers 1, 2, 1 in turn.
fn pairing(proxy_kind: Proxy, server_kind: Server, client_kind: Client) {
    let what = format!("{proxy_kind:?} proxy, {server_kind:?} servers, {client_kind:?} client");
    let (_proxy, addr) = start_proxy(proxy_kind);
    let _servers: Vec<Program> = ["1", "2"]
        .iter()
        .map(|id| start_rp_server(server_kind, id, addr))
        .collect();
    let mut answered_by = Vec::new();
    for id in ["1327", "1328", "1329"] {
        let lines = run_client(client_kind, id, addr);
        assert!(
            lines.iter().any(|l| l.trim() == "Hash matched."),
            "{what}: client {id} printed {lines:?}"
        );
        let line = lines
            .iter()
            .find(|l| l.contains(HASH) && l.contains("from the server"))
            .unwrap_or_else(|| panic!("{what}: client {id} printed {lines:?}"));
        let server = line
            .split("server ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        answered_by.push(server);
    }
    assert_eq!(answered_by, ["1", "2", "1"], "{what}: round-robin");
}

#[test]
fn our_proxy_with_every_server_and_client() {
    for server in [
        Server::Ours,
        Server::PyAck,
        Server::PyNoAck,
        Server::PyCopySize,
    ] {
        for client in [Client::Ours, Client::Py] {
            pairing(Proxy::Ours, server, client);
        }
    }
}

#[test]
fn our_server_and_client_behind_the_students_proxies() {
    for proxy in [Proxy::PyPolyId, Proxy::PyPoliId] {
        for client in [Client::Ours, Client::Py] {
            pairing(proxy, Server::Ours, client);
        }
    }
}

#[test]
fn our_client_reads_the_students_error_object() {
    let (_proxy, addr) = start_proxy(Proxy::PyPolyId);
    let port = addr.port().to_string();
    let client = Program::start(Command::new(env!("CARGO_BIN_EXE_rp_client")).args([
        "-id",
        "5",
        "-revproc",
        &port,
        "-pkt",
        PACKET,
        "-revhost",
        "127.0.0.1",
    ]))
    .expect("the client starts");
    let (lines, status) = client.finish(LIMIT).expect("the client ends");
    assert_eq!(status.code(), Some(1), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("No server currently serving this privacy policy")),
        "{lines:?}"
    );
}

#[test]
fn the_course_packet_file_hashes_as_in_the_seed() {
    let (_proxy, addr) = start_proxy(Proxy::Ours);
    let _server = start_rp_server(Server::Ours, "2", addr);
    let lines = run_client(Client::Ours, "1327", addr);
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "Receiving a response from the server 2 payload: {HASH}"
        ))),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Hash matched."),
        "{lines:?}"
    );
}

/// The commands of the handout's "Running it" section (`cargo run --bin NAME -- ARGS`), each as
/// (program, arguments).
fn handout_commands(readme: &str, section: &str) -> Vec<(String, Vec<String>)> {
    let start = readme
        .find(section)
        .unwrap_or_else(|| panic!("the handout has a section {section:?}"));
    let body = &readme[start + section.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("cargo run --bin "))
        .map(|l| {
            let (bin, args) = l
                .split_once(" -- ")
                .expect("`cargo run --bin NAME -- ARGS`");
            let args = args.split_whitespace().map(str::to_string).collect();
            (bin.trim().to_string(), args)
        })
        .collect()
}

/// The handout's commands work as written, from the top of the kit: the proxy and the server
/// start (the server registers), and the client prints `Hash matched.` and ends.
#[test]
fn the_handouts_commands_run_as_written() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/solutions/revproxy/README.md"
    ))
    .expect("the handout");
    let commands = handout_commands(&readme, "## Running it\n");
    let names: Vec<&str> = commands.iter().map(|(bin, _)| bin.as_str()).collect();
    assert_eq!(names, ["revproc", "rp_server", "rp_client"], "{commands:?}");
    let command = |i: usize| {
        let (bin, args) = &commands[i];
        let exe = match bin.as_str() {
            "revproc" => env!("CARGO_BIN_EXE_revproc"),
            "rp_server" => env!("CARGO_BIN_EXE_rp_server"),
            _ => env!("CARGO_BIN_EXE_rp_client"),
        };
        let mut cmd = Command::new(exe);
        cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
        cmd
    };
    let (_proxy, _) = start_server(&mut command(0)).expect("the handout's proxy starts");
    let (server, _) = start_server(&mut command(1)).expect("the handout's server starts");
    server
        .expect_line("the acknowledgement", LIMIT, |l| l.contains(ACK))
        .expect("the handout's server registers");
    let client = Program::start(&mut command(2)).expect("the handout's client starts");
    let lines = client
        .run_to_end(LIMIT)
        .unwrap_or_else(|e| panic!("the handout's client: {e}; {}", client.stderr()));
    assert!(lines.iter().any(|l| l == "Hash matched."), "{lines:?}");
}
