//! netcat: connects to a TCP or UDP port, or listens on one, and moves bytes between the network
//! and stdin/stdout (or a command), optionally inside TLS. Its options are Ncat's, for what the
//! course uses:
//!
//!     netcat [options] HOST PORT            connect
//!     netcat -l [options] [HOST] [PORT]     listen (or -p PORT)
//!
//! The lesson is the byte stream. One connection has two directions, and each gets its own
//! thread: stdin → network and network → stdout. When stdin ends, netcat shuts down only its
//! *sending* half (a FIN, or a TLS close_notify then a FIN) and keeps reading until the peer
//! closes its own; that is what lets a request/response or a file transfer work over netcat.
//! Buffers have a fixed size, so a transfer of any length runs in constant memory.
//!
//! When the session ends: normally when the peer has closed its half (as Ncat); with
//! `--send-only` when stdin has ended and the peer has closed (or after a short wait); with a
//! command (`--sh-exec`) when the command has closed its output. A network error (a reset) ends
//! it with one line on stderr and exit code 1.

use socklab::cli::{self, Args, Options};
use socklab::tls::{self, rustls, Trust};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes moved per read and write: large enough for a fast loopback, small and fixed so a
/// transfer of any size takes the same memory.
const BUF: usize = 128 * 1024;
/// The largest datagram `-u` sends: a chunk of stdin bigger than this goes as several datagrams.
const MAX_DATAGRAM: usize = 8 * 1024;
/// With `--send-only`, how long to wait for the peer to close after our half-close.
const LINGER: Duration = Duration::from_secs(2);
/// How long a TLS handshake may take before the connection is given up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Messages.

/// The `-v` lines and errors go to stderr with this prefix, in Ncat's words.
const NAME: &str = "netcat";

/// Prints one `-v` line on stderr (only with `-v`).
fn say(verbose: bool, text: &str) {
    if verbose {
        eprintln!("{NAME}: {text}");
    }
}

/// An error as a short sentence: `Connection refused`, without Rust's ` (os error 111)`.
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Locks a mutex even if a thread panicked while holding it (the data here stays usable: a
/// session's state is one rustls object, and the broadcast list only grows and shrinks).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The two halves of a connection.

/// The sending half of a connection: bytes out, then a half-close when there is no more.
trait SendHalf: Write + Send {
    /// Tells the peer we will send nothing more, while we can still receive.
    fn close_write(&mut self) -> io::Result<()>;
}

impl SendHalf for TcpStream {
    fn close_write(&mut self) -> io::Result<()> {
        todo!("fill in: half-close: shut down only the write half of this TCP socket (the peer sees a FIN, we can still read)");
    }
}

/// A connected UDP socket seen as a stream: each write is one datagram, each read one datagram.
/// UDP has no connection to close, so there is no half-close. (Given: the lesson of `-u` is in
/// `connect` and `listen_udp`, which make the socket.)
struct Datagrams(UdpSocket);

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.recv(buf) {
                // An earlier datagram met a closed port (an ICMP error came back): the peer may
                // open it later, so this is no reason to stop.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    log::info!("the peer's port is not open (yet): {}", describe(&e));
                }
                other => return other,
            }
        }
    }
}

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(MAX_DATAGRAM);
        match self.0.send(&buf[..n]) {
            // The ICMP error of an earlier datagram, reported now: this one was not sent yet.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => self.0.send(&buf[..n])?,
            other => other?,
        };
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SendHalf for Datagrams {
    fn close_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Both directions of one connection, ready for the two copy threads.
struct Halves {
    receive: Box<dyn Read + Send>,
    send: Box<dyn SendHalf>,
    /// The socket itself, to end the connection when the session is over.
    socket: Option<TcpStream>,
}

impl Halves {
    fn plain(stream: TcpStream) -> io::Result<Halves> {
        Ok(Halves {
            receive: Box::new(stream.try_clone()?),
            send: Box::new(stream.try_clone()?),
            socket: Some(stream),
        })
    }

    fn udp(sock: UdpSocket) -> io::Result<Halves> {
        Ok(Halves {
            receive: Box::new(Datagrams(sock.try_clone()?)),
            send: Box::new(Datagrams(sock)),
            socket: None,
        })
    }

    fn tls(session: rustls::Connection, stream: TcpStream) -> io::Result<Halves> {
        let shared = Arc::new(TlsShared {
            session: Mutex::new(session),
            sending: Mutex::new(()),
            tcp: stream.try_clone()?,
        });
        Ok(Halves {
            receive: Box::new(TlsReceive {
                shared: Arc::clone(&shared),
                raw: vec![0; BUF],
                start: 0,
                end: 0,
            }),
            send: Box::new(TlsSend {
                shared,
                records: Vec::with_capacity(BUF + 4096),
            }),
            socket: Some(stream),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// TLS shared by the two copy threads.
//
// rustls keeps a session in one object (`rustls::Connection`) that both directions update:
// decrypting needs the keys the handshake made, and a received alert may need an answer. So the
// object sits behind a lock. The socket does not: the receiving thread waits for bytes from the
// network *without* the lock, so the sending thread can encrypt and send meanwhile, and the
// sending thread writes records to the socket without the session lock, so a peer that is slow
// to read cannot stop us from reading. A second lock (`sending`) keeps records in order on the
// wire: it is taken before the session lock is let go.

struct TlsShared {
    session: Mutex<rustls::Connection>,
    /// Held while records go out on `tcp`, so two threads never interleave them.
    sending: Mutex<()>,
    tcp: TcpStream,
}

impl TlsShared {
    /// Sends the records the session has queued (data, alerts), in order.
    fn send_records(
        &self,
        mut session: MutexGuard<'_, rustls::Connection>,
        records: &mut Vec<u8>,
    ) -> io::Result<()> {
        records.clear();
        while session.wants_write() {
            session.write_tls(records)?;
        }
        let _order = lock(&self.sending);
        drop(session);
        (&self.tcp).write_all(records)
    }
}

/// The receiving half: plaintext out of the records read from the socket.
struct TlsReceive {
    shared: Arc<TlsShared>,
    /// Bytes read from the socket that the session has not taken yet.
    raw: Vec<u8>,
    start: usize,
    end: usize,
}

impl Read for TlsReceive {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut session = lock(&self.shared.session);
            match session.reader().read(buf) {
                // Ok(0) is the peer's close_notify: a clean end of its half.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    // The TCP stream ended without a close_notify: nothing proves that the
                    // peer meant to stop here (an attacker could have cut the stream). Ncat
                    // takes it as the end; so do we, but we say so.
                    log::warn!("the peer closed the connection without a TLS close_notify");
                    return Ok(0);
                }
                Err(e) => return Err(e),
            }
            if self.start == self.end {
                // Wait for the network without holding the session.
                drop(session);
                self.start = 0;
                self.end = (&self.shared.tcp).read(&mut self.raw)?;
                session = lock(&self.shared.session);
            }
            // An empty slice tells the session that the TCP stream has ended.
            let mut unread = &self.raw[self.start..self.end];
            let taken = session.read_tls(&mut unread)?;
            self.start += taken;
            let processed = session.process_new_packets();
            if session.wants_write() {
                // An alert to send (after an error, say): only if the sending thread is not
                // busy, else it goes out with that thread's next records.
                if let Ok(_order) = self.shared.sending.try_lock() {
                    let mut records = Vec::new();
                    while session.wants_write() {
                        session.write_tls(&mut records)?;
                    }
                    drop(session);
                    (&self.shared.tcp).write_all(&records)?;
                }
            }
            processed.map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        }
    }
}

/// The sending half: plaintext in, records out.
struct TlsSend {
    shared: Arc<TlsShared>,
    /// Reused for every write, so sending allocates nothing.
    records: Vec<u8>,
}

impl Write for TlsSend {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut session = lock(&self.shared.session);
        // The session takes what fits in its buffer (at least one record's worth).
        let n = session.writer().write(buf)?;
        self.shared.send_records(session, &mut self.records)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SendHalf for TlsSend {
    fn close_write(&mut self) -> io::Result<()> {
        todo!("fill in: half-close over TLS: lock the session, queue a close_notify alert (send_close_notify), send it (send_records), then shut down the write half of the TCP socket (shared.tcp)");
    }
}

/// TLS settings: the server's configuration (listening) or the client's (connecting).
enum TlsSide {
    Server(Arc<rustls::ServerConfig>),
    Client(Arc<rustls::ClientConfig>, String),
}

/// Wraps a connected TCP socket in TLS: runs the handshake and reports the certificate seen.
fn wrap_tls(side: &TlsSide, stream: TcpStream, verbose: bool) -> io::Result<Halves> {
    let tls_err = |e: rustls::Error| io::Error::new(ErrorKind::InvalidData, e);
    // A peer that never completes the handshake (a plain client typing nothing) must not hold
    // the connection forever.
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let session: rustls::Connection =
        todo!("fill in: make the TLS session for this side (rustls::ServerConnection::new(config) or rustls::ClientConnection::new(config, tls::server_name(host)), .into()), then run the handshake on the socket with complete_io until it is no longer handshaking");
    stream.set_read_timeout(None)?;
    if let (TlsSide::Client(..), Some(certs)) = (side, session.peer_certificates()) {
        if let Some(cert) = certs.first() {
            say(
                verbose,
                &format!("SHA-256 fingerprint: {}", tls::fingerprint(cert)),
            );
        }
    }
    Halves::tls(session, stream)
}

// ---------------------------------------------------------------------------------------------
// The two copy directions.

/// `-C`: turns each `\n` into `\r\n` (a `\r\n` already there stays as it is), remembering across
/// chunks whether the last byte was a `\r`.
#[derive(Default)]
struct Crlf {
    after_cr: bool,
}

impl Crlf {
    fn convert(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.clear();
        for &b in chunk {
            if b == b'\n' && !self.after_cr {
                out.push(b'\r');
            }
            out.push(b);
            self.after_cr = b == b'\r';
        }
    }
}

/// The sending direction: copies `input` to the network until `input` ends, then half-closes.
fn send_all(mut input: impl Read, mut out: Box<dyn SendHalf>, crlf: bool) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    let mut converted: Vec<u8> = Vec::new();
    let mut lines = Crlf::default();
    todo!("fill in: loop: read a chunk from input (0 bytes is its end); write all of it to `out`, through lines.convert(chunk, &mut converted) when crlf is set; at the end, half-close `out`");
    Ok(())
}

/// The receiving direction: copies the network to `output` until the peer closes its half.
fn receive_all(mut from: impl Read, mut output: impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    todo!("fill in: loop: read a chunk from the network until a read returns 0 (the peer's half-close); write all of each chunk to `output`");
    Ok(())
}

/// Counts the bytes that cross one half of the connection, for the `-v` summary: the count is
/// right whenever the session ends, even while the other direction is still busy.
struct Counted<T> {
    inner: T,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The local output (stdout, or a command's stdin), noting whether a write to it failed: then
/// the session ends quietly (`netcat … | head -1`), while a network error ends it with exit 1.
struct Output<W> {
    inner: W,
    failed: Arc<AtomicBool>,
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl SendHalf for Counted<Box<dyn SendHalf>> {
    fn close_write(&mut self) -> io::Result<()> {
        self.inner.close_write()
    }
}

// ---------------------------------------------------------------------------------------------
// A session: one connection and the local side (stdin/stdout or a command).

/// Which directions run, and which one's end ends the session.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Both ways; the session ends when the peer has closed its half.
    Both,
    /// Only stdin → network (what arrives is read and thrown away); ends when stdin has ended
    /// and the peer has closed, or `LINGER` after our half-close.
    SendOnly,
    /// Only network → stdout; stdin is never read.
    RecvOnly,
    /// Both ways with a command; ends when the command has closed its output.
    Command,
    /// UDP: both ways; a connecting side ends when stdin ends (there is no end to wait for).
    Datagrams,
}

/// What ended a direction, sent from its thread to the session.
enum Done {
    Sent(io::Result<()>),
    Received(io::Result<()>),
}

/// What a session did.
#[derive(Default)]
struct Totals {
    sent: u64,
    received: u64,
}

/// Runs one session: `input` → network and network → `output`, each direction in its own
/// thread, until the session's end (see [`Mode`]).
fn session(
    halves: Halves,
    input: Box<dyn Read + Send>,
    output: Box<dyn Write + Send>,
    mode: Mode,
    crlf: bool,
) -> io::Result<Totals> {
    let Halves {
        receive,
        send,
        socket,
    } = halves;
    let (sent, received) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let send: Box<dyn SendHalf> = Box::new(Counted {
        inner: send,
        bytes: Arc::clone(&sent),
    });
    let receive = Counted {
        inner: receive,
        bytes: Arc::clone(&received),
    };
    let output_failed = Arc::new(AtomicBool::new(false));
    let output = Output {
        inner: output,
        failed: Arc::clone(&output_failed),
    };
    let (done, events) = crossbeam_channel::unbounded();
    let sending = done.clone();
    todo!("fill in: start the sending direction in its own thread (which modes send at all?): send_all(input, send, crlf), its result sent as Done::Sent on `sending`");
    thread::Builder::new()
        .name("receive".into())
        .spawn(move || {
            let result = if mode == Mode::SendOnly {
                receive_all(receive, io::sink())
            } else {
                receive_all(receive, output)
            };
            let _ = done.send(Done::Received(result));
        })?;

    let mut sent_at: Option<Instant> = None;
    loop {
        let event = match sent_at {
            Some(t) if mode == Mode::SendOnly => {
                match events.recv_timeout(LINGER.saturating_sub(t.elapsed())) {
                    Ok(event) => event,
                    // The peer did not close in time; we are done anyway.
                    Err(_) => break,
                }
            }
            _ => match events.recv() {
                Ok(event) => event,
                Err(_) => break,
            },
        };
        match event {
            Done::Sent(Ok(())) => {
                sent_at = Some(Instant::now());
                if matches!(mode, Mode::Command | Mode::Datagrams) {
                    break;
                }
            }
            Done::Sent(Err(e)) => return Err(e),
            Done::Received(Ok(())) if mode == Mode::Command && sent_at.is_none() => {
                // The peer is gone while the command's output still flows. A reset reaches
                // only one of the two threads as an error: if it was the sender, its error
                // follows at once, and the session failed.
                match events.recv_timeout(Duration::from_millis(200)) {
                    Ok(Done::Sent(Err(e))) => return Err(e),
                    _ => break,
                }
            }
            Done::Received(Ok(())) => {
                if mode != Mode::SendOnly || sent_at.is_some() {
                    break;
                }
            }
            // Our stdout was closed (`netcat … | head -1`): nothing more to do, not a failure.
            Done::Received(Err(_)) if output_failed.load(Ordering::Relaxed) => break,
            Done::Received(Err(e)) => return Err(e),
        }
    }
    if let Some(socket) = socket {
        // Wakes a thread still blocked on the socket; the threads end with the process, or
        // at once when the session was one of several (-k).
        let _ = socket.shutdown(Shutdown::Both);
    }
    Ok(Totals {
        sent: sent.load(Ordering::Relaxed),
        received: received.load(Ordering::Relaxed),
    })
}

/// The local side of a session: stdin/stdout, or a command run for this connection.
enum Local {
    Std,
    Command(String, bool),
}

/// Runs one session with the local side `local`; returns what it moved.
fn serve(halves: Halves, local: &Local, mode: Mode, crlf: bool) -> io::Result<Totals> {
    match local {
        Local::Std => {
            // Unbuffered handles on fds 0 and 1: a read or write is one system call of up to
            // BUF bytes, whatever the data (Rust's stdout would look for line ends in it).
            let input = File::from(io::stdin().as_fd().try_clone_to_owned()?);
            let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
            session(halves, Box::new(input), Box::new(output), mode, crlf)
        }
        Local::Command(cmd, shell) => {
            let mut child = spawn_command(cmd, *shell)?;
            // Both pipes were asked for in spawn_command.
            let to_child = child.stdin.take().expect("stdin is piped");
            let from_child = child.stdout.take().expect("stdout is piped");
            let totals = session(
                halves,
                Box::new(from_child),
                Box::new(to_child),
                Mode::Command,
                crlf,
            );
            reap(child);
            totals
        }
    }
}

/// Starts `cmd` (through `sh -c` for `--sh-exec`, split on spaces for `-e`) with its stdin and
/// stdout on pipes.
fn spawn_command(cmd: &str, shell: bool) -> io::Result<Child> {
    let mut command = if shell {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(cmd);
        c
    } else {
        let mut words = cmd.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "empty command"))?;
        let mut c = Command::new(program);
        c.args(words);
        c
    };
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {cmd:?}: {}", describe(&e))))
}

/// Waits briefly for a command that closed its output, then stops it.
fn reap(mut child: Child) {
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Connecting and listening.

/// Everything the command line says.
struct Config {
    listen: bool,
    keep_open: bool,
    host: String,
    port: u16,
    udp: bool,
    verbose: bool,
    crlf: bool,
    mode: Mode,
    local: Local,
    tls: Option<TlsOptions>,
}

struct TlsOptions {
    cert: Option<(PathBuf, PathBuf)>,
    verify: bool,
    trustfile: Option<PathBuf>,
}

/// `HOST PORT`: connects, then runs one session.
fn connect(cfg: &Config, tls_side: Option<&TlsSide>) -> io::Result<Totals> {
    if cfg.udp {
        let sock: UdpSocket =
            todo!("fill in: a UDP socket bound to any local port (0.0.0.0:0) and connected to (host, port), so that send and recv talk to that peer only");
        say(cfg.verbose, &format!("Connected to {}.", sock.peer_addr()?));
        // Nothing tells a UDP client that the peer is done: it ends with its stdin.
        let mode = if cfg.mode == Mode::Both {
            Mode::Datagrams
        } else {
            cfg.mode
        };
        return serve(Halves::udp(sock)?, &cfg.local, mode, cfg.crlf);
    }
    let stream: TcpStream =
        todo!("fill in: connect a TCP socket to (host, port)");
    let peer = stream.peer_addr()?;
    let halves = match tls_side {
        Some(side) => {
            let halves = wrap_tls(side, stream, cfg.verbose)?;
            say(cfg.verbose, &format!("SSL connection to {peer}."));
            halves
        }
        None => {
            say(cfg.verbose, &format!("Connected to {peer}."));
            Halves::plain(stream)?
        }
    };
    serve(halves, &cfg.local, cfg.mode, cfg.crlf)
}

/// `-l`: listens, then runs a session per connection: one, or with `-k` one per connection, at
/// the same time, until killed.
fn listen(cfg: &Config, tls_side: Option<&TlsSide>) -> io::Result<Totals> {
    if cfg.udp {
        return listen_udp(cfg);
    }
    let listener: TcpListener =
        todo!("fill in: a TCP socket listening on (host, port)");
    say(
        cfg.verbose,
        &format!("Listening on {}", listener.local_addr()?),
    );
    if !cfg.keep_open {
        let (stream, from): (TcpStream, SocketAddr) =
            todo!("fill in: accept one connection");
        // One connection only: stop listening, as Ncat does.
        drop(listener);
        say(cfg.verbose, &format!("Connection from {from}."));
        let halves = match tls_side {
            Some(side) => wrap_tls(side, stream, cfg.verbose).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("Failed SSL connection from {from}: {}", describe(&e)),
                )
            })?,
            None => Halves::plain(stream)?,
        };
        return serve(halves, &cfg.local, cfg.mode, cfg.crlf);
    }
    let clients = Arc::new(Broadcast::default());
    if matches!(cfg.local, Local::Std) && cfg.mode != Mode::RecvOnly {
        let clients = Arc::clone(&clients);
        let crlf = cfg.crlf;
        thread::spawn(move || clients.stdin_to_all(crlf));
    }
    thread::scope(|scope| loop {
        todo!("fill in: -k: accept each connection (on an error: log it, pause 50 ms, go on), say `Connection from ADDR.`, and run keep_serving(cfg, tls_side, stream, from, &clients) in a new scoped thread");
    })
}

/// One of several connections (`-k`): with a command, a session of its own; otherwise what it
/// sends goes to stdout and what stdin brings goes to every connection.
fn keep_serving(
    cfg: &Config,
    tls_side: Option<&TlsSide>,
    stream: TcpStream,
    from: SocketAddr,
    clients: &Broadcast,
) {
    let halves = match tls_side {
        Some(side) => match wrap_tls(side, stream, cfg.verbose) {
            Ok(h) => h,
            Err(e) => {
                eprintln!(
                    "{NAME}: Failed SSL connection from {from}: {}.",
                    describe(&e)
                );
                return;
            }
        },
        None => match Halves::plain(stream) {
            Ok(h) => h,
            Err(e) => {
                log::warn!("{from}: {}", describe(&e));
                return;
            }
        },
    };
    let result = match &cfg.local {
        Local::Command(..) => serve(halves, &cfg.local, cfg.mode, cfg.crlf).map(|_| ()),
        Local::Std => clients.serve(halves, cfg.mode),
    };
    if let Err(e) = result {
        eprintln!("{NAME}: {from}: {}.", describe(&e));
    }
    say(cfg.verbose, &format!("Connection from {from} closed."));
}

/// `-k` without a command: the sending halves of every open connection, fed from stdin.
#[derive(Default)]
struct Broadcast {
    halves: Mutex<Vec<(u64, Box<dyn SendHalf>)>>,
    next: Mutex<u64>,
    stdin_ended: Mutex<bool>,
}

impl Broadcast {
    /// One connection's session: what it sends goes to stdout until it closes.
    fn serve(&self, halves: Halves, mode: Mode) -> io::Result<()> {
        let Halves {
            receive,
            mut send,
            socket,
        } = halves;
        let id = {
            let mut next = lock(&self.next);
            *next += 1;
            *next
        };
        if *lock(&self.stdin_ended) {
            send.close_write()?;
        } else if mode != Mode::RecvOnly {
            lock(&self.halves).push((id, send));
        }
        let output = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let result = if mode == Mode::SendOnly {
            receive_all(receive, io::sink())
        } else {
            receive_all(receive, output)
        };
        lock(&self.halves).retain(|(i, _)| *i != id);
        if let Some(socket) = socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
        result.map(|_| ())
    }

    /// Reads stdin and sends each chunk to every open connection; at its end, half-closes them.
    fn stdin_to_all(&self, crlf: bool) {
        let mut input = io::stdin().lock();
        let mut buf = vec![0u8; BUF];
        let mut converted = Vec::new();
        let mut lines = Crlf::default();
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = if crlf {
                lines.convert(&buf[..n], &mut converted);
                &converted[..]
            } else {
                &buf[..n]
            };
            // A connection that fails to take the chunk is dropped from the list.
            lock(&self.halves).retain_mut(|(_, half)| half.write_all(chunk).is_ok());
        }
        *lock(&self.stdin_ended) = true;
        for (_, half) in lock(&self.halves).iter_mut() {
            let _ = half.close_write();
        }
    }
}

/// `-u -l`: waits for the first datagram, then talks with its sender only.
fn listen_udp(cfg: &Config) -> io::Result<Totals> {
    let sock: UdpSocket =
        todo!("fill in: a UDP socket bound to (host, port)");
    say(cfg.verbose, &format!("Listening on {}", sock.local_addr()?));
    let mut first = vec![0u8; 65536];
    let n: usize =
        todo!("fill in: receive the first datagram (recv_from), connect the socket to its sender, say `Connection from ADDR.`, write the datagram to stdout, and give its length");
    let mut totals = serve(Halves::udp(sock)?, &cfg.local, cfg.mode, cfg.crlf)?;
    totals.received += n as u64;
    Ok(totals)
}

// ---------------------------------------------------------------------------------------------
// The command line.

const USAGE: &str = "Usage: netcat [options] HOST PORT
       netcat -l [options] [HOST] [PORT]

Connects to HOST PORT, or listens (-l), and copies stdin to the connection and the connection to
stdout. Options as Ncat's. With -v, `Listening on ADDR` gives the real address (also for port 0).";

/// Single-letter flags that may be written together (`-lvk`); `p` may end such a group.
const CLUSTER: &str = "lkuvCh";

/// `-lvp 8000` → `-l -v -p 8000`, as getopts does not group short options here.
fn expand_clusters(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let body = arg.strip_prefix('-').filter(|b| !b.starts_with('-'));
        match body {
            Some(b)
                if b.len() > 1
                    && b.char_indices()
                        .all(|(i, c)| CLUSTER.contains(c) || (c == 'p' && i == b.len() - 1)) =>
            {
                out.extend(b.chars().map(|c| format!("-{c}")));
            }
            _ => out.push(arg),
        }
    }
    out
}

fn options() -> Options {
    let mut opts = Options::new();
    opts.optflag(
        "l",
        "listen",
        "listen for connections instead of connecting",
    );
    opts.optopt(
        "p",
        "source-port",
        "with -l: the port to listen on (0: any)",
        "PORT",
    );
    opts.optflag(
        "k",
        "keep-open",
        "with -l: accept more connections, each in a thread",
    );
    opts.optflag("u", "udp", "UDP instead of TCP");
    opts.optflag("v", "verbose", "say what happens on stderr");
    opts.optflag("C", "crlf", "send line ends as CRLF");
    opts.optflag("", "send-only", "only send; what arrives is thrown away");
    opts.optflag("", "recv-only", "only receive; stdin is not read");
    opts.optopt(
        "c",
        "sh-exec",
        "run CMD with /bin/sh per connection, on the socket",
        "CMD",
    );
    opts.optopt(
        "e",
        "exec",
        "run CMD (no shell) per connection, on the socket",
        "CMD",
    );
    opts.optflag("", "ssl", "TLS on the connection");
    opts.optopt(
        "",
        "ssl-cert",
        "with -l --ssl: the certificate (PEM)",
        "FILE",
    );
    opts.optopt(
        "",
        "ssl-key",
        "with -l --ssl: its private key (PEM)",
        "FILE",
    );
    opts.optflag("", "ssl-verify", "check the server's certificate");
    opts.optopt(
        "",
        "ssl-trustfile",
        "trust the certificates in FILE (PEM); implies --ssl-verify",
        "FILE",
    );
    opts
}

/// Reads the command line; a mistake exits 2 with usage.
fn config(args: &Args) -> Config {
    let listen = args.flag("listen");
    let free = args.free();
    let port_opt: Option<u16> = args.opt("source-port");
    let port_of = |text: &str| -> u16 { args.value("PORT", text) };
    let (host, port) = if listen {
        match (free, port_opt) {
            ([], Some(p)) => ("0.0.0.0".to_string(), p),
            ([h], Some(p)) => (h.clone(), p),
            ([p], None) if p.parse::<u16>().is_ok() => ("0.0.0.0".to_string(), port_of(p)),
            ([h, p], None) => (h.clone(), port_of(p)),
            ([], None) | ([_], None) => args.fail("-l needs a PORT (or -p PORT)"),
            _ => args.fail("-l takes at most HOST and PORT"),
        }
    } else {
        match free {
            [h, p] if port_opt.is_none() => (h.clone(), port_of(p)),
            [_, _] => args.fail("-p is only for -l"),
            _ => args.fail("connecting needs HOST and PORT"),
        }
    };
    let keep_open = args.flag("keep-open");
    if keep_open && !listen {
        args.fail("-k is only for -l");
    }
    let (send_only, recv_only) = (args.flag("send-only"), args.flag("recv-only"));
    if send_only && recv_only {
        args.fail("--send-only and --recv-only exclude each other");
    }
    let local = match (
        args.matches.opt_str("sh-exec"),
        args.matches.opt_str("exec"),
    ) {
        (Some(_), Some(_)) => args.fail("give --sh-exec or -e, not both"),
        (Some(cmd), None) => Local::Command(cmd, true),
        (None, Some(cmd)) => Local::Command(cmd, false),
        (None, None) => Local::Std,
    };
    let cert: Option<PathBuf> = args.opt("ssl-cert");
    let key: Option<PathBuf> = args.opt("ssl-key");
    let trustfile: Option<PathBuf> = args.opt("ssl-trustfile");
    let verify = args.flag("ssl-verify") || trustfile.is_some();
    let cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => args.fail("--ssl-cert and --ssl-key go together"),
    };
    let ssl = args.flag("ssl") || cert.is_some() || verify;
    let udp = args.flag("udp");
    if udp && (ssl || keep_open || matches!(local, Local::Command(..))) {
        args.fail("-u works without --ssl, -k and commands");
    }
    let mode = if send_only {
        Mode::SendOnly
    } else if recv_only {
        Mode::RecvOnly
    } else {
        Mode::Both
    };
    Config {
        listen,
        keep_open,
        host,
        port,
        udp,
        verbose: args.flag("verbose"),
        crlf: args.flag("crlf"),
        mode,
        local,
        tls: ssl.then_some(TlsOptions {
            cert,
            verify,
            trustfile,
        }),
    }
}

/// The TLS configuration the options ask for: for a listener, the certificate from files or a
/// new self-signed one (its fingerprint said with -v); for a client, what it trusts.
fn tls_side(cfg: &Config, opts: &TlsOptions) -> Result<TlsSide, String> {
    if cfg.listen {
        let identity = match &opts.cert {
            Some((cert, key)) => tls::identity_from_files(cert, key)?,
            None => {
                say(
                    cfg.verbose,
                    "Generating a temporary self-signed certificate. Use --ssl-key and --ssl-cert to use a permanent one.",
                );
                tls::self_signed(&["localhost", "127.0.0.1", &cfg.host])?
            }
        };
        say(
            cfg.verbose,
            &format!("SHA-256 fingerprint: {}", identity.fingerprint()),
        );
        // No TLS 1.3 session tickets: netcat never resumes a session, and a `--send-only` peer
        // never reads them, so its close with them unread would reach us as a reset.
        let mut config = (*tls::server_config(&identity)?).clone();
        config.send_tls13_tickets = 0;
        Ok(TlsSide::Server(Arc::new(config)))
    } else {
        let trust = match (&opts.trustfile, opts.verify) {
            (Some(file), _) => Trust::File(file),
            (None, true) => Trust::WebRoots,
            (None, false) => Trust::Anyone,
        };
        Ok(TlsSide::Client(
            tls::client_config(trust)?,
            cfg.host.clone(),
        ))
    }
}

pub fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_none() {
        // rustls logs at `warn` what is only unusual (Ncat sends an IP address as the server
        // name): keep stderr for netcat's own lines unless asked.
        std::env::set_var("RUST_LOG", "info,rustls=error");
    }
    socklab::logging::init();
    let args = cli::parse_args(options(), USAGE, expand_clusters(std::env::args().skip(1)));
    let cfg = config(&args);
    let tls_side = match cfg.tls.as_ref().map(|t| tls_side(&cfg, t)).transpose() {
        Ok(side) => side,
        Err(e) => {
            eprintln!("{NAME}: {e}.");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let result = if cfg.listen {
        listen(&cfg, tls_side.as_ref())
    } else {
        connect(&cfg, tls_side.as_ref())
    };
    match result {
        Ok(totals) => {
            say(
                cfg.verbose,
                &format!(
                    "{} bytes sent, {} bytes received in {:.2} seconds.",
                    totals.sent,
                    totals.received,
                    started.elapsed().as_secs_f64()
                ),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{NAME}: {}.", describe(&e));
            ExitCode::FAILURE
        }
    }
}
