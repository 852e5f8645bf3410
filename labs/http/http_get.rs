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
    todo!("fill in: the Url's fields (their comments in http_get_given.rs; handout, step 1) from `text`, the target through encode_target; Err(sentence) for a URL this client cannot fetch");
}

/// Percent-encodes the bytes a request target may not hold as they are (spaces, quotes,
/// non-ASCII letters): a space inside the request line would split it into more than 3 words.
fn encode_target(target: &str) -> String {
    todo!("fill in: `target` with each byte that may not stand as it is (RFC 3986 lists which may) written as %XX; a % stays: the URL's own escapes are kept");
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
    todo!("fill in: the request of the handout's step 2 for `url` (Url::authority is the Host), asking for the connection to close; in one write");
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
        todo!("fill in: the value of the header called `name`, names compared as the handout's step 2 says (look at str's methods)");
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
        todo!("fill in: the status code in the status line (handout, step 3); Err(sentence) for a line that is not an HTTP/1.x status line");
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
        todo!("fill in: this header line into `head` (both of its lists); Err(sentence) for a line that is not a header");
    }
}

/// Copies exactly `n` body bytes to `out`; fewer before the close is an error.
fn copy_exactly(reader: &mut impl BufRead, n: u64, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: the n bytes from reader to out (std::io::copy, Read::take); Err(sentence) when the close came first");
}

/// Reads a chunked body to `out`: chunks `SIZE-IN-HEX[;extension]\r\n DATA \r\n`, ended by a
/// chunk of size 0. Trailer headers may follow that last chunk, up to an empty line; http_get
/// closes the connection after the body, so it leaves them unread.
fn read_chunked(reader: &mut impl BufRead, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: the chunks as the comment above and the handout's step 4 frame them (copy_exactly, u64::from_str_radix); Err(sentence) for a chunk that breaks the framing");
}

/// Reads the body that follows `head` to `out`, framed as the headers say.
fn read_body(reader: &mut impl BufRead, head: &Head, out: &mut impl Write) -> Result<(), String> {
    todo!("fill in: the body, framed in whichever of the three ways of the handout's step 4 the headers say (and the statuses it names have none)");
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
        todo!("fill in: with get.follow, a redirect (the handout's status table) leads to a next request (resolve); a loop must end: MAX_REDIRECTS, then Err(sentence)");
        read_body(&mut reader, &head, out).map_err(|e| format!("{}: {e}", url.show()))?;
        out.flush().map_err(|e| format!("writing out: {e}"))?;
        return Ok(head.status);
    }
}

/// Whether a final status means success for the exit code.
fn success(status: u16) -> bool {
    todo!("fill in: whether `status` means success for the exit code (the usage in http_get_given.rs says which)");
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
