//! The silly chatter: a TCP server that understands nothing and answers `What?` to every line,
//! reached with `telnet HOST 8000` or `netcat HOST 8000`.
//!
//!     silly_server [--host H] [--port P]
//!
//! One thread per client. A line `q` (as netcat sends it, or `q\r\n` as telnet does) closes that
//! client's connection and the whole server, gracefully: the server stops accepting, tells every
//! other client that it is closing, closes their connections, waits for each client's thread to
//! finish (as the Rust Book's web server joins its workers), and exits 0.

use socklab::cli::{self, Args, Options};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The seed's port.
const PORT: u16 = 8000;
/// Longest line kept, in bytes; the rest of a longer one is skipped (it still gets one `What?`).
const MAX_LINE: usize = 4096;
/// How long to wait before trying again after a failed accept (out of file descriptors:
/// only a client leaving can free one, so trying at once would only burn CPU).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// The answer to everything.
const ANSWER: &str = "What?";
/// What the other clients read when someone's `q` closes the server.
const CLOSING: &str = "The server is closing. Bye!";

// ---------------------------------------------------------------------------------------------
// Framing: one message per line.

/// Reads one line and returns it without its `\n` (a `\r` before it, as telnet sends, stays).
/// `Ok(None)`: the client closed its side. Bytes need not be UTF-8: the server does not
/// understand them anyway. A line longer than `MAX_LINE` is cut and its rest skipped.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() == MAX_LINE {
        let mut rest = Vec::new();
        // Skip to the end of the overlong line, a bounded piece at a time.
        while reader
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut rest)?
            == MAX_LINE
        {
            rest.clear();
        }
    }
    Ok(Some(line))
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// The connected clients, by address (no two connections to this server share one): the server
/// keeps a handle on each socket to tell the client it is closing and to close the connection.
#[derive(Default)]
struct Clients {
    sockets: Mutex<HashMap<SocketAddr, TcpStream>>,
    /// Set by the client that sent `q`: the accept loop stops at its next connection.
    closing: AtomicBool,
}

impl Clients {
    fn sockets(&self) -> MutexGuard<'_, HashMap<SocketAddr, TcpStream>> {
        // Each change is one insert or remove: a panicking thread cannot leave it half-made.
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One client, in its own thread: `What?` to every line, until it leaves or sends `q`.
/// Returns whether it sent `q`; a read or write that fails (the client vanished) is the error.
fn handle_client(stream: &TcpStream) -> io::Result<bool> {
    let mut reader = BufReader::new(stream);
    let mut out = stream;
    // BEGIN BLANK: this client's lines, each answered; the result says whether it asked the server to close (handout: The silly chatter; read_line above; mind telnet's line ends)
    while let Some(line) = read_line(&mut reader)? {
        if line.strip_suffix(b"\r").unwrap_or(&line) == b"q" {
            return Ok(true);
        }
        out.write_all(format!("{ANSWER}\n").as_bytes())?;
    }
    Ok(false)
    // END BLANK
}

/// A client's thread: runs `handle_client`, then closes the connection; after a `q`, starts
/// closing the server (and wakes the accept loop by connecting to it).
fn client_thread(stream: TcpStream, who: SocketAddr, clients: Arc<Clients>, me: SocketAddr) {
    let quit = handle_client(&stream).unwrap_or_else(|e| {
        // A broken connection ends only this client.
        log::warn!("{who}: connection lost: {e}");
        false
    });
    clients.sockets().remove(&who);
    if quit {
        println!("{who} sent q: closing the server");
        let _ = (&stream).write_all(b"Bye!\n");
        clients.closing.store(true, Ordering::SeqCst);
        let woken: io::Result<TcpStream> =
            /* BLANK: wake the accept loop, blocked until a connection comes; `me` is the server's own address (handout: The silly chatter) */
            TcpStream::connect(me)
            /* END */;
        if let Err(e) = woken {
            log::warn!("cannot wake the accept loop: {e}");
        }
    } else {
        println!("{who} left");
    }
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// The server.

fn server(host: &str, port: u16) -> io::Result<()> {
    let listener: TcpListener =
        /* BLANK: a TCP socket listening on (host, port) */ TcpListener::bind((host, port))? /* END */;
    let bound = listener.local_addr()?;
    println!("server listening at {bound}");
    // The address a client thread connects to, to wake the accept loop.
    let me = if bound.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    } else {
        bound
    };
    let clients = Arc::new(Clients::default());
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    // BEGIN BLANK: the accept loop: each client in a thread of its own (its handle in `threads`, its socket in clients.sockets() by its address, for the shutdown), until clients.closing says stop; print `connection from ADDR`; a failed accept must not end it
    loop {
        let (stream, who) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("accept failed: {e}");
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        if clients.closing.load(Ordering::SeqCst) {
            break;
        }
        println!("connection from {who}");
        match stream.try_clone() {
            Ok(kept) => {
                clients.sockets().insert(who, kept);
            }
            Err(e) => {
                log::warn!("{who}: turned away, no handle on its socket: {e}");
                continue;
            }
        }
        let shared = Arc::clone(&clients);
        match thread::Builder::new().spawn(move || client_thread(stream, who, shared, me)) {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                log::warn!("{who}: no thread for this client: {e}");
                clients.sockets().remove(&who);
            }
        }
    }
    // END BLANK

    // BEGIN BLANK: graceful shutdown: no more connections, every other client told CLOSING and closed, and their threads waited for (handout: The silly chatter)
    drop(listener);
    let others: Vec<TcpStream> = clients.sockets().drain().map(|(_, s)| s).collect();
    for mut socket in others {
        let _ = socket.write_all(format!("{CLOSING}\n").as_bytes());
        let _ = socket.shutdown(Shutdown::Both);
    }
    for handle in threads {
        let _ = handle.join();
    }
    // END BLANK
    println!("server closed");
    Ok(())
}

const USAGE: &str = "Usage: silly_server [--host H] [--port P]

The silly chatter: answers `What?` to every line; a line `q` closes the server.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "host", "address to listen on (default 0.0.0.0)", "H");
    opts.optopt("", "port", "port to listen on (default 8000; 0: any)", "P");
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("silly_server takes no positional arguments");
    }
    let host: String = args.get("host", "0.0.0.0".to_string());
    let port: u16 = args.get("port", PORT);
    match server(&host, port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::AddrInUse => {
            eprintln!("silly_server: {host}:{port} is in use: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("silly_server: {e}");
            ExitCode::FAILURE
        }
    }
}
