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
    Lab {
        name: "chat",
        title: "Chat server with active users, peer-to-peer client, sign-up and login",
        bins: &[SERVER, CLIENT],
        checks: vec![
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
        ],
    }
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
