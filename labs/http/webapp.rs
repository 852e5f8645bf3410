//! A tiny web application served by hand: the seed's Flask app (`/`, `/index`, `/index/<name>`,
//! `/data?format=…`) with the HTTP that Flask hides written out over a `TcpStream`.
//!
//! Each connection gets its own thread, which reads a request (request line, headers up to the
//! empty line, a body of `Content-Length` bytes), picks the route, and writes a response (status
//! line, headers, empty line, body). HTTP/1.1 keeps the connection open for the next request
//! unless the client asks to close it. Anything malformed gets the status code that says what
//! is wrong (400, 405, 413, 414, 431, 505), never a crash.
//!
//!     webapp [--host H] [--port P] [--tls] [--idle SECONDS]
//!
//! With `--tls` the very same bytes travel inside TLS (HTTPS): the server makes a self-signed
//! certificate at start and prints where its PEM file is, for `http_get --cacert` or curl.

use socklab::cli::{self, Args, Options};
use socklab::tls::{self, rustls};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Flask's development server listens here too.
const HOST: &str = "127.0.0.1";
const PORT: u16 = 5000;
/// The request line and the headers together may hold at most this many bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body the server accepts (none of its routes needs one); above: 413.
const MAX_BODY: usize = 64 * 1024;
/// A connection that sends nothing for this long is closed (`--idle` changes it): a client that
/// went away without closing must not keep its thread for ever.
const IDLE_SECONDS: u64 = 15;
/// The methods every route answers.
const ALLOW: &str = "GET, HEAD";
/// The name `/index` greets when the URL names nobody.
const DEFAULT_NAME: &str = "World";

// ---------------------------------------------------------------------------------------------
// Requests and responses.

/// One request, as read from the connection (its body is read and dropped: no route uses one).
struct Request {
    method: String,
    /// The request target as sent: `/index/Ada%20L?x=1`.
    target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    version: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// The value of the first header called `name`, as the handout says header names compare.
    fn header(&self, name: &str) -> Option<&str> {
        todo!("fill in: the value of the first of self.headers whose name matches `name` the way HTTP compares header names (the handout's step 2 says how; str has a method for it)");
    }
}

/// One response, before it is written.
struct Response {
    status: u16,
    content_type: &'static str,
    /// Headers besides Content-Type, Content-Length and Connection (Location, Allow).
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A one-sentence plain-text answer: an error page.
    fn text(status: u16, sentence: &str) -> Response {
        let body = format!("{status} {}: {sentence}\n", reason(status));
        Response::new(status, TEXT, body)
    }
}

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// The reason phrase that follows a status code on the status line.
fn reason(status: u16) -> &'static str {
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
struct HttpError {
    status: u16,
    why: String,
}

fn http_error(status: u16, why: impl Into<String>) -> HttpError {
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

// ---------------------------------------------------------------------------------------------
// Reading a request.

/// Reads one line ending in `\n`, without its `\r\n`, taking its bytes from `left` (what is left
/// of the head's `MAX_HEAD` bytes); a line that does not fit is an error with `too_long`.
/// `Ok(None)`: the connection closed before the line began.
fn read_line(
    reader: &mut impl BufRead,
    left: &mut usize,
    too_long: u16,
) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    reader.take(*left as u64 + 1).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > *left {
            http_error(too_long, format!("a request head over {MAX_HEAD} bytes"))
        } else {
            http_error(0, "the connection closed in the middle of a line")
        });
    }
    *left -= line.len();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| http_error(400, "a request line or header that is not UTF-8"))
}

/// Whether `word` is an HTTP token (a method or a header name): letters, digits and a few signs.
fn is_token(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads one request and its body. `Ok(None)` when the client closed the connection between
/// requests (the normal end of a kept-alive connection).
fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, HttpError> {
    let mut left = MAX_HEAD;
    let Some(line) = read_line(reader, &mut left, 414)? else {
        return Ok(None);
    };
    let (method, target, version): (String, String, String) =
        todo!("fill in: split the request line into METHOD TARGET VERSION (single spaces): 400 unless three words, a token method and a target starting with '/'; 505 unless VERSION is HTTP/1.0 or HTTP/1.1 (return Err(http_error(status, why)))");
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader, &mut left, 431)?
            .ok_or_else(|| http_error(0, "the connection closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        todo!("fill in: split `Name: value` at the first colon and push (name, trimmed value) onto headers; 400 when there is no colon or the name is not a token (no spaces before the colon)");
    }
    let request = Request {
        method,
        target,
        version,
        headers,
    };
    if request.version == "HTTP/1.1" && request.header("Host").is_none() {
        return Err(http_error(400, "an HTTP/1.1 request without Host"));
    }
    if request.header("Transfer-Encoding").is_some() {
        return Err(http_error(
            411,
            "a chunked request body: send Content-Length",
        ));
    }
    let length: usize =
        todo!("fill in: the body's length from Content-Length (0 when absent); 400 when it is not a whole number, 413 when it is over MAX_BODY (return Err(http_error(status, why)))");
    todo!("fill in: read the body's `length` bytes and drop them, all of them (one read() may return fewer), so that the next request starts where it should; a body cut short by the close is no request (Err(http_error(0, why)))");
    Ok(Some(request))
}

/// Whether a comma-separated header value holds `token` (in any case): `Connection: close`.
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Whether the connection stays open after this request: HTTP/1.1 keeps it open unless the
/// client sent `Connection: close`; HTTP/1.0 closes it unless it sent `Connection: keep-alive`.
fn keep_alive(request: &Request) -> bool {
    let connection = request.header("Connection");
    todo!("fill in: true to keep the connection open after answering (see the comment above)");
}

// ---------------------------------------------------------------------------------------------
// URLs and HTML.

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query strings).
/// `Err`: a `%` not followed by two hex digits, or bytes that are not UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    todo!("fill in: decode %XX (two hex digits, in any case) into one byte, `+` into a space when plus_is_space; every other byte as it is; then the bytes must be UTF-8");
}

/// The decoded value of the first `name=value` pair of a query string (`a=1&b=2`).
fn query_value(query: &str, name: &str) -> Result<Option<String>, String> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(key, true)? == name {
            return percent_decode(value, true).map(Some);
        }
    }
    Ok(None)
}

/// `text` made safe to put inside HTML: the five characters with a meaning there become entities.
fn html_escape(text: &str) -> String {
    todo!("fill in: replace & < > \" ' with &amp; &lt; &gt; &quot; &#39; (& first, or the others' & gets escaped again)");
}

// ---------------------------------------------------------------------------------------------
// The application: what Flask's @app.route functions do.

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
fn greeting(name_html: &str) -> Response {
    let body = format!(
        "<h1>Hello, {name_html}!</h1>\n<p>Served by hand over a socket. Try \
         <a href=\"/index/Ada\">/index/Ada</a> or <a href=\"/data?format=html\">the data</a>.</p>"
    );
    Response::new(200, HTML, page("webapp", &body))
}

/// `/data?format=…`: the table as JSON, CSV or an HTML table, each with its Content-Type.
fn data(format: &str) -> Response {
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

/// Picks the route for a request: its path (percent-decoded, segment by segment) and method.
fn route(request: &Request) -> Response {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let segments: Result<Vec<String>, String> = path
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s, false))
        .collect();
    let segments = match segments {
        Ok(segments) => segments,
        Err(why) => return Response::text(400, &format!("the path: {why}")),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    todo!("fill in: unknown path → 404 (any method); a known one with a method other than GET or HEAD → 405 with an Allow header (ALLOW); then [\"\"] → 200 \"Hello World\" (TEXT), [\"index\"] or [\"index\", \"\"] → greeting(DEFAULT_NAME), [\"index\", name] → greeting of the HTML-escaped name, [\"data\"] → data(format from the query, \"json\" when absent; a bad query → 400), [\"home\"] → 301 with Location: /index");
}

// ---------------------------------------------------------------------------------------------
// Writing a response.

/// Writes `response`: status line, headers, empty line, body (none for HEAD, but the same
/// Content-Length as GET would have). Everything goes out in one write: two small writes in a
/// row would wait for the client's delayed acknowledgement (Nagle's algorithm), 40 ms each.
fn write_response(
    writer: &mut impl Write,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    todo!("fill in: build `HTTP/1.1 STATUS REASON`, response.headers, Content-Type, Content-Length (of the body, even for HEAD), Connection (keep-alive or close), each line ending in \\r\\n, an empty line, then the body unless head_only; write it all with one write_all");
    writer.flush()
}

// ---------------------------------------------------------------------------------------------
// Connections.

/// A connection the server can read, write, and close its sending side of: plain TCP, or TLS
/// around it (given: TLS is not this lab's lesson).
trait Connection: Read + Write {
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

/// Serves one connection, request after request, until the client closes it or asks to, it
/// stays idle too long, or it sends something unanswerable. Runs in the connection's own thread:
/// nothing here may panic, and an error ends this connection only.
fn handle_connection(stream: impl Connection, peer: &str) -> io::Result<()> {
    let mut conn = BufReader::new(stream);
    loop {
        let request = match read_request(&mut conn) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(e) if e.status == 0 => {
                log::debug!("{peer}: {}", e.why);
                return Ok(());
            }
            Err(e) => {
                log::warn!("{peer}: {} {}: {}", e.status, reason(e.status), e.why);
                let response = Response::text(e.status, &e.why);
                write_response(conn.get_mut(), &response, false, false)?;
                return linger(conn);
            }
        };
        let keep = keep_alive(&request);
        let response = route(&request);
        log::info!(
            "{peer} \"{} {:.200} {}\" {}",
            request.method,
            request.target,
            request.version,
            response.status
        );
        write_response(conn.get_mut(), &response, request.method == "HEAD", keep)?;
        if !keep {
            return linger(conn);
        }
    }
}

/// Closes a connection whose client may still be sending (a body too large to read): closing
/// with unread bytes would reset the connection and could destroy the response before the
/// client reads it. So the server stops sending, then reads for a short while until the client
/// closes too.
fn linger(mut conn: BufReader<impl Connection>) -> io::Result<()> {
    conn.get_mut().finish_sending()?;
    let mut sink = [0u8; 8192];
    let mut left = 4 * MAX_BODY;
    while left > 0 {
        match conn.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

/// Starts the thread that serves one accepted connection (wrapped in TLS when `tls` is set).
fn serve(tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, idle: Duration) -> io::Result<()> {
    let peer = tcp.peer_addr()?.to_string();
    todo!("fill in: a client quiet for `idle` must not keep this thread for ever, nor one that never reads what it is sent: give the socket its limits (TcpStream's setters; a read or write past them fails, and the request loop ends the connection)");
    let spawned = thread::Builder::new().spawn(move || {
        let served = match tls {
            None => handle_connection(tcp, &peer),
            // The handshake happens on the first read, in this thread.
            Some(config) => {
                todo!("fill in: serve the connection inside TLS: a rustls server session made from `config`, and a stream that owns it with `tcp` (the `impl Connection for …` above names its type); a session that cannot start is an io::Error");
            }
        };
        if let Err(e) = served {
            log::debug!("{peer}: {e}");
        }
    });
    spawned.map(|_| ())
}

fn server(host: &str, port: u16, tls_on: bool, idle: Duration) -> Result<(), String> {
    let listener: TcpListener =
        todo!("fill in: bind a TCP listener to (host, port)");
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = if tls_on {
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
        Some(tls::server_config(&identity)?)
    } else {
        println!("Running on http://{addr}/");
        None
    };
    todo!("fill in: accept connections for ever, and give each its own thread with serve(stream, tls.clone(), idle); log a failed accept or spawn, never stop for one");
    Ok(())
}

const USAGE: &str = "Usage: webapp [--host H] [--port P] [--tls] [--idle SECONDS]

Serves a tiny web application: / (Hello World), /index, /index/NAME, /data?format=json|csv|html
and /home (moved to /index). Port 0 lets the system pick a free port. --tls serves HTTPS with a
self-signed certificate made at start; its PEM file's path is printed for clients' --cacert.";

pub fn main() -> ExitCode {
    socklab::logging::init();
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
    let host: String = args.get("host", HOST.to_string());
    let port: u16 = args.get("port", PORT);
    let idle: u64 = args.get("idle", IDLE_SECONDS);
    if idle == 0 {
        args.fail("--idle must be at least 1 second");
    }
    match server(&host, port, args.flag("tls"), Duration::from_secs(idle)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webapp: {e}");
            ExitCode::FAILURE
        }
    }
}
