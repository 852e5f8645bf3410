//! XML-RPC server with HTTP Basic authentication.
//!
//! A remote procedure call is an HTTP POST whose body is an XML document naming a method and its
//! arguments; the answer is an HTTP response whose body is an XML document holding the result
//! or a fault. This file speaks the HTTP part itself over a `TcpStream`: the request line, the
//! headers, the body whose length `Content-Length` gives, the `Authorization: Basic` check and
//! the response. The XML part is given, in `xml.rs`.
//!
//!     xmlrpc_server [--host H] [--port P] [--username U] [--password W] [--allow CIDR]...
//!
//! Methods: `echo(string)` answers the string upper-cased; `system.listMethods()`;
//! `system.multicall([{methodName, params}, …])` runs several calls in one request.

#[path = "xml.rs"]
mod xml;

use base64::Engine;
use sha2::{Digest, Sha256};
use socklab::cli::{self, Args, Options};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use xml::{Call, Fault, Value};

/// The largest request body the server reads; a larger one gets `413 Content Too Large`.
const MAX_BODY: usize = 1024 * 1024;
/// The longest request line or header line, and the most header lines, a request may have.
const MAX_LINE: usize = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// By default, a connection that sends nothing for this long is closed (`--idle`): a client
/// that sent half a request and vanished must not keep its thread forever.
const IDLE_SECS: f64 = 30.0;
/// The paths XML-RPC clients post to.
const PATHS: [&str; 2] = ["/", "/RPC2"];
/// Named in `WWW-Authenticate`, so a client can tell which password is asked for.
const REALM: &str = "socklab xmlrpc";
const METHODS: [&str; 3] = ["echo", "system.listMethods", "system.multicall"];

/// What the server knows for checking a request: the expected `username:password`, and the
/// networks connections may come from (empty: from anywhere).
struct Config {
    credentials: String,
    allow: Vec<Network>,
    /// How long a connection may send nothing before it is closed.
    idle: Duration,
}

/// A network in CIDR notation: `10.0.0.0/8`, `2001:db8::/32`. A bare address is a /32 (/128).
#[derive(Debug, Clone, Copy)]
struct Network {
    addr: IpAddr,
    /// How many leading bits of an address must equal those of `addr`.
    prefix: u32,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("/{p} is not a prefix length from 0 to {bits}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl Network {
    /// Whether `ip` is in this network. An IPv4 client of a server listening on IPv6 shows up
    /// as `::ffff:a.b.c.d`; `to_canonical()` turns that back into `a.b.c.d`.
    fn contains(&self, ip: IpAddr) -> bool {
        todo!("fill in: compare the first self.prefix bits of self.addr and ip.to_canonical() (as u32 for IPv4, u128 for IPv6) with a mask; different families never match");
    }
}

/// One HTTP request, as read from the connection.
struct Request {
    method: String,
    path: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    version: String,
    /// Header names as sent; look them up with `header()`, which ignores case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (names are case-insensitive in HTTP).
    fn header(&self, name: &str) -> Option<&str> {
        todo!("fill in: the value of the first header called `name` (how does HTTP compare header names? a client may send `content-length`)");
    }
}

/// One HTTP response, before it is written.
struct Response {
    status: u16,
    /// Headers besides Content-Type, Content-Length and Connection, which are always sent.
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    /// A short plain-text error page.
    fn error(status: u16, why: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: format!("{status} {}: {why}\n", reason(status)).into_bytes(),
        }
    }
}

/// A request that cannot be answered normally: the status to send, and why (for the log).
/// After one of these the connection is closed, since where the next request starts is unknown.
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
    /// The connection failed or timed out in the middle of a request: nobody to answer.
    fn from(e: io::Error) -> HttpError {
        http_error(0, format!("connection lost mid-request: {e}"))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Reads one line ending in `\n` (at most `MAX_LINE` bytes) without its `\r\n`.
/// `Ok(None)`: the connection was closed before the line started.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            http_error(400, format!("a line longer than {MAX_LINE} bytes"))
        } else {
            http_error(0, "the connection closed in the middle of a line")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| http_error(400, "a request line or header is not UTF-8"))
}

/// Reads one request: request line, headers, body. `Ok(None)` when the client closed the
/// connection between requests (the normal end of a keep-alive connection).
fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
) -> Result<Option<Request>, HttpError> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let (method, path, version): (String, String, String) =
        todo!("fill in: split line into (METHOD, PATH, VERSION); return Err(http_error(400, why)) unless it is three words, and 505 unless VERSION is HTTP/1.0 or HTTP/1.1");
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| http_error(0, "closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        todo!("fill in: add `Name: value` to headers (both trimmed); 400 for a line without a colon, or once there are MAX_HEADERS headers already");
    }
    let mut request = Request {
        method,
        path,
        version,
        headers,
        body: Vec::new(),
    };
    if request.header("Transfer-Encoding").is_some() {
        return Err(http_error(
            411,
            "chunked bodies are not supported; send Content-Length",
        ));
    }
    let length: usize =
        todo!("fill in: the body's length from Content-Length: absent → 411 for a POST (0 for other methods), not a number → 400, over MAX_BODY → 413 (return Err(http_error(status, why)))");
    if has_token(request.header("Expect"), "100-continue") {
        // The client waits for this before sending a large body (curl does, above 1 MiB).
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    todo!("fill in: read exactly length bytes into request.body (one read() may return fewer: TCP delivers a stream, not messages)");
    Ok(Some(request))
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Whether the connection stays open after this request: HTTP/1.1 keeps it unless the client
/// sent `Connection: close`; HTTP/1.0 closes it unless the client sent `Connection: keep-alive`.
fn keep_alive(request: &Request) -> bool {
    let connection = request.header("Connection");
    todo!("fill in: return true to keep the connection open (see the comment above)");
}

/// Compares two byte strings in constant time: it always looks at every byte, so how long the
/// comparison takes tells an attacker nothing about how many leading bytes were right. Both are
/// hashed first, so their lengths leak nothing either.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
    todo!("fill in: combine every byte pair with XOR and OR the results together; equal if that is 0 (no early return)");
}

/// Checks `Authorization: Basic base64(username:password)` (RFC 7617). `Err` says what is
/// wrong, for the log; the client only learns that it is refused.
fn check_auth(header: Option<&str>, config: &Config) -> Result<(), String> {
    todo!("fill in: split the header into scheme and token (the scheme \"Basic\" in any case), base64-decode the token, require a ':' in it, and compare it with config.credentials using same_secret");
}

/// Answers one request: method and path, then authentication, then the call itself.
fn respond(request: &Request, config: &Config, peer: &str) -> Response {
    todo!("fill in: refuse what is not a call: the handout's statuses for a method other than POST and a path outside PATHS, then check_auth (each refusal with the header the handout names)");
    let result = match xml::parse_call(&request.body) {
        Ok(call) => dispatch(&call, true),
        Err(fault) => {
            log::warn!("{peer}: not an XML-RPC call: {}", fault.message);
            Err(fault)
        }
    };
    Response {
        status: 200,
        headers: Vec::new(),
        content_type: "text/xml",
        body: xml::response_xml(&result).into_bytes(),
    }
}

/// Runs one call. `top`: whether it came in a request, rather than inside a multicall.
fn dispatch(call: &Call, top: bool) -> Result<Value, Fault> {
    match call.method.as_str() {
        "echo" => echo(&call.params),
        "system.listMethods" if call.params.is_empty() => {
            todo!("fill in: the names of METHODS, as an XML-RPC array of strings")
        }
        "system.listMethods" => Err(Fault::new(
            xml::INVALID_PARAMS,
            "system.listMethods takes no arguments",
        )),
        "system.multicall" if top => multicall(&call.params),
        "system.multicall" => Err(Fault::new(
            xml::INVALID_REQUEST,
            "system.multicall cannot be nested",
        )),
        other => {
            todo!("fill in: a fault for a method this server does not have (xml.rs has the codes)")
        }
    }
}

/// `echo(string)`: the string upper-cased, as the course's Python server does.
fn echo(params: &[Value]) -> Result<Value, Fault> {
    let [Value::Str(message)] = params else {
        let got: Vec<&str> = params.iter().map(Value::type_name).collect();
        return Err(Fault::new(
            xml::INVALID_PARAMS,
            format!("echo takes one string, got ({})", got.join(", ")),
        ));
    };
    todo!("fill in: answer the message upper-cased, and print the line the handout shows");
}

/// `system.multicall`: one array of `{methodName, params}` structs; answers an array holding,
/// for each call, `[result]` or its fault struct.
fn multicall(params: &[Value]) -> Result<Value, Fault> {
    let [Value::Array(calls)] = params else {
        return Err(Fault::new(
            xml::INVALID_PARAMS,
            "system.multicall takes one array of {methodName, params} structs",
        ));
    };
    let results = calls.iter().map(|call| {
        let outcome = match (call.member("methodName"), call.member("params")) {
            (Some(Value::Str(method)), Some(Value::Array(params))) => dispatch(
                &Call {
                    method: method.clone(),
                    params: params.clone(),
                },
                false,
            ),
            _ => Err(Fault::new(
                xml::INVALID_PARAMS,
                "each call is a struct {methodName: string, params: array}",
            )),
        };
        todo!("fill in: what goes in this call's place: a result or a fault, in the form the handout gives")
    });
    Ok(Value::Array(results.collect()))
}

/// Writes a response: status line, headers, an empty line, the body.
fn write_response(
    writer: &mut impl Write,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    todo!("fill in: write `HTTP/1.1 STATUS REASON`, the headers (response.headers, Content-Type, Content-Length, Connection: keep-alive or close), each line ending in \\r\\n, an empty line, then the body");
    writer.flush()
}

/// Serves one connection, request after request, until the client closes it, asks to close
/// it, or sends something that cannot be answered. Runs in the connection's own thread, so
/// nothing here may panic, and an error ends only this connection.
fn handle_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    let peer_ip = stream.peer_addr()?.ip();
    let peer = stream.peer_addr()?.to_string();
    if !config.allow.is_empty() && !config.allow.iter().any(|net| net.contains(peer_ip)) {
        // Dropping the stream closes the connection: the client learns nothing else.
        log::warn!("{peer}: refused: not in any --allow network");
        return Ok(());
    }
    log::debug!("{peer}: connected");
    todo!("fill in: a connection that sends nothing for config.idle must end (a client that sent half a request and vanished): which socket option does that?");
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => request,
            Ok(None) => {
                log::debug!("{peer}: closed the connection");
                return Ok(());
            }
            Err(e) if e.status == 0 => {
                log::warn!("{peer}: {}", e.why);
                return Ok(());
            }
            Err(e) => {
                log::warn!("{peer}: {}: {}", e.status, e.why);
                write_response(&mut writer, &Response::error(e.status, &e.why), false)?;
                return linger(&mut reader, &writer);
            }
        };
        let keep = keep_alive(&request);
        let response = respond(&request, config, &peer);
        write_response(&mut writer, &response, keep)?;
        if !keep {
            return linger(&mut reader, &writer);
        }
    }
}

/// Closes a connection whose client may still be sending (a body too large to read, say):
/// closing with unread data would reset the connection and could destroy the response before
/// the client reads it. So: stop writing, and read for a short while until the client closes.
fn linger(reader: &mut impl Read, writer: &TcpStream) -> io::Result<()> {
    writer.shutdown(Shutdown::Write)?;
    writer.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut sink = [0u8; 8192];
    let mut left = 4 * MAX_BODY;
    while left > 0 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

fn server(host: &str, port: u16, config: Config) -> io::Result<()> {
    let listener: TcpListener =
        todo!("fill in: bind a TCP listener to (host, port)");
    println!(
        "Running an XML-RPC server with HTTP Basic auth at {}",
        listener.local_addr()?
    );
    let config = Arc::new(config);
    todo!("fill in: accept connections forever; give each its own thread that runs handle_connection and logs its error (a failed accept is logged too, never fatal)");
    Ok(())
}

const USAGE: &str =
    "Usage: xmlrpc_server [--host H] [--port P] [--username U] [--password W] [--allow CIDR]... [--idle SECS]

Serves echo, system.listMethods and system.multicall over XML-RPC, for callers who send the
username and password with HTTP Basic authentication. Port 0 lets the system pick a free port.
--allow (repeatable) accepts connections only from those networks, such as 203.0.113.0/24.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "host", "address to listen on (default localhost)", "H");
    opts.optopt("", "port", "port to listen on (default 8000)", "P");
    opts.optopt(
        "",
        "username",
        "the username callers must send (default user)",
        "U",
    );
    opts.optopt(
        "",
        "password",
        "the password callers must send (default pass)",
        "W",
    );
    opts.optmulti(
        "",
        "allow",
        "accept connections only from this network (repeatable)",
        "CIDR",
    );
    opts.optopt(
        "",
        "idle",
        "close a connection that sends nothing for SECS seconds (default 30)",
        "SECS",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail(&format!("unexpected argument {:?}", args.free()[0]));
    }
    let host: String = args.get("host", "localhost".to_string());
    let port: u16 = args.get("port", 8000);
    let username: String = args.get("username", "user".to_string());
    let password: String = args.get("password", "pass".to_string());
    if username.contains(':') {
        args.fail("--username cannot contain ':' (Basic auth puts one between user and password)");
    }
    let allow = args
        .matches
        .opt_strs("allow")
        .iter()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|e| args.fail(&format!("--allow {text}: {e}")))
        })
        .collect();
    let idle: f64 = args.get("idle", IDLE_SECS);
    if !(idle > 0.0 && idle < 1e6) {
        args.fail("--idle takes a positive number of seconds");
    }
    let config = Config {
        credentials: format!("{username}:{password}"),
        allow,
        idle: Duration::from_secs_f64(idle),
    };
    match server(&host, port, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmlrpc_server: {e}");
            ExitCode::FAILURE
        }
    }
}
