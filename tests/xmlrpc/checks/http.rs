//! HTTP on the test side: connecting to the student's server, building requests, and reading
//! what either program sends — a response from the server, a request from the client — with
//! one reader for the head (first line, then headers up to the empty line) that both share.

use super::xml::canon_response;
use super::{PASS, USER};
use base64::Engine;
use socklab::grader::{secs, Context, WAIT};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

// ---------------------------------------------------------------------------------------------
// Connections.

/// A connection to the server at `addr`, whose reads and writes give up after [`WAIT`].
pub(super) fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, WAIT)
        .with_context(|| format!("connecting to the server at {addr}"))?;
    set_timeouts(&stream)?;
    Ok(stream)
}

/// Makes reads and writes on a test socket give up after [`WAIT`].
fn set_timeouts(stream: &TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(WAIT))
        .context("setting the test socket's read timeout")?;
    stream
        .set_write_timeout(Some(WAIT))
        .context("setting the test socket's write timeout")
}

/// Sends `raw` on a new connection and reads one response.
pub(super) fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<Reply, String> {
    let mut stream = connect(addr)?;
    stream.write_all(raw).context("sending the request")?;
    read_reply(&mut BufReader::new(stream))
}

// ---------------------------------------------------------------------------------------------
// Reading messages.

/// The headers of a message, in the order they came.
pub(super) struct Headers(Vec<(String, String)>);

impl Headers {
    /// The value of the first header called `name` (in any case).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response from the server, as the test read it.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

/// A request from the client, as the stand-in server read it.
pub(super) struct Request {
    pub(super) line: String,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

/// The side a message comes from, as the errors name it.
struct Side {
    /// `the server`.
    who: &'static str,
    /// `response`.
    message: &'static str,
    /// What its first line is: `a status line`.
    first: &'static str,
}

const FROM_SERVER: Side = Side {
    who: "the server",
    message: "response",
    first: "a status line",
};

const FROM_CLIENT: Side = Side {
    who: "the client",
    message: "request",
    first: "a request line",
};

/// One line of a head, without its line end; `what` names it for the errors.
fn head_line(reader: &mut impl BufRead, what: &str, from: &Side) -> Result<String, String> {
    let who = from.who;
    let mut line = Vec::new();
    match reader.take(64 * 1024).read_until(b'\n', &mut line) {
        Ok(0) => Err(format!("{who} closed the connection without {what}")),
        Ok(_) if line.last() != Some(&b'\n') => Err(format!(
            "{who} stopped sending in the middle of {what}: {:?}",
            String::from_utf8_lossy(&line)
        )),
        Ok(_) => Ok(String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(format!(
            "timed out after {} waiting for {what} from {who}",
            secs(WAIT)
        )),
        Err(e) => Err(format!("reading {what} from {who} failed: {e}")),
    }
}

/// The headers after the first line, up to the empty line: the one header loop, for responses
/// and requests alike.
fn read_headers(reader: &mut impl BufRead, from: &Side) -> Result<Headers, String> {
    let end = format!("the end of the {} headers (an empty line)", from.message);
    let mut headers = Vec::new();
    loop {
        let line = head_line(reader, &end, from)?;
        if line.is_empty() {
            return Ok(Headers(headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("the {} header `{line}` has no colon", from.message))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// Reads one response: status line, headers, and a body of Content-Length bytes.
pub(super) fn read_reply(reader: &mut impl BufRead) -> Result<Reply, String> {
    let status_line = head_line(reader, FROM_SERVER.first, &FROM_SERVER)?;
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("`{status_line}` is not a status line like `HTTP/1.1 200 OK`"))?;
    let headers = read_headers(reader, &FROM_SERVER)?;
    let length = headers
        .get("Content-Length")
        .ok_or_else(|| format!("the `{status_line}` response has no Content-Length header"))?;
    let length: usize = length
        .parse()
        .map_err(|_| format!("Content-Length `{length}` is not a number"))?;
    if length > 16 * 1024 * 1024 {
        return Err(format!("Content-Length {length} is absurdly large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| {
        format!(
            "the response said Content-Length: {length} but fewer bytes came within {} ({e})",
            secs(WAIT)
        )
    })?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Reads one request from the client: request line, headers, and a body of Content-Length
/// bytes (at most 1 MiB of it).
pub(super) fn read_request(stream: &TcpStream) -> Result<Request, String> {
    set_timeouts(stream)?;
    let mut reader = BufReader::new(stream);
    let line = head_line(&mut reader, FROM_CLIENT.first, &FROM_CLIENT)?;
    let headers = read_headers(&mut reader, &FROM_CLIENT)?;
    let length: usize = headers
        .get("Content-Length")
        .ok_or("the request has no Content-Length header")?
        .parse()
        .map_err(|_| "the request's Content-Length is not a number")?;
    let mut body = vec![0; length.min(1 << 20)];
    reader
        .read_exact(&mut body)
        .map_err(|_| format!("the request said Content-Length: {length} but fewer bytes came"))?;
    Ok(Request {
        line,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// Building requests.

/// The value of an `Authorization` header for `user:pass` in the Basic scheme.
pub(super) fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// A POST request with `Authorization: auth` (none when `None`) and the `extra` header lines.
pub(super) fn post(path: &str, auth: Option<&str>, body: &str, extra: &str) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: text/xml\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The body of a call of `method` with `params` (each the inside of a `<value>`).
pub(super) fn call_body(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param><value>{p}</value></param>"))
        .collect();
    format!("<?xml version=\"1.0\"?>\n<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>\n")
}

/// A typed string value.
pub(super) fn string(s: &str) -> String {
    format!("<string>{s}</string>")
}

// ---------------------------------------------------------------------------------------------
// Calls.

/// Expects a 200 XML response and gives its canonical form (see `xml.rs`).
pub(super) fn expect_xml(reply: &Reply, request: &str) -> Result<String, String> {
    if reply.status != 200 {
        return Err(format!(
            "{request}: expected status 200, got {} ({})",
            reply.status,
            String::from_utf8_lossy(&reply.body).trim()
        ));
    }
    canon_response(&reply.body).map_err(|e| format!("{request}: the response body {e}"))
}

/// Calls `method(params)` with the right credentials on a new connection.
pub(super) fn call(addr: SocketAddr, method: &str, params: &[&str]) -> Result<String, String> {
    let reply = exchange(
        addr,
        &post(
            "/",
            Some(&basic(USER, PASS)),
            &call_body(method, params),
            "",
        ),
    )?;
    expect_xml(&reply, &format!("calling {method}"))
}
