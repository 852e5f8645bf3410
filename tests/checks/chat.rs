//! Checks for lab `chat`: the TCP chat server with its active-user list, the client that also
//! talks peer-to-peer over UDP, and sign-up/login (delivery Q2).
//!
//! The server is tested with clients written here; the built client is driven through its
//! stdin against a server written here, with peers on their own loopback addresses
//! (127.0.N.x: Linux routes all of 127.0.0.0/8 to loopback). Each check has its own N, and the
//! UDP port is one the system just found free, so checks running at once never meet.

use serde_json::Value;
use sha2::{Digest, Sha256};
use socket2::{Domain, Protocol, Socket, Type};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Packet};
use socklab::grader::{secs, Check, Ctx, Lab, Program};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = "chatserver";
const CLIENT: &str = "chatclient";
const WAIT: Duration = Duration::from_secs(3);
const PROMPT: &str = "First enter your name to register it in the server";

pub fn lab() -> Lab {
    Lab::new(
        "chat",
        "Chat server with active users, peer-to-peer client, sign-up and login",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 server", "prints its real address at the end of its first line", 1,
                "Bind the listening socket first, then print listener.local_addr(): with --port 0 the OS picks the port.", server_prints_address),
            Check::new("1 server", "registers names and sends everyone `!` + the JSON map name → IP", 3,
                "Read the first line as the name, then queue `!{…}` for every client (broadcast_active_users).", server_registers),
            Check::new("1 server", "relays a chat line to every other client as `NAME: text`", 3,
                "Read lines in the client's thread and broadcast `NAME: text` to every client but the sender.", server_relays),
            Check::new("1 server", "announces departures, clean or abrupt, with the updated map", 2,
                "At end of stream or a read error, remove the client (Server::leave) and broadcast the map again.", server_departures),
            Check::new("1 server", "refuses empty, long, spaced, @/: and taken names with `ERR reason`", 2,
                "check_name() and join() refuse; register() answers `ERR reason`.", server_refuses_names),
            Check::new("1 server", "a client that never reads does not stall the others", 2,
                "Queue lines with try_send to each client's writer thread; never write to a socket in the broadcast loop.", server_slow_client).limit(20),
            Check::new("1 server", "survives an overlong line and invalid UTF-8", 1,
                "read_message skips lines over MAX_LINE and reports non-UTF-8 ones; log them and keep reading.", server_survives_garbage),
            Check::new("2 client", "asks for a name with the seed's prompt and sends it first", 2,
                "Resolve the server, connect, then send the name typed at the prompt as the first line.", client_prompt),
            Check::new("2 client", "prints room messages as `incoming msg from chatserver (…)`", 2,
                "In receive_tcp, read lines; `!` lines update the active users, the rest are printed.", client_room_messages),
            Check::new("2 client", "sends a typed line to the room over TCP", 2,
                "A line that is not `#ls` and does not start with @ goes to the server with send_line.", client_sends_to_room),
            Check::new("2 client", "`#ls` prints the active users from the last `!` map", 1,
                "Keep the map from the latest `!` line; #ls prints it.", client_lists_users),
            Check::new("2 client", "`@NAME: text` goes over UDP to NAME's IP, from the shared port", 3,
                "Bind the UDP socket to (your IP, --udp-port); send_to (NAME's IP, --udp-port).", client_sends_p2p),
            Check::new("2 client", "prints P2P datagrams with the sender's name, or Non-registered", 2,
                "recv_from gives the sender's address; look its IP up in the map.", client_receives_p2p),
            Check::new("2 client", "`@NAME` for someone not in the map prints `NAME is not registered`", 1,
                "Look the name up in the active users before sending.", client_unknown_user),
            Check::new("2 client", "two built clients chat through the built server, and P2P", 2,
                "Run it by hand: one server and two clients with --bind 127.0.0.2 and 127.0.0.3.", end_to_end).limit(15),
    ])
    .questions(&QUESTIONS)
    .checks(vec![
            Check::new("Q2 accounts", "SIGNUP creates an account and joins; LOGIN joins again later", 2,
                "With --users, the first line is SIGNUP NAME PASSWORD or LOGIN NAME PASSWORD; answer OK or ERR.", signup_then_login).limit(15),
            Check::new("Q2 accounts", "the client signs up with --signup and logs in with --password", 1,
                "The client sends SIGNUP or LOGIN with the name and password instead of the bare name.", client_accounts).limit(15),
            Check::new("Q2 accounts", "refuses a wrong password and an unknown user", 2,
                "log_in compares the PBKDF2 hash in constant time; ERR says why.", refuses_bad_logins).limit(15),
            Check::new("Q2 accounts", "refuses a taken name, a second login and malformed requests", 2,
                "sign_up refuses an existing account; join refuses a name already in the room.", refuses_taken_and_malformed).limit(15),
            Check::new("Q2 accounts", "closes the connection after 3 failed attempts", 1,
                "Count refused first lines; after MAX_ATTEMPTS say goodbye and close.", closes_after_failures),
            Check::new("Q2 accounts", "of racing sign-ups for one name exactly one wins", 2,
                "Hold the accounts lock from the check that the name is free until the file is saved.", signup_race).limit(20),
            Check::new("Q2 accounts", "accounts survive a killed server", 2,
                "Save the file (temporary file, sync, rename) before answering OK.", accounts_survive_restart).limit(20),
            Check::new("Q2 accounts", "the users file holds a salted PBKDF2 hash, never the password", 2,
                "Store salt, iterations and PBKDF2-HMAC-SHA256(password, salt): never the password.", no_password_in_file).limit(15),
            Check::new("Q2 accounts", "a corrupt users file stops the server, untouched", 1,
                "Accounts::load returns an error for a file it cannot read; main prints it and exits non-zero.", corrupt_file_stops),
    ])
}

// ---------------------------------------------------------------------------------------------
// Addresses.

/// 127.0.`net`.`host`: every check has its own `net`.
fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, net, host))
}

/// A UDP port that is free right now (the system picked it), for the clients' P2P port.
fn free_udp_port() -> Result<u16, String> {
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("test UDP socket: {e}"))?;
    sock.local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A test UDP socket at (ip, port), never blocking more than `WAIT`.
fn udp_at(ip: IpAddr, port: u16) -> Result<UdpSocket, String> {
    let sock =
        UdpSocket::bind((ip, port)).map_err(|e| format!("test UDP socket {ip}:{port}: {e}"))?;
    sock.set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    Ok(sock)
}

// ---------------------------------------------------------------------------------------------
// A chat peer written here: a TCP connection read line by line with a timeout.

struct Peer {
    who: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    fn new(who: &str, stream: TcpStream) -> Result<Peer, String> {
        stream
            .set_read_timeout(Some(WAIT))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(WAIT))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Peer {
            who: who.to_string(),
            stream,
            reader,
        })
    }

    /// Connects to `server` from address `from` (bound before connecting).
    fn connect(server: SocketAddr, from: IpAddr, who: &str) -> Result<Peer, String> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| format!("test socket: {e}"))?;
        socket
            .bind(&SocketAddr::new(from, 0).into())
            .map_err(|e| format!("test socket bind {from}: {e}"))?;
        socket
            .connect_timeout(&server.into(), WAIT)
            .map_err(|e| format!("{who} could not connect to the server at {server}: {e}"))?;
        Peer::new(who, socket.into())
    }

    fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("{} could not send: {e}", self.who))
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.send_raw(format!("{line}\n").as_bytes())
    }

    /// The next line; an error says whether the other side closed or was silent.
    fn line(&mut self) -> Result<String, String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => Err(format!("the connection of {} was closed", self.who)),
            Ok(_) => Ok(String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_string()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!(
                    "{} received no line within {}",
                    self.who,
                    secs(WAIT)
                ))
            }
            Err(e) => Err(format!("{}'s connection failed: {e}", self.who)),
        }
    }

    /// Lines until one satisfies `want`; the error says what was expected and what came.
    fn until(&mut self, what: &str, want: impl Fn(&str) -> bool) -> Result<String, String> {
        let mut seen = Vec::new();
        loop {
            match self.line() {
                Ok(l) if want(&l) => return Ok(l),
                Ok(l) => seen.push(l),
                Err(e) => {
                    let shown = seen
                        .last()
                        .map_or("nothing else".to_string(), |l| format!("last {l:?}"));
                    return Err(format!("{} expected {what}: {e} (got {shown})", self.who));
                }
            }
        }
    }

    /// The next `!` map, as name → IP.
    fn map(&mut self) -> Result<BTreeMap<String, String>, String> {
        let line = self.until("a `!{…}` user list", |l| l.starts_with('!'))?;
        serde_json::from_str(&line[1..]).map_err(|_| {
            format!("`{line:.100}` is not `!` followed by a JSON object of names and IP strings")
        })
    }

    /// Maps until one lists exactly `names`.
    fn map_with(&mut self, names: &[&str]) -> Result<BTreeMap<String, String>, String> {
        let mut last = BTreeMap::new();
        loop {
            let map = match self.map() {
                Ok(m) => m,
                Err(e) => {
                    return Err(format!(
                    "{} expected a user list with exactly {names:?}; the last was {last:?}; {e}",
                    self.who
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
    fn chat(&mut self) -> Result<String, String> {
        self.until("a chat line", |l| !l.starts_with('!'))
    }

    /// The answer to a first line: must start with `OK` or `ERR`.
    fn answer(&mut self, sent: &str) -> Result<String, String> {
        let answer = self.line().map_err(|e| format!("after `{sent}`: {e}"))?;
        if answer.starts_with("OK") || answer.starts_with("ERR ") {
            Ok(answer)
        } else {
            Err(format!("after `{sent}` the server should answer `OK …` or `ERR reason`; it sent {answer:?}"))
        }
    }

    /// Whether the other side closes the connection within `WAIT` (lines before are skipped).
    fn closes(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            match self.line() {
                Ok(_) => continue,
                Err(e) => return !e.contains("no line within"),
            }
        }
        false
    }
}

/// Connects from `from`, sends `first`, and expects `OK` and a map listing `name`.
fn join_with(server: SocketAddr, from: IpAddr, name: &str, first: &str) -> Result<Peer, String> {
    let mut peer = Peer::connect(server, from, name)?;
    peer.send(first)?;
    let answer = peer.answer(first)?;
    if !answer.starts_with("OK") {
        return Err(format!("{name} sent `{first}` and was refused: {answer:?}"));
    }
    let map = peer.map()?;
    if !map.contains_key(name) {
        return Err(format!(
            "after {name} joined, the user list it got does not list it: {map:?}"
        ));
    }
    Ok(peer)
}

fn join(server: SocketAddr, from: IpAddr, name: &str) -> Result<Peer, String> {
    join_with(server, from, name, name)
}

fn start_server(ctx: &Ctx, users: Option<&Path>) -> Result<(Program, SocketAddr), String> {
    let mut args = vec!["--host", "127.0.0.1", "--port", "0"];
    let users = users.map(|p| p.to_string_lossy().to_string());
    if let Some(u) = &users {
        args.extend(["--users", u.as_str()]);
    }
    let server = ctx.spawn(SERVER, &args)?;
    let addr = server.address(WAIT)?;
    Ok((server, addr))
}

/// A failed check also shows the server's panic, if one of its threads panicked (a `todo!`).
fn explain(server: &Program, check: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    check().map_err(|e| {
        // Let the server's stderr catch up with a panic that just closed our connection.
        thread::sleep(Duration::from_millis(200));
        match server.panic_message() {
            Some(panic) => format!("{e}; the server {panic}"),
            None => e,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Milestone 1: the server.

fn server_prints_address(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = start_server(ctx, None)?;
    if addr.port() == 0 {
        return Err("the printed port is 0: print the address after binding (local_addr)".into());
    }
    Peer::connect(addr, ip(101, 2), "a test client")?;
    Ok(())
}

fn server_registers(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let mut alice = Peer::connect(addr, ip(102, 2), "alice")?;
        alice.send("alice")?;
        let ok = alice.answer("alice")?;
        if !ok.starts_with("OK") {
            return Err(format!(
                "the name alice should be accepted with `OK …`; got {ok:?}"
            ));
        }
        let map = alice.map()?;
        let want: BTreeMap<String, String> = [("alice".to_string(), ip(102, 2).to_string())].into();
        if map != want {
            return Err(format!(
                "alice joined from {}; expected the map {want:?}, got {map:?}",
                ip(102, 2)
            ));
        }
        let mut bob = Peer::connect(addr, ip(102, 3), "bob")?;
        bob.send("bob")?;
        bob.answer("bob")?;
        let seen_by_bob = bob.map()?;
        if seen_by_bob.len() != 2 || seen_by_bob.get("alice") != Some(&ip(102, 2).to_string()) {
            return Err(format!(
            "bob joined after alice; his first map should list alice and bob, was {seen_by_bob:?}"
        ));
        }
        let both = alice.map_with(&["alice", "bob"])?;
        if both.get("bob") != Some(&ip(102, 3).to_string()) {
            return Err(format!(
                "bob connected from {}; alice got the map {both:?}",
                ip(102, 3)
            ));
        }
        Ok(())
    })
}

fn server_relays(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let mut alice = join(addr, ip(103, 2), "alice")?;
        let mut bob = join(addr, ip(103, 3), "bob")?;
        let mut carol = join(addr, ip(103, 4), "carol")?;
        alice.send("hello everyone: 1 + 1 = 2")?;
        for peer in [&mut bob, &mut carol] {
            let got = peer.chat()?;
            if got.trim_end() != "alice: hello everyone: 1 + 1 = 2" {
                return Err(format!("alice sent `hello everyone: 1 + 1 = 2`; {} got {got:?}, expected `alice: hello everyone: 1 + 1 = 2`", peer.who));
            }
        }
        bob.send("hi alice")?;
        let got = alice.chat()?;
        if got.trim_end() != "bob: hi alice" {
            return Err(format!("after alice's own line and bob's `hi alice`, alice got {got:?}: the sender must not get its own line back"));
        }
        Ok(())
    })
}

fn server_departures(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let mut alice = join(addr, ip(104, 2), "alice")?;
        let bob = join(addr, ip(104, 3), "bob")?;
        let carol = join(addr, ip(104, 4), "carol")?;
        alice.map_with(&["alice", "bob", "carol"])?;
        let _ = bob.stream.shutdown(Shutdown::Both);
        alice
            .map_with(&["alice", "carol"])
            .map_err(|e| format!("bob closed his connection: {e}"))?;
        // An abrupt end: SO_LINGER 0 makes close() send a reset, as a crashed client's host would.
        let socket = Socket::from(carol.stream);
        let _ = socket.set_linger(Some(Duration::ZERO));
        drop(socket);
        drop(carol.reader);
        alice
            .map_with(&["alice"])
            .map_err(|e| format!("carol's connection was reset: {e}"))?;
        join(addr, ip(104, 3), "bob")
            .map_err(|e| format!("bob left, so his name is free again: {e}"))?;
        Ok(())
    })
}

fn server_refuses_names(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let mut alice = join(addr, ip(105, 2), "alice")?;
        let long = "x".repeat(40);
        for bad in [
            "",
            "two words",
            "at@sign",
            "co:lon",
            "!bang",
            long.as_str(),
            "alice",
        ] {
            let mut peer = Peer::connect(addr, ip(105, 3), "a test client")?;
            peer.send(bad)?;
            let answer = peer.answer(bad)?;
            if !answer.starts_with("ERR ") {
                return Err(format!(
                    "the name {bad:?} should be refused with `ERR reason`; got {answer:?}"
                ));
            }
        }
        join(addr, ip(105, 4), "dave")?;
        let map = alice.map_with(&["alice", "dave"])?;
        if map.get("alice") != Some(&ip(105, 2).to_string()) {
            return Err(format!("someone else took alice's entry: {map:?}"));
        }
        Ok(())
    })
}

fn server_slow_client(ctx: &Ctx) -> Result<(), String> {
    const LINES: usize = 2500;
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        // A client that never reads, with a tiny receive buffer.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| e.to_string())?;
        let _ = socket.set_recv_buffer_size(4096);
        socket
            .bind(&SocketAddr::new(ip(106, 9), 0).into())
            .map_err(|e| e.to_string())?;
        socket
            .connect_timeout(&addr.into(), WAIT)
            .map_err(|e| e.to_string())?;
        let mut slow = Peer::new("slow", socket.into())?;
        slow.send("slow")?;
        let mut alice = join(addr, ip(106, 2), "alice")?;
        let mut bob = join(addr, ip(106, 3), "bob")?;
        // Batches of 50 lines: bob reads each batch before the next is sent, so bob keeps up
        // while the client that never reads falls further and further behind.
        let line = "y".repeat(3900);
        let started = Instant::now();
        for batch in 0..LINES / 50 {
            for i in 0..50 {
                alice.send(&format!("{batch}.{i} {line}")).map_err(|e| {
                format!("alice could not send: {e}; is the server stuck writing to a client that does not read?")
            })?;
            }
            for _ in 0..50 {
                let got = bob.chat().map_err(|e| {
                format!(
                    "a client that never reads seems to stall the others: bob got {} of {LINES} lines of 4 KB from alice in {}; {e}",
                    batch * 50,
                    secs(started.elapsed())
                )
            })?;
                if !got.starts_with("alice: ") {
                    return Err(format!(
                        "bob expected alice's lines, got {:?}",
                        &got[..got.len().min(60)]
                    ));
                }
            }
        }
        drop(slow);
        Ok(())
    })
}

fn server_survives_garbage(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let mut alice = join(addr, ip(107, 2), "alice")?;
        let mut bob = join(addr, ip(107, 3), "bob")?;
        let mut long = vec![b'z'; 100_000];
        long.push(b'\n');
        alice.send_raw(&long)?;
        alice.send_raw(b"\xff\xfe not UTF-8\n")?;
        alice.send("after")?;
        let got = bob.chat()?;
        if got.trim_end() != "alice: after" {
            return Err(format!(
            "alice sent a 100 KB line, a line that is not UTF-8, then `after`; bob's next line was {:?}, expected `alice: after`",
            &got[..got.len().min(80)]
        ));
        }
        bob.send("still there?")?;
        let got = alice.chat()?;
        if got.trim_end() != "bob: still there?" {
            return Err(format!(
                "alice should still be connected and get bob's line; got {got:?}"
            ));
        }
        if !server.is_running() {
            return Err("the server stopped".into());
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Milestone 2: the client, against a server written here.

/// A listening socket standing in for the chat server.
struct FakeServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl FakeServer {
    fn start(net: u8) -> Result<FakeServer, String> {
        let listener =
            TcpListener::bind((ip(net, 1), 0)).map_err(|e| format!("test server: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(FakeServer { listener, addr })
    }

    /// The client's connection, waiting at most `WAIT`.
    fn accept(&self, client: &Program) -> Result<(Peer, SocketAddr), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.listener.accept() {
                Ok((stream, from)) => {
                    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                    return Ok((Peer::new("the test server", stream)?, from));
                }
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Err(_) => {
                    let why = client
                        .panic_message()
                        .map_or(String::new(), |p| format!(": it {p}"));
                    return Err(format!(
                        "the client did not connect to the server at {} within {}{why}",
                        self.addr,
                        secs(WAIT)
                    ));
                }
            }
        }
    }
}

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

/// A client `alice` at 127.0.`net`.2 joined to a test server whose map also lists bob at .3.
struct Joined {
    client: Program,
    conn: Peer,
    udp_port: u16,
}

fn joined_client(ctx: &Ctx, net: u8) -> Result<Joined, String> {
    let server = FakeServer::start(net)?;
    let udp_port = free_udp_port()?;
    let client = spawn_client(ctx, server.addr, ip(net, 2), udp_port, &["--name", "alice"])?;
    let (mut conn, from) = server.accept(&client)?;
    if from.ip() != ip(net, 2) {
        return Err(format!(
            "with --bind {} the client connected from {}: bind the TCP socket before connecting",
            ip(net, 2),
            from.ip()
        ));
    }
    let name = conn
        .line()
        .map_err(|e| format!("the client's first line should be its name: {e}"))?;
    if name.trim() != "alice" {
        return Err(format!(
            "with --name alice the first line should be `alice`, was {name:?}"
        ));
    }
    conn.send("OK welcome, alice")?;
    conn.send(&format!(
        "!{{\"alice\":\"{}\",\"bob\":\"{}\"}}",
        ip(net, 2),
        ip(net, 3)
    ))?;
    // Lines are handled in order: once this one is printed, the map above is known.
    conn.send("bob: sync")?;
    client.expect_line("`incoming msg from chatserver (bob: sync)`", WAIT, |l| {
        l.contains("incoming msg from chatserver (bob: sync")
    })?;
    Ok(Joined {
        client,
        conn,
        udp_port,
    })
}

fn client_prompt(ctx: &Ctx) -> Result<(), String> {
    let server = FakeServer::start(111)?;
    let mut client = spawn_client(ctx, server.addr, ip(111, 2), free_udp_port()?, &[])?;
    client.expect_line(&format!("the prompt `{PROMPT}:`"), WAIT, |l| {
        l.contains(PROMPT)
    })?;
    let (mut conn, _) = server.accept(&client)?;
    client.send_line("alice")?;
    let name = conn
        .line()
        .map_err(|e| format!("after typing alice at the prompt: {e}"))?;
    if name.trim() != "alice" {
        return Err(format!(
            "typed alice at the prompt; the client's first line was {name:?}"
        ));
    }
    Ok(())
}

fn client_room_messages(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 112)?;
    j.conn.send("bob: how are you?")?;
    let line = j.client.expect_line(
        "`incoming msg from chatserver (bob: how are you?)`",
        WAIT,
        |l| l.contains("incoming msg from chatserver (") || l.starts_with('!'),
    )?;
    if !line.contains("incoming msg from chatserver (bob: how are you?)") {
        return Err(format!(
            "expected `incoming msg from chatserver (bob: how are you?)`, got {line:?}"
        ));
    }
    Ok(())
}

fn client_sends_to_room(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 113)?;
    j.client.send_line("hello room")?;
    let got = j
        .conn
        .line()
        .map_err(|e| format!("after typing `hello room`: {e}"))?;
    if got.trim_end() != "hello room" {
        return Err(format!("typed `hello room`; the server got {got:?}"));
    }
    Ok(())
}

fn client_lists_users(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 114)?;
    j.client.send_line("#ls")?;
    let bob = ip(114, 3).to_string();
    j.client.expect_line(
        &format!("a line listing alice and bob ({bob})"),
        WAIT,
        |l| l.contains("alice") && l.contains("bob") && l.contains(&bob),
    )?;
    Ok(())
}

fn client_sends_p2p(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 115)?;
    let bob = udp_at(ip(115, 3), j.udp_port)?;
    j.client.send_line("@bob: psst, bob")?;
    let mut buf = [0u8; 65535];
    let (n, from) = bob.recv_from(&mut buf).map_err(|_| {
        format!(
            "typed `@bob: psst, bob`; no datagram reached bob at {}:{} within {}",
            ip(115, 3),
            j.udp_port,
            secs(WAIT)
        )
    })?;
    let text = String::from_utf8_lossy(&buf[..n]);
    if text.trim() != "psst, bob" {
        return Err(format!("typed `@bob: psst, bob`; bob got the datagram {text:?}, expected the text after the colon"));
    }
    if from != SocketAddr::new(ip(115, 2), j.udp_port) {
        return Err(format!(
            "the datagram came from {from}; it should come from the client's UDP socket {}:{}",
            ip(115, 2),
            j.udp_port
        ));
    }
    Ok(())
}

fn client_receives_p2p(ctx: &Ctx) -> Result<(), String> {
    let j = joined_client(ctx, 116)?;
    let to = SocketAddr::new(ip(116, 2), j.udp_port);
    let bob = udp_at(ip(116, 3), j.udp_port)?;
    bob.send_to(b"hello alice", to).map_err(|e| e.to_string())?;
    j.client
        .expect_line("`Incoming msg (P2P) from bob:hello alice`", WAIT, |l| {
            l.contains("Incoming msg (P2P) from bob") && l.contains("hello alice")
        })?;
    let stranger = udp_at(ip(116, 9), 0)?;
    stranger
        .send_to(b"who am I", to)
        .map_err(|e| e.to_string())?;
    j.client.expect_line(
        "`Incoming msg (P2P) from Non-registered:who am I`",
        WAIT,
        |l| l.contains("Incoming msg (P2P) from Non-registered") && l.contains("who am I"),
    )?;
    Ok(())
}

fn client_unknown_user(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 117)?;
    j.client.send_line("@zoe: are you there?")?;
    j.client.expect_line("`zoe is not registered`", WAIT, |l| {
        l.trim() == "zoe is not registered"
    })?;
    Ok(())
}

fn end_to_end(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx, None)?;
    explain(&server, || {
        let udp = free_udp_port()?.to_string();
        let (a, b) = (ip(118, 2).to_string(), ip(118, 3).to_string());
        let port = addr.port().to_string();
        let args = |bind: &str, name: &str| -> Vec<String> {
            [
                "--server",
                "localhost",
                "--port",
                &port,
                "--bind",
                bind,
                "--udp-port",
                &udp,
                "--name",
                name,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let spawn = |bind: &str, name: &str| {
            let args = args(bind, name);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ctx.spawn(CLIENT, &refs)
        };
        let mut alice = spawn(&a, "alice")?;
        alice.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })?;
        let mut bob = spawn(&b, "bob")?;
        bob.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })?;
        alice.send_line("hi all")?;
        bob.expect_line(
            "bob printing `incoming msg from chatserver (alice: hi all)`",
            WAIT,
            |l| l.contains("incoming msg from chatserver (alice: hi all"),
        )?;
        // alice learns of bob from the server's map; wait until `#ls` shows it.
        let deadline = Instant::now() + WAIT;
        loop {
            alice.send_line("#ls")?;
            let listed = alice.expect_line(
                "alice's `#ls` listing bob",
                Duration::from_millis(300),
                |l| l.contains("bob") && !l.contains("Incoming msg"),
            );
            match listed {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "bob joined, but alice's active users never listed him: {e}"
                    ))
                }
                Err(_) => {}
            }
        }
        bob.send_line("@alice: psst")?;
        alice.expect_line(
            "alice printing `Incoming msg (P2P) from bob: psst`",
            WAIT,
            |l| l.contains("Incoming msg (P2P) from bob") && l.contains("psst"),
        )?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Q2: accounts.

fn users_server(ctx: &Ctx) -> Result<(Program, SocketAddr, std::path::PathBuf), String> {
    let path = ctx.scratch_dir().join("users.json");
    let (server, addr) = start_server(ctx, Some(&path))?;
    Ok((server, addr, path))
}

/// Connects and sends one first line; returns the answer and the connection.
fn attempt(addr: SocketAddr, from: IpAddr, first: &str) -> Result<(String, Peer), String> {
    let mut peer = Peer::connect(addr, from, "a test client")?;
    peer.send(first)?;
    let shown = first.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let answer = peer.answer(&format!("{shown} …"))?;
    Ok((answer, peer))
}

fn expect_ok(addr: SocketAddr, from: IpAddr, first: &str) -> Result<Peer, String> {
    let (answer, mut peer) = attempt(addr, from, first)?;
    if !answer.starts_with("OK") {
        return Err(format!(
            "`{}` should be accepted with OK; the server answered {answer:?}",
            first.split(' ').take(2).collect::<Vec<_>>().join(" ")
        ));
    }
    let name = first.split(' ').nth(1).unwrap_or("");
    let map = peer.map()?;
    if !map.contains_key(name) {
        return Err(format!(
            "{name} was accepted but the user list it got does not list it: {map:?}"
        ));
    }
    Ok(peer)
}

fn expect_err(
    addr: SocketAddr,
    from: IpAddr,
    first: &str,
    what: &str,
    word: &str,
) -> Result<(), String> {
    let (answer, _) = attempt(addr, from, first)?;
    if !answer.starts_with("ERR ") || !answer.to_lowercase().contains(word) {
        return Err(format!(
            "{what} should be refused with `ERR …{word}…`; the server answered {answer:?}"
        ));
    }
    Ok(())
}

fn signup_then_login(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        let alice = expect_ok(addr, ip(121, 2), "SIGNUP alice open sesame")?;
        drop(alice);
        thread::sleep(Duration::from_millis(200));
        let mut alice = expect_ok(addr, ip(121, 2), "LOGIN alice open sesame")?;
        let mut bob = expect_ok(addr, ip(121, 3), "SIGNUP bob hunter2")?;
        alice.map_with(&["alice", "bob"])?;
        bob.send("hello alice")?;
        let got = alice.chat()?;
        if got.trim_end() != "bob: hello alice" {
            return Err(format!(
                "after logging in, alice should get bob's line `bob: hello alice`; got {got:?}"
            ));
        }
        Ok(())
    })
}

fn client_accounts(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        let udp = free_udp_port()?.to_string();
        let port = addr.port().to_string();
        let a = ip(122, 2).to_string();
        let base = [
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            "--bind",
            &a,
            "--udp-port",
            &udp,
            "--name",
            "alice",
            "--password",
            "pa ss",
        ];
        let mut args = base.to_vec();
        args.push("--signup");
        let mut client = ctx.spawn(CLIENT, &args)?;
        client.expect_line("`Connection Established!` after --signup", WAIT, |l| {
            l.contains("Connection Established")
        })?;
        client.close_stdin();
        client.wait(WAIT)?;
        thread::sleep(Duration::from_millis(200));
        let client = ctx.spawn(CLIENT, &base)?;
        client.expect_line(
            "`Connection Established!` after logging in with --password",
            WAIT,
            |l| l.contains("Connection Established"),
        )?;
        let wrong: Vec<&str> = base[..base.len() - 1]
            .iter()
            .copied()
            .chain(["pa sss"])
            .collect();
        let refused = ctx.spawn(CLIENT, &wrong)?;
        let lines = refused.rest(WAIT)?;
        if lines.iter().any(|l| l.contains("Connection Established"))
            || refused.wait(WAIT)?.success()
        {
            return Err(format!("with a wrong password the client should print the refusal and exit non-zero; it printed {lines:?}"));
        }
        Ok(())
    })
}

fn refuses_bad_logins(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        drop(expect_ok(addr, ip(123, 2), "SIGNUP alice right one")?);
        thread::sleep(Duration::from_millis(200));
        expect_err(
            addr,
            ip(123, 3),
            "LOGIN alice wrong one",
            "a wrong password",
            "password",
        )?;
        expect_err(
            addr,
            ip(123, 3),
            "LOGIN alice right on",
            "a password that is a prefix of the right one",
            "password",
        )?;
        expect_err(
            addr,
            ip(123, 3),
            "LOGIN zed right one",
            "an unknown user",
            "unknown",
        )?;
        Ok(())
    })
}

fn refuses_taken_and_malformed(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        let _alice = expect_ok(addr, ip(124, 2), "SIGNUP alice pw1")?;
        expect_err(
            addr,
            ip(124, 3),
            "SIGNUP alice pw2",
            "a sign-up for an existing account",
            "taken",
        )?;
        expect_err(
            addr,
            ip(124, 3),
            "LOGIN alice pw1",
            "a login while alice is connected",
            "logged in",
        )?;
        expect_err(
            addr,
            ip(124, 3),
            "alice",
            "a bare name on a server with accounts",
            "malformed",
        )?;
        expect_err(
            addr,
            ip(124, 3),
            "LOGIN alice",
            "LOGIN without a password",
            "malformed",
        )?;
        expect_err(
            addr,
            ip(124, 3),
            "SIGNUP a:b pw",
            "a sign-up with a name that has a colon",
            ":",
        )?;
        Ok(())
    })
}

fn closes_after_failures(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        let mut peer = Peer::connect(addr, ip(125, 2), "a test client")?;
        for i in 1..=3 {
            peer.send("LOGIN nobody nothing")?;
            let answer = peer.answer("LOGIN nobody …")?;
            if !answer.starts_with("ERR ") {
                return Err(format!(
                    "attempt {i} (an unknown user) should be refused; got {answer:?}"
                ));
            }
        }
        let _ = peer.send("LOGIN nobody nothing");
        if !peer.closes() {
            return Err(
                "after 3 refused attempts the server should close the connection; it is still open"
                    .into(),
            );
        }
        Ok(())
    })
}

fn signup_race(ctx: &Ctx) -> Result<(), String> {
    const RACERS: usize = 5;
    let (server, addr, _) = users_server(ctx)?;
    explain(&server, || {
        // Everyone connects first, then all send at once.
        let mut peers = Vec::new();
        for i in 0..RACERS {
            peers.push(Peer::connect(addr, ip(126, 2 + i as u8), "a racer")?);
        }
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = peers
            .into_iter()
            .enumerate()
            .map(|(i, mut peer)| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    peer.send(&format!("SIGNUP racer secret{i}"))?;
                    let answer = peer.line()?;
                    Ok::<_, String>((answer, peer))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, h) in handles.into_iter().enumerate() {
            let (answer, peer) = h
                .join()
                .map_err(|_| "a racer thread failed".to_string())??;
            if answer.starts_with("OK") {
                winners.push((i, peer));
            } else if !answer.starts_with("ERR") {
                return Err(format!("a racer got {answer:?}, neither OK nor ERR"));
            }
        }
        if winners.len() != 1 {
            return Err(format!("{RACERS} clients signed up as `racer` at once; {} were accepted, exactly one should be", winners.len()));
        }
        let winner = winners.remove(0).0;
        drop(winners);
        thread::sleep(Duration::from_millis(200));
        for i in (0..RACERS).filter(|i| *i != winner) {
            expect_err(
                addr,
                ip(126, 20),
                &format!("LOGIN racer secret{i}"),
                "a loser's password",
                "password",
            )?;
        }
        expect_ok(addr, ip(126, 20), &format!("LOGIN racer secret{winner}"))
            .map_err(|e| format!("the winner's password must log in: {e}"))?;
        Ok(())
    })
}

fn accounts_survive_restart(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, path) = users_server(ctx)?;
    let signed_up = explain(&server, || {
        expect_ok(addr, ip(127, 2), "SIGNUP alice first pw")?;
        expect_ok(addr, ip(127, 3), "SIGNUP bob second pw")?;
        Ok(())
    });
    signed_up?;
    // SIGKILL, right after the OKs: nothing gets a chance to clean up.
    server.kill();
    let (server, addr) = start_server(ctx, Some(&path))
        .map_err(|e| format!("restarting with the same --users file: {e}"))?;
    explain(&server, || {
        expect_ok(addr, ip(127, 2), "LOGIN alice first pw")
            .map_err(|e| format!("after a restart: {e}"))?;
        expect_ok(addr, ip(127, 3), "LOGIN bob second pw")
            .map_err(|e| format!("after a restart: {e}"))?;
        Ok(())
    })
}

fn no_password_in_file(ctx: &Ctx) -> Result<(), String> {
    const PW: &str = "correct horse battery staple";
    let (server, addr, path) = users_server(ctx)?;
    explain(&server, || {
        let _a = expect_ok(addr, ip(128, 2), &format!("SIGNUP alice {PW}"))?;
        let _b = expect_ok(addr, ip(128, 3), &format!("SIGNUP bob {PW}"))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("the users file {}: {e}", path.display()))?;
        let hex: String = PW.bytes().map(|b| format!("{b:02x}")).collect();
        let sha: String = Sha256::digest(PW)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(PW);
        let reversed: String = PW.chars().rev().collect();
        for (form, needle) in [
            ("in clear", PW),
            ("in hex", &hex),
            ("in base64", &b64),
            ("reversed", &reversed),
            ("as an unsalted SHA-256", &sha),
        ] {
            if text.to_lowercase().contains(&needle.to_lowercase()) {
                return Err(format!("the users file holds the password {form}"));
            }
        }
        let file: Value =
            serde_json::from_str(&text).map_err(|_| "the users file is not JSON".to_string())?;
        let mut hashes = Vec::new();
        for name in ["alice", "bob"] {
            let account = &file["users"][name];
            let salt = account["salt"]
                .as_str()
                .and_then(socklab::password::from_hex);
            let hash = account["hash"]
                .as_str()
                .and_then(socklab::password::from_hex);
            let iterations = account["iterations"].as_u64().unwrap_or(0);
            let (Some(salt), Some(hash)) = (salt, hash) else {
                return Err(format!(
                    "{name}'s account should have hex `salt` and `hash`: {account}"
                ));
            };
            if salt.len() < 16 || iterations < 10_000 {
                return Err(format!(
                    "{name}: use at least 16 random bytes of salt and 10000 iterations"
                ));
            }
            let want = socklab::password::hash_password(PW, &salt, iterations as u32);
            if hash != want {
                return Err(format!(
                    "{name}'s hash is not PBKDF2-HMAC-SHA256(password, salt, iterations)"
                ));
            }
            hashes.push((salt, hash));
        }
        if hashes[0] == hashes[1] {
            return Err("alice and bob have the same password and the same salt and hash: draw a new random salt per user".into());
        }
        Ok(())
    })
}

fn corrupt_file_stops(ctx: &Ctx) -> Result<(), String> {
    let path = ctx.scratch_dir().join("users.json");
    let damaged = "{\"format\": \"socklab-chat-users/1\", \"users\": {\"alice\": {\"salt\": \"00";
    std::fs::write(&path, damaged).map_err(|e| e.to_string())?;
    let path_text = path.to_string_lossy().to_string();
    let server = ctx.spawn(
        SERVER,
        &["--host", "127.0.0.1", "--port", "0", "--users", &path_text],
    )?;
    let status = server.wait(WAIT).map_err(|_| {
        "with a damaged --users file the server should stop with a message; it kept running"
            .to_string()
    })?;
    if let Some(panic) = server.panic_message() {
        return Err(format!("the server {panic}: print a clear message instead"));
    }
    if status.success() {
        return Err(
            "with a damaged --users file the server should exit with a non-zero code".into(),
        );
    }
    if !server.stderr().contains("users.json") {
        return Err(format!(
            "the message should name the file; stderr was {:?}",
            server.stderr()
        ));
    }
    let after = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    if after != damaged {
        return Err("the damaged users file was changed; it must be left as it was".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 4: questions on captures of the student's own programs (labs/chat/answers.txt).

/// Where `make capture LAB=chat` runs the programs: the server, client 1 and client 2, as the
/// course's containers 10.20.30.3, .11 and .12.
const CAPTURE_SERVER: &str = "127.0.0.3";
const CAPTURE_CLIENT1: &str = "127.0.0.11";
const CAPTURE_CLIENT2: &str = "127.0.0.12";
/// Client 1's addresses in `make capture` and in the course's lab network.
const CLIENT1: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
    IpAddr::V4(Ipv4Addr::new(10, 20, 30, 11)),
];

/// The questions of `labs/chat/answers.txt`, in its order. Fixed answers are stored hashed:
/// `cargo run --bin capture -- --lab chat --hash KEY=ANSWER` prints a hash.
static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "4 capture questions",
    salt: "socklab/chat/b349",
    captures: &[
        CaptureFile {
            name: "chatserver",
            holds: "the server's TCP traffic with both clients, from client 1's SYN on",
            check: |packets| first_connection(packets).map(|_| ()),
        },
        CaptureFile {
            name: "client1",
            holds: "client 1's traffic, with a P2P (UDP) message between the clients",
            check: |packets| p2p_datagram(packets).map(|_| ()),
        },
        CaptureFile {
            name: "client2",
            holds: "client 2's traffic, with a P2P (UDP) message between the clients",
            check: |packets| p2p_datagram(packets).map(|_| ()),
        },
        CaptureFile {
            name: "chat",
            holds: "all the programs' traffic in one file, for delivery Q1's sequence diagram",
            check: |packets| {
                first_connection(packets)?;
                p2p_datagram(packets).map(|_| ())
            },
        },
    ],
    questions: &[
        Question {
            key: "syn_seq",
            capture: "chatserver",
            title: "the raw sequence number of client 1's SYN",
            text: "What is the raw sequence number of the SYN that opened the first TCP connection \
                   from client 1 to the server?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn.seq))),
            hint: "Filter `tcp.flags.syn == 1` and take client 1's first SYN (SYN set, ACK clear) \
                   to the server's port. Wireshark shows relative numbers (the SYN's is 0): untick \
                   Edit > Preferences > Protocols > TCP > Relative sequence numbers, or read \
                   `Sequence Number (raw)`.",
        },
        Question {
            key: "synack_seq",
            capture: "chatserver",
            title: "the raw sequence number of the server's SYN-ACK",
            text: "What is the raw sequence number of the SYN-ACK the server sent in reply to that \
                   SYN?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn_ack.seq))),
            hint: "The SYN-ACK is the next segment from the server's port to client 1's with both \
                   SYN and ACK set. The server chose its own initial sequence number: it is not \
                   related to the client's. Raw number, not relative.",
        },
        Question {
            key: "synack_ack",
            capture: "chatserver",
            title: "the acknowledgement number of the SYN-ACK",
            text: "What is the value of the acknowledgement field of that SYN-ACK? (raw number)",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(first_connection(p)?.syn_ack.ack))),
            hint: "Read `Acknowledgment number (raw)` in the SYN-ACK. It is the next sequence \
                   number the server expects from the client, and a SYN counts as one byte.",
        },
        Question {
            key: "udp_fields",
            capture: "client1",
            title: "how many fields the UDP header has",
            text: "Select one P2P datagram between the two clients. How many fields does its UDP \
                   header have?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "9abdbbbd18f6a500868188876eaad35875d7e070caa3ba5b62d6c130150dd80a",
                near: &[],
            },
            hint: "Filter `udp` and expand User Datagram Protocol: count the header's fields (not \
                   the payload, nor the lines Wireshark adds in brackets).",
        },
        Question {
            key: "field_bytes",
            capture: "client1",
            title: "how many bytes each UDP header field takes",
            text: "How many bytes long is each field of the UDP header?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "94db312542ac40738b8974ba6711d657bbc7785b0420f7cef9a95540cf381a04",
                near: &[(
                    "cedcdd373d2deea9c2a494df3c27935303cbeea11dab7c3a1db65447bdae24bd",
                    "that is the number of bits; the question asks for bytes",
                )],
            },
            hint: "Click a header field in Wireshark: the bytes pane highlights its bytes. All four \
                   are the same size.",
        },
        Question {
            key: "max_payload",
            capture: "client1",
            title: "the largest payload the UDP Length field allows",
            text: "What is the largest number of payload bytes that the UDP header's Length field \
                   allows? (UDP alone: do not count the IP header)",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "ad6c4875b254694fe63cf498a11f9be7e73e52373335970b05b69442e63da733",
                near: &[
                    ("f34ce06e92c34d49249ba237991d3970f1330c7abd4b75a2ab1579688ef69d75",
                     "that is what is left over IPv4, once its 20-byte header is also taken off; \
                      the question asks what UDP's own Length field allows"),
                    ("a47fb688c19e3351840bbaa77b8306a0e603984d071f1c8b77f50efbe818b8b1",
                     "that is the largest Length value, but Length counts the 8-byte header too"),
                ],
            },
            hint: "Length is a 16-bit field, and it counts the 8-byte header as well as the \
                   payload. (65507, which you may also meet, is what is left over IPv4 once the \
                   20-byte IP header is taken off too; this question asks about UDP's own field.)",
        },
        Question {
            key: "max_port",
            capture: "client1",
            title: "the largest possible port number",
            text: "What is the largest possible source port number?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "da4b4c7b82e2e5a9ed3bc7c7ceaf3f0d086a9b5127578baadbf699d8257c46c6",
                near: &[(
                    "1db16fdcbb54e9cbb106281cb1eb6e38d320df5c468f9e71b776ae9e766bc4bf",
                    "that is how many values the field holds, but they start at 0",
                )],
            },
            hint: "A port is one UDP header field: how large a number fits in its bits?",
        },
        Question {
            key: "protocol_number",
            capture: "client1",
            title: "the IP protocol number of UDP",
            text: "What is the protocol number of UDP (the IPv4 Protocol field of a P2P datagram)?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "708b97ea1517953282d32890d5cd2e6abf7331380a687b016e713e7108a99868",
                near: &[(
                    "21a5a18c09a11922b36dfcf85d2e423eb8021b39a458c4dc0418df65544701ba",
                    "6 is TCP's number; look at a P2P datagram, not at the chat room's traffic",
                )],
            },
            hint: "Expand Internet Protocol Version 4 in a P2P datagram and read its Protocol \
                   field.",
        },
    ],
    scenario,
};

/// Whether a TCP payload carries a `!{…}` user list (at its start or after a newline).
fn carries_map(payload: &[u8]) -> bool {
    payload.starts_with(b"!{") || payload.windows(3).any(|w| w == b"\n!{")
}

/// The chat server's socket: the source of the first TCP segment carrying a `!{…}` user list.
fn chat_server(packets: &[Packet]) -> Option<SocketAddr> {
    packets
        .iter()
        .find(|p| p.is_tcp() && carries_map(&p.payload))
        .map(|p| p.src)
}

/// The handshake of client 1's first connection to the chat server, found by its flags. Client
/// 1 is 127.0.0.11 (`make capture`) or 10.20.30.11 (the course's network) when the capture
/// holds one of them, else the first client seen talking to the server.
fn first_connection(packets: &[Packet]) -> Result<capture::Handshake, String> {
    let server = chat_server(packets).ok_or(
        "it holds no TCP segment from a chat server with a `!{…}` user list: capture on the \
         server's port while the clients join",
    )?;
    let mut clients: Vec<IpAddr> = Vec::new();
    for p in packets.iter().filter(|p| p.is_tcp()) {
        let peer = if p.src == server {
            p.dst
        } else if p.dst == server {
            p.src
        } else {
            continue;
        };
        if !clients.contains(&peer.ip()) {
            clients.push(peer.ip());
        }
    }
    let client1 = clients
        .iter()
        .find(|ip| CLIENT1.contains(ip))
        .or(clients.first())
        .copied()
        .ok_or("it holds no client of the chat server")?;
    capture::handshake(packets, |syn| syn.src.ip() == client1 && syn.dst == server).ok_or_else(
        || {
            format!(
                "it holds no handshake (a SYN, then the SYN-ACK answering it) of a connection \
                 from client 1 ({client1}) to the server ({server}): the capture began after \
                 client 1 had connected; start it before the clients"
            )
        },
    )
}

/// The IP addresses the chat server's `!{…}` user lists in `packets` name.
fn listed_ips(packets: &[Packet]) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for p in packets.iter().filter(|p| p.is_tcp()) {
        for line in String::from_utf8_lossy(&p.payload).lines() {
            let Some(json) = line.strip_prefix('!') else {
                continue;
            };
            let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(json) else {
                continue;
            };
            for ip in map.values().filter_map(|v| v.parse::<IpAddr>().ok()) {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
    }
    ips
}

/// The first P2P datagram: UDP from one client's P2P port to the same port at another
/// (unicast) address; both addresses in the server's user list when the capture holds one.
fn p2p_datagram(packets: &[Packet]) -> Result<&Packet, String> {
    let listed = listed_ips(packets);
    let unicast = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    };
    packets
        .iter()
        .find(|p| {
            p.is_udp()
                && p.src.port() == p.dst.port()
                && p.src.ip() != p.dst.ip()
                && unicast(p.dst.ip())
                && (listed.is_empty()
                    || (listed.contains(&p.src.ip()) && listed.contains(&p.dst.ip())))
        })
        .ok_or_else(|| {
            "it holds no P2P datagram (UDP from one client's P2P port to the same port at the \
             other client's address): send `@NAME: text` while capturing"
                .to_string()
        })
}

/// The solution server and two clients on their own loopback addresses: client 1 writes to the
/// room, then client 1 and client 2 exchange P2P messages, and both leave. Three captures, as
/// the seed's three tcpdumps: the server's, client 1's and client 2's; and a fourth with all of
/// it, for delivery Q1's sequence diagram.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let server = rec.spawn(SERVER, &["--host", CAPTURE_SERVER, "--port", "0"])?;
    let port = server.address(WAIT)?.port().to_string();
    let udp = free_udp_port()?.to_string();
    rec.capture(
        "chatserver",
        &format!("tcp and host {CAPTURE_SERVER} and port {port}"),
    )?;
    // Everything, in one file: the server's connections and the clients' P2P datagrams.
    rec.capture(
        "chat",
        &format!(
            "( tcp and host {CAPTURE_SERVER} and port {port} ) or ( udp and port {udp} and \
             ( host {CAPTURE_CLIENT1} or host {CAPTURE_CLIENT2} ) )"
        ),
    )?;
    for (name, ip) in [("client1", CAPTURE_CLIENT1), ("client2", CAPTURE_CLIENT2)] {
        rec.capture(
            name,
            &format!("host {ip} and ( ( tcp and port {port} ) or ( udp and port {udp} ) )"),
        )?;
    }
    let spawn = |ip: &str, name: &str| {
        rec.spawn(
            CLIENT,
            &[
                "--server",
                CAPTURE_SERVER,
                "--port",
                &port,
                "--bind",
                ip,
                "--udp-port",
                &udp,
                "--name",
                name,
            ],
        )
    };
    let established = |client: &Program| {
        client.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })
    };
    let mut client1 = spawn(CAPTURE_CLIENT1, "client1")?;
    established(&client1)?;
    let mut client2 = spawn(CAPTURE_CLIENT2, "client2")?;
    established(&client2)?;
    client1.send_line("hello everyone")?;
    client2.expect_line(
        "client 2 printing `incoming msg from chatserver (client1: hello everyone)`",
        WAIT,
        |l| l.contains("incoming msg from chatserver (client1: hello everyone"),
    )?;
    // Client 1 learns of client 2 from the server's map; wait until `#ls` shows it.
    let deadline = Instant::now() + WAIT;
    loop {
        client1.send_line("#ls")?;
        let listed = client1.expect_line(
            "client 1's `#ls` listing client2",
            Duration::from_millis(300),
            |l| l.contains("\"client2\""),
        );
        match listed {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {}
        }
    }
    client1.send_line("@client2: hi client 2, this is P2P")?;
    client2.expect_line("client 2 printing client 1's P2P message", WAIT, |l| {
        l.contains("Incoming msg (P2P) from client1")
    })?;
    client2.send_line("@client1: hi back")?;
    client1.expect_line("client 1 printing client 2's P2P message", WAIT, |l| {
        l.contains("Incoming msg (P2P) from client2")
    })?;
    // Both leave (end of input), so the captures end with each connection's FINs; client 1
    // stays long enough to get the map without client 2 (the server's delayed-ACK and Nagle
    // timers would otherwise hold it until client 1's own FIN).
    for client in [&mut client2, &mut client1] {
        client.close_stdin();
        client.run_to_end(WAIT)?;
        thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socklab::capture::Flags;

    const SERVER_AT: ([u8; 4], u16) = ([10, 20, 30, 3], 5000);

    fn packet(
        number: usize,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        flags: u8,
        seq_ack: (u32, u32),
        data: &[u8],
    ) -> Packet {
        Packet::tcp(number, src, dst, flags, seq_ack, data)
    }

    fn datagram(number: usize, src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Packet {
        Packet::udp(number, src, dst, b"hi")
    }

    /// A client at `ip` (port 40000) connecting to the server: SYN, SYN-ACK, ACK, its name, and
    /// the server's `OK` with the map.
    fn join(first: usize, ip: [u8; 4], isn: u32, server_isn: u32) -> Vec<Packet> {
        let (c, s) = ((ip, 40000), SERVER_AT);
        let (syn, ack, psh) = (Flags::SYN, Flags::ACK, Flags::PSH);
        vec![
            packet(first, c, s, syn, (isn, 0), b""),
            packet(first + 1, s, c, syn | ack, (server_isn, isn + 1), b""),
            packet(first + 2, c, s, ack, (isn + 1, server_isn + 1), b""),
            packet(
                first + 3,
                c,
                s,
                psh | ack,
                (isn + 1, server_isn + 1),
                b"bob\n",
            ),
            packet(
                first + 4,
                s,
                c,
                psh | ack,
                (server_isn + 1, isn + 5),
                b"OK welcome\n!{\"alice\":\"10.20.30.11\",\"bob\":\"10.20.30.12\"}\n",
            ),
        ]
    }

    #[test]
    fn client_1s_handshake_is_found_by_flags_wherever_it_is() {
        // Client 2 connects first; client 1 (10.20.30.11) second: its handshake is the answer.
        let mut packets = join(1, [10, 20, 30, 12], 100, 900);
        packets.extend(join(6, [10, 20, 30, 11], 7000, 555));
        let hs = first_connection(&packets).unwrap();
        assert_eq!(
            (hs.syn.seq, hs.syn_ack.seq, hs.syn_ack.ack),
            (7000, 555, 7001)
        );

        // Other addresses: client 1 is the first client seen talking to the server.
        let mut packets = join(1, [192, 168, 1, 7], 100, 900);
        packets.extend(join(6, [192, 168, 1, 8], 7000, 555));
        let hs = first_connection(&packets).unwrap();
        assert_eq!(hs.syn.src.ip(), IpAddr::from([192, 168, 1, 7]));
        assert_eq!((hs.syn.seq, hs.syn_ack.seq), (100, 900));
    }

    #[test]
    fn a_capture_that_starts_after_client_1_connected_is_refused_with_the_reason() {
        let mut packets = join(1, [10, 20, 30, 11], 7000, 555);
        packets.extend(join(6, [10, 20, 30, 12], 100, 900));
        // The first three packets (client 1's handshake) are not in the capture.
        let late: Vec<Packet> = packets[3..].to_vec();
        let err = first_connection(&late).err().unwrap();
        assert!(
            err.contains("10.20.30.11") && err.contains("began after client 1"),
            "{err}"
        );
        // Without any user list, the chat server cannot be told apart.
        let err = first_connection(&packets[..3]).err().unwrap();
        assert!(err.contains("user list"), "{err}");
    }

    #[test]
    fn p2p_datagrams_go_between_two_clients_on_one_port() {
        let (a, b) = ([10, 20, 30, 11], [10, 20, 30, 12]);
        let mdns = datagram(1, (a, 5353), ([224, 0, 0, 251], 5353));
        let dns = datagram(2, (a, 40000), ([10, 20, 30, 2], 53));
        assert!(p2p_datagram(&[mdns.clone(), dns.clone()]).is_err());
        let chat = datagram(3, (b, 5000), (a, 5000));
        let number = p2p_datagram(&[mdns, dns, chat.clone()]).unwrap().number;
        assert_eq!(number, 3);
        // With the server's user list in the capture, both ends must be listed in it.
        let mut packets = join(1, a, 7000, 555);
        packets.push(datagram(6, (a, 6000), ([10, 20, 30, 99], 6000)));
        assert!(p2p_datagram(&packets).is_err());
        packets.push(chat);
        assert_eq!(p2p_datagram(&packets).unwrap().number, 3);
    }
}
