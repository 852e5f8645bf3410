//! HTTP on the test side: a connection to the student's webapp (plain or inside TLS) that sends
//! raw bytes and reads responses, and the reading of a request's head for the stand-in servers
//! that test http_get. Every read and write gives up after [`WAIT`].

use socklab::grader::{secs, Context, WAIT};
use socklab::tls::{self, rustls, Trust};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// A byte stream both ways: TCP, or TLS around it.
pub(super) trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// The headers of a message, in the order they came.
pub(super) struct Headers(pub(super) Vec<(String, String)>);

impl Headers {
    /// The value of the first header called `name` (in any case).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header `name` as a reason shows it: `"value"`, or that there was none.
    pub(super) fn show<'a>(&'a self, name: &'a str) -> Shown<'a> {
        Shown(name, self.get(name))
    }
}

/// A header's value for a failure's reason: `"value"`, or that there was none.
pub(super) struct Shown<'a>(&'a str, Option<&'a str>);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(value) => write!(f, "{value:?}"),
            None => write!(f, "no {} header", self.0),
        }
    }
}

/// A response as the test read it.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// The Content-Type without parameters, in lower case (`text/html`).
    pub(super) fn media_type(&self) -> String {
        let value = self.headers.get("Content-Type").unwrap_or("(none)");
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

/// A connection to the student's server.
pub(super) struct Conn {
    reader: BufReader<Box<dyn Stream>>,
    /// The TCP socket under it, for timeouts.
    tcp: TcpStream,
}

impl Conn {
    /// A plain TCP connection.
    pub(super) fn tcp(addr: SocketAddr) -> Result<Conn, String> {
        let tcp = connect(addr)?;
        let clone = tcp.try_clone().context("cloning the test socket")?;
        Ok(Conn {
            reader: BufReader::new(Box::new(tcp)),
            tcp: clone,
        })
    }

    /// A TLS connection trusting the certificates in `pem`, asking for server name `localhost`.
    pub(super) fn tls(addr: SocketAddr, pem: &Path) -> Result<Conn, String> {
        let tcp = connect(addr)?;
        let clone = tcp.try_clone().context("cloning the test socket")?;
        let config = tls::client_config(Trust::File(pem))?;
        let conn = rustls::ClientConnection::new(config, tls::server_name("localhost")?)
            .context("starting TLS")?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        // The handshake, now: a certificate the test does not trust fails here, with its reason.
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .context("the TLS handshake with the server")?;
        }
        Ok(Conn {
            reader: BufReader::new(Box::new(stream)),
            tcp: clone,
        })
    }

    /// Sends `bytes` as they are.
    pub(super) fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .context("sending to the server")
    }

    /// Closes the sending side of the TCP connection (the server reads the end of the stream).
    pub(super) fn finish_sending(&mut self) -> Result<(), String> {
        self.tcp
            .shutdown(std::net::Shutdown::Write)
            .context("closing the test's sending side")
    }

    /// Reads one response; `head_only` for the answer to a HEAD request (no body follows).
    /// `request` names what it answers, for the errors.
    pub(super) fn reply(&mut self, request: &str, head_only: bool) -> Result<Reply, String> {
        read_reply(&mut self.reader, head_only)
            .with_context(|| format!("the response to {request}"))
    }

    /// Whether the server closes the connection within `within` (reading nothing more);
    /// `Ok(false)` when it stays open; bytes arriving are an error.
    pub(super) fn closes(&mut self, within: Duration) -> Result<bool, String> {
        self.tcp
            .set_read_timeout(Some(within))
            .context("setting a read timeout")?;
        let mut byte = [0u8; 1];
        let outcome = match self.reader.read(&mut byte) {
            Ok(0) => Ok(true),
            Ok(_) => Err(format!(
                "the server sent bytes ({:?}…) where it should have sent nothing more",
                String::from_utf8_lossy(self.reader.buffer())
            )),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            // A reset closes it too.
            Err(_) => Ok(true),
        };
        let _ = self.tcp.set_read_timeout(Some(WAIT));
        outcome
    }
}

/// A TCP connection to `addr` whose reads and writes give up after [`WAIT`].
pub(super) fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, WAIT)
        .with_context(|| format!("connecting to the server at {addr}"))?;
    set_timeouts(&stream)?;
    Ok(stream)
}

pub(super) fn set_timeouts(stream: &TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(WAIT))
        .and_then(|()| stream.set_write_timeout(Some(WAIT)))
        .context("setting the test socket's timeouts")
}

/// One line of a head without its line end; `who` sent it, `what` it should be.
pub(super) fn head_line(
    reader: &mut impl BufRead,
    what: &str,
    who: &str,
) -> Result<String, String> {
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

/// Header lines up to the empty line.
pub(super) fn read_headers(reader: &mut impl BufRead, who: &str) -> Result<Headers, String> {
    let mut headers = Vec::new();
    loop {
        let line = head_line(reader, "the end of the headers (an empty line)", who)?;
        if line.is_empty() {
            return Ok(Headers(headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("the header line {line:?} has no colon"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// Reads one response from the server: status line, headers and a body of Content-Length bytes
/// (none after a HEAD).
pub(super) fn read_reply(reader: &mut impl BufRead, head_only: bool) -> Result<Reply, String> {
    let who = "the server";
    let status_line = head_line(reader, "a status line", who)?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{status_line:?} is not a status line like `HTTP/1.1 200 OK`"))?;
    let headers = read_headers(reader, who)?;
    let length = headers.get("Content-Length").ok_or_else(|| {
        format!(
            "the `{status_line}` response has no Content-Length header: without it a client \
             cannot tell where the body ends on a connection that stays open"
        )
    })?;
    let length: usize = length
        .parse()
        .map_err(|_| format!("Content-Length {length:?} is not a number"))?;
    if length > 1 << 20 {
        return Err(format!("Content-Length {length} is absurdly large"));
    }
    if head_only {
        return Ok(Reply {
            status,
            headers,
            body: Vec::new(),
        });
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| {
        format!(
            "`{status_line}` said Content-Length: {length} but fewer bytes came within {} ({e})",
            secs(WAIT)
        )
    })?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A request as a stand-in server read it: its raw head, request line and headers.
pub(super) struct Request {
    pub(super) line: String,
    pub(super) headers: Headers,
}

/// Reads a request's head (the client's requests have no body).
pub(super) fn read_request(reader: &mut impl BufRead) -> Result<Request, String> {
    let who = "http_get";
    let line = head_line(reader, "a request line", who)?;
    let headers = read_headers(reader, who)?;
    Ok(Request { line, headers })
}

/// A GET of `target` closing the connection.
pub(super) fn get_request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A GET of `target` keeping the connection open.
pub(super) fn keep_request(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}
