//! Checks for lab `chatroom`: the chat-room hub and its client. The server is tested with several
//! simultaneous clients written here (they speak the seed's protocol, as netcat users would);
//! the client is driven through its stdin against a reference hub written here.

use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Packet};
use socklab::grader::{secs, Check, Ctx, Lab, Program};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = "chatroom_server";
const CLIENT: &str = "chatroom_client";
const WAIT: Duration = Duration::from_secs(3);
/// How long to listen to make sure something does *not* arrive.
const QUIET: Duration = Duration::from_millis(300);

pub fn lab() -> Lab {
    Lab::new(
        "chatroom",
        "TCP chat room with private messages",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 accept and handshake", "sends NICKNAME, then `Connected to server!` for a good nickname", 2,
                "Accept in a loop, one thread per client (handle_client: writer thread, handshake). The welcome follows the `NAME joined!` broadcast, so Room::broadcast is needed too.", handshake),
            Check::new("1 accept and handshake", "serves several clients at once", 2,
                "One thread per client: while one client has not answered NICKNAME yet, the others must be served.", clients_at_once),
            Check::new("1 accept and handshake", "refuses bad or taken nicknames with `ERROR …`, then asks again", 1,
                "The given handshake() does this once your per-client thread calls it with a running writer.", nickname_rules),
            Check::new("2 join notices", "everyone, the newcomer included, gets `NAME joined!`", 2,
                "After the handshake, room.broadcast `NAME joined!`: broadcast must reach every member.", join_notices),
            Check::new("2 join notices", "the server prints `Connected with ADDR` and `Client name is NAME`", 1,
                "Print `Connected with ADDR` in the accept loop; the rest is printed by the given code.", server_log),
            Check::new("3 broadcast", "a chat line reaches every client, the sender included, as `NAME: text`", 3,
                "Read lines in the client's thread and pass them to chat(); broadcast offers the line to every member.", broadcast),
            Check::new("3 broadcast", "no client can speak as another (the server writes `NAME: `)", 1,
                "The given chat() builds `NAME: text` from the registered nickname; do not send the raw line.", no_impersonation),
            Check::new("3 broadcast", "lines from several clients arrive exactly once, each sender's in order", 2,
                "Each client's writer thread sends its queue in order; never drop or repeat a line.", exactly_once),
            Check::new("3 broadcast", "survives lines over 4 KiB and invalid UTF-8 without relaying them", 2,
                "read_line reports TooLong and NotUtf8: log them, tell the sender, and keep reading.", bad_lines),
            Check::new("3 broadcast", "a client that never reads is disconnected; the room goes on", 2,
                "Queue lines with try_send (offer): a full queue means a stuck client, which leaves the room.", stuck_client)
                .limit(25),
            Check::new("4 private messages", "`@NAME text` goes to NAME only", 3,
                "If private_target(text) names someone, unicast to that member instead of broadcasting.", private_message),
            Check::new("4 private messages", "`@NAME` of no one here: an `ERROR …` line to the sender only", 2,
                "When unicast finds no such member, queue an `ERROR …` line on the sender's own queue.", unknown_target),
            Check::new("5 leave notices", "a client that leaves: `NAME left!` to everyone, and the name is free again", 2,
                "At a clean end of the stream: room.leave, broadcast `NAME left!`, drop the queue and join the writer.", leave_notice),
            Check::new("5 leave notices", "a connection cut in the middle of a line: `NAME left!`, the room goes on", 2,
                "An error from read_line ends that client's loop (log it); cleanup runs as for a clean end.", abrupt_leave),
            Check::new("6 client", "asks `Enter server IP address:` and `Choose your nickname:`, then joins", 2,
                "Connect to (host, port); the given handshake answers NICKNAME with the nickname.", client_prompts),
            Check::new("6 client", "sends each typed line as `NAME: text` (`@NAME text` too)", 2,
                "For each stdin line that is not empty, send `NICKNAME: text` with send_line.", client_sends),
            Check::new("6 client", "prints every line the server sends", 2,
                "A receiver thread reads lines from the server and prints each one.", client_prints),
            Check::new("6 client", "asks for another nickname when the server refuses one", 1,
                "The given handshake asks again after an `ERROR …` line; it needs your connection.", client_retries_nickname),
            Check::new("6 client", "your client and your server: two users chat", 1,
                "Run both by hand: chatroom_server --port 3040, then chatroom_client --host 127.0.0.1.", client_with_server),
    ])
    .questions(&QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// A chat client written here: the seed's protocol, one line per message.

struct Peer {
    name: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Peer {
    /// Connects, with a read timeout on the socket.
    fn connect(server: &Program, addr: SocketAddr, name: &str) -> Result<Peer, String> {
        let stream = TcpStream::connect_timeout(&addr, WAIT).map_err(|e| {
            explain(
                server,
                format!("could not connect to the server at {addr}: {e}"),
            )
        })?;
        stream
            .set_read_timeout(Some(WAIT))
            .map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Peer {
            name: name.to_string(),
            stream,
            reader,
        })
    }

    /// Connects and joins as `name`: NICKNAME, the nickname, then `Connected to server!`.
    fn join(server: &Program, addr: SocketAddr, name: &str) -> Result<Peer, String> {
        let mut peer = Peer::connect(server, addr, name)?;
        let joined = peer
            .expect_next("NICKNAME")
            .and_then(|()| peer.send(name))
            .and_then(|()| peer.expect("Connected to server!"));
        joined.map_err(|e| explain(server, e))?;
        Ok(peer)
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.send_raw(format!("{line}\n").as_bytes())
    }

    fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("{} could not send: {e}", self.name))
    }

    /// The next line, or `None` when nothing came within `within` (or the connection ended).
    fn next_within(&mut self, within: Duration) -> Result<Option<String>, String> {
        self.stream
            .set_read_timeout(Some(within.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => Err(format!("the server closed {}'s connection", self.name)),
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(None),
            Err(e) => Err(format!("{}'s connection failed: {e}", self.name)),
        }
    }

    /// The very next line must be `want`.
    fn expect_next(&mut self, want: &str) -> Result<(), String> {
        match self.next_within(WAIT)? {
            Some(line) if line == want => Ok(()),
            Some(line) => Err(format!(
                "{} expected `{want}` first, got {line:?}",
                self.name
            )),
            None => Err(format!(
                "{} got nothing within {}; expected `{want}`",
                self.name,
                secs(WAIT)
            )),
        }
    }

    /// Reads lines until one equals `want` (within `WAIT`); returns the lines before it.
    fn expect(&mut self, want: &str) -> Result<Vec<String>, String> {
        self.expect_where(&format!("`{want}`"), |l| l == want)
    }

    fn expect_where(
        &mut self,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left)? {
                Some(line) if want(&line) => return Ok(seen),
                Some(line) => seen.push(line),
                None => {
                    return Err(format!(
                        "{} expected {what} within {}; got {}",
                        self.name,
                        secs(WAIT),
                        shown(&seen)
                    ))
                }
            }
        }
    }

    /// Everything that arrives within `QUIET`.
    fn quiet(&mut self) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + QUIET;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(seen);
            }
            match self.next_within(left)? {
                Some(line) => seen.push(line),
                None => return Ok(seen),
            }
        }
    }
}

/// Adds a program's panic (in any of its threads), or that it is gone, to a failure message.
fn explain(program: &Program, why: String) -> String {
    match program.panic_message() {
        Some(panic) => format!("{why}; the program {panic}"),
        None if !program.is_running() => format!("{why}; {} is not running", program.label()),
        None => why,
    }
}

/// Waits for a line of the client's output that contains `text`.
fn printed(client: &Program, what: &str, text: &str) -> Result<(), String> {
    client
        .expect_line(what, WAIT, |l| l.contains(text))
        .map(|_| ())
        .map_err(|e| explain(client, e))
}

fn shown(lines: &[String]) -> String {
    match lines.len() {
        0 => "nothing".to_string(),
        n if n > 6 => format!("{:?} … ({n} lines)", &lines[n - 6..]),
        _ => format!("{lines:?}"),
    }
}

fn start_server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    let server = ctx.spawn(SERVER, &["--host", "127.0.0.1", "--port", "0"])?;
    let addr = server.address(WAIT)?;
    Ok((server, addr))
}

/// A server and `names.len()` clients joined in order.
fn room(ctx: &Ctx, names: &[&str]) -> Result<(Program, SocketAddr, Vec<Peer>), String> {
    let (server, addr) = start_server(ctx)?;
    let mut peers = Vec::new();
    for name in names {
        peers.push(Peer::join(&server, addr, name)?);
    }
    Ok((server, addr, peers))
}

/// After everyone has joined, reads each one's join notices so the next lines are fresh.
fn settle(peers: &mut [Peer]) -> Result<(), String> {
    let last = peers.last().map(|p| p.name.clone()).unwrap_or_default();
    let len = peers.len();
    for peer in &mut peers[..len.saturating_sub(1)] {
        peer.expect(&format!("{last} joined!"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1 accept and handshake

fn handshake(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut ann = Peer::connect(&server, addr, "ann")?;
    ann.expect_next("NICKNAME")?;
    ann.send("ann")?;
    let before = ann.expect("Connected to server!")?;
    if before.iter().any(|l| l.starts_with("ERROR")) {
        return Err(format!("the nickname ann was refused: {before:?}"));
    }
    Ok(())
}

fn clients_at_once(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    // Three connections open at once; they answer NICKNAME in the reverse order.
    let mut peers = Vec::new();
    for name in ["amy", "ben", "cat"] {
        let mut peer = Peer::connect(&server, addr, name)?;
        peer.expect_next("NICKNAME")
            .map_err(|e| format!("{e} (while the other clients had not chosen a nickname yet)"))?;
        peers.push(peer);
    }
    for peer in peers.iter_mut().rev() {
        let name = peer.name.clone();
        peer.send(&name)?;
        peer.expect("Connected to server!")?;
    }
    Ok(())
}

fn nickname_rules(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let _taken = Peer::join(&server, addr, "dora")?;
    let too_long = "abcdefghijklmnopqrstu"; // 21 characters
    let tries: [(&[&str], &str); 2] = [
        (&["", "two words", "at@sign"], "good_name-1"),
        (&["colon:s", too_long, "dora"], "Ünïcode_2"),
    ];
    for (bad_names, good) in tries {
        let mut peer = Peer::connect(&server, addr, "newcomer")?;
        peer.expect_next("NICKNAME")?;
        for bad in bad_names {
            peer.send(bad)?;
            match peer.next_within(WAIT)? {
                Some(line) if line.starts_with("ERROR") => {}
                other => {
                    return Err(format!(
                    "the nickname {bad:?} should be refused with a line `ERROR …`; got {other:?}"
                ))
                }
            }
            peer.expect_next("NICKNAME")
                .map_err(|e| format!("after refusing {bad:?} the server should ask again: {e}"))?;
        }
        peer.send(good)?;
        peer.expect("Connected to server!")
            .map_err(|e| format!("after refused nicknames, {good} should be accepted: {e}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2 join notices

fn join_notices(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut eve = Peer::connect(&server, addr, "eve")?;
    eve.expect_next("NICKNAME")?;
    eve.send("eve")?;
    let before = eve.expect("Connected to server!")?;
    if !before.iter().any(|l| l == "eve joined!") {
        return Err(format!(
            "the newcomer eve should get `eve joined!` before `Connected to server!`; got {before:?}"
        ));
    }
    let mut fay = Peer::join(&server, addr, "fay")?;
    eve.expect("fay joined!")?;
    let _gus = Peer::join(&server, addr, "gus")?;
    eve.expect("gus joined!")?;
    fay.expect("gus joined!")?;
    Ok(())
}

fn server_log(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let _hal = Peer::join(&server, addr, "hal")?;
    server.expect_line("`Connected with 127.0.0.1:PORT`", WAIT, |l| {
        l.starts_with("Connected with ") && l.contains("127.0.0.1:")
    })?;
    server.expect_line("`Client name is hal`", WAIT, |l| {
        l.trim() == "Client name is hal"
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3 broadcast

fn broadcast(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["ida", "jon", "kim"])?;
    settle(&mut peers)?;
    peers[1].send("jon: hello, room")?;
    for peer in &mut peers {
        peer.expect("jon: hello, room")?;
    }
    // A netcat user types the text alone; the server adds the nickname.
    peers[2].send("plain text from netcat")?;
    for peer in &mut peers {
        peer.expect("kim: plain text from netcat")?;
    }
    server.expect_line("`jon: hello, room` in the server's output", WAIT, |l| {
        l.trim() == "jon: hello, room"
    })?;
    Ok(())
}

fn no_impersonation(ctx: &Ctx) -> Result<(), String> {
    let (_server, _addr, mut peers) = room(ctx, &["lea", "max"])?;
    settle(&mut peers)?;
    peers[1].send("lea: I owe max 100 euros")?;
    let got = peers[0].next_within(WAIT)?;
    if got.as_deref() != Some("max: lea: I owe max 100 euros") {
        return Err(format!(
            "max sent `lea: I owe max 100 euros`; everyone should see it as written by max \
             (`max: lea: I owe max 100 euros`), lea got {got:?}"
        ));
    }
    Ok(())
}

fn exactly_once(ctx: &Ctx) -> Result<(), String> {
    const LINES: usize = 30;
    let names = ["ned", "oli", "pam"];
    let (_server, _addr, mut peers) = room(ctx, &names)?;
    settle(&mut peers)?;
    // Each client sends from its own thread and reads in this one afterwards: the server's
    // queues hold what arrives meanwhile.
    let senders: Vec<_> = peers
        .iter()
        .map(|p| {
            let mut stream = p.stream.try_clone().map_err(|e| e.to_string())?;
            let name = p.name.clone();
            Ok(thread::spawn(move || {
                let mut text = String::new();
                for i in 0..LINES {
                    text.push_str(&format!("{name}: line {i}\n"));
                }
                stream.write_all(text.as_bytes())
            }))
        })
        .collect::<Result<_, String>>()?;
    for s in senders {
        s.join()
            .map_err(|_| "a sender thread panicked".to_string())?
            .map_err(|e| format!("send: {e}"))?;
    }
    for peer in &mut peers {
        let mut next = [0usize; 3];
        let deadline = Instant::now() + WAIT;
        while next.iter().sum::<usize>() < LINES * names.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = peer.next_within(left)? else {
                return Err(format!(
                    "{} received {:?} of the {LINES} lines of ned, oli and pam within {}",
                    peer.name,
                    next,
                    secs(WAIT)
                ));
            };
            let Some((from, i)) = line.split_once(": line ").and_then(|(f, i)| {
                Some((
                    names.iter().position(|n| *n == f)?,
                    i.parse::<usize>().ok()?,
                ))
            }) else {
                return Err(format!(
                    "{} received an unexpected line {line:?}",
                    peer.name
                ));
            };
            if i != next[from] {
                return Err(format!(
                    "{} expected `{}: line {}` next from {}, got {line:?} (a line lost, repeated or out of order)",
                    peer.name, names[from], next[from], names[from]
                ));
            }
            next[from] += 1;
        }
    }
    Ok(())
}

fn bad_lines(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["quin", "ray"])?;
    settle(&mut peers)?;
    let mut long = vec![b'x'; 5000];
    long.push(b'\n');
    peers[0].send_raw(&long)?;
    peers[0].send_raw(b"quin: caf\xc3\xa9 \xff\xfe broken\n")?;
    peers[0].send("quin: still here")?;
    let before = peers[1].expect("quin: still here").map_err(|e| {
        format!("after a 5000-byte line and a line that is not UTF-8, the next good line should arrive: {e}")
    })?;
    if !before.is_empty() {
        return Err(format!(
            "the bad lines should be dropped, not relayed; ray got {}",
            shown(&before)
        ));
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    Ok(())
}

fn stuck_client(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, mut peers) = room(ctx, &["sam", "tia"])?;
    // `stuck` joins, then never reads again.
    let stuck = Peer::join(&server, addr, "stuck")?;
    settle(&mut peers)?;
    let mut tia = peers.pop().ok_or("no peer")?;
    let mut sam = peers.pop().ok_or("no peer")?;
    // sam talks (big lines, one at a time, each after its echo); tia listens in a thread.
    let listener = thread::spawn(move || -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(18);
        while Instant::now() < deadline {
            if let Some(line) = tia.next_within(WAIT)? {
                if line == "stuck left!" {
                    return Ok(());
                }
            } else {
                return Err("tia got nothing for 3 s while sam was talking".into());
            }
        }
        Err("tia did not see `stuck left!` within 18 s".into())
    });
    let filler = "y".repeat(4000);
    let deadline = Instant::now() + Duration::from_secs(18);
    let mut sent = 0;
    while !listener.is_finished() && Instant::now() < deadline {
        sam.send(&format!("sam: {sent} {filler}"))?;
        sam.expect_where("its own line back", |l| {
            l.starts_with(&format!("sam: {sent} "))
        })
        .map_err(|e| {
            format!("{e}; a client that never reads must not stall the room ({sent} lines sent)")
        })?;
        sent += 1;
    }
    drop(stuck);
    listener
        .join()
        .map_err(|_| "the listening thread panicked".to_string())?
        .map_err(|e| {
            format!("{e}: `stuck` never read the {sent} lines of 4 KB, so it should have been disconnected")
        })?;
    sam.send("sam: after")?;
    sam.expect("sam: after")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4 private messages

fn private_message(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["uma", "vic", "wes"])?;
    settle(&mut peers)?;
    peers[0].send("uma: @wes meet me at noon")?;
    peers[0].send("uma: public marker")?;
    let got = peers[2].next_within(WAIT)?;
    if got.as_deref() != Some("uma: @wes meet me at noon") {
        return Err(format!(
            "uma sent `@wes meet me at noon`; wes should get `uma: @wes meet me at noon`, got {got:?}"
        ));
    }
    for i in [0, 1] {
        let peer = &mut peers[i];
        let before = peer.expect("uma: public marker")?;
        if !before.is_empty() {
            return Err(format!(
                "a private message to wes reached {}: {}",
                peer.name,
                shown(&before)
            ));
        }
    }
    peers[2].expect("uma: public marker")?;
    server.expect_line("the private message in the server's output", WAIT, |l| {
        l.contains("@wes meet me at noon")
    })?;
    Ok(())
}

fn unknown_target(ctx: &Ctx) -> Result<(), String> {
    let (_server, _addr, mut peers) = room(ctx, &["xia", "yan"])?;
    settle(&mut peers)?;
    peers[0].send("xia: @zed are you there?")?;
    match peers[0].next_within(WAIT)? {
        Some(line) if line.starts_with("ERROR") => {}
        other => {
            return Err(format!(
                "no one called zed is here: xia should get a line `ERROR …`, got {other:?}"
            ))
        }
    }
    let others = peers[1].quiet()?;
    if !others.is_empty() {
        return Err(format!(
            "a message to an unknown @zed should reach no one; yan got {}",
            shown(&others)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5 leave notices

fn leave_notice(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, mut peers) = room(ctx, &["abe", "bea", "cy"])?;
    settle(&mut peers)?;
    let cy = peers.pop().ok_or("no peer")?;
    drop(cy);
    for peer in &mut peers {
        peer.expect("cy left!")?;
    }
    server.expect_line("`cy left!` in the server's output", WAIT, |l| {
        l.trim() == "cy left!"
    })?;
    let mut again = Peer::join(&server, addr, "cy")
        .map_err(|e| format!("once cy left, the nickname cy should be free again: {e}"))?;
    again.send("cy: back")?;
    peers[0].expect("cy: back")?;
    Ok(())
}

fn abrupt_leave(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["dan", "eli"])?;
    settle(&mut peers)?;
    let mut eli = peers.pop().ok_or("no peer")?;
    eli.send_raw(b"eli: half a mess")?;
    thread::sleep(Duration::from_millis(100));
    drop(eli);
    let before = peers[0].expect("eli left!")?;
    if before.iter().any(|l| l.contains("half a mess")) {
        return Err("half a line (cut by a disconnect) should be dropped, not relayed".into());
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    peers[0].send("dan: anyone?")?;
    peers[0].expect("dan: anyone?")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6 client: a reference hub written here, the client driven through its stdin

/// Accepts one connection within `WAIT`, with a read timeout on it.
fn accept(listener: &TcpListener, client: &Program) -> Result<Peer, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(WAIT))
                    .map_err(|e| e.to_string())?;
                let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
                return Ok(Peer {
                    name: "the test server".into(),
                    stream,
                    reader,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    let why = format!(
                        "the client did not connect to the server within {}",
                        secs(WAIT)
                    );
                    return Err(explain(client, why));
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

fn hub() -> Result<(TcpListener, String), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("test server: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok((listener, port.to_string()))
}

/// The hub's side of a join: NICKNAME, the nickname (which must be `want`), the welcome.
fn welcome(conn: &mut Peer, want: &str) -> Result<(), String> {
    conn.send("NICKNAME")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == want => {}
        other => {
            return Err(format!(
                "after NICKNAME the client should send its nickname `{want}`, sent {other:?}"
            ))
        }
    }
    conn.send(&format!("{want} joined!"))?;
    conn.send("Connected to server!")
}

/// A client joined to a reference hub as `zoe` through --host and --nickname.
fn joined_client(ctx: &Ctx) -> Result<(Program, Peer), String> {
    let (listener, port) = hub()?;
    let client = ctx.spawn(
        CLIENT,
        &["--host", "127.0.0.1", "--port", &port, "--nickname", "zoe"],
    )?;
    let mut conn = accept(&listener, &client)?;
    welcome(&mut conn, "zoe")?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    Ok((client, conn))
}

fn client_prompts(ctx: &Ctx) -> Result<(), String> {
    let (listener, port) = hub()?;
    let mut client = ctx.spawn(CLIENT, &["--port", &port])?;
    printed(
        &client,
        "the prompt `Enter server IP address:`",
        "Enter server IP address:",
    )?;
    client.send_line("127.0.0.1")?;
    printed(
        &client,
        "the prompt `Choose your nickname:`",
        "Choose your nickname:",
    )?;
    client.send_line("zoe")?;
    let mut conn = accept(&listener, &client)?;
    welcome(&mut conn, "zoe")?;
    printed(
        &client,
        "`Connected to server!` printed",
        "Connected to server!",
    )?;
    Ok(())
}

fn client_sends(ctx: &Ctx) -> Result<(), String> {
    let (mut client, mut conn) = joined_client(ctx)?;
    for (typed, want) in [
        ("hello there", "zoe: hello there"),
        ("@amy just for you", "zoe: @amy just for you"),
    ] {
        client.send_line(typed)?;
        match conn.next_within(WAIT)? {
            Some(line) if line == want => {}
            other => {
                return Err(format!(
                    "typed {typed:?}; the server should receive `{want}`, got {other:?}"
                ))
            }
        }
    }
    Ok(())
}

fn client_prints(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = joined_client(ctx)?;
    let lines = ["amy joined!", "amy: hi zoe", "bob: @zoe psst", "amy left!"];
    for line in lines {
        conn.send(line)?;
    }
    for line in lines {
        printed(&client, &format!("`{line}` printed"), line)?;
    }
    Ok(())
}

fn client_retries_nickname(ctx: &Ctx) -> Result<(), String> {
    let (listener, port) = hub()?;
    let mut client = ctx.spawn(
        CLIENT,
        &["--host", "127.0.0.1", "--port", &port, "--nickname", "amy"],
    )?;
    let mut conn = accept(&listener, &client)?;
    conn.send("NICKNAME")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == "amy" => {}
        other => return Err(format!("the client should send amy, sent {other:?}")),
    }
    conn.send("ERROR the nickname amy is taken; choose another nickname")?;
    printed(&client, "the refusal printed", "the nickname amy is taken")?;
    // The server asks again; the client asks its user again.
    conn.send("NICKNAME")?;
    printed(
        &client,
        "the prompt `Choose your nickname:` again",
        "Choose your nickname:",
    )?;
    client.send_line("amy2")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == "amy2" => {}
        other => {
            return Err(format!(
                "after the refusal the user typed amy2; the client sent {other:?}"
            ))
        }
    }
    conn.send("amy2 joined!")?;
    conn.send("Connected to server!")?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    Ok(())
}

fn client_with_server(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut bob = Peer::join(&server, addr, "bob")?;
    let port = addr.port().to_string();
    let mut client = ctx.spawn(
        CLIENT,
        &["--host", "127.0.0.1", "--port", &port, "--nickname", "zoe"],
    )?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    bob.expect("zoe joined!")?;
    client.send_line("hi bob")?;
    bob.expect("zoe: hi bob")?;
    bob.send("bob: @zoe hi zoe")?;
    printed(&client, "`bob: @zoe hi zoe`", "bob: @zoe hi zoe")?;
    client.close_stdin();
    bob.expect("zoe left!")
        .map_err(|e| format!("once the client's input ends it should leave: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7 capture questions (labs/chatroom/answers.txt)

/// The chat line the scenario sends (and the handout asks to type when capturing by hand).
const LINE: &str = "hello everyone";

/// The questions of `labs/chatroom/answers.txt`, in its order. The fixed answer is stored
/// hashed: `cargo run --bin capture -- --lab chatroom --hash KEY=ANSWER` prints a hash.
static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "7 capture questions",
    salt: "socklab/chatroom/578d",
    captures: &[CaptureFile {
        name: "chatroom",
        holds:
            "two clients joining, `hello everyone` and a client leaving (TCP on the server's port)",
        check: |packets| room_seen(packets).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "server_port",
            capture: "chatroom",
            title: "the server's TCP port, read from the capture",
            text: "Which TCP port did your server listen on?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(room_seen(p)?.server.port()))),
            hint: "The port the server's `NICKNAME` comes from, and the destination port of every \
                   client's SYN: the OS chose it when the server bound port 0.",
        },
        Question {
            key: "line_bytes",
            capture: "chatroom",
            title: "the TCP payload of the segment carrying `hello everyone`",
            text: "How many bytes of TCP payload did the segment hold that carried the line \
                   `hello everyone` from a client to the server?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(room_seen(p)?.line.len as f64)),
            hint:
                "Filter `tcp.len > 0` and find the segment to the server's port whose bytes show \
                   the line; Wireshark's `Len=` (or `[TCP Segment Len]`) is the payload, without \
                   headers. Every byte the client wrote counts: its `NAME: ` prefix and the `\\n`.",
        },
        Question {
            key: "first_fin",
            capture: "chatroom",
            title: "which side sent the first FIN when a client left",
            text: "Look at the first connection that ended: which side sent its first FIN, the \
                   client or the server? (client or server)",
            form: Form::Choice(&["client", "server"]),
            answer: Answer::CaptureText(|p| Ok(room_seen(p)?.first_fin.to_string())),
            hint: "Filter `tcp.flags.fin == 1` and compare the first FIN's source port with the \
                   server's. The client that leaves closes its sending side first (Ctrl-D: \
                   shutdown(Write)); the server answers with `NAME left!` to the others and closes \
                   its side. A client killed in the middle may make the server, or a RST, end it \
                   instead: answer for your capture.",
        },
        Question {
            key: "message_end",
            capture: "chatroom",
            title: "what marks the end of a message in the stream",
            text:
                "What tells the server where one chat message ends: the end of a TCP segment, or \
                   the newline character? (segment or newline)",
            form: Form::Choice(&["segment", "newline"]),
            answer: Answer::Fixed {
                hash: "d9bf210d769e356564cdb2576067348dd29659cb4915398976f631f0f865950b",
                near: &[(
                    "d83c8c2cbd49a459d849061d58ba7fc9199757c88d6478817c6121b70f2a0eb2",
                    "in your capture each line may have a segment of its own, but TCP promises \
                     nothing about that: it may put two lines in one segment or split one over \
                     two, and `read` hands out bytes, not segments",
                )],
            },
            hint: "TCP delivers a stream of bytes: segment boundaries are not passed to the \
                   application, and the sender's TCP may merge or split writes. Read the framing \
                   function at the top of your server (read_line).",
        },
    ],
    scenario,
};

/// What the questions read from a capture of the chat room.
struct RoomSeen {
    /// The server's socket: where `NICKNAME` comes from.
    server: SocketAddr,
    /// The segment that carried `hello everyone` from a client to the server.
    line: Packet,
    /// "client" or "server": who sent the first FIN on a connection with the server.
    first_fin: &'static str,
}

fn room_seen(packets: &[Packet]) -> Result<RoomSeen, String> {
    let server = packets
        .iter()
        .find(|p| p.is_tcp() && p.payload.starts_with(b"NICKNAME"))
        .map(|p| p.src)
        .ok_or(
            "it holds no `NICKNAME` line from a chat-room server: capture on the server's port \
             from before the clients connect",
        )?;
    capture::handshake(packets, |syn| syn.dst == server).ok_or_else(|| {
        format!(
            "it holds no handshake (SYN, then SYN-ACK) of a connection to the server at {server}: \
             start the capture before the clients"
        )
    })?;
    let line = packets
        .iter()
        .find(|p| {
            p.is_tcp()
                && p.dst == server
                && p.payload.windows(LINE.len()).any(|w| w == LINE.as_bytes())
        })
        .cloned()
        .ok_or_else(|| {
            format!("it holds no segment carrying the line `{LINE}` to the server: type it in a client while capturing")
        })?;
    let fin = packets
        .iter()
        .filter(|p| p.is_tcp() && (p.src == server || p.dst == server))
        .find(|p| p.flags.has(Flags::FIN))
        .ok_or(
            "no connection with the server ends in it (no FIN): stop the capture after a client \
             has left",
        )?;
    Ok(RoomSeen {
        server,
        line,
        first_fin: if fin.src == server {
            "server"
        } else {
            "client"
        },
    })
}

/// The solution server and two clients on loopback: both join, amy writes `hello everyone`,
/// ben leaves, then amy; captured on the server's port.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let server = rec.spawn(SERVER, &["--host", "127.0.0.1", "--port", "0"])?;
    let port = server.address(WAIT)?.port().to_string();
    rec.capture("chatroom", &format!("tcp port {port}"))?;
    let join = |name: &str| -> Result<Program, String> {
        let client = rec.spawn(
            CLIENT,
            &["--host", "127.0.0.1", "--port", &port, "--nickname", name],
        )?;
        printed(&client, "`Connected to server!`", "Connected to server!")?;
        Ok(client)
    };
    let mut amy = join("amy")?;
    let mut ben = join("ben")?;
    printed(&amy, "`ben joined!`", "ben joined!")?;
    amy.send_line(LINE)?;
    printed(&ben, "`amy: hello everyone`", "amy: hello everyone")?;
    ben.close_stdin();
    printed(&amy, "`ben left!`", "ben left!")?;
    amy.close_stdin();
    for client in [&ben, &amy] {
        if !client.wait(WAIT)?.success() {
            return Err(explain(client, "a client failed".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(number: usize, src: u16, dst: u16, flags: u8, seq: u32, data: &[u8]) -> Packet {
        let (src, dst) = (([127, 0, 0, 1], src), ([127, 0, 0, 1], dst));
        Packet::tcp(number, src, dst, flags, (seq, 0), data)
    }

    #[test]
    fn the_room_is_read_by_its_lines_and_flags() {
        let (s, amy, old) = (3040, 41000, 39000);
        let (syn, ack, psh, fin) = (Flags::SYN, Flags::ACK, Flags::PSH, Flags::FIN);
        let mut packets = vec![
            // A connection already open when the capture began ends first, from the server.
            segment(1, s, old, fin | ack, 500, b""),
            segment(2, amy, s, syn, 10, b""),
            segment(3, s, amy, syn | ack, 70, b""),
            segment(4, s, amy, psh | ack, 71, b"NICKNAME\n"),
            segment(5, amy, s, psh | ack, 11, b"amy\n"),
            segment(6, amy, s, psh | ack, 15, b"amy: hello everyone\n"),
            segment(7, amy, s, fin | ack, 35, b""),
        ];
        packets[2].ack = 11;
        let seen = room_seen(&packets).unwrap();
        assert_eq!(seen.server.port(), s);
        assert_eq!((seen.line.number, seen.line.len), (6, 20));
        assert_eq!(seen.first_fin, "server");
        assert_eq!(room_seen(&packets[1..]).unwrap().first_fin, "client");

        let err = room_seen(&packets[1..6]).err().unwrap();
        assert!(err.contains("no FIN"), "{err}");
        let err = room_seen(&packets[2..]).err().unwrap();
        assert!(err.contains("no handshake"), "{err}");
        let err = room_seen(&packets[4..]).err().unwrap();
        assert!(err.contains("NICKNAME"), "{err}");
    }
}
