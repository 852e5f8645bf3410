//! XML-RPC client with HTTP Basic authentication: calls `echo` on an `xmlrpc_server` (or on any
//! XML-RPC server, such as Python's) and prints the reply.
//!
//! The call is one HTTP/1.1 POST written by hand over a `TcpStream`: request line, headers
//! (with `Authorization: Basic`), an empty line, and the XML body from `xml.rs`; then the
//! response's status line, headers and `Content-Length` body are read back.
//!
//!     xmlrpc_client [--host H] [--port P] [--username U] [--password W] [--message TEXT]

#[path = "xml.rs"]
mod xml;

use base64::Engine;
use socklab::cli::{self, Args, Options};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;
use xml::{Fault, Value};

/// How long to wait for the server before giving up.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response body the client accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// XML-RPC's usual path; servers also accept `/`.
const PATH: &str = "/RPC2";

/// Why a call did not produce a result or a fault.
enum CallError {
    Io(io::Error),
    /// The server answered with an HTTP status other than 200.
    Status(u16, String),
    /// The answer is not a well-formed HTTP response or XML-RPC response.
    Bad(String),
}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> CallError {
        CallError::Io(e)
    }
}

/// Who to call and how to log in.
struct Server {
    host: String,
    port: u16,
    username: String,
    password: String,
}

/// Reads one line of the response's head without its `\r\n`.
fn read_line(reader: &mut impl BufRead) -> Result<String, CallError> {
    let mut line = Vec::new();
    reader.take(64 * 1024).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(CallError::Bad(
            "the server closed the connection in the middle of its response head".into(),
        ));
    }
    let line = String::from_utf8_lossy(&line);
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Calls `method(params)` on `server`: the result, or the server's fault.
fn call(
    server: &Server,
    method: &str,
    params: &[Value],
) -> Result<Result<Value, Fault>, CallError> {
    let body = xml::call_xml(method, params);
    let stream: TcpStream =
        todo!("fill in: connect a TCP stream to (server.host, server.port)");
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let head: String =
        todo!("fill in: the call's head as the handout's \"The protocol\" shows it, up to its empty line (PATH, `server`'s credentials, base64's Engine), asking for the connection to close");
    // The head, then the body: write_all, since one write() may take only part of it.
    writer.write_all(head.as_bytes())?;
    writer.write_all(body.as_bytes())?;
    writer.flush()?;

    let mut reader = BufReader::new(stream);
    let status_line = read_line(&mut reader)?;
    let status: u16 =
        todo!("fill in: the status code in the status line; CallError::Bad for a line that has none");
    let mut length: Option<usize> = None;
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        todo!("fill in: `length` from this line if it is the header that gives the body's length (names in any case); CallError::Bad if it is no number");
    }
    if status == 100 {
        return Err(CallError::Bad("unexpected 100 Continue".into()));
    }
    let mut body = Vec::new();
    match length {
        Some(n) if n > MAX_BODY => {
            return Err(CallError::Bad(format!("a {n}-byte response is too large")))
        }
        Some(n) => {
            body.resize(n, 0);
            todo!("fill in: fill `body` with the n body bytes (one read() may return fewer: see std::io::Read)");
        }
        // Without Content-Length the body ends where the connection does.
        None => {
            reader.take(MAX_BODY as u64).read_to_end(&mut body)?;
        }
    }
    if status != 200 {
        let text = String::from_utf8_lossy(&body).trim().to_string();
        return Err(CallError::Status(status, text));
    }
    xml::parse_response(&body).map_err(CallError::Bad)
}

const USAGE: &str =
    "Usage: xmlrpc_client [--host H] [--port P] [--username U] [--password W] [--message TEXT]

Calls echo(TEXT) on an XML-RPC server that wants HTTP Basic authentication, and prints the reply.";

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt("", "host", "the server's host (default localhost)", "H");
    opts.optopt("", "port", "the server's port (default 8000)", "P");
    opts.optopt("", "username", "username to send (default user)", "U");
    opts.optopt("", "password", "password to send (default pass)", "W");
    opts.optopt(
        "",
        "message",
        "text to echo (default \"hello server...\")",
        "TEXT",
    );
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail(&format!("unexpected argument {:?}", args.free()[0]));
    }
    let server = Server {
        host: args.get("host", "localhost".to_string()),
        port: args.get("port", 8000),
        username: args.get("username", "user".to_string()),
        password: args.get("password", "pass".to_string()),
    };
    if server.username.contains(':') {
        args.fail("--username cannot contain ':' (Basic auth puts one between user and password)");
    }
    let message: String = args.get("message", "hello server...".to_string());

    println!("Sending message to server: {message}");
    match call(&server, "echo", &[Value::Str(message)]) {
        Ok(Ok(reply)) => {
            println!("Got reply: {reply}");
            ExitCode::SUCCESS
        }
        Ok(Err(fault)) => {
            println!("Fault {}: {}", fault.code, fault.message);
            ExitCode::FAILURE
        }
        Err(CallError::Status(401, _)) => {
            println!("Refused: 401 Unauthorized (wrong username or password?)");
            ExitCode::FAILURE
        }
        Err(CallError::Status(status, text)) => {
            println!("Refused: HTTP status {status}: {text:.200}");
            ExitCode::FAILURE
        }
        Err(CallError::Bad(why)) => {
            println!("Bad response: {why}");
            ExitCode::FAILURE
        }
        Err(CallError::Io(e)) => {
            let (host, port) = (&server.host, server.port);
            println!("Could not call {host}:{port}: {e}");
            ExitCode::FAILURE
        }
    }
}
