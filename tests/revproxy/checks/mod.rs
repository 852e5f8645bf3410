//! Checks for lab `revproxy`: the reverse proxy, its servers and its clients, each tested on its
//! own so that one unfinished program does not cost the others their points. The student's
//! proxy meets stand-in servers and clients written here (`proxy.rs`); the student's server
//! meets a stand-in proxy (`server.rs`); the student's client meets a stand-in proxy that can
//! answer right, wrong, in pieces or with an error (`client.rs`); `questions.rs` asks about a
//! capture of all three. This file registers the checks and holds what the parts share: a
//! JSON-message peer (one JSON value per message, no newline) and a stand-in server.
//!
//! Across netlab's hosts (`grade --net`) the student's proxy runs on webserver, the stand-in
//! servers live and register on client2 ([`servers_ip`]) and the test clients on client1; the
//! student's server and client meet a stand-in proxy on client1; in the last check the
//! student's servers run on client2 and clients on client1, finding the proxy by name.

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use socklab::grader::{
    data_segments_in, hosts, secs, tcp_from, Check, Context, Ctx, Lab, Program, StandIn, WAIT,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

mod client;
mod proxy;
mod questions;
mod server;

const PROXY: &str = "revproc";
const SERVER: &str = "rp_server";
const CLIENT: &str = "rp_client";
/// Why the out-of-descriptors checks run on loopback under `grade --net`.
const LIMITS_HERE: &str =
    "the grader limits the program's file descriptors itself, which it can do only here";
/// The course's packet `1327.PP_2` and the SHA-1 of its payload (as in the seed's logs).
const PAYLOAD: &str = "uddirbgwkejcwxxezgadhwwvonhrhgoi";
const PAYLOAD_SHA1: &str = "5d5b56e93d61c78d2c28d0f6b5cf45d196b825b6";
/// What the proxy answers to a setup.
const ACK: &str = "Successfully setup with reverse proxy";

pub fn lab() -> Lab {
    Lab::new("revproxy", "Reverse proxy with policy routing and SHA-1 replies", &[PROXY, SERVER, CLIENT])
        .checks(vec![
            Check::new("1 registration", "the proxy acknowledges a setup, with either policy key and with ids as strings", 2,
                "revproc: what does a setup get back (the handout's protocol), and does your proxy read it whole (read_message)?", proxy::acknowledges).across_hosts(),
            Check::new("1 registration", "the proxy reads a message that arrives in pieces or with a newline", 2,
                "read_message: how much of a message can one read() give you? (the handout's framing section)", proxy::framing).needs(&["the proxy acknowledges a setup, with either policy key and with ids as strings"]).across_hosts(),
            Check::new("1 registration", "the server registers: type 1, its id, both policy keys, its real listening port", 2,
                "rp_server: which port does the setup announce, and is anything listening there yet? (Setup::to_json)", server::registers).across_hosts(),
            Check::new("1 registration", "the server serves whether or not the proxy acknowledges", 1,
                "rp_server's register: a proxy that closes, or says nothing for a while, has still registered you.", server::without_ack).needs(&["the server registers: type 1, its id, both policy keys, its real listening port"])
                .limit(20).across_hosts(),
            Check::new("1 registration", "the server stops, with the proxy's sentence, when its setup is refused", 1,
                "rp_server's register: an answer with an error sentence means the proxy did not take you.", server::refused_setup).needs(&["the server registers: type 1, its id, both policy keys, its real listening port"]).across_hosts(),
            Check::new("2 routing", "the proxy forwards a message to a server of its policy and relays the reply", 3,
                "revproc: a data message's way through route(), pick() and forward(); the proxy's log lines show how far it got.", proxy::routes_by_policy).needs(&["the proxy acknowledges a setup, with either policy key and with ids as strings"]).across_hosts(),
            Check::new("2 routing", "round-robin per policy, in registration order (1, 2, 1, 2, 1)", 2,
                "Table::pick: whose turn is it, per policy, and where is the turn after a message? (the handout's example)", proxy::round_robin).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("2 routing", "a new connection per message to the address the server registered from", 1,
                "Where does the proxy reach a server: which address, which port (the handout), and on which connection?", proxy::registered_address).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("2 routing", "an unknown policy gets an error sentence, and the proxy goes on", 1,
                "What does the client get when the policy has no server (the handout's protocol)?", proxy::unknown_policy).needs(&["the proxy acknowledges a setup, with either policy key and with ids as strings"]).across_hosts(),
            Check::new("2 routing", "a server is reached whichever policy key its setup used (privPolyId or privPoliId)", 2,
                "Real servers send the policy as `privPolyId` or as `privPoliId` (the handout says why): where does the proxy read a setup's policy?", proxy::either_policy_key).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("2 routing", "the proxy reads a server's reply that arrives in pieces", 1,
                "The proxy reads the server's reply as it reads any message: until it is one whole JSON value.", proxy::reply_in_pieces).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("2 routing", "the proxy sends every message in one write (acknowledgement, forward, reply, error)", 2,
                "A Python peer reads each message with one recv(1024): how many writes does each of your messages take?", proxy::one_write_per_message).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("2 routing", "the proxy prints the seed's log lines", 1,
                "The handout's table of log lines: one line for each step a message takes through the proxy.", proxy::log_lines).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("3 server", "the server answers type 2 with the payload's SHA-1, ids swapped", 3,
                "rp_server: the handout's type 2 reply: which id goes in srcid, which in destid, and what is hashed?", server::answers_sha1).across_hosts(),
            Check::new("3 server", "the server closes the connection after its reply", 1,
                "One message per connection: after writing the reply, let the stream go.", server::closes_after_reply).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped"]).across_hosts(),
            Check::new("3 server", "the server serves several connections at once", 1,
                "One thread per connection: a connection that sends nothing must not hold up the next.", server::several_at_once).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped"]).across_hosts(),
            Check::new("3 server", "the server survives bad input and answers it with an error", 1,
                "rp_server: what becomes of a message that cannot be read or decoded? (the handout: bad input is logged and answered)", server::survives_bad_input).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped"]).across_hosts(),
            Check::new("3 server", "the server logs bad input on stderr", 1,
                "rp_server: where does a message it cannot read or decode leave a trace? (the handout: bad input is logged; log::warn!)", server::logs_bad_input).needs(&["the server survives bad input and answers it with an error"]).across_hosts(),
            Check::new("3 server", "out of file descriptors: the server says so, waits without spinning, serves again", 1,
                "A failed accept is not the end of the server: what does it print, how soon does it try again (ACCEPT_PAUSE), and what frees a descriptor?", server::out_of_descriptors)
                .needs(&["the server serves several connections at once"]).loopback_only(LIMITS_HERE),
            Check::new("3 server", "the server prints the assignment's log lines", 1,
                "The handout's table of log lines, rp_server's row: the two lines per message.", server::log_lines).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped"]).across_hosts(),
            Check::new("3 server", "the server sends its setup and its reply each in one write", 1,
                "A Python proxy reads each message with one recv(1024): how many writes does each of your messages take?", server::one_write_per_message).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped"]).across_hosts(),
            Check::new("4 client", "the client sends the packet file's message with its -id and prints `Hash matched.`", 3,
                "rp_client: one exchange with the proxy (exchange), then what the handout's log lines show; -pkt NAME may mean NAME.json.", client::hash_matched).across_hosts(),
            Check::new("4 client", "the client fails (exit 1) on a wrong hash and says what differs", 2,
                "rp_client's verify: what does the client know that lets it judge the reply? (sha1_hex)", client::wrong_hash).needs(&["the client sends the packet file's message with its -id and prints `Hash matched.`"]).across_hosts(),
            Check::new("4 client", "the client reads a reply that arrives in pieces, ids as strings", 1,
                "How much of a reply can one read() give you? (the handout's framing section)", client::reply_in_pieces).needs(&["the client sends the packet file's message with its -id and prints `Hash matched.`"]).across_hosts(),
            Check::new("4 client", "the client prints the proxy's error sentence and exits 1", 1,
                "What kind of answer is this (error_text), and what does the client print and return for it?", client::proxy_error).needs(&["the client sends the packet file's message with its -id and prints `Hash matched.`"]).across_hosts(),
            Check::new("4 client", "the client sends its message in one write", 1,
                "A Python proxy reads the client's message with one recv(1024): how many writes does yours take?", client::one_write_per_message).needs(&["the client sends the packet file's message with its -id and prints `Hash matched.`"]).across_hosts(),
            Check::new("4 client", "the client judges a reply by its hash, not by its payloadsize", 1,
                "Some servers copy the request's payloadsize into their reply: what does the client compare to decide?", client::judges_by_hash).needs(&["the client sends the packet file's message with its -id and prints `Hash matched.`"]).across_hosts(),
            Check::new("5 failures", "a dead server is skipped and the message goes to the next one", 2,
                "The handout: which servers are marked down, and where the message goes then (forward's Failure, mark_down, pick).", proxy::dead_server_skipped).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "a server that does not answer in time is marked down and skipped for a while", 2,
                "forward(): what does a server that never answers cost, and which kind of Failure is it? (the handout: marked down)", proxy::silent_server_skipped).needs(&["the proxy forwards a message to a server of its policy and relays the reply"])
                .limit(20).across_hosts(),
            Check::new("5 failures", "a server marked down is tried again a few seconds later", 1,
                "Marked down is not removed: is_up says when a server may be tried again.", proxy::down_server_tried_again)
                .limit(25).needs(&["a dead server is skipped and the message goes to the next one"]).across_hosts(),
            Check::new("5 failures", "with every server of a policy down, the client gets an error sentence", 1,
                "What does the client get when every server of the policy is down (the handout's protocol)?", proxy::all_down).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "a slow server stalls no one else", 2,
                "A thread per connection, and the table's lock let go before forward(): who waits on the lock while one server is slow?", proxy::slow_server_stalls_no_one).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "the proxy answers bad messages with an error and goes on", 2,
                "handle_connection: what does a peer get for a message the proxy cannot take? (error_message; never unwrap() what came from the network)", proxy::survives_bad_input).needs(&["the proxy acknowledges a setup, with either policy key and with ids as strings"]).across_hosts(),
            Check::new("5 failures", "the proxy refuses a message over 64 KiB and closes", 1,
                "read_message: what bounds how much a peer can make you keep? (MAX_MESSAGE)", proxy::too_large).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "garbage from a server reaches the client as an error", 1,
                "A server that answers garbage is up, only its answer is wrong: which Failure is that in forward(), and what does route() do with it?", proxy::garbage_from_server).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "a reply whose payloadsize disagrees is relayed, not refused", 1,
                "checked_reply: the client hashes its payload itself; what is left for the proxy to judge?", proxy::relays_wrong_size).needs(&["the proxy forwards a message to a server of its policy and relays the reply"]).across_hosts(),
            Check::new("5 failures", "out of file descriptors: the proxy says so, waits without spinning, serves again", 1,
                "A failed accept is not the end of the proxy: what does it print, how soon does it try again (ACCEPT_PAUSE), and what frees a descriptor?", proxy::out_of_descriptors)
                .needs(&["the proxy acknowledges a setup, with either policy key and with ids as strings"]).loopback_only(LIMITS_HERE),
            Check::new("5 failures", "the proxy logs each failure on stderr (bad input, silent peer, dead or bad server)", 1,
                "revproc: every place that gives up on a peer or a server (handle_connection, route, checked_reply), or cannot answer a client: does it say so on stderr? (log::warn!)", proxy::logs_failures).needs(&["the proxy answers bad messages with an error and goes on", "a dead server is skipped and the message goes to the next one"]).across_hosts(),
            Check::new("6 together", "50 clients at once all get the right reply, spread 25/25", 2,
                "Thread per connection, round-robin turns taken under the lock, the lock let go before forwarding.", proxy::fifty_clients).needs(&["round-robin per policy, in registration order (1, 2, 1, 2, 1)"])
                .limit(20).across_hosts(),
            Check::new("6 together", "your proxy, two of your servers and your clients", 2,
                "Run them by hand: revproc -port 5000, two rp_server with -pp PP_2, then rp_client -pkt 1327.PP_2.", proxy::all_three).needs(&["the server answers type 2 with the payload's SHA-1, ids swapped", "the client sends the packet file's message with its -id and prints `Hash matched.`", "the proxy forwards a message to a server of its policy and relays the reply"])
                .limit(20).across_hosts(),
        ])
        .questions(&questions::QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// Messages, as the test side speaks them.

/// The SHA-1 of `payload` in lowercase hex.
fn sha1_hex(payload: &str) -> String {
    Sha1::digest(payload.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A data message (type 0) as the course's clients send it.
fn data(srcid: i64, policy: &str, payload: &str) -> Value {
    json!({"type": 0, "srcid": srcid, "privPoliId": policy, "payloadsize": payload.len(), "payload": payload})
}

/// The right reply from server `id` to `message`.
fn reply_to(id: i64, message: &Value) -> Value {
    let payload = message["payload"].as_str().unwrap_or_default();
    json!({"type": 2, "srcid": id, "destid": message["srcid"], "payloadsize": 40, "payload": sha1_hex(payload)})
}

/// Whole number `key` of `message`: a JSON number or, when `strings`, a string holding one.
fn number(message: &Value, key: &str, strings: bool) -> Option<i64> {
    match &message[key] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if strings => s.trim().parse().ok(),
        _ => None,
    }
}

/// The error sentence of an answer (`error` or `Error`), if it is an error.
fn error_sentence(answer: &Value) -> Option<&str> {
    answer
        .get("error")
        .or_else(|| answer.get("Error"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A random payload of 32 lowercase letters, as the course's packet files hold.
fn random_payload() -> String {
    (0..32)
        .map(|_| (b'a' + (socklab::chance() * 26.0) as u8 % 26) as char)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One JSON message per write, no newline: the test side of every connection.

/// A TCP connection carrying JSON messages; `who` names it in every message.
struct JsonPeer {
    who: String,
    stream: TcpStream,
    /// Bytes received after the last message (a student may send a newline after it).
    pending: Vec<u8>,
}

impl JsonPeer {
    fn connect(to: SocketAddr, who: &str) -> Result<JsonPeer, String> {
        let stream = TcpStream::connect_timeout(&to, WAIT)
            .with_context(|| format!("{who} connecting to {to}"))?;
        JsonPeer::new(stream, who)
    }

    /// Connects from local address `from` (all of 127/8 is loopback on Linux), as a host with
    /// that address would; across netlab's hosts, from the host that has it.
    fn connect_from(to: SocketAddr, from: IpAddr, who: &str) -> Result<JsonPeer, String> {
        JsonPeer::new(tcp_from(to, from, who, None)?, who)
    }

    fn new(stream: TcpStream, who: &str) -> Result<JsonPeer, String> {
        stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_write_timeout(Some(WAIT)))
            .and_then(|()| stream.set_nodelay(true))
            .context("setting up a test socket")?;
        Ok(JsonPeer {
            who: who.to_string(),
            stream,
            pending: Vec::new(),
        })
    }

    /// Sends `message` in one write, as the course's programs do.
    fn send(&mut self, message: &Value) -> Result<(), String> {
        self.send_raw(message.to_string().as_bytes())
    }

    fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .with_context(|| format!("{} sending", self.who))
    }

    /// Sends `bytes` in two writes split at `at`, the second once the program with process id
    /// `reader`, at the other end, has read the first (see [`read_by`]): a reader that takes
    /// one read for the whole message has then answered, or closed, on half of it.
    fn send_split(&mut self, bytes: &[u8], at: usize, reader: u32) -> Result<(), String> {
        let at = at.min(bytes.len());
        self.send_raw(&bytes[..at])?;
        read_by(&self.stream, reader);
        self.send_raw(&bytes[at..])
    }

    /// Leaves with a reset (no FIN), and waits until process `pid`, at the other end, has
    /// received it: its socket is then gone from its table of connections.
    fn reset(self, pid: u32) -> Result<(), String> {
        let (ours, theirs) = (self.stream.local_addr(), self.stream.peer_addr());
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .context("setting a test socket to reset when closed")?;
        drop(self);
        let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
            return Ok(());
        };
        let deadline = Instant::now() + WAIT;
        while unread_at(pid, theirs, ours).is_some() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// The next JSON value, within [`WAIT`].
    fn receive(&mut self) -> Result<Value, String> {
        self.receive_within(WAIT)
    }

    /// The next JSON value, within `within`: bytes are read until they hold a complete one.
    fn receive_within(&mut self, within: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let mut buf = std::mem::take(&mut self.pending);
        let mut chunk = [0u8; 4096];
        loop {
            let mut values = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.pending = buf[used..].to_vec();
                    return Ok(value);
                }
                Some(Err(e)) if !e.is_eof() => {
                    return Err(format!(
                        "{} received something that is not JSON: {:?}",
                        self.who,
                        String::from_utf8_lossy(&buf[..buf.len().min(120)])
                    ))
                }
                _ => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.nothing(within, &buf));
            }
            self.stream
                .set_read_timeout(Some(left))
                .context("setting a test socket's timeout")?;
            match self.stream.read(&mut chunk) {
                Ok(0) if buf.iter().all(u8::is_ascii_whitespace) => {
                    return Err(format!(
                        "{} expected a message, but the connection was closed without one",
                        self.who
                    ))
                }
                Ok(0) => {
                    return Err(format!(
                        "{} received half a message before the connection closed: {:?}",
                        self.who,
                        String::from_utf8_lossy(&buf[..buf.len().min(120)])
                    ))
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(self.nothing(within, &buf))
                }
                Err(e) => return Err(format!("the connection of {} failed: {e}", self.who)),
            }
        }
    }

    fn nothing(&self, within: Duration, buf: &[u8]) -> String {
        if buf.is_empty() {
            format!("{} received no message within {}", self.who, secs(within))
        } else {
            format!(
                "{} received only part of a message within {}: {:?}",
                self.who,
                secs(within),
                String::from_utf8_lossy(&buf[..buf.len().min(120)])
            )
        }
    }

    /// Whether the other side closes the connection within `within` (anything it sends first,
    /// white space aside, counts against it: `None` then).
    fn closes(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut chunk = [0u8; 1024];
        if !self.pending.iter().all(u8::is_ascii_whitespace) {
            return false;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) if chunk[..n].iter().all(u8::is_ascii_whitespace) => continue,
                Ok(_) => return false,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return false
                }
                // A reset closes it too.
                Err(_) => return true,
            }
        }
    }
}

/// Waits until process `pid` has read all that was sent on `stream`: the kernel has
/// acknowledged it (TCP_INFO's unacknowledged segments) and the other end's socket, in
/// `/proc/PID/net/tcp`, holds none of it unread. An event, not a guess at how long a busy
/// machine takes; where that table does not show the socket (IPv6, another /proc), it waits
/// [`PIECE_PAUSE`] instead. At most [`WAIT`].
fn read_by(stream: &TcpStream, pid: u32) {
    let (Ok(ours), Ok(theirs)) = (stream.local_addr(), stream.peer_addr()) else {
        return thread::sleep(PIECE_PAUSE);
    };
    let deadline = Instant::now() + WAIT;
    let mut seen = false;
    while Instant::now() < deadline {
        match unread_at(pid, theirs, ours) {
            // Gone after it was seen: the program closed it, having read what it wanted.
            None if seen => return,
            None => return thread::sleep(PIECE_PAUSE),
            Some(0) if unacknowledged(stream) == Some(0) => return,
            Some(_) => seen = true,
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// How long [`read_by`] waits when it cannot see the reader's socket.
const PIECE_PAUSE: Duration = Duration::from_millis(300);

/// Bytes received and not yet read by the program on the socket of process `pid` whose local
/// address is `local` and remote address `remote` (IPv4, or IPv4 mapped into IPv6).
fn unread_at(pid: u32, local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let hex = |addr: SocketAddr, v6: bool| match addr.ip() {
        IpAddr::V4(ip) if v6 => format!(
            "0000000000000000FFFF0000{:08X}:{:04X}",
            u32::from_le_bytes(ip.octets()),
            addr.port()
        ),
        IpAddr::V4(ip) => format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), addr.port()),
        IpAddr::V6(_) => String::new(),
    };
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        let (l, r) = (hex(local, v6), hex(remote, v6));
        for row in table.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            if f.len() > 4 && f[1] == l && f[2] == r {
                let rx = f[4].split(':').nth(1)?;
                return u64::from_str_radix(rx, 16).ok();
            }
        }
    }
    None
}

/// Segments sent on `stream` that the other end's kernel has not acknowledged yet.
fn unacknowledged(stream: &TcpStream) -> Option<u32> {
    socklab::grader::tcp_info(stream)
        .ok()
        .map(|(info, _)| info.tcpi_unacked)
}

/// Out of file descriptors: once `program`'s accept() has failed (a line on stderr since
/// `since`), it must wait before trying again, not spin. Over [`SPIN_WINDOW`] it may neither use
/// a quarter of it in CPU time nor log more than [`SPIN_LINES`] lines (a pause of even 10 ms
/// between tries logs 50; a loop without one, thousands, however little CPU a busy machine
/// gives it).
fn waits_without_spinning(program: &Program, since: usize) -> Result<(), String> {
    program
        .expect_logged(since, "a line saying that accept failed", WAIT, |_| true)
        .map_err(|e| program.explain(e))?;
    let lines = || program.stderr().lines().count();
    let (cpu, logged) = (program.cpu_time()?, lines());
    thread::sleep(SPIN_WINDOW);
    let spent = program.cpu_time()?.saturating_sub(cpu);
    let more = lines().saturating_sub(logged);
    if spent > SPIN_WINDOW / 4 || more > SPIN_LINES {
        return Err(format!(
            "while accept() kept failing (no file descriptor left), {} used {} ms of CPU and logged {more} lines in {} ms: it retries without pausing",
            program.label(),
            spent.as_millis(),
            SPIN_WINDOW.as_millis()
        ));
    }
    Ok(())
}

const SPIN_WINDOW: Duration = Duration::from_millis(500);
const SPIN_LINES: usize = 100;

/// Checks that the program wrote the message(s) `peer` received, `what`, in one write: the data
/// segments its connection received, counted once the program closed it (or after [`WAIT`]), so
/// that every write has arrived. A message far below the MSS written with one `write` is one
/// segment on a connection with nothing unacknowledged, as here (see `data_segments_in`).
fn one_write(peer: &mut JsonPeer, what: &str) -> Result<(), String> {
    let _ = peer.closes(WAIT);
    let writes = data_segments_in(&peer.stream)?;
    if writes <= 1 {
        return Ok(());
    }
    Err(format!(
        "{what} came in {writes} TCP segments: it was written with {writes} writes. The handout \
         asks for one write per message: a peer that reads it with one recv(1024), as the \
         course's Python programs do, gets only the first piece, which is not JSON yet. Make the \
         whole JSON text first, then write it at once (write_message)."
    ))
}

/// One request through the proxy at `proxy`: sends `message`, returns the answer.
fn ask(proxy: SocketAddr, message: &Value, who: &str) -> Result<Value, String> {
    let mut peer = JsonPeer::connect(proxy, who)?;
    peer.send(message)?;
    peer.receive()
}

// ---------------------------------------------------------------------------------------------
// A stand-in server behind the student's proxy.

/// How a stand-in server answers.
#[derive(Clone)]
enum Behaviour {
    /// The right reply at once.
    Good,
    /// The right reply once the check drops the sender of this channel (30 s at most).
    Held(crossbeam_channel::Receiver<()>),
    /// Bytes that are not JSON.
    Garbage,
    /// JSON that is not a reply (`{"hello": "proxy"}`).
    NotAReply,
    /// The right reply in two writes, the second once the process with this id (the proxy)
    /// has read the first.
    Pieces(u32),
    /// The right hash, but `payloadsize` copied from the request (as a real student's server
    /// does).
    CopiesSize,
}

/// Where the stand-in servers behind the student's proxy listen and register from: 127.0.0.1
/// on loopback, client2 across hosts.
fn servers_ip(ctx: &Ctx) -> IpAddr {
    ctx.ip("client2", [127, 0, 0, 1])
}

/// A stand-in server with id `id` at [`servers_ip`]: it answers each connection's message, then
/// closes; it reports each message it received.
fn stand_in_server(ctx: &Ctx, id: i64, how: Behaviour) -> Result<StandIn<Value>, String> {
    stand_in_server_on(ctx, id, how, 0)
}

/// The same on a chosen port (0: any).
fn stand_in_server_on(
    ctx: &Ctx,
    id: i64,
    how: Behaviour,
    port: u16,
) -> Result<StandIn<Value>, String> {
    let ip = servers_ip(ctx);
    hosts::at(ip, || {
        StandIn::tcp((ip, port), move |stream, _from, seen| {
            let Ok(mut peer) = JsonPeer::new(stream, "the test server") else {
                return;
            };
            let Ok(message) = peer.receive() else {
                return;
            };
            let _ = seen.send(message.clone());
            match &how {
                Behaviour::Good | Behaviour::Pieces(_) | Behaviour::CopiesSize => {}
                Behaviour::Held(gate) => {
                    let _ = gate.recv_timeout(Duration::from_secs(30));
                }
                Behaviour::Garbage => {
                    let _ = peer.send_raw(b"%%% not json %%%");
                    return;
                }
                Behaviour::NotAReply => {
                    let _ = peer.send(&json!({"hello": "proxy"}));
                    return;
                }
            }
            let mut reply = reply_to(id, &message);
            match &how {
                Behaviour::Pieces(proxy) => {
                    let text = reply.to_string();
                    let _ = peer.send_split(text.as_bytes(), 25, *proxy);
                    return;
                }
                Behaviour::CopiesSize => reply["payloadsize"] = message["payloadsize"].clone(),
                _ => {}
            }
            let _ = peer.send(&reply);
        })
    })
}

/// Registers a server with the proxy at `proxy` through `setup`, sent from `from`, and expects
/// the acknowledgement.
fn register_from(proxy: SocketAddr, from: IpAddr, setup: &Value) -> Result<(), String> {
    let answer = JsonPeer::connect_from(proxy, from, "a test server registering")
        .and_then(|mut peer| {
            peer.send(setup)?;
            peer.receive()
        })
        .with_context(|| format!("sending the setup {setup}"))?;
    if answer.get("Status").and_then(Value::as_str) != Some(ACK) {
        return Err(format!(
            "after the setup {setup}, the proxy should answer {{\"Status\": \"{ACK}\"}}; it answered {answer}"
        ));
    }
    Ok(())
}

/// Registers server `id` of `policy` listening at `port` on [`servers_ip`] (the assignment's
/// setup, sent from there).
fn register(ctx: &Ctx, proxy: SocketAddr, id: i64, policy: &str, port: u16) -> Result<(), String> {
    register_from(
        proxy,
        servers_ip(ctx),
        &json!({"type": 1, "id": id, "privPolyId": policy, "listenport": port}),
    )
}

/// Sends a data message through the proxy and checks that the answer is `server`'s right reply.
fn expect_reply(proxy: SocketAddr, srcid: i64, policy: &str, server: i64) -> Result<(), String> {
    let payload = random_payload();
    let answer = ask(
        proxy,
        &data(srcid, policy, &payload),
        &format!("client {srcid}"),
    )?;
    let want = sha1_hex(&payload);
    let ok = number(&answer, "type", true) == Some(2)
        && number(&answer, "srcid", true) == Some(server)
        && number(&answer, "destid", true) == Some(srcid)
        && answer["payload"].as_str() == Some(want.as_str());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "client {srcid} sent a message for {policy}; it should get server {server}'s reply \
             {{type 2, srcid {server}, destid {srcid}, payload {want}}}; it got {answer}"
        ))
    }
}
