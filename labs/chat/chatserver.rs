//! Chat server: clients connect over TCP and register a name; the server keeps the map
//! name → IP address of everyone connected, sends it to every client whenever someone joins or
//! leaves (a line `!` + JSON), and relays each chat line to every other client as `NAME: text`.
//!
//! One UTF-8 line per message, ended by `\n`. With `--users FILE` a client must sign up or log
//! in first (`SIGNUP NAME PASSWORD` / `LOGIN NAME PASSWORD`); the server answers every first
//! line with `OK …` or `ERR reason`.
//!
//! With `--wire seed` the server speaks the seed's own bytes: no newlines, one message per
//! send, one recv(1024) as one message, no `OK` for a bare name, `NAME: text ` with the seed's
//! trailing space, and the `!` map as Python's `json.dumps` writes it.
//!
//!     chatserver [--host H] [--port P] [--users FILE] [--wire lines|seed]

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use serde::{Deserialize, Serialize};
use socklab::cli::{self, Args, Options};
use socklab::password;
use socklab::wire::{Wire, SEED_RECV};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
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
/// The longest password, in bytes.
const MAX_PASSWORD: usize = 256;
/// Lines waiting for one client's writer thread. A client that falls this far behind (it does
/// not read what it is sent) is disconnected, so it can never hold up the others.
const QUEUE: usize = 256;
/// A client whose socket accepts nothing for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection may take to register before the server closes it.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
/// Refused first lines before the server closes the connection.
const MAX_ATTEMPTS: u32 = 3;
/// PBKDF2 iterations for a new account: each password guess costs an attacker who stole the
/// users file this many HMAC-SHA256 computations. Kept per account, so it can be raised later.
const ITERATIONS: u32 = 100_000;

// ---------------------------------------------------------------------------------------------
// Framing: one message per line (or, with --wire seed, one message per recv).

/// One line read from a client.
enum Line {
    Text(String),
    /// Longer than MAX_LINE bytes: skipped up to its newline.
    TooLong,
    NotUtf8,
}

/// Reads one `\n`-terminated line (a `\r` before it is dropped). `Ok(None)` is a clean end of
/// the stream; a stream that ends in the middle of a line is an error.
fn read_message(reader: &mut impl BufRead) -> io::Result<Option<Line>> {
    let mut buf = Vec::new();
    // take() bounds what one line may cost us in memory.
    reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() <= MAX_LINE {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection ended in the middle of a line",
            ));
        }
        // Too long: throw the rest of the line away, a bounded piece at a time.
        loop {
            let mut rest = Vec::new();
            let n = reader
                .by_ref()
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut rest)?;
            if n == 0 || rest.last() == Some(&b'\n') {
                return Ok(Some(Line::TooLong));
            }
        }
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(text) => Line::Text(text),
        Err(_) => Line::NotUtf8,
    }))
}

/// Seed mode: whatever one read returns, at most SEED_RECV bytes, is one message.
fn read_recv(reader: &mut impl BufRead) -> io::Result<Option<Line>> {
    let chunk = reader.fill_buf()?;
    if chunk.is_empty() {
        return Ok(None);
    }
    let n = chunk.len().min(SEED_RECV);
    let message = String::from_utf8(chunk[..n].to_vec());
    reader.consume(n);
    Ok(Some(message.map_or(Line::NotUtf8, Line::Text)))
}

/// Reads one message in the framing `wire` says.
fn read_framed(reader: &mut impl BufRead, wire: Wire) -> io::Result<Option<Line>> {
    match wire {
        Wire::Lines => read_message(reader),
        Wire::Seed => read_recv(reader),
    }
}

/// Writes one message in a single write: with its newline, or in seed mode bare.
fn write_message(mut stream: &TcpStream, line: &str, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Lines => stream.write_all(format!("{line}\n").as_bytes()),
        Wire::Seed => stream.write_all(line.as_bytes()),
    }
}

/// The map as Python's `json.dumps` writes it (what the seed's clients receive): `, ` and
/// `: ` between items, and every character beyond ASCII as `\uXXXX`.
fn python_json(users: &BTreeMap<&str, String>) -> String {
    let quoted = |text: &str| {
        // serde_json escapes quotes and control characters; Python also escapes non-ASCII.
        let json = serde_json::to_string(text).expect("a string always serialises");
        let mut ascii = String::new();
        for c in json.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        ascii
    };
    let items: Vec<String> = users
        .iter()
        .map(|(name, ip)| format!("{}: {}", quoted(name), quoted(ip)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

// ---------------------------------------------------------------------------------------------
// The hub: who is connected, and a queue to each one's writer thread.

/// One connected, registered client.
struct Client {
    /// Tells this connection apart from a later one with the same name.
    id: u64,
    ip: IpAddr,
    /// Feeds this client's writer thread.
    queue: Sender<String>,
    /// A handle on the socket, to cut off a client that is too slow.
    stream: TcpStream,
}

#[derive(Default)]
struct Hub {
    /// name → client; a BTreeMap so the `!` map lists names in order.
    clients: BTreeMap<String, Client>,
    next_id: u64,
    /// How messages are framed (the `!` map is written the seed's way in seed mode).
    wire: Wire,
}

impl Hub {
    /// Queues `line` for `client` without ever waiting; false if its queue is full or closed.
    fn send(client: &Client, line: &str) -> bool {
        match client.queue.try_send(line.to_string()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                log::warn!(
                    "a client at {} does not keep up; disconnecting it",
                    client.ip
                );
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Queues `line` for every client except the one with id `skip` (if any); returns the names
    /// of those whose queue is full or closed.
    fn queue_all(&self, skip: Option<u64>, line: &str) -> Vec<String> {
        todo!("fill in: for every client but the one whose id is `skip`: queue line (Hub::send), and collect the names of those for which that fails");
    }

    /// Sends `msg` to every client except the one with id `sender`.
    fn broadcast_msg(&mut self, sender: u64, msg: &str) {
        let slow = self.queue_all(Some(sender), msg);
        if !slow.is_empty() {
            self.cut_off(&slow);
            self.broadcast_active_users();
        }
    }

    /// Sends every client `!` followed by the map name → IP as JSON: `!{"alice":"10.0.0.2"}`.
    fn broadcast_active_users(&mut self) {
        loop {
            let users: BTreeMap<&str, String> = self
                .clients
                .iter()
                .map(|(name, c)| (name.as_str(), c.ip.to_string()))
                .collect();
            let json = match self.wire {
                // A map of strings always serialises.
                Wire::Lines => serde_json::to_string(&users).expect("strings"),
                Wire::Seed => python_json(&users),
            };
            let active_users = format!("!{json}");
            let slow = self.queue_all(None, &active_users);
            if slow.is_empty() {
                return;
            }
            // Those are gone: tell the others again, with the map that no longer lists them.
            self.cut_off(&slow);
        }
    }

    /// Removes clients and closes their sockets, which also ends their reader threads.
    fn cut_off(&mut self, names: &[String]) {
        for name in names {
            if let Some(client) = self.clients.remove(name) {
                let _ = client.stream.shutdown(Shutdown::Both);
                println!("{name} was disconnected");
            }
        }
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
    todo!("fill in: write each line of the queue `lines`, in order, to stream (write_message, with wire) until one write fails; log that failure (log::info!)");
    // A failed write (a stuck client's 10 s) also ends the reader thread: the client leaves.
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Names and accounts.

/// Why `name` cannot be used, if it cannot.
fn check_name(name: &str) -> Result<(), String> {
    todo!("fill in: Err(reason, in words) for a name that is empty, longer than MAX_NAME characters, holds a space or control character, holds @ or :, or starts with ! or #; Ok(()) otherwise");
}

/// One account as stored: never the password, only its salted PBKDF2 hash.
#[derive(Clone, Serialize, Deserialize)]
struct Account {
    /// Hex of SALT_LEN random bytes.
    salt: String,
    iterations: u32,
    /// Hex of PBKDF2-HMAC-SHA256(password, salt, iterations).
    hash: String,
}

/// The users file: `{"format": "socklab-chat-users/1", "users": {NAME: Account}}`.
#[derive(Serialize, Deserialize)]
struct UsersFile {
    format: String,
    users: BTreeMap<String, Account>,
}

const FORMAT: &str = "socklab-chat-users/1";

/// The accounts and the file that keeps them. The mutex is held from the check that a name is
/// free until the file with the new account is safely on disk, so of two sign-ups racing for
/// one name exactly one wins.
struct Accounts {
    path: PathBuf,
    users: Mutex<BTreeMap<String, Account>>,
}

impl Accounts {
    /// Reads `path`; a missing file is an empty one. Anything unreadable is an error, so that a
    /// damaged file is never replaced by one that forgot everybody.
    fn load(path: &Path) -> Result<Accounts, String> {
        let users = match fs::read_to_string(path) {
            Ok(text) => {
                let file: UsersFile =
                    todo!("fill in: parse text as a UsersFile (serde_json::from_str); on an error, return Err naming the path");
                if file.format != FORMAT {
                    return Err(format!(
                        "{} has format {:?}, expected {FORMAT:?}",
                        path.display(),
                        file.format
                    ));
                }
                for (name, account) in &file.users {
                    let salt = password::from_hex(&account.salt);
                    let hash = password::from_hex(&account.hash);
                    if check_name(name).is_err()
                        || salt.is_none()
                        || hash.is_none_or(|h| h.len() != password::HASH_LEN)
                        || account.iterations == 0
                    {
                        return Err(format!(
                            "{}: the account {name:?} is damaged",
                            path.display()
                        ));
                    }
                }
                file.users
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Accounts {
            path: path.to_path_buf(),
            users: Mutex::new(users),
        })
    }

    fn users(&self) -> MutexGuard<'_, BTreeMap<String, Account>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the account `name`, on disk, before it says yes.
    fn sign_up(&self, name: &str, password: &str) -> Result<(), String> {
        // Hash before taking the lock: it is the slow part, and needs no shared state.
        let salt = password::random_salt().map_err(|e| {
            log::error!("no random salt: {e}");
            "the server could not create the account".to_string()
        })?;
        let hash = password::hash_password(password, &salt, ITERATIONS);
        let account = Account {
            salt: password::to_hex(&salt),
            iterations: ITERATIONS,
            hash: password::to_hex(&hash),
        };
        todo!("fill in: hold the accounts lock (self.users()) until the file is saved: refuse a name that has an account (`the name NAME is taken by another account`); insert the account and save the file (save), taking the account out again and answering an error if saving fails (log it with log::error!)");
        log::info!("new account {name}");
        Ok(())
    }

    /// Checks `name`'s password.
    fn log_in(&self, name: &str, password: &str) -> Result<(), String> {
        let account = self.users().get(name).cloned();
        let Some(account) = account else {
            // Spend the same time as for a real account, so timing does not tell which exist
            // (the reason below does tell: a trade-off for clearer messages, see the handout).
            password::hash_password(password, &[0; password::SALT_LEN], ITERATIONS);
            return Err(format!("unknown user {name}"));
        };
        // Both were checked to be hex when the file was loaded or the account was created.
        let salt = password::from_hex(&account.salt).unwrap_or_default();
        let hash = password::from_hex(&account.hash).unwrap_or_default();
        todo!("fill in: return Err(\"wrong password\") unless password::verify_password accepts password for this salt, iterations and hash");
        Ok(())
    }
}

/// Replaces the users file without ever leaving a half-written one: write a temporary file in
/// the same folder, flush it to the disk, rename it over the old one (atomic), then flush the
/// folder so the rename itself survives a crash.
fn save(path: &Path, users: &BTreeMap<String, Account>) -> io::Result<()> {
    let file = UsersFile {
        format: FORMAT.to_string(),
        users: users.clone(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(io::Error::other)?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = folder.join(format!(".{name}.tmp"));
    todo!("fill in: write text to the file `temporary` (create_private), sync it to the disk (sync_all), then rename it to path");
    File::open(&folder)?.sync_all()
}

/// Creates (or truncates) a file only its owner can read: hashes are still worth guarding.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Reads a `SIGNUP NAME PASSWORD` or `LOGIN NAME PASSWORD` line (the password is the rest of
/// the line, spaces included) and returns the name it authenticates. Never logs the line.
fn authenticate(accounts: &Accounts, line: &str) -> Result<String, String> {
    let mut words = line.splitn(3, ' ');
    let request = (words.next(), words.next(), words.next());
    let (command, name, password) = match request {
        (Some(c @ ("SIGNUP" | "LOGIN")), Some(name), Some(pw)) if !pw.is_empty() => (c, name, pw),
        _ => {
            return Err(
                "malformed request: send SIGNUP NAME PASSWORD or LOGIN NAME PASSWORD".into(),
            )
        }
    };
    if password.len() > MAX_PASSWORD {
        return Err(format!("a password has at most {MAX_PASSWORD} bytes"));
    }
    if command == "SIGNUP" {
        check_name(name)?;
        accounts.sign_up(name, password)?;
    } else {
        accounts.log_in(name, password)?;
    }
    Ok(name.to_string())
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
        let first: io::Result<Option<Line>> =
            todo!("fill in: receive the client's first message (read_framed, with wire)");
        let outcome = match first {
            Ok(Some(Line::Text(line))) => match &server.accounts {
                None => check_name(&line).map(|()| line),
                Some(accounts) => authenticate(accounts, &line),
            },
            Ok(Some(Line::TooLong)) => Err(format!("a line has at most {MAX_LINE} bytes")),
            Ok(Some(Line::NotUtf8)) => Err("a line must be UTF-8 text".into()),
            Ok(None) => return None,
            Err(e) => {
                log::info!("a client at {ip} left before registering: {e}");
                return None;
            }
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
        let received: io::Result<Option<Line>> =
            todo!("fill in: receive a message from the client (read_framed, with wire)");
        match received {
            Ok(Some(Line::Text(msg))) if msg.trim().is_empty() => {}
            Ok(Some(Line::Text(msg))) => {
                todo!("fill in: attach the sender's name (`NAME: text`; in seed mode the seed's `NAME: text ` with a space after the text), then send it to every client except this one (Hub::broadcast_msg with this client's id)");
            }
            Ok(Some(Line::TooLong)) => log::warn!("{name} sent a line over {MAX_LINE} bytes"),
            Ok(Some(Line::NotUtf8)) => log::warn!("{name} sent a line that is not UTF-8"),
            Ok(None) => break,
            Err(e) => {
                // Ctrl-C on the client, a reset, or a cut-off: the same clean-up.
                log::info!("{name}'s connection ended: {e}");
                break;
            }
        }
    }
    server.leave(&name, id);
}

fn server(host: &str, port: u16, accounts: Option<Accounts>, wire: Wire) -> io::Result<()> {
    let listener: TcpListener =
        todo!("fill in: create a TCP socket bound to (host, port), listening");
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
            todo!("fill in: accept a connection from a client");
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
        todo!("fill in: run handle_client for this connection in a thread of its own (thread::Builder reports a failure instead of panicking: log it), so that the loop goes back to accept at once");
    }
}

const USAGE: &str = "Usage: chatserver [--host H] [--port P] [--users FILE] [--wire lines|seed]

A chat room over TCP: relays each line to every other client and keeps everyone's list of
active users. With --users FILE, clients sign up or log in first (accounts kept in FILE).
--wire seed speaks the seed's bytes (no newlines), for the course's Python client.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt(
        "",
        "host",
        "address to listen on (default 0.0.0.0: every interface)",
        "H",
    );
    opts.optopt(
        "",
        "port",
        "TCP port (default 5000; 0 picks a free one)",
        "P",
    );
    opts.optopt(
        "",
        "users",
        "require sign-up/login; keep the accounts in FILE",
        "FILE",
    );
    opts.optopt(
        "",
        "wire",
        "lines (default: one message per line) or seed (the seed's bytes)",
        "W",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("chatserver takes no positional arguments");
    }
    let host: String = args.get("host", "0.0.0.0".to_string());
    let port: u16 = args.get("port", PORT);
    let wire: Wire = args.get("wire", Wire::Lines);
    let accounts = match args.opt::<PathBuf>("users") {
        None => None,
        Some(path) => {
            match Accounts::load(&path) {
                Ok(accounts) => Some(accounts),
                Err(e) => {
                    eprintln!("chatserver: {e}\nchatserver: fix or move the file away; it was left untouched");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    match server(&host, port, accounts, wire) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatserver: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut reader = io::Cursor::new(input.to_vec());
        let mut out = Vec::new();
        loop {
            match read_message(&mut reader) {
                Ok(Some(Line::Text(t))) => out.push(t),
                Ok(Some(Line::TooLong)) => out.push("<too long>".into()),
                Ok(Some(Line::NotUtf8)) => out.push("<not utf-8>".into()),
                Ok(None) => return out,
                Err(_) => {
                    out.push("<half line>".into());
                    return out;
                }
            }
        }
    }

    #[test]
    fn framing_splits_lines_and_survives_bad_ones() {
        let mut input = b"alice\r\nhello\n\xff\xfe\n".to_vec();
        input.extend(vec![b'z'; MAX_LINE * 3]);
        input.extend(b"\nafter\nhalf");
        assert_eq!(
            lines(&input),
            [
                "alice",
                "hello",
                "<not utf-8>",
                "<too long>",
                "after",
                "<half line>"
            ]
        );
        let exactly = [vec![b'a'; MAX_LINE], b"\n".to_vec()].concat();
        assert_eq!(lines(&exactly), ["a".repeat(MAX_LINE)]);
    }

    #[test]
    fn the_seed_map_is_written_as_python_writes_it() {
        let users = BTreeMap::from([("amy", "10.0.0.1".to_string()), ("Ærlig", "::1".into())]);
        assert_eq!(
            python_json(&users),
            r#"{"amy": "10.0.0.1", "\u00c6rlig": "::1"}"#
        );
        assert_eq!(python_json(&BTreeMap::new()), "{}");
    }

    #[test]
    fn name_rules() {
        for good in ["alice", "Bob_2", "Ærlig", &"x".repeat(MAX_NAME)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_NAME + 1);
        for bad in ["", "a b", "a\tb", "a@b", "a:b", "!x", "#ls", &long] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn accounts_are_saved_and_loaded_and_a_damaged_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("chat-users-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.json");
        let _ = fs::remove_file(&path);
        let accounts = Accounts::load(&path).unwrap();
        accounts.sign_up("alice", "open sesame").unwrap();
        assert!(accounts.sign_up("alice", "other").is_err());
        let again = Accounts::load(&path).unwrap();
        assert!(again.log_in("alice", "open sesame").is_ok());
        assert!(again.log_in("alice", "open sesamE").is_err());
        assert!(again.log_in("bob", "open sesame").is_err());
        assert!(!fs::read_to_string(&path).unwrap().contains("sesame"));
        fs::write(&path, "{\"format\": ").unwrap();
        assert!(Accounts::load(&path).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"format\": ");
        fs::remove_dir_all(&dir).unwrap();
    }
}
