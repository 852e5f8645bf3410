//! A server behind the reverse proxy: it registers with the proxy for one privacy policy, then
//! answers each data message it is forwarded with the SHA-1 of the message's payload.
//!
//! It listens first, so that the proxy can reach it as soon as it is registered; then it sends
//! its setup (type 1, with both spellings of the policy key) over a connection of its own and
//! waits a moment (`-ackwait`) for the proxy's acknowledgement — the seed's proxy sends one, some students'
//! proxies close, others say nothing. Each forwarded message comes on a new connection: one data message (type 0) in,
//! one reply (type 2) out, then the server closes (some proxies read until it does).
//!
//!     rp_server -id ID -pp POLICY -listen P -revproc P [-revhost H] [-host H] [-ackwait SECONDS]

#[path = "message.rs"]
mod message;

use message::{
    error_message, error_text, read_message, sha1_hex, write_message, Data, ReadError, Setup,
};
use serde_json::Value;
use socklab::cli::{self, Args, Options};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long to wait for the proxy's acknowledgement before serving anyway, unless `-ackwait`
/// says.
const ACK_WAIT: f64 = 2.0;
/// How long connecting to the proxy may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the proxy may take to send its message once connected.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the accept loop pauses after a failed accept (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Who this server is.
struct Identity {
    id: i64,
    policy: String,
}

// ---------------------------------------------------------------------------------------------
// Registering with the proxy.

/// What the proxy said to the setup.
enum Registered {
    /// The acknowledgement, or a message we do not know: registered.
    Acknowledged(String),
    /// It closed, or was silent for `ack_wait`: registered, most likely (the seed's proxy sends
    /// `{"Status": …}`, but the assignment's handout never asks for it, and some students'
    /// proxies send nothing).
    Unacknowledged(String),
}

/// The proxy's address: IPv4 first, as the course's `AF_INET` programs use.
fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| io::Error::other(format!("{host} has no address")))
}

/// Sends `setup` to the proxy at `proxy` and reads its answer, waiting at most `ack_wait` for
/// it. An error message from the proxy is an `Err` with its sentence.
fn register(proxy: SocketAddr, setup: &Setup, ack_wait: Duration) -> Result<Registered, String> {
    // BEGIN BLANK: the setup to the proxy (CONNECT_TIMEOUT), and what its answer, or its silence for ack_wait, means (the handout: being liberal in what you accept; see Registered and error_text)
    let mut stream = TcpStream::connect_timeout(&proxy, CONNECT_TIMEOUT)
        .map_err(|e| format!("cannot connect to the reverse proxy at {proxy}: {e}"))?;
    stream
        .set_read_timeout(Some(ack_wait))
        .map_err(|e| e.to_string())?;
    write_message(&mut stream, &setup.to_json())
        .map_err(|e| format!("cannot send the setup: {e}"))?;
    match read_message(&mut stream) {
        Ok(answer) => {
            if let Some(why) = error_text(&answer) {
                return Err(format!("the reverse proxy refused the setup: {why}"));
            }
            let status = answer.get("Status").and_then(Value::as_str);
            Ok(Registered::Acknowledged(
                status.unwrap_or(&answer.to_string()).to_string(),
            ))
        }
        Err(ReadError::Closed) => Ok(Registered::Unacknowledged(
            "the reverse proxy closed the connection without an acknowledgement".into(),
        )),
        Err(e) if e.is_timeout() => Ok(Registered::Unacknowledged(format!(
            "no acknowledgement within {ack_wait:?}"
        ))),
        Err(e) => Err(format!("the reverse proxy's answer: {e}")),
    }
    // END BLANK
}

// ---------------------------------------------------------------------------------------------
// Serving forwarded messages.

/// The reply to one data message: type 2, from this server to the client, carrying the SHA-1
/// of its payload.
fn reply_to(me: &Identity, data: &Data) -> Value {
    // BEGIN BLANK: this server's type 2 reply to the data (see Reply and sha1_hex; the handout: which id goes where)
    message::Reply {
        srcid: me.id,
        destid: data.srcid,
        payload: sha1_hex(&data.payload),
    }
    .to_json()
    // END BLANK
}

/// One forwarded message: read it, answer it, close.
fn handle(mut stream: TcpStream, from: SocketAddr, me: &Identity) {
    if let Err(e) = stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(READ_TIMEOUT)))
    {
        log::warn!("{from}: {e}");
        return;
    }
    // BEGIN BLANK: one data message in, one reply out (reply_to), with the seed's two log lines (handout); bad input is logged and answered (error_message, ReadError)
    let message = match read_message(&mut stream) {
        Ok(message) => message,
        Err(ReadError::Closed) => return,
        Err(e) => {
            log::warn!("{from}: {e}");
            let _ = write_message(&mut stream, &error_message(&e.to_string()));
            return;
        }
    };
    let data = match Data::from_json(&message) {
        Ok(data) => data,
        Err(why) => {
            log::warn!("{from}: {why}");
            let _ = write_message(&mut stream, &error_message(&why));
            return;
        }
    };
    println!(
        "Received a message from client {}, payload: {}",
        data.srcid, data.payload
    );
    let reply = reply_to(me, &data);
    println!(
        "Sending a response to client {}, payload: {}",
        data.srcid,
        reply["payload"].as_str().unwrap_or_default()
    );
    if let Err(e) = write_message(&mut stream, &reply) {
        log::warn!("{from}: could not reply: {e}");
    }
    // END BLANK
}

fn server(
    me: Identity,
    host: &str,
    listen: u16,
    proxy: SocketAddr,
    ack_wait: Duration,
) -> Result<(), String> {
    // Listen before registering: the proxy may forward a message the moment it knows us.
    let listener: TcpListener =
        /* BLANK: a listening socket on (host, listen) */ TcpListener::bind((host, listen)).map_err(|e| format!("cannot listen on {host}:{listen}: {e}"))? /* END */;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("Server running with id {} at {addr}", me.id);
    println!("Server serving privacy policy {}", me.policy);
    println!("Listening on port {}", addr.port());
    println!("Connecting to the reverse proxy on port {}", proxy.port());
    let setup = Setup {
        id: me.id,
        policy: me.policy.clone(),
        listenport: addr.port(),
    };
    match register(proxy, &setup, ack_wait)? {
        Registered::Acknowledged(status) => println!("{status}"),
        Registered::Unacknowledged(why) => {
            println!("Setup sent to the reverse proxy ({why})")
        }
    }
    let me = Arc::new(me);
    // BEGIN BLANK: every connection handled in a thread of its own (thread::Builder); a failed accept or spawn is logged, never fatal (ACCEPT_PAUSE)
    loop {
        let (stream, from) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("accept failed: {e}");
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        let me = Arc::clone(&me);
        if let Err(e) = thread::Builder::new().spawn(move || handle(stream, from, &me)) {
            log::warn!("{from}: no thread for this connection: {e}");
        }
    }
    // END BLANK
}

const USAGE: &str = "Usage: rp_server -id ID -pp POLICY -listen P -revproc P [-revhost H] [-host H]
                 [-ackwait SECONDS]

A server behind the reverse proxy: answers each message with the SHA-1 of its payload.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "id", "this server's id (a whole number)", "ID");
    opts.optopt("", "pp", "the privacy policy it serves (PP_1)", "POLICY");
    opts.optopt("", "listen", "port to listen on (0: any free port)", "P");
    opts.optopt("", "revproc", "the reverse proxy's port", "P");
    opts.optopt(
        "",
        "revhost",
        "the reverse proxy's host (default localhost)",
        "H",
    );
    opts.optopt("", "host", "address to listen on (default 0.0.0.0)", "H");
    opts.optopt(
        "",
        "ackwait",
        "how long to wait for the proxy's acknowledgement (default 2)",
        "SECONDS",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("rp_server takes no positional arguments");
    }
    let (Some(id), Some(policy), Some(listen), Some(revproc)) = (
        args.opt::<i64>("id"),
        args.opt::<String>("pp"),
        args.opt::<u16>("listen"),
        args.opt::<u16>("revproc"),
    ) else {
        args.fail("-id, -pp, -listen and -revproc are all required");
    };
    if policy.trim().is_empty() {
        args.fail("-pp takes a policy name such as PP_1");
    }
    let revhost: String = args.get("revhost", "localhost".to_string());
    let host: String = args.get("host", "0.0.0.0".to_string());
    let ack_wait: f64 = args.get("ackwait", ACK_WAIT);
    if !(ack_wait > 0.0 && ack_wait < 1e6) {
        args.fail("-ackwait takes a positive number of seconds");
    }
    let proxy = match resolve(&revhost, revproc) {
        Ok(addr) => addr,
        Err(e) => args.fail(&format!("-revhost {revhost}: {e}")),
    };
    let ack_wait = Duration::from_secs_f64(ack_wait);
    match server(Identity { id, policy }, &host, listen, proxy, ack_wait) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rp_server: {e}");
            ExitCode::FAILURE
        }
    }
}
