//! The chatroom programs outside the grader. Default mode: clients written from the seed's
//! Python client with newlines added (tests/chatroom/seed_client.py) chat through the hub.
//! `--wire seed`: the hub and client talk to the seed's own programs
//! (tests/chatroom/seed.py) in both directions, and the hub's bytes are the seed's.
//! Command-line mistakes are tested for every program in tests/cli.rs. Needs `python3`
//! (.ci/run installs it).

use socklab::grader::{start_server, Program, WAIT};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chatroom/seed_client.py");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chatroom/seed.py");

#[test]
fn seed_style_python_clients_chat_through_the_rust_hub() {
    let (_server, addr) = start_server(Command::new(env!("CARGO_BIN_EXE_chatroom_server")).args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]))
    .expect("the hub starts");
    let port = addr.port().to_string();
    let out = Command::new("python3")
        .args([PEER, "127.0.0.1", &port])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim() == "ok",
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// --wire seed.

/// The seed's client (Python), joined to the hub at `addr` as `nickname`.
fn seed_client(addr: SocketAddr, nickname: &str) -> Program {
    let port = addr.port().to_string();
    let mut cmd = Command::new("python3");
    cmd.args(["-u", SEED, "client", "127.0.0.1", &port, nickname]);
    Program::start(&mut cmd).expect("python3 runs the seed's client")
}

/// Our client in seed mode, joined to the hub at `addr` as `nickname`.
fn our_client(addr: SocketAddr, nickname: &str) -> Program {
    let port = addr.port().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatroom_client"));
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--nickname",
        nickname,
    ]);
    Program::start(cmd.args(["--wire", "seed"])).expect("the client starts")
}

/// Waits for a printed line holding `text` (in seed mode two messages may share a line).
fn sees(who: &Program, text: &str) {
    let found = who.expect_line(&format!("a line holding {text:?}"), WAIT, |l| {
        l.contains(text)
    });
    if let Err(e) = found {
        panic!("{}: {e}\n{}", who.label(), who.stderr());
    }
}

#[test]
fn seed_mode_hub_serves_the_seeds_clients() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatroom_server"));
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--wire", "seed"]);
    let (_server, addr) = start_server(&mut cmd).expect("the hub starts");
    let amy = seed_client(addr, "amy");
    sees(&amy, "Connected to server!");
    let mut ben = seed_client(addr, "ben");
    sees(&ben, "Connected to server!");
    sees(&amy, "ben joined!");
    ben.send_line("hello amy").unwrap();
    sees(&amy, "ben: hello amy");
    ben.send_line("@amy just for you").unwrap();
    sees(&amy, "ben: @amy just for you");
    ben.close_stdin();
    sees(&amy, "ben left!");
}

#[test]
fn seed_mode_client_talks_to_the_seeds_hub() {
    let mut cmd = Command::new("python3");
    cmd.args(["-u", SEED, "server"]);
    let (_hub, addr) = start_server(&mut cmd).expect("python3 runs the seed's hub");
    let mut amy = our_client(addr, "amy");
    sees(&amy, "Connected to server!");
    let mut ben = seed_client(addr, "ben");
    sees(&ben, "Connected to server!");
    sees(&amy, "ben joined!");
    ben.send_line("hi amy").unwrap();
    sees(&amy, "ben: hi amy");
    amy.send_line("hello ben").unwrap();
    sees(&ben, "amy: hello ben");
}

/// Everything the hub sends within `quiet` of the last byte, or `within` in all.
fn read_all(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn seed_mode_hub_sends_the_seeds_bytes() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatroom_server"));
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--wire", "seed"]);
    let (_server, addr) = start_server(&mut cmd).expect("the hub starts");
    let mut amy = TcpStream::connect(addr).unwrap();
    assert_eq!(read_all(&mut amy, WAIT), b"NICKNAME");
    amy.write_all(b"amy").unwrap();
    assert_eq!(
        read_all(&mut amy, WAIT),
        b"amy joined!Connected to server!",
        "two messages, no newline (they may come in one read or two)"
    );
    amy.write_all(b"amy: hello").unwrap();
    assert_eq!(read_all(&mut amy, WAIT), b"amy: hello");
    // The rules hold in seed mode too: the server writes the sender's name itself...
    amy.write_all(b"ben: I quit").unwrap();
    assert_eq!(read_all(&mut amy, WAIT), b"amy: ben: I quit");
    // ...and a taken nickname is refused, then asked for again.
    let mut other = TcpStream::connect(addr).unwrap();
    assert_eq!(read_all(&mut other, WAIT), b"NICKNAME");
    other.write_all(b"amy").unwrap();
    let refused = read_all(&mut other, WAIT);
    assert!(
        refused.starts_with(b"ERROR ")
            && refused.ends_with(b"NICKNAME")
            && !refused.contains(&b'\n'),
        "{}",
        String::from_utf8_lossy(&refused)
    );
}
