//! A raw HTTP client: what the seed typed into telnet (and into `openssl s_client` for HTTPS),
//! written as a program.
//!
//! It opens a TCP connection to the URL's host and port, writes `GET /path HTTP/1.1` with a
//! `Host` header (one server address may serve many sites), reads the status line and the
//! headers, and then the body, whose end it learns from the headers: `Content-Length` bytes,
//! chunks of the sizes that `Transfer-Encoding: chunked` announces, or else the close of the
//! connection. With `-L` it follows redirects (at most five); `https://` wraps the same bytes in
//! TLS, checking the server's certificate against `--cacert FILE` or the built-in web roots.
//!
//!     http_get [-i] [-L] [--cacert FILE] URL
//!
//! Prints the body (with `-i` first the status line and headers); exits 0 for a 2xx or 3xx
//! status, 1 for any other status and for a failure, which one line on stderr explains.

#[path = "http_get_given.rs"]
mod given;

use given::{default_port, resolve, Get, Stream, Url};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How long to wait for the server to accept, then for each read.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed with `-L` before giving up (curl stops at 50, browsers at about 20).
const MAX_REDIRECTS: usize = 5;
/// The longest status line or header line accepted.
const MAX_LINE: u64 = 64 * 1024;
const USER_AGENT: &str = "socklab-http_get/1.0";

// ---------------------------------------------------------------------------------------------
// URLs.

/// Splits `scheme://host[:port][/path][?query][#fragment]`.
fn parse_url(text: &str) -> Result<Url, String> {
    todo!("fill in: scheme http (default port 80) or https (443), any case; the host (an IPv6 address in [brackets], kept without them) and an optional :port; the target from the first '/' or '?' on, \"/\" when empty, \"/?…\" for a bare query; drop a #fragment; Err(sentence) for anything else");
}

/// Percent-encodes the bytes a request target may not hold as they are (spaces, quotes,
/// non-ASCII letters): a space inside the request line would split it into more than 3 words.
fn encode_target(target: &str) -> String {
    todo!("fill in: every byte that may not stand as it is in a request target (the comment above says which kinds; RFC 3986 lists what may) becomes a %XX escape; all other bytes stay, a % too (the URL's own escapes are kept)");
}

// ---------------------------------------------------------------------------------------------
// The connection.

/// Connects to the URL's server; for `https`, wraps the connection in TLS (given: the lesson is
/// that the HTTP bytes inside are the same), trusting `cacert` or else the built-in web roots.
fn open(url: &Url, cacert: Option<&Path>) -> Result<Box<dyn Stream>, String> {
    let tcp: TcpStream =
        todo!("fill in: connect a TCP stream to (url.host, url.port); Err(sentence) naming the server if that fails");
    tcp.set_read_timeout(Some(TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| format!("cannot set timeouts: {e}"))?;
    if !url.https {
        return Ok(Box::new(tcp));
    }
    given::wrap_tls(tcp, &url.host, cacert)
}

/// Writes the request for `url`, all of it at once.
fn send_request(stream: &mut dyn Stream, url: &Url) -> io::Result<()> {
    todo!("fill in: write `GET TARGET HTTP/1.1`, then Host (url.authority()), User-Agent (USER_AGENT), Accept: */* and Connection: close, each line ending in \\r\\n, then an empty line, in one write_all");
    stream.flush()
}

// ---------------------------------------------------------------------------------------------
// The response.

/// A response's status line and headers.
struct Head {
    status: u16,
    /// The status line, then each header line, as received (for `-i`).
    lines: Vec<String>,
    headers: Vec<(String, String)>,
}

impl Head {
    /// The value of the first header called `name`, as the handout says header names compare.
    fn header(&self, name: &str) -> Option<&str> {
        todo!("fill in: the value of the first of self.headers whose name matches `name` the way HTTP compares header names (servers write `content-length` as often as `Content-Length`)");
    }
}

/// Reads one line ending in `\n`, without its `\r\n`.
fn read_line(reader: &mut impl BufRead, what: &str) -> Result<String, String> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("reading {what}: {e}"))?;
    if line.last() != Some(&b'\n') {
        return Err(format!(
            "the server closed the connection in the middle of {what}"
        ));
    }
    let text = String::from_utf8_lossy(&line);
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads the status line and the headers up to the empty line.
fn read_head(reader: &mut impl BufRead) -> Result<Head, String> {
    let status_line = read_line(reader, "the status line")?;
    let status: u16 =
        todo!("fill in: the status code: the second word of `HTTP/1.1 200 OK`, three digits; Err(sentence) unless the line starts with HTTP/1. and has one");
    let mut head = Head {
        status,
        lines: vec![status_line],
        headers: Vec::new(),
    };
    loop {
        let line = read_line(reader, "the headers")?;
        if line.is_empty() {
            return Ok(head);
        }
        todo!("fill in: split `Name: value` at the first colon into head.headers (value trimmed), and keep the line in head.lines; Err(sentence) when there is no colon");
    }
}

/// Copies exactly `n` body bytes to `out`; fewer before the close is an error.
fn copy_exactly(reader: &mut impl BufRead, n: u64, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: copy n bytes from reader to out (io::copy of reader.take(n) copies until n bytes or the close); Err(sentence) when fewer came");
}

/// Reads a chunked body to `out`: chunks `SIZE-IN-HEX[;extension]\r\n DATA \r\n`, ended by a
/// chunk of size 0. Trailer headers may follow that last chunk, up to an empty line; http_get
/// closes the connection after the body, so it leaves them unread.
fn read_chunked(reader: &mut impl BufRead, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: loop: read the size line, drop a ;extension, parse the size as hexadecimal (Err(sentence) if it is not); size 0 → the body is complete; else copy_exactly the size, then the empty line that ends the chunk (Err(sentence) if the line holds more)");
}

/// Reads the body that follows `head` to `out`, framed as the headers say.
fn read_body(reader: &mut impl BufRead, head: &Head, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: 1xx, 204 and 304 have no body; Transfer-Encoding: chunked → read_chunked; else Content-Length N → copy_exactly N (Err if not a number); else the body runs until the server closes the connection");
}

// ---------------------------------------------------------------------------------------------
// Fetching.

/// Fetches `url`, following redirects if asked, and prints what `get` says to `out`; returns
/// the last response's status code.
fn fetch(mut url: Url, get: &Get, out: &mut impl Write) -> Result<u16, String> {
    let mut hops = 0;
    loop {
        let mut stream = open(&url, get.cacert.as_deref())?;
        send_request(&mut *stream, &url).map_err(|e| format!("sending to {}: {e}", url.show()))?;
        let mut reader = BufReader::new(stream);
        let head = read_head(&mut reader).map_err(|e| format!("{}: {e}", url.show()))?;
        if get.include {
            for line in &head.lines {
                write!(out, "{line}\r\n").map_err(|e| format!("writing out: {e}"))?;
            }
            write!(out, "\r\n").map_err(|e| format!("writing out: {e}"))?;
        }
        todo!("fill in: with get.follow, a 301, 302, 303, 307 or 308 with a Location: count the hop (more than MAX_REDIRECTS → Err(sentence) saying it may be a loop), set url to resolve(&url, location)?, and continue with the next request");
        read_body(&mut reader, &head, out).map_err(|e| format!("{}: {e}", url.show()))?;
        out.flush().map_err(|e| format!("writing out: {e}"))?;
        return Ok(head.status);
    }
}

/// Whether a final status means success for the exit code.
fn success(status: u16) -> bool {
    todo!("fill in: true for 2xx (it worked) and 3xx (a redirect not followed is an answer too)");
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let (url, get) = given::command_line();
    let stdout = io::stdout();
    match fetch(url, &get, &mut stdout.lock()) {
        Ok(status) if success(status) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("http_get: {e}");
            ExitCode::FAILURE
        }
    }
}
