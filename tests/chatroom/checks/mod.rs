//! Checks for lab `chatroom`: the chat-room hub and its client. The hub is tested with several
//! clients at once, written here as netcat users would type (`server.rs`); the built client is
//! driven through its stdin against a hub written here (`client.rs`); `questions.rs` asks about
//! a capture of both. This file registers the checks and holds what the parts share: joining the
//! room, waiting for the join notices, and reading the client's output.

use socklab::grader::{Check, Ctx, Lab, LinePeer, Program, WAIT};
use std::net::SocketAddr;

mod client;
mod questions;
mod seed;
mod server;

use client::{
    client_prints, client_prompts, client_retries_nickname, client_sends, client_server_closes,
    client_with_server,
};
use server::{
    abrupt_leave, accept_fails, no_thread, bad_lines, broadcast, clients_at_once, exact_target, exactly_once, gives_up,
    handshake, join_notices, leave_closes, leave_notice, nickname_rules, no_impersonation,
    private_message, server_log, stuck_client, unknown_target,
};

const SERVER: &str = "chatroom_server";
const CLIENT: &str = "chatroom_client";

pub fn lab() -> Lab {
    Lab::new(
        "chatroom",
        "TCP chat room with private messages",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 accept and handshake", "sends NICKNAME, then `Connected to server!` for a good nickname", 2,
                "Accept in a loop, one thread per client (handle_client: writer thread, handshake; check_nickname judges the name). The welcome follows the `NAME joined!` broadcast, so Room::broadcast is needed too.", handshake).across_hosts(),
            Check::new("1 accept and handshake", "serves several clients at once", 2,
                "One thread per client: while one client has not answered NICKNAME yet, the others must be served.", clients_at_once).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("1 accept and handshake", "refuses bad or taken nicknames with `ERROR …`, then asks again", 1,
                "check_nickname says why a name is refused (empty, too long, a character nick_char refuses); the given handshake() refuses a taken name and asks again.", nickname_rules).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("1 accept and handshake", "gives up on a connection after 5 refused nicknames", 1,
                "The given handshake() says goodbye after NICK_TRIES refusals; your cleanup must then let the writer send it and close the socket.", gives_up).needs(&["refuses bad or taken nicknames with `ERROR …`, then asks again"]).across_hosts(),
            Check::new("1 accept and handshake", "out of file descriptors: each failed accept is logged, and the server keeps trying", 1,
                "A failed accept is no reason to stop: the given accept_failed logs it and pauses; then the loop goes on.", accept_fails).needs(&["serves several clients at once"]),
            Check::new("1 accept and handshake", "a client that gets no thread is logged, and the server goes on", 1,
                "What does thread::spawn do when no thread can start, and what does std::thread::Builder offer instead? Log the failure, then accept the next client.", no_thread).needs(&["serves several clients at once"]),
            Check::new("2 join notices", "everyone, the newcomer included, gets `NAME joined!`", 2,
                "After the handshake, room.broadcast `NAME joined!`: broadcast must reach every member.", join_notices).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("2 join notices", "the server prints `Connected with ADDR` and `Client name is NAME`", 1,
                "Print `Connected with ADDR` in the accept loop; the rest is printed by the given code.", server_log).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("3 broadcast", "a chat line reaches every client, the sender included, as `NAME: text`", 3,
                "Read lines in the client's thread and pass them to chat(); broadcast offers the line to every member.", broadcast).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("3 broadcast", "no client can speak as another (the server writes `NAME: `)", 1,
                "chat() builds `NAME: text` from the nickname registered for the connection: take off the sender's own prefix only, never relay the raw line.", no_impersonation).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("3 broadcast", "lines from several clients arrive exactly once, each sender's in order", 2,
                "Each client's writer thread sends its queue in order; never drop or repeat a line.", exactly_once).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("3 broadcast", "survives lines over 4 KiB and invalid UTF-8 without relaying them", 2,
                "A bad line is answered and survived (handout: \"What this version fixes\", 5): which ReadError ends a connection, and which does not?", bad_lines).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("3 broadcast", "a client that never reads is disconnected; the room goes on", 2,
                "Queue lines with try_send (offer): a full queue means a stuck client, which leaves the room.", stuck_client)
                .limit(25).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("4 private messages", "`@NAME text` goes to NAME only", 3,
                "A line naming `@NAME` reaches NAME only: which given function finds the target, and which Room method reaches one member?", private_message).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("4 private messages", "`@bob` is for bob only, never for bobby (the whole nickname must match)", 1,
                "unicast looks the target up by its whole nickname; a name that only starts the same is someone else.", exact_target).needs(&["`@NAME text` goes to NAME only"]).across_hosts(),
            Check::new("4 private messages", "`@NAME` of no one here: an `ERROR …` line to the sender only", 2,
                "An unknown `@NAME` is answered to the sender only (handout: \"What this version fixes\", 6): what does unicast tell you?", unknown_target).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("5 leave notices", "a client that leaves: `NAME left!` to everyone, and the name is free again", 2,
                "When the client's stream ends, the room must lose it and hear `NAME left!` (handout: How the server is built, Cleanup).", leave_notice).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("5 leave notices", "a connection cut in the middle of a line: `NAME left!`, the room goes on", 2,
                "A connection cut in the middle of a line is a departure too: what does your read loop do with an I/O error?", abrupt_leave).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("5 leave notices", "the server closes its side of a connection the client ended", 1,
                "When a client's stream ends, its cleanup must let its writer thread end too (what does the writer wait for?), so that the socket is closed.", leave_closes).needs(&["sends NICKNAME, then `Connected to server!` for a good nickname"]).across_hosts(),
            Check::new("6 client", "asks `Enter server IP address:` and `Choose your nickname:`, then joins", 2,
                "Connect to (host, port); the given handshake answers NICKNAME with the nickname.", client_prompts).across_hosts(),
            Check::new("6 client", "sends each typed line as `NAME: text` (`@NAME text` too)", 2,
                "Each typed line goes to the server in the form the handout's protocol shows for a chat line.", client_sends).needs(&["asks `Enter server IP address:` and `Choose your nickname:`, then joins"]).across_hosts(),
            Check::new("6 client", "prints every line the server sends", 2,
                "A receiver thread reads lines from the server and prints each one.", client_prints).needs(&["asks `Enter server IP address:` and `Choose your nickname:`, then joins"]).across_hosts(),
            Check::new("6 client", "asks for another nickname when the server refuses one", 1,
                "In the client's handshake, after an `ERROR …` line the next NICKNAME must be answered with a nickname asked from the user again.", client_retries_nickname).needs(&["asks `Enter server IP address:` and `Choose your nickname:`, then joins"]).across_hosts(),
            Check::new("6 client", "says `The server closed the connection.` and ends when the server closes", 1,
                "In the receiver thread, the end of the stream (or an error) ends the loop.", client_server_closes).needs(&["asks `Enter server IP address:` and `Choose your nickname:`, then joins"]).across_hosts(),
            Check::new("6 client", "your client and your server: two users chat", 1,
                "Run both by hand: chatroom_server --port 3040, then chatroom_client --host 127.0.0.1.", client_with_server).needs(&["asks `Enter server IP address:` and `Choose your nickname:`, then joins", "a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("3 broadcast", "`--wire seed`: the server speaks the seed's bytes, one message per write", 1,
                "In seed mode a message has no newline and one read is one message: read with read_message(…, room.wire), and let the writer thread frame with room.wire.", seed::seed_server).needs(&["a chat line reaches every client, the sender included, as `NAME: text`"]).across_hosts(),
            Check::new("6 client", "`--wire seed`: the client sends its nickname and each line in one write, without a newline", 1,
                "Send every message with write_message(…, wire): one write, framed as --wire says.", seed::seed_client).needs(&["sends each typed line as `NAME: text` (`@NAME text` too)"]).across_hosts(),
    ])
    .questions(&questions::QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// Shared by the parts.

/// Connects to the server at `addr` as `name` (not joined yet); a failure says whether the
/// server crashed.
fn connect(server: &Program, addr: SocketAddr, name: &str) -> Result<LinePeer, String> {
    LinePeer::connect(addr, name).map_err(|e| server.explain(e))
}

/// Connects and joins as `name`: NICKNAME, the nickname, then `Connected to server!`.
fn join(server: &Program, addr: SocketAddr, name: &str) -> Result<LinePeer, String> {
    let mut peer = connect(server, addr, name)?;
    let joined = peer
        .expect_next("NICKNAME")
        .and_then(|()| peer.send(name))
        .and_then(|()| peer.expect_line("Connected to server!"));
    joined.map_err(|e| server.explain(e))?;
    Ok(peer)
}

/// Starts the server on its host (127.0.0.1 on loopback; webserver across netlab's hosts,
/// where the test clients connect from client1) and a port the OS picks.
fn start_server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start_server_with(ctx, &[])
}

/// The same with more options (`--wire seed`).
fn start_server_with(ctx: &Ctx, more: &[&str]) -> Result<(Program, SocketAddr), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let mut args = vec!["--host", &host, "--port", "0"];
    args.extend_from_slice(more);
    ctx.start_server(SERVER, &args)
}

/// A server and `names.len()` clients joined in order.
fn room(ctx: &Ctx, names: &[&str]) -> Result<(Program, SocketAddr, Vec<LinePeer>), String> {
    let (server, addr) = start_server(ctx)?;
    let mut peers = Vec::new();
    for name in names {
        peers.push(join(&server, addr, name)?);
    }
    Ok((server, addr, peers))
}

/// After everyone has joined, reads each one's join notices so the next lines are fresh.
fn settle(peers: &mut [LinePeer]) -> Result<(), String> {
    let last = peers
        .last()
        .map(|p| p.who().to_string())
        .unwrap_or_default();
    let len = peers.len();
    for peer in &mut peers[..len.saturating_sub(1)] {
        peer.expect_line(&format!("{last} joined!"))?;
    }
    Ok(())
}

/// Waits for a line of the client's output that contains `text`.
fn printed(client: &Program, what: &str, text: &str) -> Result<(), String> {
    client
        .expect_line(what, WAIT, |l| l.contains(text))
        .map(|_| ())
        .map_err(|e| client.explain(e))
}
