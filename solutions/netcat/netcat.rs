//! netcat: connects to a TCP or UDP port, or listens on one, and moves bytes between the network
//! and stdin/stdout (or a command), optionally inside TLS. Its options are Ncat's:
//!
//!     netcat [options] HOST PORT            connect
//!     netcat -l [options] [HOST] [PORT]     listen (or -p PORT)
//!
//! The lesson is the byte stream: one connection, two directions, a thread each, and the
//! half-close when stdin ends. Given, beside this file: the command line (`options.rs`), the TLS
//! session shared by the two threads (`tls_plumbing.rs`), and the helpers of the session, `-u`,
//! commands and `-k` (`given.rs`). Read them; the socket calls and the copy loops are here.

#[path = "given.rs"]
mod given;
#[path = "options.rs"]
mod options;
#[path = "tls_plumbing.rs"]
mod tls_plumbing;

use given::{
    describe, keep_serving, lock, say, serve_command, wait_for_end, Broadcast, Crlf, Output, Stats,
    Totals, NAME,
};
use options::{Config, Local};
use socklab::tls::{self, rustls};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tls_plumbing::{TlsSend, TlsSide};

/// Bytes moved per read and write: large enough for a fast loopback, small and fixed so a
/// transfer of any size takes the same memory.
const BUF: usize = 128 * 1024;
/// How long a TLS handshake may take before the connection is given up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait before trying again after a failed accept (out of file descriptors:
/// only a client leaving can free one, so trying at once would only burn CPU).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// The two halves of a connection.

/// The sending half of a connection: bytes out, then a half-close when there is no more.
trait SendHalf: Write + Send {
    /// Tells the peer we will send nothing more, while we can still receive.
    fn close_write(&mut self) -> io::Result<()>;
}

impl SendHalf for TcpStream {
    fn close_write(&mut self) -> io::Result<()> {
        // BEGIN BLANK: half-close: end only our sending direction of this socket, so we can still read (handout: the half-close; std: TcpStream)
        self.shutdown(Shutdown::Write)
        // END BLANK
    }
}

/// Both directions of one connection, ready for the two copy threads. (`Halves::udp` and
/// `Halves::tls` are in the given files.)
struct Halves {
    receive: Box<dyn Read + Send>,
    send: Box<dyn SendHalf>,
    /// The socket itself, to end the connection when the session is over.
    socket: Option<TcpStream>,
}

impl Halves {
    /// A TCP connection: each direction gets its own handle on the same socket.
    fn plain(stream: TcpStream) -> io::Result<Halves> {
        Ok(Halves {
            receive: Box::new(stream.try_clone()?),
            send: Box::new(stream.try_clone()?),
            socket: Some(stream),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// TLS (stretch milestone): the handshake and the half-close; the rest is in tls_plumbing.rs.

impl SendHalf for TlsSend {
    fn close_write(&mut self) -> io::Result<()> {
        // BEGIN BLANK: half-close over TLS: what must the peer get before our FIN, so it can trust the end? (handout: TLS; rustls::Connection; TlsShared in tls_plumbing.rs)
        let mut session = lock(&self.shared.session);
        session.send_close_notify();
        // The FIN only once the close_notify is out.
        self.shared
            .send_records(session, &mut self.records)
            .and_then(|()| self.shared.tcp.shutdown(Shutdown::Write))
        // END BLANK
    }
}

/// Wraps a connected TCP socket in TLS: runs the handshake and reports the certificate seen.
fn wrap_tls(side: &TlsSide, stream: TcpStream, verbose: bool) -> io::Result<Halves> {
    let tls_err = |e: rustls::Error| io::Error::new(ErrorKind::InvalidData, e);
    // A peer that never completes the handshake (a plain client typing nothing) must not hold
    // the connection forever.
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let session: rustls::Connection =
        /* BLANK: this side's TLS session (server or client, from `side`), its handshake run to the end on `stream` (handout: TLS; rustls::ServerConnection, ClientConnection, Connection) */
        {
            let mut session: rustls::Connection = match side {
                TlsSide::Server(config) => rustls::ServerConnection::new(Arc::clone(config))
                    .map_err(tls_err)?
                    .into(),
                TlsSide::Client(config, host) => {
                    let name = tls::server_name(host)
                        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
                    rustls::ClientConnection::new(Arc::clone(config), name)
                        .map_err(tls_err)?
                        .into()
                }
            };
            let mut tcp = &stream;
            while session.is_handshaking() {
                session.complete_io(&mut tcp)?;
            }
            session
        }
        /* END */;
    stream.set_read_timeout(None)?;
    tls_plumbing::say_fingerprint(side, &session, verbose);
    Halves::tls(session, stream)
}

// ---------------------------------------------------------------------------------------------
// The two copy directions.

/// The sending direction: copies `input` to the network until `input` ends, then half-closes.
/// With `crlf` (`-C`), each chunk goes through `lines.convert` first.
fn send_all(mut input: impl Read, mut out: Box<dyn SendHalf>, crlf: bool) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    let mut converted: Vec<u8> = Vec::new();
    let mut lines = Crlf::default();
    // BEGIN BLANK: copy `input` to `out` through `buf` until input ends (-C: via `lines`), then half-close; how does a read say "the end"? (handout: the half-close; std::io::Read, Write)
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if crlf {
            lines.convert(&buf[..n], &mut converted);
            out.write_all(&converted)?;
        } else {
            out.write_all(&buf[..n])?;
        }
    }
    out.close_write()?;
    // END BLANK
    Ok(())
}

/// The receiving direction: copies the network to `output` until the peer closes its half.
fn receive_all(mut from: impl Read, mut output: impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    // BEGIN BLANK: copy the network to `output` until the peer's half-close; a chunk may be any size (std::io::Read::read, Write)
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n])?;
    }
    // END BLANK
    Ok(())
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
    // Byte counts for the `-v` summary, and a note of whether writing to `output` failed.
    let stats = Stats::default();
    let (receive, send) = (stats.count_received(receive), stats.count_sent(send));
    let output = Output::new(output);
    let output_failed = output.failed();
    let (done, events) = crossbeam_channel::unbounded();
    let sending = done.clone();
    // BEGIN BLANK: the sending direction, in a thread of its own, its result reported on `sending`; which modes send at all? (Mode above; std::thread)
    if mode != Mode::RecvOnly {
        thread::Builder::new().name("send".into()).spawn(move || {
            let _ = sending.send(Done::Sent(send_all(input, send, crlf)));
        })?;
    }
    // END BLANK
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
    // Given: which event ends the session depends on the mode (given.rs).
    wait_for_end(&events, mode, &output_failed)?;
    if let Some(socket) = socket {
        // Wakes a thread still blocked on the socket; the threads end with the process, or
        // at once when the session was one of several (-k).
        let _ = socket.shutdown(Shutdown::Both);
    }
    Ok(stats.totals())
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
        // Given (given.rs): the same session with a command in place of stdin/stdout.
        Local::Command(cmd, shell) => serve_command(halves, cmd, *shell, crlf),
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting and listening.

/// `HOST PORT`: connects, then runs one session.
fn connect(cfg: &Config, tls_side: Option<&TlsSide>) -> io::Result<Totals> {
    if cfg.udp {
        let sock: UdpSocket =
            /* BLANK: a UDP socket on a port of the system's choice that sends to and receives from (host, port) only (handout: netcat's modes; std: UdpSocket) */
            {
                let sock = UdpSocket::bind(("0.0.0.0", 0))?;
                sock.connect((cfg.host.as_str(), cfg.port))?;
                sock
            }
            /* END */;
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
        /* BLANK: a TCP connection to (host, port) (std: TcpStream) */
        TcpStream::connect((cfg.host.as_str(), cfg.port))?
        /* END */;
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
        /* BLANK: a TCP socket listening on (host, port); a failure should name the address (std: TcpListener) */
        TcpListener::bind((cfg.host.as_str(), cfg.port)).map_err(|e| {
            io::Error::new(e.kind(), format!("bind to {}:{}: {}", cfg.host, cfg.port, describe(&e)))
        })?
        /* END */;
    say(
        cfg.verbose,
        &format!("Listening on {}", listener.local_addr()?),
    );
    if !cfg.keep_open {
        let (stream, from): (TcpStream, SocketAddr) =
            /* BLANK: the first connection, and who made it (std: TcpListener) */
            listener.accept()?
            /* END */;
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
        // BEGIN BLANK: -k: every connection served by keep_serving at the same time, the listener always ready for the next; a failed accept must not end it (std: thread::Scope)
        let (stream, from) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("accept failed: {}", describe(&e));
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        say(cfg.verbose, &format!("Connection from {from}."));
        let clients = &clients;
        scope.spawn(move || keep_serving(cfg, tls_side, stream, from, clients));
        // END BLANK
    })
}

/// `-u -l`: waits for the first datagram, then talks with its sender only.
fn listen_udp(cfg: &Config) -> io::Result<Totals> {
    let sock: UdpSocket =
        /* BLANK: a UDP socket on (host, port); a failure should name the address (std: UdpSocket) */
        UdpSocket::bind((cfg.host.as_str(), cfg.port)).map_err(|e| {
            io::Error::new(e.kind(), format!("bind to {}:{}: {}", cfg.host, cfg.port, describe(&e)))
        })?
        /* END */;
    say(cfg.verbose, &format!("Listening on {}", sock.local_addr()?));
    let mut first = vec![0u8; 65536];
    let n: usize =
        /* BLANK: the first datagram: its sender becomes the only peer (-v: `Connection from ADDR.`), its bytes go to stdout; give their count (std: UdpSocket) */
        {
            let (n, from) = sock.recv_from(&mut first)?;
            sock.connect(from)?;
            say(cfg.verbose, &format!("Connection from {from}."));
            let mut stdout = io::stdout().lock();
            stdout.write_all(&first[..n])?;
            stdout.flush()?;
            n
        }
        /* END */;
    let mut totals = serve(Halves::udp(sock)?, &cfg.local, cfg.mode, cfg.crlf)?;
    totals.received += n as u64;
    Ok(totals)
}

pub fn main() -> ExitCode {
    // Given: the command line and the TLS configuration it asks for (options.rs).
    let (cfg, tls_side) = match options::from_command_line() {
        Ok(both) => both,
        Err(code) => return code,
    };
    let started = Instant::now();
    let result = if cfg.listen {
        listen(&cfg, tls_side.as_ref())
    } else {
        connect(&cfg, tls_side.as_ref())
    };
    given::finish(cfg.verbose, started, result)
}
