//! Helpers shared by the kit's integration tests (`mod common;` in each).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the child when the test ends, pass or fail.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server and returns it with the port from the last word of its first stdout line,
/// waiting at most 5 s. Its stdout is drained for as long as it runs: a server whose stdout
/// is full or closed cannot print.
pub fn start_server(cmd: &mut Command) -> (Killed, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
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
    (child, port)
}
