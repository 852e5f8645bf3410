//! Chat-room hub over TCP: every client connects to this server, which relays each line to the
//! whole room (broadcast) or to one member (`@NAME`, unicast).
//!
//! Every message is one UTF-8 line ending in `\n`. On connect the server sends `NICKNAME`; the
//! client answers with its nickname; everyone gets `NAME joined!` and the newcomer
//! `Connected to server!`. A chat line `NAME: text` goes to everyone as `NAME: text`, or to one
//! member only when the text names `@OTHER`; `NAME left!` goes out when a client leaves.
//!
//!     chatroom_server [--host H] [--port P] [--name NAME] [--wire lines|seed]
//!
//! One thread per client reads its lines; a second thread per client writes to it, fed by a
//! bounded queue, so one slow client never stalls the room.
//!
//! Given beside it: room.rs (who is in the room) and server_options.rs (the command line).
//! From the kit (socklab::wire): `read_line` (one bounded line), `ReadError` (what can go wrong
//! with a line) and `read_recv`, the seed's own framing (`--wire seed`).

#[path = "room.rs"]
mod room;
#[path = "server_options.rs"]
mod server_options;

use crossbeam_channel::{bounded, Receiver, Sender};
use room::{offer, Room};
use socklab::wire::{read_line, read_recv, ReadError, Wire};
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The seed's port.
const PORT: u16 = 3040;
/// Longest line accepted, in bytes without the `\n`; a longer one is dropped and logged.
const MAX_LINE: usize = 4096;
/// Longest nickname, in characters.
const MAX_NICK: usize = 20;
/// How many times a client may offer a nickname before the server gives up on it.
const NICK_TRIES: usize = 5;
/// Lines waiting for one client; when its queue is full the client is disconnected.
const QUEUE: usize = 1024;
/// A write that cannot make progress for this long means the client is stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection may take to choose a nickname before it is closed.
const NICK_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Framing: one message per line (or, with --wire seed, one message per recv).

/// Reads one message in the framing `wire` says (socklab::wire's read_line, or read_recv in seed mode).
fn read_message(reader: &mut impl BufRead, wire: Wire) -> Result<Option<String>, ReadError> {
    match wire {
        Wire::Lines => read_line(reader, MAX_LINE),
        Wire::Seed => read_recv(reader),
    }
}

/// Writes one message in a single write: with its `\n`, or in seed mode bare. The writer
/// thread writes into a buffer and flushes it.
fn write_message(mut out: impl Write, line: &str, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Lines => out.write_all(format!("{line}\n").as_bytes()),
        Wire::Seed => out.write_all(line.as_bytes()),
    }
}

// ---------------------------------------------------------------------------------------------
// Nicknames and private messages.

/// Characters a nickname may hold. No spaces, `@` or `:`, so `NAME: text` and `@NAME` can
/// always be taken apart again.
fn nick_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Why `name` cannot be a nickname, if it cannot.
fn check_nickname(name: &str) -> Result<(), String> {
    todo!("fill in: why name cannot be a nickname (MAX_NICK, nick_char), in words for an `ERROR` line");
}

/// Whom a chat text is for: the first word that starts with `@`, up to the first character a
/// nickname cannot hold (`@bob, hi` is for bob). `None`: the text is for the whole room.
fn private_target(text: &str) -> Option<&str> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix('@'))
        .map(|rest| rest.split(|c| !nick_char(c)).next().unwrap_or(""))
        .find(|name| !name.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The room: who is connected, and how to reach them.

impl Room {
    /// Queues `line` for every member.
    fn broadcast(&self, line: &str) {
        todo!("fill in: queue line for every member without waiting (offer); those that cannot take it leave the room");
    }

    /// Queues `line` for member `to` only; `false` if no one has that nickname.
    /// A member whose queue is full is disconnected by `offer`; its own reader thread then
    /// takes it out of the room and says so.
    fn unicast(&self, to: &str, line: &str) -> bool {
        todo!("fill in: queue line for member `to` only (offer); false if no one has that nickname");
    }
}

// ---------------------------------------------------------------------------------------------
// One client.

/// The writer thread of one client: sends each line of `queue` in order until the queue is
/// closed (the client left) or a write fails, then shuts the socket down, which also wakes
/// the client's reader thread.
fn write_lines(stream: TcpStream, queue: Receiver<String>, who: SocketAddr, wire: Wire) {
    let mut out = BufWriter::new(&stream);
    while let Ok(line) = queue.recv() {
        let mut sent = write_message(&mut out, &line, wire);
        // Lines that are already waiting go out in the same write: fewer system calls when
        // busy. Seed mode sends each message on its own, as the seed does.
        if wire == Wire::Lines {
            sent = sent.and_then(|()| {
                queue
                    .try_iter()
                    .take(QUEUE)
                    .try_for_each(|more| write_message(&mut out, &more, wire))
            });
        }
        let sent = sent.and_then(|()| out.flush());
        if let Err(e) = sent {
            log::info!("{who}: stopped writing ({e})");
            break;
        }
    }
    drop(out);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Asks for a nickname until the client offers one that is valid and free, at most
/// `NICK_TRIES` times. Returns the nickname and the member's ID, or `None` if the client left.
fn handshake(
    reader: &mut impl BufRead,
    queue: &Sender<String>,
    stream: &TcpStream,
    room: &Room,
    who: SocketAddr,
) -> Option<(String, u64)> {
    for _ in 0..NICK_TRIES {
        queue.send("NICKNAME".into()).ok()?;
        let refused = match read_message(reader, room.wire) {
            Ok(Some(line)) => {
                let name = line.trim();
                match check_nickname(name).and_then(|()| room.join(name, queue, stream)) {
                    Ok(id) => return Some((name.to_string(), id)),
                    Err(why) => why,
                }
            }
            Ok(None) => {
                log::info!("{who} left before choosing a nickname");
                return None;
            }
            Err(ReadError::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                log::warn!("{who}: no nickname within {NICK_TIMEOUT:?}; closing");
                return None;
            }
            Err(ReadError::Io(e)) => {
                log::warn!("{who}: connection lost before choosing a nickname: {e}");
                return None;
            }
            Err(bad) => bad.to_string(),
        };
        log::warn!("{who}: nickname refused: {refused}");
        queue
            .send(format!("ERROR {refused}; choose another nickname"))
            .ok()?;
    }
    let _ = queue.send(format!(
        "ERROR no valid nickname after {NICK_TRIES} tries; goodbye"
    ));
    None
}

/// Handles one chat line from member `name`. The server writes the `NAME: ` prefix itself, so
/// no one can speak as someone else; a prefix with the sender's own name (what the seed's
/// client sends) is taken off first, so it does not appear twice.
fn chat(room: &Room, name: &str, me: &Sender<String>, line: &str) {
    todo!("fill in: relay one chat line, and print it (handout: The protocol: the `NAME: ` prefix, `@NAME`, an unknown name)");
}

/// Starts the writer thread of one client; gives the sending end of its queue and its handle.
fn start_writer(
    stream: &TcpStream,
    who: SocketAddr,
    wire: Wire,
) -> io::Result<(Sender<String>, JoinHandle<()>)> {
    todo!("fill in: start this client's writer thread (write_lines), fed by a channel of at most QUEUE lines (crossbeam_channel)");
}

/// A line that could not be read (too long, not UTF-8): logged, and the sender is told; the
/// connection goes on.
fn refuse_line(me: &Sender<String>, name: &str, who: SocketAddr, bad: &ReadError) {
    log::warn!("{name} ({who}): dropped {bad}");
    let _ = me.try_send(format!("ERROR {bad}; it was dropped"));
}

/// Everything about one client, from its connection to its departure (its reader thread).
fn handle_client(stream: TcpStream, who: SocketAddr, room: Arc<Room>) {
    if let Err(e) = stream.set_write_timeout(Some(WRITE_TIMEOUT)) {
        log::warn!("{who}: {e}");
    }
    // Chat lines are small and should leave at once: without this, TCP may hold a small write
    // back until the previous one is acknowledged (Nagle's algorithm), and the receiver may
    // delay that acknowledgement by tens of milliseconds.
    if let Err(e) = stream.set_nodelay(true) {
        log::warn!("{who}: {e}");
    }
    let (tx, writer) = match start_writer(&stream, who, room.wire) {
        Ok(started) => started,
        Err(e) => {
            log::warn!("{who}: cannot start a writer: {e}");
            return;
        }
    };
    let mut reader = BufReader::new(&stream);
    // A connection that never names itself must not hold its thread forever.
    let _ = stream.set_read_timeout(Some(NICK_TIMEOUT));
    let Some((name, id)) = handshake(&mut reader, &tx, &stream, &room, who) else {
        drop(tx);
        let _ = writer.join();
        return;
    };
    // In the room, a quiet member is normal: wait for its lines as long as it stays connected.
    let _ = stream.set_read_timeout(None);
    println!("Client name is {name}");
    room.broadcast(&format!("{name} joined!"));
    let _ = tx.try_send("Connected to server!".into());

    let end: io::Result<()> =
        todo!("fill in: hand each of the client's messages to chat() until it leaves (Ok at a clean end, else the I/O error); a bad line: refuse_line");
    if let Err(e) = end {
        log::warn!("{name} ({who}): connection lost: {e}");
    }

    todo!("fill in: the client has left (handout: How the server is built, Cleanup): the room and stdout must know, and its writer must end");
    let _ = writer.join();
}

/// After a failed `accept` (out of file descriptors, for example): logs it and gives the other
/// connections a moment to end, rather than spinning.
fn accept_failed(e: &io::Error) {
    log::warn!("accept failed: {e}");
    thread::sleep(Duration::from_millis(50));
}

fn server(host: &str, port: u16, name: &str, wire: Wire) -> io::Result<()> {
    let listener = TcpListener::bind((host, port))?;
    println!("Chat room {name} listening at {}", listener.local_addr()?);
    let room = Arc::new(Room::new(wire));
    todo!("fill in: serve every client that connects, each in its own thread (handle_client); print `Connected with ADDR`; a failed accept: accept_failed");
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let s = server_options::parse(PORT);
    match server(&s.host, s.port, &s.name, s.wire) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatroom_server: {e}");
            ExitCode::FAILURE
        }
    }
}
