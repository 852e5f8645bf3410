//! The reverse proxy: servers register with it by privacy policy, clients send it data messages,
//! and it passes each message to one server of the message's policy and the reply back.
//!
//! A server's setup (type 1) names its id, its policy and the port it listens on; the proxy
//! remembers the address the setup came from at that port, and acknowledges. A client's data
//! message (type 0) goes to the policy's servers in turn (round-robin, in registration order),
//! over a new connection per message; the server's reply (type 2) goes back to the client on
//! the connection it came in on. A server that refuses the connection or does not answer in
//! time (`-timeout`) is marked down, skipped, and tried again a while later (`-retry`); the
//! message then goes to the policy's next server. With no server left, the client gets an error
//! message (type 3).
//!
//!     revproc -port P [-host H] [-timeout SECONDS] [-retry SECONDS]
//!
//! One thread per connection. The policy table sits behind one lock, which is never held while
//! talking to anyone: a slow server stalls only the client whose message it has.

#[path = "message.rs"]
mod message;

use message::{
    brief, error_message, read_message, type_field, write_message, Data, ReadError, Reply, Setup,
    ACK_STATUS, DATA, SETUP,
};
use serde_json::{json, Value};
use socklab::cli::{self, Args, Options};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long a client or server may take to send its message once connected.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to a server may take before it counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a server may take to reply before it counts as down, unless `-timeout` says.
const REPLY_TIMEOUT: f64 = 5.0;
/// How long a server marked down is skipped before it is tried again, unless `-retry` says.
const RETRY_AFTER: f64 = 5.0;
/// Servers tried for one message before the client is told that none answered.
const MAX_TRIES: usize = 4;
/// How long the accept loop pauses after a failed accept (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// The policy table.

/// One registered server.
struct Server {
    id: i64,
    /// Where the proxy connects: the address its setup came from, at its listenport.
    addr: SocketAddr,
    /// Set when it last failed: skipped until then.
    down_until: Option<Instant>,
}

impl Server {
    fn is_up(&self, now: Instant) -> bool {
        self.down_until.is_none_or(|until| now >= until)
    }
}

/// The servers of one policy, in registration order, and whose turn it is.
#[derive(Default)]
struct Policy {
    servers: Vec<Server>,
    /// The index of the server that gets the policy's next message.
    next: usize,
}

/// Where one message should go.
#[derive(Debug, PartialEq)]
enum Route {
    To(i64, SocketAddr),
    /// No server ever registered for the policy.
    NoServer,
    /// Every server of the policy is marked down.
    AllDown,
}

struct Table {
    policies: Mutex<HashMap<String, Policy>>,
    /// How long a server may take to reply before it counts as down (`-timeout`).
    reply_timeout: Duration,
    /// How long a server marked down is skipped (`-retry`).
    retry_after: Duration,
}

impl Table {
    fn new(reply_timeout: Duration, retry_after: Duration) -> Table {
        Table {
            policies: Mutex::default(),
            reply_timeout,
            retry_after,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Policy>> {
        // Every change below leaves the table whole, so a panic elsewhere cannot spoil it.
        self.policies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds server `id` at `addr` to `policy`'s list. A server that registers again (restarted,
    /// perhaps on another port) keeps its place, gets the new address, and is up again.
    fn register(&self, policy: &str, id: i64, addr: SocketAddr) {
        // BEGIN BLANK: server `id` in `policy`'s list, under the lock (the handout: how the proxy remembers servers, and one that registers again)
        let mut policies = self.lock();
        let servers = &mut policies.entry(policy.to_string()).or_default().servers;
        match servers.iter_mut().find(|s| s.id == id) {
            Some(server) => {
                server.addr = addr;
                server.down_until = None;
            }
            None => servers.push(Server {
                id,
                addr,
                down_until: None,
            }),
        }
        // END BLANK
    }

    /// The server whose turn it is in `policy`, skipping servers that are down, and moves the
    /// turn on past it.
    fn pick(&self, policy: &str) -> Route {
        let now = Instant::now();
        // BEGIN BLANK: the handout's round-robin for this policy, with servers that are not is_up(now) skipped; see Route and Policy::next
        let mut policies = self.lock();
        let Some(entry) = policies.get_mut(policy).filter(|p| !p.servers.is_empty()) else {
            return Route::NoServer;
        };
        let count = entry.servers.len();
        for step in 0..count {
            let i = (entry.next + step) % count;
            let server = &entry.servers[i];
            if server.is_up(now) {
                entry.next = (i + 1) % count;
                return Route::To(server.id, server.addr);
            }
        }
        Route::AllDown
        // END BLANK
    }

    /// Marks server `id` of `policy` down for `self.retry_after`.
    fn mark_down(&self, policy: &str, id: i64) {
        // BEGIN BLANK: that server skipped for self.retry_after, under the lock (see is_up)
        let mut policies = self.lock();
        if let Some(entry) = policies.get_mut(policy) {
            for server in entry.servers.iter_mut().filter(|s| s.id == id) {
                server.down_until = Some(Instant::now() + self.retry_after);
            }
        }
        // END BLANK
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to a server.

/// How forwarding one message to a server went wrong.
enum Failure {
    /// It refused the connection or did not answer in time: mark it down, try the next one.
    Down(String),
    /// It answered, but not with a reply: tell the client.
    Bad(String),
}

/// Sends `message` to the server at `addr` over a new connection and returns its reply, which
/// must come within `reply_timeout`.
fn forward(addr: SocketAddr, message: &Value, reply_timeout: Duration) -> Result<Value, Failure> {
    // BEGIN BLANK: one exchange with the server, bounded by CONNECT_TIMEOUT and reply_timeout (TcpStream's docs); each failure is one of the two kinds of Failure (the handout: which servers are down)
    let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| Failure::Down(format!("cannot connect: {e}")))?;
    stream
        .set_read_timeout(Some(reply_timeout))
        .and_then(|()| stream.set_write_timeout(Some(reply_timeout)))
        .map_err(|e| Failure::Down(e.to_string()))?;
    write_message(&mut stream, message).map_err(|e| Failure::Down(format!("cannot send: {e}")))?;
    read_message(&mut stream).map_err(|e| match e {
        e if e.is_timeout() => Failure::Down(format!("no reply within {reply_timeout:?}")),
        e => Failure::Bad(format!("its reply: {e}")),
    })
    // END BLANK
}

/// Finds a server for `data`, forwards it, and returns what goes back to the client: the
/// server's reply, or an error message.
fn route(table: &Table, data: &Data) -> Value {
    let policy = &data.policy;
    let message = data.to_json();
    // BEGIN BLANK: pick, forward and checked_reply, with the handout's rules for servers that are down (MAX_TRIES) and for every Route; the seed's `Forwarding … to server id` line before each forward
    for _ in 0..MAX_TRIES {
        let (id, addr) = match table.pick(policy) {
            Route::To(id, addr) => (id, addr),
            Route::NoServer => {
                return error_message(&format!("no server serves privacy policy {policy}"))
            }
            Route::AllDown => {
                return error_message(&format!(
                    "every server of privacy policy {policy} is down; try again later"
                ))
            }
        };
        println!(
            "Forwarding a data message from client id {} to server id {id}, payload: {}",
            data.srcid, data.payload
        );
        // The table is not locked here: the lock was let go when pick returned.
        match forward(addr, &message, table.reply_timeout) {
            Ok(reply) => return checked_reply(id, &reply),
            Err(Failure::Down(why)) => {
                log::warn!("server {id} of {policy} at {addr} is down: {why}");
                table.mark_down(policy, id);
            }
            Err(Failure::Bad(why)) => {
                log::warn!("server {id} at {addr}: {why}");
                return error_message(&format!("server {id} sent no valid reply ({why})"));
            }
        }
    }
    error_message(&format!(
        "no server of privacy policy {policy} answered ({MAX_TRIES} tried)"
    ))
    // END BLANK
}

/// What goes back to the client for server `id`'s answer `reply`: the reply as the server sent
/// it, or an error message when it is not a reply at all.
fn checked_reply(id: i64, reply: &Value) -> Value {
    // BEGIN BLANK: is it a reply at all (Reply::from_json)? The handout says what the proxy relays, what it prints, and what message::check_size is worth
    match Reply::from_json(reply) {
        Ok(decoded) => {
            println!(
                "Received a data message from server id {id}, payload: {}",
                decoded.payload
            );
            if let Err(why) = message::check_size(reply, &decoded.payload) {
                log::warn!("server {id}: {why}; relayed as it is, the client checks the hash");
            }
            reply.clone()
        }
        Err(why) => {
            log::warn!("server {id} sent {}: {why}", brief(reply));
            error_message(&format!("server {id} sent no valid reply ({why})"))
        }
    }
    // END BLANK
}

// ---------------------------------------------------------------------------------------------
// One connection.

/// What a connection's message asks for, and the answer to send back.
fn answer(table: &Table, message: &Value, from: SocketAddr) -> Result<Value, String> {
    match type_field(message)? {
        SETUP => {
            let setup = Setup::from_json(message)?;
            println!(
                "Received setup message from server id {}, privacy policy {}, port {}",
                setup.id, setup.policy, setup.listenport
            );
            // BEGIN BLANK: register the server where the proxy will reach it (the handout: which address, which port); the answer is the seed's acknowledgement (ACK_STATUS)
            let addr = SocketAddr::new(from.ip(), setup.listenport);
            table.register(&setup.policy, setup.id, addr);
            Ok(json!({ "Status": ACK_STATUS }))
            // END BLANK
        }
        DATA => {
            let data = Data::from_json(message)?;
            println!(
                "Received a data message from client id {}, privacy policy {}, payload: {}",
                data.srcid, data.policy, data.payload
            );
            let reply = route(table, &data);
            if let Some(payload) = reply.get("payload").and_then(Value::as_str) {
                println!(
                    "Forwarding a data message to client {}, payload: {payload}",
                    data.srcid
                );
            }
            Ok(reply)
        }
        other => Err(format!(
            "type {other} is not a message the proxy takes (0 data, 1 setup)"
        )),
    }
}

/// Everything about one connection: one message in, one answer out, then close.
fn handle_connection(mut stream: TcpStream, from: SocketAddr, table: Arc<Table>) {
    if let Err(e) = stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(READ_TIMEOUT)))
    {
        log::warn!("{from}: {e}");
        return;
    }
    // BEGIN BLANK: one message in (read_message), one answer out (answer, or an error_message saying what was wrong; see ReadError for a peer that sent nothing)
    let answer = match read_message(&mut stream) {
        Ok(message) => answer(&table, &message, from).map_err(|why| {
            log::warn!("{from}: refused {}: {why}", brief(&message));
            why
        }),
        Err(ReadError::Closed) => {
            log::info!("{from} closed without sending a message");
            return;
        }
        Err(e) => {
            log::warn!("{from}: {e}");
            Err(e.to_string())
        }
    };
    let out = answer.unwrap_or_else(|why| error_message(&why));
    if let Err(e) = write_message(&mut stream, &out) {
        log::warn!("{from}: could not answer: {e}");
    }
    // END BLANK
    message::close_gently(&mut stream);
}

fn serve(host: &str, port: u16, table: Table) -> io::Result<()> {
    let listener: TcpListener =
        /* BLANK: a listening socket on (host, port) */ TcpListener::bind((host, port))? /* END */;
    let addr = listener.local_addr()?;
    println!(
        "Running the reverse proxy on port {} at {addr}",
        addr.port()
    );
    let table = Arc::new(table);
    // BEGIN BLANK: every connection handled in a thread of its own (thread::Builder); a failed accept or spawn is logged, never fatal (ACCEPT_PAUSE)
    loop {
        let (stream, from) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of file descriptors, say: let other connections finish first.
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        let table = Arc::clone(&table);
        if let Err(e) = thread::Builder::new().spawn(move || handle_connection(stream, from, table))
        {
            log::warn!("{from}: no thread for this connection: {e}");
        }
    }
    // END BLANK
}

const USAGE: &str = "Usage: revproc -port P [-host H] [-timeout SECONDS] [-retry SECONDS]

The reverse proxy: servers register by privacy policy, clients' messages go to them in turn.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "port", "port to listen on (0: any free port)", "P");
    opts.optopt("", "host", "address to listen on (default 0.0.0.0)", "H");
    opts.optopt(
        "",
        "timeout",
        "how long a server may take to reply before it is marked down (default 5)",
        "SECONDS",
    );
    opts.optopt(
        "",
        "retry",
        "how long a server marked down is skipped (default 5)",
        "SECONDS",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("revproc takes no positional arguments");
    }
    let seconds = |name: &str, default: f64| {
        let s: f64 = args.get(name, default);
        if !(s > 0.0 && s < 1e6) {
            args.fail(&format!("-{name} takes a positive number of seconds"));
        }
        Duration::from_secs_f64(s)
    };
    let timeout = seconds("timeout", REPLY_TIMEOUT);
    let table = Table::new(timeout, seconds("retry", RETRY_AFTER));
    let Some(port) = args.opt::<u16>("port") else {
        args.fail("-port P is required");
    };
    let host: String = args.get("host", "0.0.0.0".to_string());
    match serve(&host, port, table) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("revproc: {e}");
            ExitCode::FAILURE
        }
    }
}
