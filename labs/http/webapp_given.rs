//! Given parts of `webapp.rs` that are not this lab's lesson: the response type and the status
//! phrases, the application's pages (what Flask's templates would hold), TLS plumbing, the
//! threads connections run in, and the command line. Read it; you need not change it.

use socklab::cli::{self, Args, Options};
use socklab::tls::{self, rustls};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// Flask's development server listens here too.
const HOST: &str = "127.0.0.1";
const PORT: u16 = 5000;
/// A connection that sends nothing for this long is closed (`--idle` changes it): a client that
/// went away without closing must not keep its thread for ever.
const IDLE_SECONDS: u64 = 15;

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";

/// One response, before it is written.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Headers besides Content-Type, Content-Length and Connection (Location, Allow).
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A one-sentence plain-text answer: an error page.
    pub fn text(status: u16, sentence: &str) -> Response {
        let body = format!("{status} {}: {sentence}\n", reason(status));
        Response::new(status, TEXT, body)
    }
}

/// The reason phrase that follows a status code on the status line.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A request the server cannot answer normally: the status to send and why (for the log).
/// Status 0: nobody to answer (the connection broke, timed out or closed mid-request).
/// After any of these the connection is closed: where the next request would start is unknown.
pub struct HttpError {
    pub status: u16,
    pub why: String,
}

pub fn http_error(status: u16, why: impl Into<String>) -> HttpError {
    HttpError {
        status,
        why: why.into(),
    }
}

impl From<io::Error> for HttpError {
    fn from(e: io::Error) -> HttpError {
        let why = match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => "idle for too long".to_string(),
            _ => format!("connection lost: {e}"),
        };
        http_error(0, why)
    }
}

/// Whether `word` is an HTTP token (a method or a header name): letters, digits and a few signs.
pub fn is_token(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether a comma-separated header value holds `token` (in any case): `Connection: close`.
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The decoded value of the first `name=value` pair of a query string (`a=1&b=2`).
pub fn query_value(query: &str, name: &str) -> Result<Option<String>, String> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if super::percent_decode(key, true)? == name {
            return super::percent_decode(value, true).map(Some);
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// The application's pages.

/// The table `/data` serves: well-known ports (service, port, transport).
const TABLE: [(&str, u16, &str); 4] = [
    ("http", 80, "tcp"),
    ("https", 443, "tcp"),
    ("dns", 53, "udp"),
    ("ssh", 22, "tcp"),
];

/// A small HTML page around `body`.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body>\n{body}\n</body>\n</html>\n"
    )
}

/// `/index` and `/index/<name>`: a page greeting `name`, which must already be escaped.
pub fn greeting(name_html: &str) -> Response {
    let body = format!(
        "<h1>Hello, {name_html}!</h1>\n<p>Served by hand over a socket. Try \
         <a href=\"/index/Ada\">/index/Ada</a> or <a href=\"/data?format=html\">the data</a>.</p>"
    );
    Response::new(200, HTML, page("webapp", &body))
}

/// `/data?format=…`: the table as JSON, CSV or an HTML table, each with its Content-Type.
pub fn data(format: &str) -> Response {
    let (content_type, body): (&'static str, String) = match format {
        "json" => {
            let rows: Vec<String> = TABLE
                .iter()
                .map(|(s, p, t)| {
                    format!("{{\"service\": \"{s}\", \"port\": {p}, \"transport\": \"{t}\"}}")
                })
                .collect();
            ("application/json", format!("[{}]\n", rows.join(", ")))
        }
        "csv" => {
            let mut csv = String::from("service,port,transport\r\n");
            for (s, p, t) in TABLE {
                csv.push_str(&format!("{s},{p},{t}\r\n"));
            }
            ("text/csv; charset=utf-8", csv)
        }
        "html" => {
            let mut rows =
                String::from("<tr><th>service</th><th>port</th><th>transport</th></tr>\n");
            for (s, p, t) in TABLE {
                rows.push_str(&format!("<tr><td>{s}</td><td>{p}</td><td>{t}</td></tr>\n"));
            }
            (HTML, page("data", &format!("<table>\n{rows}</table>")))
        }
        other => {
            let sentence = format!("unknown format {other:.40?}: ask for json, csv or html");
            return Response::text(400, &sentence);
        }
    };
    Response::new(200, content_type, body)
}

// ---------------------------------------------------------------------------------------------
// Connections and TLS.

/// A connection the server can read, write, and close its sending side of: plain TCP, or TLS
/// around it.
pub trait Connection: Read + Write {
    /// No more bytes from the server (TLS first says so inside TLS, with close_notify).
    fn finish_sending(&mut self) -> io::Result<()>;
}

impl Connection for TcpStream {
    fn finish_sending(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Connection for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn finish_sending(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

/// Closes a connection whose client may still be sending (a body too large to read): closing
/// with unread bytes would reset the connection and could destroy the response before the
/// client reads it. So the server stops sending, then reads for a short while until the client
/// closes too.
pub fn linger(mut conn: impl Connection, most: usize) -> io::Result<()> {
    conn.finish_sending()?;
    let mut sink = [0u8; 8192];
    let mut left = most;
    while left > 0 {
        match conn.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

/// The stack of each connection's thread: the default 2 MiB makes starting one cost more.
const THREAD_STACK: usize = 256 * 1024;
/// How long a thread whose connection ended waits for the next one before it exits.
const THREAD_REUSE: Duration = Duration::from_secs(2);

/// What a connection's thread runs: serving that connection.
pub type Job = Box<dyn FnOnce() + Send>;
/// The threads waiting for a connection: each one's id and where to send it its connection.
type Waiting = Vec<(thread::ThreadId, mpsc::Sender<Job>)>;

/// Starts each connection's thread. A thread whose connection ended waits a moment for the
/// next connection instead of exiting: starting a thread (its stacks, the kernel's task) costs
/// more than answering a small request, so under load a few threads serve connection after
/// connection, each still one at a time, and no connection ever waits for a busy thread.
#[derive(Clone, Default)]
pub struct Threads {
    waiting: Arc<Mutex<Waiting>>,
}

impl Threads {
    /// Runs `job` in a waiting thread, or in a new one when none waits.
    pub fn spawn(&self, mut job: Job) -> io::Result<()> {
        while let Some((_, waiting)) = self.lock().pop() {
            match waiting.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(back)) => job = back,
            }
        }
        let threads = self.clone();
        thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || threads.run(job))
            .map(|_| ())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A thread's life: its first job, then each job it is given before it waits too long.
    fn run(&self, mut job: Job) {
        let (sender, jobs) = mpsc::channel();
        let id = thread::current().id();
        loop {
            job();
            self.lock().push((id, sender.clone()));
            job = match jobs.recv_timeout(THREAD_REUSE) {
                Ok(next) => next,
                Err(_) => {
                    let mut waiting = self.lock();
                    if let Some(at) = waiting.iter().position(|(i, _)| *i == id) {
                        waiting.swap_remove(at);
                        return;
                    }
                    drop(waiting);
                    // Taken from the list just now: its job is on the way.
                    match jobs.recv() {
                        Ok(next) => next,
                        Err(_) => return,
                    }
                }
            };
        }
    }
}

/// Prints where the server runs; with `tls_on`, makes a self-signed certificate for `host`,
/// writes its PEM file (for `http_get --cacert` or curl) and returns the TLS configuration.
pub fn announce(
    host: &str,
    addr: SocketAddr,
    tls_on: bool,
) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    if !tls_on {
        println!("Running on http://{addr}/");
        return Ok(None);
    }
    let mut names = vec!["localhost", "127.0.0.1", "::1"];
    if !names.contains(&host) {
        names.push(host);
    }
    let identity = tls::self_signed(&names)?;
    let pem = std::env::temp_dir().join(format!("webapp-{}.pem", addr.port()));
    std::fs::write(&pem, &identity.cert_pem)
        .map_err(|e| format!("cannot write {}: {e}", pem.display()))?;
    println!("Running on https://{addr}/");
    println!("Certificate (for --cacert): {}", pem.display());
    Ok(Some(tls::server_config(&identity)?))
}

// ---------------------------------------------------------------------------------------------
// The command line.

const USAGE: &str = "Usage: webapp [--host H] [--port P] [--tls] [--idle SECONDS]

Serves a tiny web application: / (Hello World), /index, /index/NAME, /data?format=json|csv|html
and /home (moved to /index). Port 0 lets the system pick a free port. --tls serves HTTPS with a
self-signed certificate made at start; its PEM file's path is printed for clients' --cacert.";

/// What the command line asks for.
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub idle: Duration,
}

/// Parses the command line; a mistake prints one `error:` line and the usage, and exits.
pub fn settings() -> Settings {
    let mut opts = Options::new();
    opts.optopt("", "host", "address to listen on (default 127.0.0.1)", "H");
    opts.optopt("", "port", "port to listen on (default 5000)", "P");
    opts.optflag("", "tls", "serve HTTPS with a self-signed certificate");
    opts.optopt(
        "",
        "idle",
        "close a connection quiet for this many seconds (default 15)",
        "SECONDS",
    );
    let args: Args = cli::parse(opts, USAGE);
    if let Some(extra) = args.free().first() {
        args.fail(&format!("unexpected argument {extra:?}"));
    }
    let idle: u64 = args.get("idle", IDLE_SECONDS);
    if idle == 0 {
        args.fail("--idle must be at least 1 second");
    }
    Settings {
        host: args.get("host", HOST.to_string()),
        port: args.get("port", PORT),
        tls: args.flag("tls"),
        idle: Duration::from_secs(idle),
    }
}
