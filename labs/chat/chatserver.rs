//! Chat server: clients connect over TCP and register a name; the server keeps the map
//! name → IP address of everyone connected, sends it to every client whenever someone joins or
//! leaves (a line `!` + JSON), and relays each chat line to every other client as `NAME: text`.
//! One UTF-8 line per message, ended by `\n`.
//!
//! Given beside it: hub.rs (who is connected, the `!` map), accounts.rs (`--users FILE`),
//! seed.rs (`--wire seed`, the seed's own bytes) and server_options.rs (the command line).

#[path = "accounts.rs"]
mod accounts;
#[path = "hub.rs"]
mod hub;
#[path = "seed.rs"]
mod seed;
#[path = "server_options.rs"]
mod server_options;

use accounts::{authenticate, Accounts};
use crossbeam_channel::{bounded, Receiver};
use hub::{Client, Hub};
use socklab::wire::{read_line, read_recv, ReadError, Wire};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// The seed's fixed port.
const PORT: u16 = 5000;
/// The longest line accepted, in bytes without its newline. Longer lines are skipped whole.
const MAX_LINE: usize = 4096;
/// The longest name, in characters.
const MAX_NAME: usize = 32;
/// Lines waiting for one client's writer thread. A client that falls this far behind (it does
/// not read what it is sent) is disconnected, so it can never hold up the others.
const QUEUE: usize = 256;
/// A client whose socket accepts nothing for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection may take to register before the server closes it.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
/// Refused first lines before the server closes the connection.
const MAX_ATTEMPTS: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Framing: one message per line (or, with --wire seed, one message per recv).

/// Reads one message in the framing `wire` says (socklab::wire's read_line, or read_recv in seed mode).
fn read_message(reader: &mut impl BufRead, wire: Wire) -> Result<Option<String>, ReadError> {
    match wire {
        Wire::Lines => read_line(reader, MAX_LINE),
        Wire::Seed => read_recv(reader),
    }
}

/// Writes one message in a single write: with its `\n`, or in seed mode bare.
fn write_message(mut out: impl Write, line: &str, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Lines => out.write_all(format!("{line}\n").as_bytes()),
        Wire::Seed => out.write_all(line.as_bytes()),
    }
}

// ---------------------------------------------------------------------------------------------
// The hub (hub.rs): who is connected, and a queue to each one's writer thread.

impl Hub {
    /// Queues `line` for every client except the one with id `skip` (if any); returns the names
    /// of those whose queue is full or closed.
    fn queue_all(&self, skip: Option<u64>, line: &str) -> Vec<String> {
        todo!("fill in: queue line for every client but `skip`, never waiting (Hub::send); give the names of those that cannot take it");
    }
}

/// What every connection thread shares.
struct Server {
    hub: Mutex<Hub>,
    /// The accounts, with `--users FILE`.
    accounts: Option<Accounts>,
}

impl Server {
    fn hub(&self) -> MutexGuard<'_, Hub> {
        // A thread that panicked while holding the lock left the map usable: keep serving.
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `name` for the connection `stream`: starts its writer thread, queues `OK`
    /// first and then tells everyone the new map. Returns the client's id.
    fn join(&self, name: &str, ip: IpAddr, stream: &TcpStream) -> Result<u64, String> {
        let mut hub = self.hub();
        if hub.clients.contains_key(name) {
            return Err(match self.accounts {
                Some(_) => format!("{name} is already logged in"),
                None => format!("the name {name} is taken"),
            });
        }
        let (writer_stream, handle) = match (stream.try_clone(), stream.try_clone()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => return Err("the server could not set up the connection".into()),
        };
        let (queue, lines) = bounded(QUEUE);
        // The seed's server answers a bare name with nothing; an account always gets its OK.
        if hub.wire == Wire::Lines || self.accounts.is_some() {
            // The queue is new and empty: this cannot fail.
            let _ = queue.try_send(format!("OK welcome, {name}"));
        }
        let wire = hub.wire;
        thread::Builder::new()
            .spawn(move || writer(writer_stream, lines, wire))
            .map_err(|e| {
                log::warn!("{name}: no writer thread: {e}");
                "the server is too busy to take another client".to_string()
            })?;
        hub.next_id += 1;
        let id = hub.next_id;
        let client = Client {
            id,
            ip,
            queue,
            stream: handle,
        };
        hub.clients.insert(name.to_string(), client);
        println!("{name} with IP address:{ip}, has connected");
        hub.broadcast_active_users();
        Ok(id)
    }

    /// Removes the connection `id` (if it is still there) and tells everyone.
    fn leave(&self, name: &str, id: u64) {
        let mut hub = self.hub();
        if hub.clients.get(name).is_some_and(|c| c.id == id) {
            hub.clients.remove(name);
            println!("{name} has left");
            hub.broadcast_active_users();
        }
    }
}

/// A client's writer thread: sends what its queue holds, in order, until the queue is closed
/// (the client left) or the socket fails. Only this thread writes to the socket after `OK`.
fn writer(stream: TcpStream, lines: Receiver<String>, wire: Wire) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let sent: io::Result<()> =
        todo!("fill in: send the queue's lines to the client, in order, until the queue closes (Ok) or a write fails (that error)");
    if let Err(e) = sent {
        log::info!("could not write to a client: {e}");
    }
    // A failed write (a stuck client's 10 s) also ends the reader thread: the client leaves.
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Names and accounts.

/// Why `name` cannot be used, if it cannot.
fn check_name(name: &str) -> Result<(), String> {
    todo!("fill in: which of the handout's name rules (\"What the seed got wrong\") name breaks, in words for an `ERR` line");
}

// ---------------------------------------------------------------------------------------------
// One thread per client.

/// Reads first lines until one registers the client (then it has joined the hub), at most
/// MAX_ATTEMPTS times. Returns the name and id, or None when the client is gone.
fn register(
    reader: &mut impl BufRead,
    stream: &TcpStream,
    server: &Server,
    ip: IpAddr,
) -> Option<(String, u64)> {
    let wire = server.hub().wire;
    // A seed client never waits for an answer to its name: a refused one gets its reason and
    // the connection closes, or its chat lines would be taken for more names.
    let attempts = match (wire, &server.accounts) {
        (Wire::Seed, None) => 1,
        _ => MAX_ATTEMPTS,
    };
    for _ in 0..attempts {
        let first: Result<Option<String>, ReadError> =
            todo!("fill in: the client's first message, framed as `wire` says");
        let outcome = match first {
            Ok(Some(line)) => match &server.accounts {
                None => check_name(&line).map(|()| line),
                Some(accounts) => authenticate(accounts, &line),
            },
            Ok(None) => return None,
            Err(ReadError::Io(e)) => {
                log::info!("a client at {ip} left before registering: {e}");
                return None;
            }
            Err(bad) => Err(format!("{bad}, which the server cannot take")),
        };
        let joined = outcome.and_then(|name| {
            let id = server.join(&name, ip, stream)?;
            Ok((name, id))
        });
        match joined {
            Ok(joined) => return Some(joined),
            Err(reason) => {
                log::info!("refused a client at {ip}: {reason}");
                write_message(stream, &format!("ERR {reason}"), wire).ok()?;
            }
        }
    }
    if attempts > 1 {
        let _ = write_message(stream, "ERR too many failed attempts; goodbye", wire);
    }
    None
}

/// A client's reader thread: registration, then every chat line to everyone else.
fn handle_client(stream: TcpStream, address: SocketAddr, server: Arc<Server>) {
    let mut reader = match stream.try_clone() {
        Ok(s) => BufReader::new(s),
        Err(e) => {
            log::warn!("could not serve {address}: {e}");
            return;
        }
    };
    // A connection that never registers must not hold a thread forever.
    let _ = stream.set_read_timeout(Some(REGISTER_TIMEOUT));
    // A server listening on [::] sees IPv4 clients as ::ffff:a.b.c.d; peers need a.b.c.d.
    let ip = address.ip().to_canonical();
    let Some((name, id)) = register(&mut reader, &stream, &server, ip) else {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    };
    let _ = stream.set_read_timeout(None);
    let wire = server.hub().wire;
    loop {
        let received: Result<Option<String>, ReadError> =
            todo!("fill in: the client's next message, framed as `wire` says");
        match received {
            Ok(Some(msg)) if msg.trim().is_empty() => {}
            Ok(Some(msg)) => {
                todo!("fill in: relay msg to every other client, naming its author (handout: The protocol; seed mode: \"Why the seed's protocol breaks\")");
            }
            Ok(None) => break,
            Err(ReadError::Io(e)) => {
                // Ctrl-C on the client, a reset, or a cut-off: the same clean-up.
                log::info!("{name}'s connection ended: {e}");
                break;
            }
            Err(bad) => log::warn!("{name} sent {bad}; it was dropped"),
        }
    }
    server.leave(&name, id);
}

fn server(host: &str, port: u16, accounts: Option<Accounts>, wire: Wire) -> io::Result<()> {
    let listener: TcpListener =
        todo!("fill in: a listening TCP socket on (host, port)");
    println!("Waiting for connection at {}", listener.local_addr()?);
    let server = Arc::new(Server {
        hub: Mutex::new(Hub {
            wire,
            ..Hub::default()
        }),
        accounts,
    });
    loop {
        let accepted: io::Result<(TcpStream, SocketAddr)> =
            todo!("fill in: the next client's connection");
        let (client_socket, client_address) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, for instance: wait a little rather than spin.
                log::warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // Registration happens in the client's own thread: a client that never sends its
        // name must not stop the server from accepting others.
        todo!("fill in: serve this client without holding up the next accept (std::thread::Builder reports a failure instead of panicking)");
    }
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let settings = server_options::parse(PORT);
    let accounts = match settings.users.map(|path| Accounts::load(&path)).transpose() {
        Ok(accounts) => accounts,
        Err(e) => {
            eprintln!(
                "chatserver: {e}\nchatserver: fix or move the file away; it was left untouched"
            );
            return ExitCode::FAILURE;
        }
    };
    match server(&settings.host, settings.port, accounts, settings.wire) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatserver: {e}");
            ExitCode::FAILURE
        }
    }
}
