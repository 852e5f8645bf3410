//! Interoperability with the course's Python programs: the Rust time server answers a Python
//! client, and the Rust client reads a Python server's reply. Both sides speak the seed's wire
//! format; the Python peer is tests/udp-time/peer.py. Needs `python3` (.ci/run installs it).

use socklab::grader::start_server;

use std::process::Command;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/udp-time/peer.py");

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

/// The commands of the handout's "Running it" section work as written, from the top of the kit:
/// the server starts, and each client command prints the time (or the statistics) and ends.
#[test]
fn the_handouts_commands_run_as_written() {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/solutions/udp-time/README.md"
    ))
    .expect("the handout");
    let section = "## Running it\n";
    let body = &readme[readme.find(section).expect("a section Running it") + section.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let commands: Vec<Vec<&str>> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("cargo run --bin udp_time -- "))
        .map(|args| args.split_whitespace().collect())
        .collect();
    assert_eq!(commands.len(), 3, "{commands:?}");
    let rust = env!("CARGO_BIN_EXE_udp_time");
    let scratch = std::env::temp_dir().join(format!("udp-time-handout-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    assert_eq!(commands[0][0], "server", "{commands:?}");
    let (_server, _) = start_server(Command::new(rust).args(&commands[0]).current_dir(&scratch))
        .expect("the handout's server starts");
    let time = run_client(Command::new(rust).args(&commands[1]).current_dir(&scratch));
    assert!(time.starts_with("The time is "), "{time}");
    let stats = run_client(Command::new(rust).args(&commands[2]).current_dir(&scratch));
    assert!(stats.starts_with("sent 100, answered "), "{stats}");
    let _ = std::fs::remove_dir_all(&scratch);
}
