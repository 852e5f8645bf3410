//! The chatroom hub outside the grader: clients written from the seed's Python client
//! (tests/peers/chatroom_seed_client.py, newline-framed) chat through it. Command-line mistakes
//! are tested for every program in tests/cli.rs. Needs `python3` (.ci/run installs it).

use socklab::grader::start_server;

use std::process::Command;

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/chatroom_seed_client.py"
);

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
