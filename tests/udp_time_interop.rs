//! Interoperability with the course's Python programs: the Rust time server answers a Python
//! client, and the Rust client reads a Python server's reply. Both sides speak the seed's wire
//! format; the Python peer is tests/peers/udp_time_peer.py. Needs `python3` (.ci/run installs it).

use socklab::grader::start_server;

use std::process::Command;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/udp_time_peer.py");

/// Runs a client to completion (it has its own timeouts) and returns its stdout.
fn run_client(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the client runs");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn python_client_talks_to_rust_server() {
    let rust = env!("CARGO_BIN_EXE_udp_time");
    let (_server, addr) = start_server(Command::new(rust).args(["server", "127.0.0.1", "0"]))
        .expect("the Rust server starts");
    let port = addr.port().to_string();
    let out = run_client(Command::new("python3").args([PEER, "client", "127.0.0.1", &port]));
    assert!(out.starts_with("The time is "), "{out}");
}

#[test]
fn rust_client_talks_to_python_server() {
    let (_server, addr) =
        start_server(Command::new("python3").args([PEER, "server", "127.0.0.1", "0"]))
            .expect("the Python server starts");
    let port = addr.port().to_string();
    let rust = env!("CARGO_BIN_EXE_udp_time");
    let out = run_client(Command::new(rust).args(["client", "127.0.0.1", &port, "-timeout", "2"]));
    assert!(out.starts_with("The time is "), "{out}");
}
