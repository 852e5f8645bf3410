//! The chat programs with `--wire seed` against the course's own programs, written from its
//! protocol (tests/chat/seed.py): our server with its clients, our clients with its
//! server, chat through the server and peer-to-peer over UDP; and our server's bytes are the
//! course's. Clients stand on 127.0.0.11 and 127.0.0.12 and servers on 127.0.0.3, loopback
//! stand-ins for the course's hosts. Needs `python3` (.ci/run installs it).

use socklab::grader::{start_server, Program, WAIT};

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chat/seed.py");
const SERVER_IP: &str = "127.0.0.3";
const AMY: &str = "127.0.0.11";
const BEN: &str = "127.0.0.12";

/// A UDP port free on both clients' addresses right now.
fn free_udp_port() -> u16 {
    for _ in 0..20 {
        let a = UdpSocket::bind((AMY, 0)).unwrap();
        let port = a.local_addr().unwrap().port();
        if UdpSocket::bind((BEN, port)).is_ok() {
            return port;
        }
    }
    panic!("no UDP port free on both {AMY} and {BEN}");
}

fn seed_client(server: &str, port: u16, name: &str, ip: &str, udp: u16) -> Program {
    let mut cmd = Command::new("python3");
    cmd.args(["-u", SEED, "client", server, &port.to_string(), name, ip])
        .arg(udp.to_string());
    Program::start(&mut cmd).expect("python3 runs the course's client")
}

fn our_client(server: &str, port: u16, name: &str, ip: &str, udp: u16) -> Program {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatclient"));
    cmd.args([
        "--server",
        server,
        "--port",
        &port.to_string(),
        "--name",
        name,
    ])
    .args([
        "--bind",
        ip,
        "--udp-port",
        &udp.to_string(),
        "--wire",
        "seed",
    ]);
    Program::start(&mut cmd).expect("the client starts")
}

/// Waits for a printed line that `want` accepts.
fn sees(who: &Program, what: &str, want: impl Fn(&str) -> bool) {
    if let Err(e) = who.expect_line(what, WAIT, want) {
        panic!("{}: {e}\n{}", who.label(), who.stderr());
    }
}

/// Asks `who` for its user list (`#ls`) until it lists `name`.
fn waits_for_user(who: &mut Program, name: &str) {
    let deadline = Instant::now() + WAIT;
    let listed = format!("\"{name}\"");
    while Instant::now() < deadline {
        who.send_line("#ls").unwrap();
        let shown = who.expect_line("the user list", Duration::from_millis(500), |l| {
            l.starts_with('{')
        });
        if shown.is_ok_and(|l| l.contains(&listed)) {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("{} never listed {name}\n{}", who.label(), who.stderr());
}

/// amy and ben chat through the server at port and over UDP; each made by `start`.
fn chat_both_ways(port: u16, start: impl Fn(&str, u16, &str, &str, u16) -> Program) {
    let udp = free_udp_port();
    let mut amy = start(SERVER_IP, port, "amy", AMY, udp);
    waits_for_user(&mut amy, "amy");
    let mut ben = start(SERVER_IP, port, "ben", BEN, udp);
    waits_for_user(&mut amy, "ben");
    waits_for_user(&mut ben, "amy");
    amy.send_line("hello room").unwrap();
    // The course's server adds a space after the text.
    sees(&ben, "amy's message with the seed's trailing space", |l| {
        l == "incoming msg from chatserver (amy: hello room )"
    });
    ben.send_line("@amy: psst").unwrap();
    sees(&amy, "ben's P2P message", |l| l.ends_with("from ben: psst"));
}

#[test]
fn seed_mode_server_serves_the_courses_clients() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatserver"));
    cmd.args(["--host", SERVER_IP, "--port", "0", "--wire", "seed"]);
    let (_server, addr) = start_server(&mut cmd).expect("the server starts");
    chat_both_ways(addr.port(), seed_client);
}

#[test]
fn seed_mode_clients_talk_through_the_courses_server() {
    let mut cmd = Command::new("python3");
    cmd.args(["-u", SEED, "server", SERVER_IP]);
    let (_server, addr) = start_server(&mut cmd).expect("python3 runs the course's server");
    chat_both_ways(addr.port(), our_client);
}

#[test]
fn seed_mode_server_sends_the_courses_bytes() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatserver"));
    cmd.args(["--host", SERVER_IP, "--port", "0", "--wire", "seed"]);
    let (_server, addr) = start_server(&mut cmd).expect("the server starts");
    let mut zed = TcpStream::connect(addr).unwrap();
    zed.set_read_timeout(Some(WAIT)).unwrap();
    zed.write_all(b"zed").unwrap();
    let mut buf = [0u8; 1024];
    let n = zed.read(&mut buf).unwrap();
    // No OK, no newline; json.dumps' separators.
    assert_eq!(&buf[..n], b"!{\"zed\": \"127.0.0.1\"}");
    // A taken name is refused with its reason, and the connection closes.
    let mut again = TcpStream::connect(addr).unwrap();
    again.set_read_timeout(Some(WAIT)).unwrap();
    again.write_all(b"zed").unwrap();
    let mut refused = Vec::new();
    again.read_to_end(&mut refused).unwrap();
    assert_eq!(refused, b"ERR the name zed is taken");
}
