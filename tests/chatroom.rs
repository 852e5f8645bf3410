//! The chatroom lab's programs outside the grader: clients written from the seed's Python client
//! (tests/peers/chatroom_seed_client.py, newline-framed) chat through the Rust hub, and both
//! programs handle command-line mistakes the kit's way. Needs `python3` (.ci/run installs it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/chatroom_seed_client.py"
);

/// Kills the child when the test ends, pass or fail.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn seed_style_python_clients_chat_through_the_rust_hub() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatroom_server"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let _server = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading: a server whose stdout is full cannot print.
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("a first line within 5 s");
    let port = first
        .trim()
        .rsplit(':')
        .next()
        .expect("IP:PORT")
        .to_string();
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

#[test]
fn command_line_mistakes_exit_2_with_one_line_and_usage() {
    let server = env!("CARGO_BIN_EXE_chatroom_server");
    let client = env!("CARGO_BIN_EXE_chatroom_client");
    for (bin, args) in [
        (server, &["--port", "notaport"][..]),
        (server, &["extra"]),
        (server, &["--bogus"]),
        (client, &["--port", "70000"]),
        (client, &["somewhere"]),
    ] {
        let out = Command::new(bin).args(args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("Usage:"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    for bin in [server, client] {
        let help = Command::new(bin).arg("-h").output().expect("runs");
        assert_eq!(help.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&help.stdout).contains("--port"));
    }
}
