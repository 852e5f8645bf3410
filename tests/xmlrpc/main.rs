//! Interoperability of the xmlrpc lab with clients and servers no one here wrote: Python's
//! standard `xmlrpc.client.ServerProxy` and `SimpleXMLRPCServer` (through the peer in
//! tests/xmlrpc/peer.py) and `curl`. Needs `python3` and `curl` (.ci/run installs them).

use socklab::grader::{start_server, Program};

use std::process::{Command, Output};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xmlrpc/peer.py");
const SERVER: &str = env!("CARGO_BIN_EXE_xmlrpc_server");
const CLIENT: &str = env!("CARGO_BIN_EXE_xmlrpc_client");

fn rust_server(user: &str, password: &str) -> (Program, String) {
    start_server(Command::new(SERVER).args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--username",
        user,
        "--password",
        password,
    ]))
    .map(|(server, addr)| (server, addr.port().to_string()))
    .expect("the Rust server starts")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn python_server_proxy_calls_the_rust_server() {
    let (_server, port) = rust_server("user", "pass");
    let out = Command::new("python3")
        .args([PEER, "client", "127.0.0.1", &port, "user", "pass"])
        .output()
        .expect("python3 runs");
    let stdout = text(&out);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "echo: HELLO SERVER...",
        "multicall: FIRST | SECOND <&>",
        "methods: echo system.listMethods system.multicall",
        "fault: -32601",
        "wrong password: 401",
    ] {
        assert!(stdout.lines().any(|l| l == want), "no {want:?} in {stdout}");
    }
}

#[test]
fn curl_posts_a_call_file_to_the_rust_server() {
    let (_server, port) = rust_server("user", "pass");
    let dir = std::env::temp_dir().join(format!("socklab-xmlrpc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let request = dir.join("request.xml");
    std::fs::write(
        &request,
        "<?xml version=\"1.0\"?>\n<methodCall>\n  <methodName>echo</methodName>\n  <params><param><value><string>hello curl</string></value></param></params>\n</methodCall>\n",
    )
    .expect("write request.xml");
    let url = format!("http://127.0.0.1:{port}/");
    let data = format!("@{}", request.display());
    let curl = |auth: &str| {
        Command::new("curl")
            .args([
                "-s",
                "-m",
                "5",
                "-u",
                auth,
                "--data",
                &data,
                "-w",
                "\n%{http_code}",
                &url,
            ])
            .output()
            .expect("curl runs")
    };
    let ok = text(&curl("user:pass"));
    assert!(ok.contains("<string>HELLO CURL</string>"), "{ok}");
    assert!(ok.ends_with("\n200"), "{ok}");
    let refused = text(&curl("user:nope"));
    assert!(refused.ends_with("\n401"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rust_client_calls_python_simple_xmlrpc_server() {
    let (_server, addr) = start_server(Command::new("python3").args([
        PEER,
        "server",
        "127.0.0.1",
        "0",
        "user",
        "pass",
    ]))
    .expect("the Python server starts");
    let port = addr.port().to_string();
    let client = |password: &str| {
        Command::new(CLIENT)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--password",
                password,
            ])
            .output()
            .expect("the client runs")
    };
    let out = client("pass");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out),
        "Sending message to server: hello server...\nGot reply: HELLO SERVER...\n"
    );
    let refused = client("wrong");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("401"), "{}", text(&refused));
}
