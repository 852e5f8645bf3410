//! Checks for lab `chat`: the TCP chat server with its active-user list, the client that also
//! talks peer-to-peer over UDP, and sign-up/login (delivery Q2).
//!
//! The server is tested with clients written here; the built client is driven through its
//! stdin against a server written here, with peers on their own loopback addresses
//! (127.0.N.x: Linux routes all of 127.0.0.0/8 to loopback). Each check has its own N, and the
//! UDP port is one the system just found free, so checks running at once never meet. Across
//! netlab's hosts (`grade --net`: every check but the capture questions) the student's
//! programs run on webserver and the grader's peers on client1 and client2 ([`peer_ip`],
//! `client::at`).
//!
//! This file holds the lab's entry in the registry and what the checks share: addresses, the
//! chat protocol spoken over a [`LinePeer`] (the `!{…}` user list, the `OK`/`ERR` answer,
//! joining) and starting the client. The checks themselves are one file per milestone:
//! `server.rs` (1), `client.rs` (2), `questions.rs` (4, on captures), `accounts.rs` (Q2).

mod accounts;
mod client;
mod questions;
mod seed;
mod server;

use socklab::grader::{hosts, secs, Check, Context, Ctx, Lab, LinePeer, Program, WAIT};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

const SERVER: &str = "chatserver";
const CLIENT: &str = "chatclient";
const PROMPT: &str = "First enter your name to register it in the server";

pub fn lab() -> Lab {
    Lab::new(
        "chat",
        "Chat server with active users, peer-to-peer client, sign-up and login",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 server", "prints its real address at the end of its first line", 1,
                "Bind the listening socket first, then print listener.local_addr(): with --port 0 the OS picks the port.", server::prints_address).across_hosts(),
            Check::new("1 server", "without --host, listens on every interface of its host", 1,
                "Look at what --host defaults to, and at the address you bind: clients on other hosts must reach you too.", server::listens_everywhere).across_hosts(),
            Check::new("1 server", "registers names and sends everyone `!` + the JSON map name → IP", 3,
                "The first message is the name (handout: The protocol); once it joins, every client is sent the map, which Hub::queue_all queues.", server::registers).across_hosts(),
            Check::new("1 server", "relays a chat line to every other client as `NAME: text`", 3,
                "The server writes the `NAME: ` prefix itself, and the sender does not get its own line back (handout: The protocol).", server::relays).needs(&["registers names and sends everyone `!` + the JSON map name → IP"]).across_hosts(),
            Check::new("1 server", "announces departures, clean or abrupt, with the updated map", 2,
                "Every way a connection ends (a clean close, a reset) must reach the same clean-up at the end of handle_client: what does your read loop do with an error?", server::departures).needs(&["registers names and sends everyone `!` + the JSON map name → IP"]).across_hosts(),
            Check::new("1 server", "refuses empty, long, spaced, @/: and taken names with `ERR reason`", 2,
                "check_name says why a name breaks the rules (length, spaces and control characters, @ and :, a leading ! or #); join() refuses a taken one.", server::refuses_names).needs(&["registers names and sends everyone `!` + the JSON map name → IP"]).across_hosts(),
            Check::new("1 server", "a client that has not sent its name yet does not hold up the others", 1,
                "Registration happens in the client's own thread: the accept loop must go back to accept at once.", server::serves_at_once).needs(&["registers names and sends everyone `!` + the JSON map name → IP"]).across_hosts(),
            Check::new("1 server", "`--wire seed`: the course's bytes (no OK, Python's map, `NAME: text `), one message per write", 1,
                "In seed mode every message is one read and one write: read with read_message(…, wire) and let the writer frame with wire.", seed::seed_server).needs(&["relays a chat line to every other client as `NAME: text`"]).across_hosts(),
            Check::new("1 server", "a client that never reads does not stall the others", 2,
                "Relaying must never wait for one client (handout: \"What the seed got wrong\"): what does Hub::send answer for a full queue, and what becomes of that client?", server::slow_client).limit(20).needs(&["relays a chat line to every other client as `NAME: text`"]).across_hosts(),
            Check::new("1 server", "a client that gets no thread is logged, and the server goes on", 1,
                "What does thread::spawn do when no thread can start, and what does std::thread::Builder offer instead? Log the failure, then accept the next client.", server::no_thread).needs(&["a client that has not sent its name yet does not hold up the others"]),
            Check::new("1 server", "survives an overlong line and invalid UTF-8", 1,
                "read_message gives a ReadError for a line over MAX_LINE or not UTF-8: which ones spoil one line only? Log those and keep reading.", server::survives_garbage).needs(&["registers names and sends everyone `!` + the JSON map name → IP"]).across_hosts(),
            Check::new("2 client", "asks for a name with the seed's prompt and sends it first", 2,
                "Resolve the server, connect, then send the name typed at the prompt as the first line.", client::prompt).across_hosts(),
            Check::new("2 client", "prints room messages as `incoming msg from chatserver (…)`", 2,
                "In receive_tcp, read lines; `!` lines update the active users, the rest are printed.", client::room_messages).needs(&["asks for a name with the seed's prompt and sends it first"]).across_hosts(),
            Check::new("2 client", "sends a typed line to the room over TCP", 2,
                "A line that is neither `#ls` nor `@NAME: …` is for the room (handout: The protocol).", client::sends_to_room).needs(&["asks for a name with the seed's prompt and sends it first"]).across_hosts(),
            Check::new("2 client", "`#ls` prints the active users from the last `!` map", 1,
                "Each `!` line replaces the whole map (update); #ls prints the latest one.", client::lists_users).needs(&["prints room messages as `incoming msg from chatserver (…)`"]).across_hosts(),
            Check::new("2 client", "`@NAME: text` goes over UDP to NAME's IP, from the shared port", 3,
                "Every client listens for UDP on the same port (handout: The protocol, Peer-to-peer): from which socket, and to which address, does the datagram go?", client::sends_p2p).needs(&["prints room messages as `incoming msg from chatserver (…)`"]).across_hosts(),
            Check::new("2 client", "prints P2P datagrams with the sender's name, or Non-registered", 2,
                "The sender's name comes from the datagram's source IP and the active users (handout: Peer-to-peer): what does UdpSocket give besides the bytes?", client::receives_p2p).needs(&["prints room messages as `incoming msg from chatserver (…)`"]).across_hosts(),
            Check::new("2 client", "`@NAME` for someone not in the map prints `NAME is not registered`", 1,
                "Look the name up in the active users before sending; no entry, no datagram.", client::unknown_user).needs(&["prints room messages as `incoming msg from chatserver (…)`"]).across_hosts(),
            Check::new("2 client", "a P2P message the system refuses to send is logged, and the client goes on", 1,
                "send_to can fail (a broadcast address, for one): what becomes of its error? The user must hear of it, and the client must go on.", client::p2p_send_fails).needs(&["`@NAME: text` goes over UDP to NAME's IP, from the shared port"]).across_hosts(),
            Check::new("2 client", "`--wire seed`: the name and each typed line in one write, without a newline", 1,
                "Send every message with write_message(…, wire): one write, framed as --wire says.", seed::seed_client).needs(&["sends a typed line to the room over TCP"]).across_hosts(),
            Check::new("2 client", "two built clients chat through the built server, and P2P", 2,
                "Run it by hand: one server and two clients with --bind 127.0.0.2 and 127.0.0.3.", client::end_to_end).limit(15).needs(&["relays a chat line to every other client as `NAME: text`", "sends a typed line to the room over TCP"]).across_hosts(),
            Check::new("2 client", "no server at the address: says it cannot connect and exits non-zero", 1,
                "A failed connect is an error: return it (the given code names the server in the message).", client::no_server).needs(&["asks for a name with the seed's prompt and sends it first"]).across_hosts(),
            Check::new("2 client", "two clients with one --bind address (and two P2P ports) both connect", 1,
                "--bind chooses the TCP socket's address, not its port: two clients on one address need two ports. Which port lets the system choose?", client::two_on_one_address).needs(&["asks for a name with the seed's prompt and sends it first"]).across_hosts(),
            Check::new("2 client", "a --bind address or UDP port it cannot use is an error, not ignored", 1,
                "Every socket call can fail: what do your bind calls do with their errors?", client::refuses_unusable_addresses).across_hosts(),
    ])
    .questions(&questions::QUESTIONS)
    .checks(vec![
            Check::new("Q2 accounts", "SIGNUP creates an account and joins; LOGIN joins again later", 2,
                "With --users, the first line is SIGNUP NAME PASSWORD or LOGIN NAME PASSWORD; answer OK or ERR.", accounts::signup_then_login).limit(15).across_hosts(),
            Check::new("Q2 accounts", "the client signs up with --signup and logs in with --password", 1,
                "The client sends SIGNUP or LOGIN with the name and password instead of the bare name.", accounts::client_signs_up_and_logs_in).limit(15).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "refuses a wrong password and an unknown user", 2,
                "log_in compares the PBKDF2 hash in constant time; ERR says why.", accounts::refuses_bad_logins).limit(15).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "refuses a taken name, a second login and malformed requests", 2,
                "sign_up refuses an existing account; join refuses a name already in the room.", accounts::refuses_taken_and_malformed).limit(15).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "closes the connection after 3 failed attempts", 1,
                "The given register() gives up after MAX_ATTEMPTS refusals: your blanks must let it read each try and close the connection afterwards.", accounts::closes_after_failures).across_hosts(),
            Check::new("Q2 accounts", "of racing sign-ups for one name exactly one wins", 2,
                "Of two sign-ups racing for one name exactly one wins (handout: \"One winner\"): how long must the accounts lock be held?", accounts::signup_race).limit(20).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "accounts survive a killed server", 2,
                "A killed server restarts with every account it confirmed (handout: \"Crash-safe file\").", accounts::survive_a_killed_server).limit(20).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "a sign-up that cannot be saved is refused and makes no account", 1,
                "OK only once the file is on disk; a sign-up that could not be saved leaves no account behind, not even in memory.", accounts::unsaved_signup_refused).limit(15).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "the users file holds a salted PBKDF2 hash, never the password", 2,
                "Store salt, iterations and PBKDF2-HMAC-SHA256(password, salt): never the password.", accounts::no_password_in_file).limit(15).needs(&["SIGNUP creates an account and joins; LOGIN joins again later"]).across_hosts(),
            Check::new("Q2 accounts", "a corrupt users file stops the server, untouched", 1,
                "Accounts::load returns an error for a file it cannot read; main prints it and exits non-zero.", accounts::corrupt_file_stops).across_hosts(),
    ])
}

// ---------------------------------------------------------------------------------------------
// Addresses.

/// 127.0.`net`.`host`: every check has its own `net`.
fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, net, host))
}

/// The address of a test peer: `ip(net, host)` on loopback; across netlab's hosts client1 for
/// an even `host`, client2 for an odd one, so that two peers in a row have two addresses.
fn peer_ip(ctx: &Ctx, net: u8, host: u8) -> IpAddr {
    let on = if host.is_multiple_of(2) {
        "client1"
    } else {
        "client2"
    };
    ctx.ip(on, ip(net, host))
}

/// Starts the server on its host (127.0.0.1 on loopback) and a port the system picks.
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

/// A UDP port that is free right now (the system picked it), for the clients' P2P port.
fn free_udp_port() -> Result<u16, String> {
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a test UDP socket")?;
    sock.local_addr()
        .map(|a| a.port())
        .context("reading the test UDP socket's port")
}

/// A test UDP socket at (ip, port) (across hosts, on the host that has `ip`), never blocking
/// more than `WAIT`.
fn udp_at(ip: IpAddr, port: u16) -> Result<UdpSocket, String> {
    let sock = hosts::at(ip, || UdpSocket::bind((ip, port)))
        .with_context(|| format!("binding a test UDP socket to {ip}:{port}"))?;
    sock.set_read_timeout(Some(WAIT))
        .context("setting the test UDP socket's read timeout")?;
    Ok(sock)
}

// ---------------------------------------------------------------------------------------------
// The chat protocol, spoken by a peer written here.

/// The next `!` map, as name → IP.
fn map(peer: &mut LinePeer) -> Result<BTreeMap<String, String>, String> {
    let line = peer
        .expect("a `!{…}` user list", |l| l.starts_with('!'))?
        .line;
    serde_json::from_str(&line[1..]).map_err(|_| {
        format!("`{line:.100}` is not `!` followed by a JSON object of names and IP strings")
    })
}

/// Maps until one lists exactly `names`.
fn map_with(peer: &mut LinePeer, names: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut last = BTreeMap::new();
    loop {
        let map = match map(peer) {
            Ok(m) => m,
            Err(e) => {
                return Err(format!(
                    "{} expected a user list with exactly {names:?}; the last was {last:?}; {e}",
                    peer.who()
                ))
            }
        };
        if map.len() == names.len() && names.iter().all(|n| map.contains_key(*n)) {
            return Ok(map);
        }
        last = map;
    }
}

/// The next line that is not a `!` map.
fn chat(peer: &mut LinePeer) -> Result<String, String> {
    Ok(peer.expect("a chat line", |l| !l.starts_with('!'))?.line)
}

/// How long the answer to a first line may take: with --users, the server hashes a password
/// 100,000 times (PBKDF2) first, which takes a second or more on a busy machine.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The answer to a first line: must start with `OK` or `ERR`.
fn answer(peer: &mut LinePeer, sent: &str) -> Result<String, String> {
    let answer = peer
        .next_within(ANSWER_WAIT)
        .and_then(|line| line.ok_or_else(|| format!("no answer within {}", secs(ANSWER_WAIT))))
        .with_context(|| format!("after `{sent}`"))?;
    if answer.starts_with("OK") || answer.starts_with("ERR ") {
        Ok(answer)
    } else {
        Err(format!(
            "after `{sent}` the server should answer `OK …` or `ERR reason`; it sent {answer:?}"
        ))
    }
}

/// Connects from `from`, sends `name`, and expects `OK` and a map listing `name`.
fn join(server: SocketAddr, from: IpAddr, name: &str) -> Result<LinePeer, String> {
    let mut peer = LinePeer::connect_from(server, from, name)?;
    peer.send(name)?;
    let answer = answer(&mut peer, name)?;
    if !answer.starts_with("OK") {
        return Err(format!("{name} sent `{name}` and was refused: {answer:?}"));
    }
    let map = map(&mut peer)?;
    if !map.contains_key(name) {
        return Err(format!(
            "after {name} joined, the user list it got does not list it: {map:?}"
        ));
    }
    Ok(peer)
}

// ---------------------------------------------------------------------------------------------
// The built client.

/// Starts the client against `server`, bound to `bind`, with P2P port `udp` and `extra` options.
fn spawn_client(
    ctx: &Ctx,
    server: SocketAddr,
    bind: IpAddr,
    udp: u16,
    extra: &[&str],
) -> Result<Program, String> {
    let (host, port, bind, udp) = (
        server.ip().to_string(),
        server.port().to_string(),
        bind.to_string(),
        udp.to_string(),
    );
    let mut args = vec![
        "--server",
        host.as_str(),
        "--port",
        port.as_str(),
        "--bind",
        bind.as_str(),
        "--udp-port",
        udp.as_str(),
    ];
    args.extend_from_slice(extra);
    ctx.spawn(CLIENT, &args)
}
