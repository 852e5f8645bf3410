//! XML-RPC server with HTTP Basic authentication: a call is an HTTP POST whose body is an XML
//! document, and so is its answer. This file speaks the HTTP part over a `TcpStream` (request
//! line, headers, a `Content-Length` body, `Authorization: Basic`, the response). Given: the
//! XML in `xml.rs`, the rest in `xmlrpc_server_given.rs`.

#[path = "xmlrpc_server_given.rs"]
mod given;
#[path = "xml.rs"]
mod xml;

use base64::Engine;
use given::{has_token, http_error, linger, read_line, reason};
use given::{Config, HttpError, Network, Response};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use xml::{Call, Fault, Value};

/// The largest request body the server reads; a larger one gets `413 Content Too Large`.
const MAX_BODY: usize = 1024 * 1024;
const MAX_HEADERS: usize = 100;
/// The paths XML-RPC clients post to.
const PATHS: [&str; 2] = ["/", "/RPC2"];
/// Named in `WWW-Authenticate`, so a client can tell which password is asked for.
const REALM: &str = "socklab xmlrpc";
const METHODS: [&str; 3] = ["echo", "system.listMethods", "system.multicall"];

impl Network {
    /// Whether `ip` is in this network. An IPv4 client of a server listening on IPv6 shows up
    /// as `::ffff:a.b.c.d`; `to_canonical()` turns that back into `a.b.c.d`.
    fn contains(&self, ip: IpAddr) -> bool {
        // BEGIN BLANK: whether `ip` (see the comment above) shares its first self.prefix bits with self.addr (u32::from and u128::from give the bits; mind a /0)
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                // Shifting a u32 by 32 overflows: a /0 mask is all zeros.
                let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
        // END BLANK
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
        // BEGIN BLANK: the value of the header called `name`, names compared as the handout's "Things to notice" say (look at str's methods)
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
        // END BLANK
    }
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
        /* BLANK: the request line's three parts; one that is not a request line gets the status the handout lists for it (http_error) */
        {
            let words: Vec<&str> = line.split(' ').collect();
            let [method, path, version] = words[..] else {
                return Err(http_error(400, format!("bad request line {line:.80?}")));
            };
            if version != "HTTP/1.1" && version != "HTTP/1.0" {
                return Err(http_error(505, format!("unsupported version {version:.20?}")));
            }
            (method.to_string(), path.to_string(), version.to_string())
        } /* END */;
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| http_error(0, "closed inside the headers"))?;
        if line.is_empty() {
            break;
        }
        // BEGIN BLANK: this header line into `headers`; a line that is not a header, or one header too many (MAX_HEADERS), gets the handout's status
        if headers.len() == MAX_HEADERS {
            return Err(http_error(400, format!("more than {MAX_HEADERS} headers")));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(http_error(
                400,
                format!("header without a colon {line:.80?}"),
            ));
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
        // END BLANK
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
        /* BLANK: how long the body is, or the status the handout lists for a length missing, unreadable or too large (MAX_BODY) */
        {
            let length = match request.header("Content-Length") {
                None if request.method == "POST" => {
                    return Err(http_error(411, "a POST without Content-Length"))
                }
                None => 0,
                Some(text) => text.parse().map_err(|_| {
                    http_error(400, format!("Content-Length {text:.20?} is not a number"))
                })?,
            };
            if length > MAX_BODY {
                return Err(http_error(413, format!("a body of {length} bytes")));
            }
            length
        } /* END */;
    if has_token(request.header("Expect"), "100-continue") {
        // The client waits for this before sending a large body (curl does, above 1 MiB).
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    request.body = vec![0; length];
    // BEGIN BLANK: fill request.body with the body's bytes (the handout's "Things to notice" say why one read() is not enough)
    reader.read_exact(&mut request.body)?;
    // END BLANK
    Ok(Some(request))
}

/// Whether the connection stays open after this request: HTTP/1.1 keeps it unless the client
/// sent `Connection: close`; HTTP/1.0 closes it unless the client sent `Connection: keep-alive`.
fn keep_alive(request: &Request) -> bool {
    let connection = request.header("Connection");
    // BEGIN BLANK: whether the connection stays open (the comment above; has_token reads a header's tokens)
    if request.version == "HTTP/1.0" {
        has_token(connection, "keep-alive")
    } else {
        !has_token(connection, "close")
    }
    // END BLANK
}

/// Compares two byte strings in constant time: it always looks at every byte, so how long the
/// comparison takes tells an attacker nothing about how many leading bytes were right. Both are
/// hashed first, so their lengths leak nothing either.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
    // BEGIN BLANK: whether the two digests are equal, in a time that does not depend on where they differ (the comment above)
    let mut difference = 0u8;
    for (a, b) in given.iter().zip(expected.iter()) {
        difference |= a ^ b;
    }
    difference == 0
    // END BLANK
}

/// Checks `Authorization: Basic base64(username:password)` (RFC 7617). `Err` says what is
/// wrong, for the log; the client only learns that it is refused.
fn check_auth(header: Option<&str>, config: &Config) -> Result<(), String> {
    // BEGIN BLANK: Ok when the header carries config.credentials as RFC 7617 encodes them (handout: "Things to notice"; base64's Engine, same_secret); Err(why) otherwise
    let header = header.ok_or("no Authorization header")?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or("the Authorization header is not `SCHEME TOKEN`")?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(format!("scheme {scheme:.20?} is not Basic"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|e| format!("the token is not base64 ({e})"))?;
    if !same_secret(&decoded, config.credentials.as_bytes()) {
        return Err("wrong username or password".into());
    }
    Ok(())
    // END BLANK
}

/// Answers one request: method and path, then authentication, then the call itself.
fn respond(request: &Request, config: &Config, peer: &str) -> Response {
    // BEGIN BLANK: refuse what is not an authorised call: the handout's statuses for a wrong method or path (PATHS) and for check_auth's refusal, each with the header the handout names
    if request.method != "POST" {
        log::warn!("{peer}: 405: method {:.20?}", request.method);
        let mut response = Response::error(405, "XML-RPC calls are POST requests");
        response.headers.push(("Allow", "POST".into()));
        return response;
    }
    if !PATHS.contains(&request.path.as_str()) {
        log::warn!("{peer}: 404: path {:.80?}", request.path);
        return Response::error(404, "XML-RPC is served at / and /RPC2");
    }
    if let Err(why) = check_auth(request.header("Authorization"), config) {
        log::warn!("{peer}: 401: {why}");
        let mut response = Response::error(401, "this server needs a username and a password");
        response.headers.push((
            "WWW-Authenticate",
            format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
        ));
        return response;
    }
    // END BLANK
    let result = match xml::parse_call(&request.body) {
        Ok(call) => dispatch(&call, true),
        Err(fault) => {
            log::warn!("{peer}: not an XML-RPC call: {}", fault.message);
            Err(fault)
        }
    };
    Response::xml(xml::response_xml(&result))
}

/// Runs one call. `top`: whether it came in a request, rather than inside a multicall.
fn dispatch(call: &Call, top: bool) -> Result<Value, Fault> {
    match call.method.as_str() {
        "echo" => echo(&call.params),
        "system.listMethods" if call.params.is_empty() => {
            /* BLANK: the names of METHODS, as an XML-RPC value (xml.rs's Value) */
            Ok(Value::Array(
                METHODS.iter().map(|m| Value::Str(m.to_string())).collect(),
            ))
            /* END */
        }
        "system.multicall" if top => multicall(&call.params),
        "system.listMethods" | "system.multicall" => Err(given::misused(&call.method)),
        other => {
            /* BLANK: a fault for a method this server does not have (xml.rs has the codes) */
            Err(Fault::new(
                xml::METHOD_NOT_FOUND,
                format!("no method {other:.80?}; try system.listMethods"),
            ))
            /* END */
        }
    }
}

/// `echo(string)`: the string upper-cased, as the course's Python server does.
fn echo(params: &[Value]) -> Result<Value, Fault> {
    let message = given::one_string("echo", params)?;
    // BEGIN BLANK: echo's answer (the handout says what it is), and the line the handout shows on stdout
    let reply = message.to_uppercase();
    println!("Client said: {message}. So we echo that in uppercase: {reply}");
    Ok(Value::Str(reply))
    // END BLANK
}

/// `system.multicall`: one array of `{methodName, params}` structs; answers an array holding,
/// for each call, `[result]` or its fault struct.
fn multicall(params: &[Value]) -> Result<Value, Fault> {
    let calls = given::calls_of_multicall(params)?;
    let results = calls.into_iter().map(|call| {
        let outcome = call.and_then(|call| dispatch(&call, false));
        /* BLANK: what goes in this call's place: a result or a fault, in the form the handout gives */
        match outcome {
            Ok(value) => Value::Array(vec![value]),
            Err(fault) => fault.to_value(),
        }
        /* END */
    });
    Ok(Value::Array(results.collect()))
}

/// Writes a response: status line, headers, an empty line, the body.
fn write_response(
    writer: &mut impl Write,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let head: String =
        /* BLANK: the response's head as the handout's "The protocol" shows one, up to its empty line: headers from `response` and `keep_alive` (reason() has the phrases) */
        {
            let mut head = format!(
                "HTTP/1.1 {} {}\r\n",
                response.status,
                reason(response.status)
            );
            for (name, value) in &response.headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Type: {}\r\n", response.content_type));
            head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
            let connection = if keep_alive { "keep-alive" } else { "close" };
            head.push_str(&format!("Connection: {connection}\r\n\r\n"));
            head
        } /* END */;
    // write_all, not write: one write() may take only part of what it is given.
    writer.write_all(head.as_bytes())?;
    writer.write_all(&response.body)?;
    writer.flush()
}

/// Serves one connection, request after request, until the client closes it, asks to close
/// it, or sends something that cannot be answered. Runs in the connection's own thread, so
/// nothing here may panic, and an error ends only this connection.
fn handle_connection(stream: TcpStream, config: &Config) -> io::Result<()> {
    let (peer_ip, peer) = (stream.peer_addr()?.ip(), stream.peer_addr()?.to_string());
    if !config.allow.is_empty() && !config.allow.iter().any(|net| net.contains(peer_ip)) {
        // Dropping the stream closes the connection: the client learns nothing else.
        log::warn!("{peer}: refused: not in any --allow network");
        return Ok(());
    }
    log::debug!("{peer}: connected");
    // BEGIN BLANK: a connection that sends nothing for config.idle must end (a client that sent half a request and vanished): which socket option does that?
    stream.set_read_timeout(Some(config.idle))?;
    // END BLANK
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

fn server(host: &str, port: u16, config: Config) -> io::Result<()> {
    let listener: TcpListener =
        /* BLANK: bind a TCP listener to (host, port) */ TcpListener::bind((host, port))? /* END */;
    // The seed's words, without its "..." so that the address is the line's last word.
    let addr = listener.local_addr()?;
    println!("Running a HTTP auth enabled XMLRPC server on {addr}");
    let config = Arc::new(config);
    // BEGIN BLANK: serve every connection that comes, each in its own thread (handle_connection, thread::Builder); each failure (accept's too) is logged, with the client's address once there is one, and ends only that connection
    loop {
        let (stream, client) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("accept failed: {e}");
                thread::sleep(std::time::Duration::from_millis(50)); // out of descriptors: no spinning
                continue;
            }
        };
        let config = Arc::clone(&config);
        // Builder::spawn reports a failure (too many threads) instead of panicking.
        let spawned = thread::Builder::new().spawn(move || {
            if let Err(e) = handle_connection(stream, &config) {
                log::warn!("{client}: connection ended: {e}");
            }
        });
        if let Err(e) = spawned {
            log::warn!("{client}: no thread for this connection: {e}");
        }
    }
    // END BLANK
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let (host, port, config) = given::command_line();
    match server(&host, port, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xmlrpc_server: {e}");
            ExitCode::FAILURE
        }
    }
}
