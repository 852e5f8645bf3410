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
        todo!("fill in: the value of the header called `name`, names compared as the handout's step 2 says (look at str's methods)");
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
        todo!("fill in: the request line's three parts (handout, step 2); a line that is not one gets the status the handout's table names (http_error, is_token)");
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader, &mut left, 431)?
            .ok_or_else(|| http_error(0, "the connection closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        todo!("fill in: this header line into `headers` (handout, step 2: what a header looks like); a line that is not a header gets the table's status");
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
        todo!("fill in: how long the body is (handout, step 2), or the table's status for a length this server cannot take (MAX_BODY)");
    todo!("fill in: consume the whole body, so that the next request starts at its first byte (the end of the handout's steps says why one read() is not enough); cut short by the close: status 0");
    Ok(Some(request))
}

/// Whether the connection stays open after this request: HTTP/1.1 keeps it open unless the
/// client sent `Connection: close`; HTTP/1.0 closes it unless it sent `Connection: keep-alive`.
fn keep_alive(request: &Request) -> bool {
    let connection = request.header("Connection");
    todo!("fill in: whether the connection stays open (the comment above; handout, step 5)");
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query strings).
/// `Err`: a `%` not followed by two hex digits, or bytes that are not UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    todo!("fill in: the text with its escapes decoded as the comment above says (u8::from_str_radix, String::from_utf8); Err(sentence) otherwise");
}

/// `text` made safe to put inside HTML: the five characters with a meaning there become entities.
fn html_escape(text: &str) -> String {
    todo!("fill in: `text` with each of the five characters that mean something in HTML written as its entity (which five, and their entities: OWASP's XSS cheat sheet)");
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
    todo!("fill in: the response for these path segments and this method: the routes are milestone 2 of the handout, the statuses its table (given::greeting, given::data, given::query_value)");
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
    todo!("fill in: the response as the handout's step 3 shows it, headers from `response` and the arguments; the comment above says how it must leave, and what HEAD changes");
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
    todo!("fill in: a client quiet for `idle`, or one that never reads, must not keep this thread for ever (TcpStream's setters)");
    match tls {
        None => handle_connection(tcp, peer),
        // The handshake happens on the first read, in this thread.
        Some(config) => {
            todo!("fill in: serve the connection inside a TLS session made from `config` (rustls; webapp_given.rs's `impl Connection` names the stream type); a failure is an io::Error");
        }
    }
}

fn server(settings: &given::Settings) -> Result<(), String> {
    let (host, port, idle) = (settings.host.as_str(), settings.port, settings.idle);
    let listener: TcpListener =
        todo!("fill in: bind a TCP listener to (host, port)");
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = given::announce(host, addr, settings.tls)?;
    todo!("fill in: each connection that comes served by serve() in a thread of its own (given::Threads starts them); a failed accept or spawn is logged, never the end of the server");
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
