//! HTTP/1.1 on the test side, for the checks of the labs that speak it (`http`, `xmlrpc`):
//! a connection whose reads and writes give up after [`WAIT`], and one reader for what either
//! program sends, a response from a server ([`read_reply`]) or a request from a client
//! ([`read_request`]): the head (first line, then headers up to the empty line, every line
//! ended by `\r\n`) and a body of Content-Length bytes. Its errors are reasons a student reads.

use super::{secs, Context, WAIT};
use std::io::{BufRead, ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};

/// The largest body read (a larger Content-Length is refused, so a wrong number cannot make the
/// test allocate gigabytes).
pub const MAX_BODY: usize = 16 << 20;

/// A TCP connection to the server at `addr` whose reads and writes give up after [`WAIT`].
pub fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, WAIT)
        .with_context(|| format!("connecting to the server at {addr}"))?;
    set_timeouts(&stream)?;
    Ok(stream)
}

/// Makes reads and writes on a test socket give up after [`WAIT`].
pub fn set_timeouts(stream: &TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(WAIT))
        .and_then(|()| stream.set_write_timeout(Some(WAIT)))
        .context("setting the test socket's timeouts")
}

/// Who sends a message, as the reasons name it.
pub struct Sender {
    /// `the server`, `http_get`.
    pub who: &'static str,
    /// `response` or `request`.
    pub message: &'static str,
    /// What its first line is: `a status line`.
    pub first: &'static str,
}

impl Sender {
    /// The student's server (or a server under test), sending responses.
    pub const SERVER: Sender = Sender {
        who: "the server",
        message: "response",
        first: "a status line",
    };

    /// A client called `who`, sending requests.
    pub const fn client(who: &'static str) -> Sender {
        Sender {
            who,
            message: "request",
            first: "a request line",
        }
    }
}

/// The headers of a message, in the order they came.
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The value of the first header called `name` (in any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header `name` as a reason shows it: `"value"`, or that there was none.
    pub fn show<'a>(&'a self, name: &'a str) -> Shown<'a> {
        Shown(name, self.get(name))
    }
}

/// A header's value for a failure's reason: `"value"`, or that there was none.
pub struct Shown<'a>(&'a str, Option<&'a str>);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(value) => write!(f, "{value:?}"),
            None => write!(f, "no {} header", self.0),
        }
    }
}

/// A response, as the test read it.
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (bytes that are not UTF-8 shown as �).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// The Content-Type without parameters, in lower case (`text/html`).
    pub fn media_type(&self) -> String {
        let value = self.headers.get("Content-Type").unwrap_or("(none)");
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

/// A request, as a stand-in server read it.
pub struct Request {
    /// The request line, without its line end.
    pub line: String,
    pub headers: Headers,
    /// Content-Length bytes of body (none without the header).
    pub body: Vec<u8>,
}

/// One line of a head without its line end; `what` names it for the errors.
pub fn head_line(reader: &mut impl BufRead, what: &str, from: &Sender) -> Result<String, String> {
    let who = from.who;
    let mut line = Vec::new();
    match reader.take(64 * 1024).read_until(b'\n', &mut line) {
        Ok(0) => Err(format!("{who} closed the connection without {what}")),
        Ok(_) if line.last() != Some(&b'\n') => Err(format!(
            "{who} stopped sending in the middle of {what}: {:?}",
            String::from_utf8_lossy(&line)
        )),
        Ok(_) if !line.ends_with(b"\r\n") => Err(format!(
            "{what} from {who} ends in a bare \\n; HTTP lines end in \\r\\n: {:?}",
            String::from_utf8_lossy(&line)
        )),
        Ok(_) => Ok(String::from_utf8_lossy(&line[..line.len() - 2]).to_string()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(format!(
            "timed out after {} waiting for {what} from {who}",
            secs(WAIT)
        )),
        Err(e) => Err(format!("reading {what} from {who} failed: {e}")),
    }
}

/// The header lines after the first line, up to the empty line.
pub fn read_headers(reader: &mut impl BufRead, from: &Sender) -> Result<Headers, String> {
    let end = format!("the end of the {} headers (an empty line)", from.message);
    let mut headers = Vec::new();
    loop {
        let line = head_line(reader, &end, from)?;
        if line.is_empty() {
            return Ok(Headers(headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("the {} header line {line:?} has no colon", from.message))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// The body of Content-Length `length` bytes (`None`: no such header, no body) of the message
/// whose first line was `first`.
fn read_body(
    reader: &mut impl BufRead,
    length: Option<&str>,
    first: &str,
) -> Result<Vec<u8>, String> {
    let Some(length) = length else {
        return Ok(Vec::new());
    };
    let length: usize = length
        .parse()
        .map_err(|_| format!("Content-Length {length:?} is not a number"))?;
    if length > MAX_BODY {
        return Err(format!("Content-Length {length} is absurdly large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| {
        format!(
            "`{first}` said Content-Length: {length} but fewer bytes came within {} ({e})",
            secs(WAIT)
        )
    })?;
    Ok(body)
}

/// Reads one response from the server: status line, headers and a body of Content-Length bytes
/// (none after a HEAD: `head_only`). A response without Content-Length is an error.
pub fn read_reply(reader: &mut impl BufRead, head_only: bool) -> Result<Reply, String> {
    let from = &Sender::SERVER;
    let status_line = head_line(reader, from.first, from)?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{status_line:?} is not a status line like `HTTP/1.1 200 OK`"))?;
    let headers = read_headers(reader, from)?;
    let length = headers.get("Content-Length").ok_or_else(|| {
        format!(
            "the `{status_line}` response has no Content-Length header: without it a client \
             cannot tell where the body ends on a connection that stays open"
        )
    })?;
    let body = match head_only {
        true => Vec::new(),
        false => read_body(reader, Some(length), &status_line)?,
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Reads one request from the client `from`: request line, headers, and a body of
/// Content-Length bytes (none without the header).
pub fn read_request(reader: &mut impl BufRead, from: &Sender) -> Result<Request, String> {
    let line = head_line(reader, from.first, from)?;
    let headers = read_headers(reader, from)?;
    let body = read_body(reader, headers.get("Content-Length"), &line)?;
    Ok(Request {
        line,
        headers,
        body,
    })
}
