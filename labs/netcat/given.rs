//! Given code of netcat (no blanks): messages, `-u`'s datagrams as a stream, `-C`, the byte
//! counts of `-v`, when a session ends, commands (`--sh-exec`, `-e`) and `-k`'s connections.
//! The lesson is in netcat.rs; read this file to see what its functions rely on.

use super::{receive_all, serve, session, wrap_tls, Halves, Local, Mode, SendHalf, BUF};
use super::{Config, Done, TlsSide};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The largest datagram `-u` sends: a chunk of stdin bigger than this goes as several datagrams.
const MAX_DATAGRAM: usize = 8 * 1024;
/// With `--send-only`, how long to wait for the peer to close after our half-close.
const LINGER: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// Messages.

/// The `-v` lines and errors go to stderr with this prefix, in Ncat's words.
pub(super) const NAME: &str = "netcat";

/// Prints one `-v` line on stderr (only with `-v`).
pub(super) fn say(verbose: bool, text: &str) {
    if verbose {
        eprintln!("{NAME}: {text}");
    }
}

/// An error as a short sentence: `Connection refused`, without Rust's ` (os error 111)`.
pub(super) fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Locks a mutex even if a thread panicked while holding it (the data here stays usable: a
/// session's state is one rustls object, and the broadcast list only grows and shrinks).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// `-u`: datagrams as a stream.

/// A connected UDP socket seen as a stream: each write is one datagram, each read one datagram.
/// UDP has no connection to close, so there is no half-close. (Given: the lesson of `-u` is in
/// `connect` and `listen_udp`, which make the socket.)
pub(super) struct Datagrams(UdpSocket);

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

impl Halves {
    /// A connected UDP socket: one handle per direction.
    pub(super) fn udp(sock: UdpSocket) -> io::Result<Halves> {
        Ok(Halves {
            receive: Box::new(Datagrams(sock.try_clone()?)),
            send: Box::new(Datagrams(sock)),
            socket: None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// `-C`, and the wrappers of a session's two directions.

/// `-C`: turns each `\n` into `\r\n` (a `\r\n` already there stays as it is), remembering across
/// chunks whether the last byte was a `\r`.
#[derive(Default)]
pub(super) struct Crlf {
    after_cr: bool,
}

impl Crlf {
    pub(super) fn convert(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
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
pub(super) struct Output<W> {
    inner: W,
    failed: Arc<AtomicBool>,
}

impl<W> Output<W> {
    pub(super) fn new(inner: W) -> Output<W> {
        Output {
            inner,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once a write to the output has failed.
    pub(super) fn failed(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.failed)
    }
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
// What a session moved, and how it ends.

/// What a session did.
#[derive(Default)]
pub(super) struct Totals {
    pub(super) sent: u64,
    pub(super) received: u64,
}

/// The byte counters of a session's two directions, for the `-v` summary: right whenever the
/// session ends, even while the other direction is still busy.
#[derive(Default)]
pub(super) struct Stats {
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl Stats {
    pub(super) fn count_sent(&self, send: Box<dyn SendHalf>) -> Box<dyn SendHalf> {
        Box::new(Counted {
            inner: send,
            bytes: Arc::clone(&self.sent),
        })
    }

    pub(super) fn count_received(&self, receive: Box<dyn Read + Send>) -> impl Read + Send {
        Counted {
            inner: receive,
            bytes: Arc::clone(&self.received),
        }
    }

    pub(super) fn totals(&self) -> Totals {
        Totals {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }
}

/// Waits for the event that ends a session in this mode (see [`Mode`]); a network error ends it
/// with that error.
pub(super) fn wait_for_end(
    events: &crossbeam_channel::Receiver<Done>,
    mode: Mode,
    output_failed: &AtomicBool,
) -> io::Result<()> {
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
    Ok(())
}

/// The end of netcat: the `-v` summary and exit 0, or the error in one line and exit 1.
pub(super) fn finish(verbose: bool, started: Instant, result: io::Result<Totals>) -> ExitCode {
    match result {
        Ok(totals) => {
            say(
                verbose,
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

// ---------------------------------------------------------------------------------------------
// Commands (`--sh-exec`, `-e`) and `-k`.

/// `--sh-exec`/`-e`: one session between the connection and a command run for it.
pub(super) fn serve_command(
    halves: Halves,
    cmd: &str,
    shell: bool,
    crlf: bool,
) -> io::Result<Totals> {
    let mut child = spawn_command(cmd, shell)?;
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

/// One of several connections (`-k`): with a command, a session of its own; otherwise what it
/// sends goes to stdout and what stdin brings goes to every connection.
pub(super) fn keep_serving(
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
pub(super) struct Broadcast {
    halves: Mutex<Vec<(u64, Box<dyn SendHalf>)>>,
    next: Mutex<u64>,
    stdin_ended: Mutex<bool>,
}

impl Broadcast {
    /// One connection's session: what it sends goes to stdout until it closes.
    pub(super) fn serve(&self, halves: Halves, mode: Mode) -> io::Result<()> {
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
    pub(super) fn stdin_to_all(&self, crlf: bool) {
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
