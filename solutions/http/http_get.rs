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
    // BEGIN BLANK: the Url's fields (their comments in http_get_given.rs; handout, step 1) from `text`, the target through encode_target; Err(sentence) for a URL this client cannot fetch
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("{text:?} is not a URL like http://host/path"))?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => return Err(format!("{other}:// is not http:// or https://")),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let target = match target.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{target}"),
        Some(_) => target.to_string(),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{authority:?}: no ] after the IPv6 address"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.contains('@') {
        return Err(format!("{text:?} names no host"));
    }
    let port = match port {
        None => default_port(https),
        Some(p) => p
            .parse()
            .map_err(|_| format!("{p:?} is not a port number"))?,
    };
    Ok(Url {
        https,
        host: host.to_string(),
        port,
        target: encode_target(&target),
    })
    // END BLANK
}

/// Percent-encodes the bytes a request target may not hold as they are (spaces, quotes,
/// non-ASCII letters): a space inside the request line would split it into more than 3 words.
fn encode_target(target: &str) -> String {
    // BEGIN BLANK: `target` with each byte that may not stand as it is (RFC 3986 lists which may) written as %XX; a % stays: the URL's own escapes are kept
    let mut out = String::with_capacity(target.len());
    for &b in target.as_bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
    // END BLANK
}

// ---------------------------------------------------------------------------------------------
// The connection.

/// Connects to the URL's server; for `https`, wraps the connection in TLS (given: the lesson is
/// that the HTTP bytes inside are the same), trusting `cacert` or else the built-in web roots.
fn open(url: &Url, cacert: Option<&Path>) -> Result<Box<dyn Stream>, String> {
    let tcp: TcpStream =
        /* BLANK: connect a TCP stream to (url.host, url.port); Err(sentence) naming the server if that fails */
        TcpStream::connect((url.host.as_str(), url.port)).map_err(|e| {
            format!("cannot connect to {}:{}: {e}", url.host, url.port)
        })? /* END */;
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
    // BEGIN BLANK: the request of the handout's step 2 for `url` (Url::authority is the Host), asking for the connection to close; in one write
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.target,
        url.authority()
    );
    stream.write_all(request.as_bytes())?;
    // END BLANK
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
        // BEGIN BLANK: the value of the header called `name`, names compared as the handout's step 2 says (look at str's methods)
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
        // END BLANK
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
        /* BLANK: the status code in the status line (handout, step 3); Err(sentence) for a line that is not an HTTP/1.x status line */
        {
            let (version, rest) = status_line.split_once(' ').unwrap_or((&status_line, ""));
            let code = rest.split(' ').next().unwrap_or("");
            if !version.starts_with("HTTP/1.") || code.len() != 3 {
                return Err(format!("{status_line:.80?} is not an HTTP/1.x status line"));
            }
            code.parse()
                .map_err(|_| format!("{status_line:.80?} has no status code"))?
        } /* END */;
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
        // BEGIN BLANK: this header line into `head` (both of its lists); Err(sentence) for a line that is not a header
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header {line:.80?} has no colon"))?;
        head.headers
            .push((name.trim().to_string(), value.trim().to_string()));
        head.lines.push(line);
        // END BLANK
    }
}

/// Copies exactly `n` body bytes to `out`; fewer before the close is an error.
fn copy_exactly(reader: &mut impl BufRead, n: u64, out: &mut impl Write) -> Result<(), String> {
    // BEGIN BLANK: the n bytes from reader to out (std::io::copy, Read::take); Err(sentence) when the close came first
    let copied =
        io::copy(&mut reader.take(n), out).map_err(|e| format!("reading the body: {e}"))?;
    if copied < n {
        return Err(format!(
            "the server closed the connection after {copied} of {n} body bytes"
        ));
    }
    Ok(())
    // END BLANK
}

/// Reads a chunked body to `out`: chunks `SIZE-IN-HEX[;extension]\r\n DATA \r\n`, ended by a
/// chunk of size 0. Trailer headers may follow that last chunk, up to an empty line; http_get
/// closes the connection after the body, so it leaves them unread.
fn read_chunked(reader: &mut impl BufRead, out: &mut impl Write) -> Result<(), String> {
    // BEGIN BLANK: the chunks as the comment above and the handout's step 4 frame them (copy_exactly, u64::from_str_radix); Err(sentence) for a chunk that breaks the framing
    loop {
        let line = read_line(reader, "a chunk size")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| format!("chunk size {line:.40?} is not hexadecimal"))?;
        if size == 0 {
            return Ok(());
        }
        let end = copy_exactly(reader, size, out)
            .and_then(|()| read_line(reader, "the end of a chunk"))?;
        if !end.is_empty() {
            return Err(format!("chunk data longer than its size {size:#x}"));
        }
    }
    // END BLANK
}

/// Reads the body that follows `head` to `out`, framed as the headers say.
fn read_body(reader: &mut impl BufRead, head: &Head, out: &mut impl Write) -> Result<(), String> {
    // BEGIN BLANK: the body, framed in whichever of the three ways of the handout's step 4 the headers say (and the statuses it names have none)
    if head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(());
    }
    let chunked = head
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader, out);
    }
    if let Some(length) = head.header("Content-Length") {
        let n: u64 = length
            .parse()
            .map_err(|_| format!("Content-Length {length:.20?} is not a number"))?;
        return copy_exactly(reader, n, out);
    }
    io::copy(reader, out)
        .map(|_| ())
        .map_err(|e| format!("reading the body: {e}"))
    // END BLANK
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
        // BEGIN BLANK: with get.follow, a redirect (the handout's status table) leads to a next request (resolve); a loop must end: MAX_REDIRECTS, then Err(sentence)
        if get.follow && matches!(head.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(location) = head.header("Location") {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(format!(
                        "more than {MAX_REDIRECTS} redirects (the last one to {location:.80}): a redirect loop?"
                    ));
                }
                url = resolve(&url, location)?;
                continue;
            }
        }
        // END BLANK
        read_body(&mut reader, &head, out).map_err(|e| format!("{}: {e}", url.show()))?;
        out.flush().map_err(|e| format!("writing out: {e}"))?;
        return Ok(head.status);
    }
}

/// Whether a final status means success for the exit code.
fn success(status: u16) -> bool {
    // BEGIN BLANK: whether `status` means success for the exit code (the usage in http_get_given.rs says which)
    (200..400).contains(&status)
    // END BLANK
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
