//! A tiny web application served by hand: the seed's Flask app (`/`, `/index`, `/index/<name>`,
//! `/data?format=…`) with the HTTP that Flask hides written out over a `TcpStream`.
//!
//! Each connection gets its own thread, which reads a request (request line, headers up to the
//! empty line, a body of `Content-Length` bytes), picks the route, and writes a response. HTTP/1.1
//! keeps the connection open for the next request unless the client asks to close it. Anything
//! malformed gets the status code that says what is wrong (400, 405, 413, 414, 431, 505), never
//! a crash. With `--tls` the same bytes travel inside TLS. Given code is in `webapp_given.rs`.

#[path = "webapp_given.rs"]
mod given;

use given::{has_token, http_error, is_token, reason, Connection, HttpError, Response, TEXT};
use socklab::tls::rustls;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The request line and the headers together may hold at most this many bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The largest request body the server accepts (none of its routes needs one); above: 413.
const MAX_BODY: usize = 64 * 1024;
/// The methods every route answers.
const ALLOW: &str = "GET, HEAD";
/// The name `/index` greets when the URL names nobody.
const DEFAULT_NAME: &str = "World";

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
        // BEGIN BLANK: the value of the header called `name`, names compared as the handout's step 2 says (look at str's methods)
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
        // END BLANK
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

/// Reads one request and its body. `Ok(None)` when the client closed the connection between
/// requests (the normal end of a kept-alive connection).
fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, HttpError> {
    let mut left = MAX_HEAD;
    let Some(line) = read_line(reader, &mut left, 414)? else {
        return Ok(None);
    };
    let (method, target, version): (String, String, String) =
        /* BLANK: the request line's three parts (handout, step 2); a line that is not one gets the status the handout's table names (http_error, is_token) */
        {
            let words: Vec<&str> = line.split(' ').collect();
            let [method, target, version] = words[..] else {
                return Err(http_error(400, format!("bad request line {line:.80?}")));
            };
            if !is_token(method) || !target.starts_with('/') {
                return Err(http_error(400, format!("bad request line {line:.80?}")));
            }
            if version != "HTTP/1.1" && version != "HTTP/1.0" {
                return Err(http_error(505, format!("version {version:.20?}")));
            }
            (method.to_string(), target.to_string(), version.to_string())
        } /* END */;
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader, &mut left, 431)?
            .ok_or_else(|| http_error(0, "the connection closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        // BEGIN BLANK: this header line into `headers` (handout, step 2: what a header looks like); a line that is not a header gets the table's status
        let Some((name, value)) = line.split_once(':') else {
            return Err(http_error(
                400,
                format!("header without a colon {line:.80?}"),
            ));
        };
        if !is_token(name) {
            return Err(http_error(400, format!("bad header name {name:.80?}")));
        }
        headers.push((name.to_string(), value.trim().to_string()));
        // END BLANK
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
        /* BLANK: how long the body is (handout, step 2), or the table's status for a length this server cannot take (MAX_BODY) */
        {
            let length = match request.header("Content-Length") {
                None => 0,
                Some(text) => text.parse().map_err(|_| {
                    http_error(400, format!("Content-Length {text:.20?} is not a number"))
                })?,
            };
            if length > MAX_BODY {
                return Err(http_error(413, format!("a body of {length} bytes")));
            }
            length
        } /* END */;
    // BEGIN BLANK: consume the whole body, so that the next request starts at its first byte (the end of the handout's steps says why one read() is not enough); cut short by the close: status 0
    let skipped = io::copy(&mut reader.take(length as u64), &mut io::sink())?;
    if skipped < length as u64 {
        return Err(http_error(0, "the connection closed inside the body"));
    }
    // END BLANK
    Ok(Some(request))
}

/// Whether the connection stays open after this request: HTTP/1.1 keeps it open unless the
/// client sent `Connection: close`; HTTP/1.0 closes it unless it sent `Connection: keep-alive`.
fn keep_alive(request: &Request) -> bool {
    let connection = request.header("Connection");
    // BEGIN BLANK: whether the connection stays open (the comment above; handout, step 5)
    if request.version == "HTTP/1.0" {
        has_token(connection, "keep-alive")
    } else {
        !has_token(connection, "close")
    }
    // END BLANK
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query strings).
/// `Err`: a `%` not followed by two hex digits, or bytes that are not UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    // BEGIN BLANK: the text with its escapes decoded as the comment above says (u8::from_str_radix, String::from_utf8); Err(sentence) otherwise
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                let value = u8::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| format!("%{hex} is not a %XX escape"))?;
                out.push(value);
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| "the decoded text is not UTF-8".to_string())
    // END BLANK
}

/// `text` made safe to put inside HTML: the five characters with a meaning there become entities.
fn html_escape(text: &str) -> String {
    // BEGIN BLANK: `text` with each of the five characters that mean something in HTML written as its entity (which five, and their entities: OWASP's XSS cheat sheet)
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
    // END BLANK
}

// ---------------------------------------------------------------------------------------------
// The application: what Flask's @app.route functions do.

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
    // BEGIN BLANK: the response for these path segments and this method: the routes are milestone 2 of the handout, the statuses its table (given::greeting, given::data, given::query_value)
    let known = matches!(
        segments[..],
        [""] | ["index"] | ["index", _] | ["data"] | ["home"]
    );
    if !known {
        return Response::text(404, &format!("nothing at {path:.80?}"));
    }
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = Response::text(405, &format!("{path:.80?} answers {ALLOW}"));
        response.headers.push(("Allow", ALLOW.to_string()));
        return response;
    }
    match segments[..] {
        [""] => Response::new(200, TEXT, "Hello World"),
        ["index"] | ["index", ""] => given::greeting(DEFAULT_NAME),
        ["index", name] => given::greeting(&html_escape(name)),
        ["data"] => match given::query_value(query, "format") {
            Ok(format) => given::data(format.as_deref().unwrap_or("json")),
            Err(why) => Response::text(400, &format!("the query string: {why}")),
        },
        _ => {
            let mut response = Response::text(301, "moved to /index");
            response.headers.push(("Location", "/index".to_string()));
            response
        }
    }
    // END BLANK
}

/// Writes `response`: status line, headers, empty line, body (none for HEAD, but the same
/// Content-Length as GET would have). Everything goes out in one write: two small writes in a
/// row would wait for the client's delayed acknowledgement (Nagle's algorithm), 40 ms each.
fn write_response(
    writer: &mut impl Write,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    // BEGIN BLANK: the response as the handout's step 3 shows it, headers from `response` and the arguments; the comment above says how it must leave, and what HEAD changes
    let mut message = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        message.push_str(&format!("{name}: {value}\r\n"));
    }
    message.push_str(&format!("Content-Type: {}\r\n", response.content_type));
    message.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    let connection = if keep_alive { "keep-alive" } else { "close" };
    message.push_str(&format!("Connection: {connection}\r\n\r\n"));
    let mut message = message.into_bytes();
    if !head_only {
        message.extend_from_slice(&response.body);
    }
    writer.write_all(&message)?;
    // END BLANK
    writer.flush()
}

// ---------------------------------------------------------------------------------------------
// Connections.

/// Serves one connection, request after request, until the client closes it or asks to, it
/// stays idle too long, or it sends something unanswerable. Runs in the connection's own thread:
/// nothing here may panic, and an error ends this connection only.
fn handle_connection(stream: impl Connection, peer: SocketAddr) -> io::Result<()> {
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
                return given::linger(conn.into_inner(), 4 * MAX_BODY);
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
            return conn.into_inner().finish_sending();
        }
    }
}

/// Serves one accepted connection, in its own thread (inside TLS when `tls` is set).
fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    idle: Duration,
) -> io::Result<()> {
    // BEGIN BLANK: a client quiet for `idle`, or one that never reads, must not keep this thread for ever (TcpStream's setters)
    tcp.set_read_timeout(Some(idle))?;
    tcp.set_write_timeout(Some(idle))?;
    // END BLANK
    match tls {
        None => handle_connection(tcp, peer),
        // The handshake happens on the first read, in this thread.
        Some(config) => {
            // BEGIN BLANK: serve the connection inside a TLS session made from `config` (rustls; webapp_given.rs's `impl Connection` names the stream type); a failure is an io::Error
            match rustls::ServerConnection::new(config) {
                Ok(conn) => handle_connection(rustls::StreamOwned::new(conn, tcp), peer),
                Err(e) => Err(io::Error::other(e)),
            }
            // END BLANK
        }
    }
}

fn server(settings: &given::Settings) -> Result<(), String> {
    let (host, port, idle) = (settings.host.as_str(), settings.port, settings.idle);
    let listener: TcpListener =
        /* BLANK: bind a TCP listener to (host, port) */ TcpListener::bind((host, port)).map_err(|e| format!("cannot listen on {host}:{port}: {e}"))? /* END */;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = given::announce(host, addr, settings.tls)?;
    // BEGIN BLANK: each connection that comes served by serve() in a thread of its own (given::Threads starts them); a failed accept or spawn is logged, never the end of the server
    let threads = given::Threads::default();
    loop {
        match listener.accept() {
            Ok((tcp, peer)) => {
                let tls = tls.clone();
                let job = Box::new(move || {
                    serve(tcp, peer, tls, idle).unwrap_or_else(|e| log::debug!("{peer}: {e}"))
                });
                if let Err(e) = threads.spawn(job) {
                    log::warn!("cannot start a thread for {peer}: {e}");
                }
            }
            Err(e) => log::warn!("accept failed: {e}"),
        }
    }
    // END BLANK
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    match server(&given::settings()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webapp: {e}");
            ExitCode::FAILURE
        }
    }
}
