//! Given parts of `xmlrpc_server.rs` that are not this lab's lesson: the configuration and the
//! `--allow` networks, the response type and status phrases, closing gently, and the command
//! line. Read it; you need not change it.

use super::xml::{self, Call, Fault, Value};
use socklab::cli::{self, Args, Options};
use std::io::{self, BufRead, Read};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::str::FromStr;
use std::time::Duration;

/// By default, a connection that sends nothing for this long is closed (`--idle`): a client
/// that sent half a request and vanished must not keep its thread forever.
const IDLE_SECS: f64 = 30.0;
/// What the server knows for checking a request: the expected `username:password`, and the
/// networks connections may come from (empty: from anywhere).
pub struct Config {
    pub credentials: String,
    pub allow: Vec<Network>,
    /// How long a connection may send nothing before it is closed.
    pub idle: Duration,
}

/// A network in CIDR notation: `10.0.0.0/8`, `2001:db8::/32`. A bare address is a /32 (/128).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub addr: IpAddr,
    /// How many leading bits of an address must equal those of `addr`.
    pub prefix: u32,
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

/// One HTTP response, before it is written.
pub struct Response {
    pub status: u16,
    /// Headers besides Content-Type, Content-Length and Connection, which are always sent.
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// A `200 OK` carrying an XML-RPC response document.
    pub fn xml(document: String) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            content_type: "text/xml",
            body: document.into_bytes(),
        }
    }

    /// A short plain-text error page.
    pub fn error(status: u16, why: &str) -> Response {
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
pub struct HttpError {
    pub status: u16,
    pub why: String,
}

pub fn http_error(status: u16, why: impl Into<String>) -> HttpError {
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

pub fn reason(status: u16) -> &'static str {
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

/// The longest request line or header line, and the most header lines, a request may have.
const MAX_LINE: usize = 8 * 1024;
/// Reads one line ending in `\n` (at most `MAX_LINE` bytes) without its `\r\n`.
/// `Ok(None)`: the connection was closed before the line started.
pub fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, HttpError> {
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

/// Whether a comma-separated header value holds `token` (case-insensitive).
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Closes a connection whose client may still be sending (a body too large to read, say):
/// closing with unread data would reset the connection and could destroy the response before
/// the client reads it. So: stop writing, and read for a short while until the client closes.
pub fn linger(reader: &mut impl Read, writer: &TcpStream) -> io::Result<()> {
    writer.shutdown(Shutdown::Write)?;
    writer.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut sink = [0u8; 8192];
    let mut left = 4 * super::MAX_BODY;
    while left > 0 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

const USAGE: &str =
    "Usage: xmlrpc_server [--host H] [--port P] [--username U] [--password W] [--allow CIDR]... [--idle SECS]

Serves echo, system.listMethods and system.multicall over XML-RPC, for callers who send the
username and password with HTTP Basic authentication. Port 0 lets the system pick a free port.
--allow (repeatable) accepts connections only from those networks, such as 203.0.113.0/24.";

/// Parses the command line: where to listen, and the server's configuration. A mistake prints
/// one `error:` line and the usage, and exits.
pub fn command_line() -> (String, u16, Config) {
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
    (host, port, config)
}

/// The calls a `system.multicall` asks for: its one parameter is an array of
/// `{methodName, params}` structs; a struct of another shape is a fault in its call's place.
pub fn calls_of_multicall(params: &[Value]) -> Result<Vec<Result<Call, Fault>>, Fault> {
    let [Value::Array(calls)] = params else {
        return Err(Fault::new(
            xml::INVALID_PARAMS,
            "system.multicall takes one array of {methodName, params} structs",
        ));
    };
    let calls = calls.iter().map(
        |call| match (call.member("methodName"), call.member("params")) {
            (Some(Value::Str(method)), Some(Value::Array(params))) => Ok(Call {
                method: method.clone(),
                params: params.clone(),
            }),
            _ => Err(Fault::new(
                xml::INVALID_PARAMS,
                "each call is a struct {methodName: string, params: array}",
            )),
        },
    );
    Ok(calls.collect())
}

/// The one string a method takes (`echo`), or the fault for other parameters.
pub fn one_string<'a>(method: &str, params: &'a [Value]) -> Result<&'a String, Fault> {
    let [Value::Str(message)] = params else {
        let got: Vec<&str> = params.iter().map(Value::type_name).collect();
        return Err(Fault::new(
            xml::INVALID_PARAMS,
            format!("{method} takes one string, got ({})", got.join(", ")),
        ));
    };
    Ok(message)
}

/// The fault for `system.listMethods` called with arguments, or `system.multicall` inside a
/// multicall.
pub fn misused(method: &str) -> Fault {
    if method == "system.multicall" {
        Fault::new(xml::INVALID_REQUEST, "system.multicall cannot be nested")
    } else {
        Fault::new(xml::INVALID_PARAMS, format!("{method} takes no arguments"))
    }
}
