//! Checks for lab `xmlrpc`: the XML-RPC server with HTTP Basic auth and its client. The server
//! is driven over loopback with raw HTTP written here; the client talks to a reference server
//! written here, which records what it was sent.

use base64::Engine;
use quick_xml::events::Event;
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::{self, Flags, Packet};
use socklab::grader::{Check, Ctx, Lab, Program};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const SERVER: &str = "xmlrpc_server";
const CLIENT: &str = "xmlrpc_client";
const WAIT: Duration = Duration::from_secs(3);
/// The credentials the server is started with unless a check says otherwise.
const USER: &str = "user";
const PASS: &str = "pass";

pub fn lab() -> Lab {
    Lab::new(
        "xmlrpc",
        "XML-RPC server with HTTP Basic auth, and its client",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 HTTP", "prints its real address and accepts TCP connections", 1,
                "Bind a TcpListener, then print listener.local_addr(): with port 0 the OS picks the port.", server_prints_address),
            Check::new("1 HTTP", "answers a POST with 200, Content-Type and a matching Content-Length", 2,
                "Read the request line, the headers up to the empty line, then exactly Content-Length bytes; write status line, headers, empty line, body.", server_answers_post),
            Check::new("1 HTTP", "reads a body that arrives in several pieces", 1,
                "One read() may return part of the body: read_exact reads until all Content-Length bytes are there.", server_reads_body_in_pieces),
            Check::new("1 HTTP", "keeps an HTTP/1.1 connection open; closes on `Connection: close`", 1,
                "Loop over requests on one connection; stop after a response to `Connection: close` or to HTTP/1.0.", server_keeps_alive),
            Check::new("1 HTTP", "answers GET with 405 and `Allow: POST`", 1,
                "Only POST carries a call: anything else gets 405 Method Not Allowed.", server_refuses_get),
            Check::new("1 HTTP", "answers another path with 404, serves / and /RPC2", 1,
                "Compare the request's path with / and /RPC2.", server_refuses_other_paths),
            Check::new("1 HTTP", "answers a body over 1 MiB with 413 without reading it", 1,
                "Compare Content-Length with MAX_BODY before allocating or reading the body.", server_refuses_large_body),
            Check::new("1 HTTP", "survives half requests, stalled clients and garbage (400)", 2,
                "Each connection has its own thread; a bad request line or header is answered 400; a client that vanishes ends only its thread.", server_survives_bad_clients),
            Check::new("2 auth", "accepts the --username/--password credentials (scheme in any case)", 2,
                "Decode the base64 token after `Basic ` and compare it with `username:password`; the scheme name is case-insensitive.", auth_accepts),
            Check::new("2 auth", "refuses a request without Authorization: 401 with WWW-Authenticate", 1,
                "A 401 must say how to authenticate: WWW-Authenticate: Basic realm=\"…\".", auth_missing),
            Check::new("2 auth", "refuses a wrong user, a wrong password and a mere prefix: 401", 1,
                "Compare the whole decoded `user:password`, not a prefix, in constant time.", auth_wrong),
            Check::new("2 auth", "refuses other schemes (Bearer, Digest): 401", 1,
                "Only the Basic scheme is accepted.", auth_not_basic),
            Check::new("2 auth", "refuses malformed credentials (no token, not base64, no colon): 401", 1,
                "Every decoding error is a refusal, never an unwrap().", auth_malformed),
            Check::new("3 echo", "echo(\"hello server...\") returns \"HELLO SERVER...\"", 3,
                "Once HTTP and auth work, the given code decodes the call and answers it.", echo_round_trip),
            Check::new("3 echo", "echo handles untyped values, XML escapes and Unicode", 1,
                "The given XML code decodes `<value>text</value>` and &amp; escapes; send the response body as it is.", echo_escapes),
            Check::new("3 echo", "prints `Client said: …` for each echo", 1,
                "The given echo prints it; it shows up once calls reach it.", echo_prints),
            Check::new("4 faults", "an unknown method gives a fault with faultCode and faultString", 1,
                "A fault is still an HTTP 200 response: the HTTP exchange worked, the call did not.", fault_unknown_method),
            Check::new("4 faults", "wrong argument count or type gives a fault", 1,
                "echo takes exactly one string.", fault_bad_params),
            Check::new("4 faults", "malformed XML gives a fault, not a 500; the server keeps serving", 2,
                "A body that is not an XML-RPC call is answered with a fault, and the connection goes on.", fault_bad_xml),
            Check::new("5 multicall", "system.multicall runs several echos in one request", 2,
                "Each call's result comes back wrapped in a one-element array.", multicall_echos),
            Check::new("5 multicall", "a failing call in a multicall gives a fault struct in its place", 1,
                "One bad call must not spoil the others.", multicall_with_fault),
            Check::new("5 multicall", "system.listMethods lists the three methods", 1,
                "The given dispatch answers it once calls work.", list_methods),
            Check::new("6 client", "prints `Sending message to server: …` and `Got reply: …`", 3,
                "Connect, write the POST with its headers and body, read the status line, headers and Content-Length body.", client_echo),
            Check::new("6 client", "sends POST, Host, Basic credentials and Content-Length", 1,
                "Authorization: Basic base64(username:password); Content-Length is the body's length in bytes.", client_request_form),
            Check::new("6 client", "--message with XML special characters arrives intact", 1,
                "The given XML code escapes the text; Content-Length counts bytes, not characters.", client_message),
            Check::new("6 client", "reports a 401 and a fault, and exits non-zero", 1,
                "Read the status code from the status line; a fault is a 200 whose body holds <fault>.", client_errors),
            Check::new("7 allow", "--allow CIDR closes connections from outside those networks", 1,
                "Compare the first prefix bits of the client's address with the network's, using a mask.", allow_refuses_outsiders),
            Check::new("7 allow", "--allow CIDR serves clients inside them (any prefix length)", 1,
                "A /9 compares 9 bits: the whole first byte and the top bit of the second.", allow_admits_insiders),
    ])
    .questions(&QUESTIONS)
}

// ---- HTTP on the test side ----

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, WAIT)
        .map_err(|e| format!("could not connect to the server at {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(WAIT))
        .and_then(|()| stream.set_write_timeout(Some(WAIT)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// A response as the test reads it.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn head_line(reader: &mut impl BufRead, what: &str) -> Result<String, String> {
    let mut line = Vec::new();
    match reader.take(64 * 1024).read_until(b'\n', &mut line) {
        Ok(0) => Err(format!("the server closed the connection without {what}")),
        Ok(_) if line.last() != Some(&b'\n') => Err(format!(
            "the server stopped sending in the middle of {what}: {:?}",
            String::from_utf8_lossy(&line)
        )),
        Ok(_) => Ok(String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_string()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(format!(
            "timed out after {} waiting for {what} from the server",
            socklab::grader::secs(WAIT)
        )),
        Err(e) => Err(format!("reading {what} from the server failed: {e}")),
    }
}

/// Reads one response: status line, headers, and a body of Content-Length bytes.
fn read_reply(reader: &mut impl BufRead) -> Result<Reply, String> {
    let status_line = head_line(reader, "a status line")?;
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("`{status_line}` is not a status line like `HTTP/1.1 200 OK`"))?;
    let mut headers = Vec::new();
    loop {
        let line = head_line(reader, "the end of the response headers (an empty line)")?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("the response header `{line}` has no colon"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    let length = reply
        .header("Content-Length")
        .ok_or_else(|| format!("the `{status_line}` response has no Content-Length header"))?;
    let length: usize = length
        .parse()
        .map_err(|_| format!("Content-Length `{length}` is not a number"))?;
    if length > 16 * 1024 * 1024 {
        return Err(format!("Content-Length {length} is absurdly large"));
    }
    reply.body = vec![0; length];
    reader.read_exact(&mut reply.body).map_err(|e| {
        format!(
            "the response said Content-Length: {length} but fewer bytes came within {} ({e})",
            socklab::grader::secs(WAIT)
        )
    })?;
    Ok(reply)
}

/// Sends `raw` on a new connection and reads one response.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<Reply, String> {
    let mut stream = connect(addr)?;
    stream.write_all(raw).map_err(|e| format!("send: {e}"))?;
    read_reply(&mut BufReader::new(stream))
}

fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// A POST request with `Authorization: auth` (none when `None`).
fn post(path: &str, auth: Option<&str>, body: &str, extra: &str) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: text/xml\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn call_body(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param><value>{p}</value></param>"))
        .collect();
    format!("<?xml version=\"1.0\"?>\n<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>\n")
}

fn string(s: &str) -> String {
    format!("<string>{s}</string>")
}

/// Expects a 200 XML response and gives its canonical form (see `canon_response`).
fn expect_xml(reply: &Reply, request: &str) -> Result<String, String> {
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
fn call(addr: SocketAddr, method: &str, params: &[&str]) -> Result<String, String> {
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

fn expect_canon(got: &str, want: &str, what: &str) -> Result<(), String> {
    if got != want {
        return Err(format!("{what}: expected {want}, got {got}"));
    }
    Ok(())
}

/// Checks that a canonical response is a fault `{faultCode=int:N,faultString=string:…}`.
fn expect_fault(got: &str, what: &str) -> Result<(), String> {
    let Some(fault) = got.strip_prefix("fault {faultCode=int:") else {
        return Err(format!(
            "{what}: expected a <fault> holding faultCode and faultString, got {got}"
        ));
    };
    let ok = fault
        .split_once(",faultString=string:")
        .is_some_and(|(code, text)| code.parse::<i32>().is_ok() && text.len() > 1);
    if !ok {
        return Err(format!(
            "{what}: the fault should be {{faultCode: int, faultString: non-empty string}}, got {got}"
        ));
    }
    Ok(())
}

// ---- XML on the test side: documents to a canonical one-line form ----
//
// `string:HELLO`, `int:5`, `[a,b]` for arrays, `{name=value,…}` (sorted) for structs,
// `fault {…}` for a fault response.

struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

fn parse_xml(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("is not well-formed XML ({e}): {text:.200}"))?;
        let element = |name: &[u8]| Element {
            name: String::from_utf8_lossy(name).to_string(),
            children: Vec::new(),
            text: String::new(),
        };
        let closed = match event {
            Event::Start(tag) => {
                open.push(element(tag.local_name().as_ref().as_bytes()));
                None
            }
            Event::Empty(tag) => Some(element(tag.local_name().as_ref().as_bytes())),
            Event::End(_) => open.pop(),
            Event::Text(t) => {
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
                None
            }
            Event::CData(t) => {
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
                None
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("uses an unknown entity &{};", &*r))?
                        .to_string(),
                };
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&resolved);
                }
                None
            }
            Event::Eof => return Err(format!("ends before its root element closes: {text:.200}")),
            _ => None,
        };
        if let Some(done) = closed {
            match open.last_mut() {
                Some(parent) => parent.children.push(done),
                None => return Ok(done),
            }
        }
    }
}

impl Element {
    fn child(&self, name: &str) -> Result<&Element, String> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("<{}> has no <{name}>", self.name))
    }
}

fn canon_value(value: &Element) -> Result<String, String> {
    let Some(typed) = value.children.first() else {
        return Ok(format!("string:{}", value.text));
    };
    Ok(match typed.name.as_str() {
        "array" => {
            let items: Result<Vec<String>, String> = typed
                .child("data")?
                .children
                .iter()
                .map(canon_value)
                .collect();
            format!("[{}]", items?.join(","))
        }
        "struct" => {
            let mut members = Vec::new();
            for m in &typed.children {
                members.push(format!(
                    "{}={}",
                    m.child("name")?.text,
                    canon_value(m.child("value")?)?
                ));
            }
            members.sort();
            format!("{{{}}}", members.join(","))
        }
        "i4" => format!("int:{}", typed.text.trim()),
        "string" => format!("string:{}", typed.text),
        other => format!("{other}:{}", typed.text.trim()),
    })
}

fn canon_response(body: &[u8]) -> Result<String, String> {
    let root = parse_xml(body)?;
    if root.name != "methodResponse" {
        return Err(format!(
            "should be a <methodResponse>, is a <{}>",
            root.name
        ));
    }
    if let Ok(fault) = root.child("fault") {
        return Ok(format!("fault {}", canon_value(fault.child("value")?)?));
    }
    canon_value(root.child("params")?.child("param")?.child("value")?)
}

/// A call as the reference server sees it: the method name and canonical params.
fn canon_call(body: &[u8]) -> Result<(String, Vec<String>), String> {
    let root = parse_xml(body)?;
    if root.name != "methodCall" {
        return Err(format!("should be a <methodCall>, is a <{}>", root.name));
    }
    let method = root.child("methodName")?.text.trim().to_string();
    let mut params = Vec::new();
    if let Ok(list) = root.child("params") {
        for p in &list.children {
            params.push(canon_value(p.child("value")?)?);
        }
    }
    Ok((method, params))
}

// ---- the server ----

fn start_server(ctx: &Ctx, user: &str, pass: &str) -> Result<(Program, SocketAddr), String> {
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--username",
        user,
        "--password",
        pass,
    ];
    let server = ctx.spawn(SERVER, &args)?;
    let addr = server.address(WAIT)?;
    Ok((server, addr))
}

fn server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start_server(ctx, USER, PASS)
}

/// Fails if the server exited or panicked.
fn still_running(server: &Program) -> Result<(), String> {
    if let Some(panic) = server.panic_message() {
        return Err(format!("the server {panic}"));
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    Ok(())
}

fn server_prints_address(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    if addr.port() == 0 {
        return Err("the printed port is 0: print the address after binding (local_addr)".into());
    }
    connect(addr)?;
    Ok(())
}

fn server_answers_post(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let request = post(
        "/",
        Some(&basic(USER, PASS)),
        &call_body("echo", &[&string("ok")]),
        "",
    );
    let reply = exchange(addr, &request)?;
    let got = expect_xml(&reply, "POST / with echo(\"ok\")")?;
    let content_type = reply.header("Content-Type").unwrap_or("");
    if !content_type.contains("xml") {
        return Err(format!(
            "the response's Content-Type should be text/xml, was {content_type:?}"
        ));
    }
    expect_canon(&got, "string:OK", "echo(\"ok\")")
}

fn server_reads_body_in_pieces(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let request = post(
        "/",
        Some(&basic(USER, PASS)),
        &call_body("echo", &[&string("pieces")]),
        "",
    );
    let mut stream = connect(addr)?;
    let cut = [request.len() - 60, request.len() - 20];
    let pieces = [
        &request[..cut[0]],
        &request[cut[0]..cut[1]],
        &request[cut[1]..],
    ];
    for piece in pieces {
        stream.write_all(piece).map_err(|e| format!("send: {e}"))?;
        thread::sleep(Duration::from_millis(150));
    }
    let reply = read_reply(&mut BufReader::new(stream))?;
    let got = expect_xml(
        &reply,
        "a request whose body came in three pieces 150 ms apart",
    )?;
    expect_canon(&got, "string:PIECES", "echo(\"pieces\")")
}

fn server_keeps_alive(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    for word in ["one", "two", "three"] {
        let request = post(
            "/",
            Some(&basic(USER, PASS)),
            &call_body("echo", &[&string(word)]),
            "",
        );
        writer.write_all(&request).map_err(|e| {
            format!("sending request `{word}` on the same connection: {e} (the server closed it?)")
        })?;
        let reply = read_reply(&mut reader)
            .map_err(|e| format!("request `{word}` on the same HTTP/1.1 connection: {e}"))?;
        let got = expect_xml(
            &reply,
            &format!("echo(\"{word}\") on a kept-alive connection"),
        )?;
        expect_canon(&got, &format!("string:{}", word.to_uppercase()), "echo")?;
    }
    let last = post(
        "/",
        Some(&basic(USER, PASS)),
        &call_body("echo", &[&string("bye")]),
        "Connection: close\r\n",
    );
    writer.write_all(&last).map_err(|e| e.to_string())?;
    read_reply(&mut reader)?;
    let mut rest = [0u8; 16];
    match reader.read(&mut rest) {
        Ok(0) => {}
        Ok(_) => return Err("after the response to `Connection: close` the server sent more bytes".into()),
        Err(_) => {
            return Err(format!(
                "after answering a request with `Connection: close` the server should close the connection; it was still open after {}",
                socklab::grader::secs(WAIT)
            ))
        }
    }
    // HTTP/1.0 closes by default.
    let body = call_body("echo", &[&string("old")]);
    let request = format!(
        "POST / HTTP/1.0\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{body}",
        basic(USER, PASS),
        body.len()
    );
    let mut stream = connect(addr)?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)?;
    if !matches!(reader.read(&mut rest), Ok(0)) {
        return Err("an HTTP/1.0 request without `Connection: keep-alive` should be answered and the connection closed".into());
    }
    Ok(())
}

fn server_refuses_get(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic(USER, PASS)
    );
    let reply = exchange(addr, request.as_bytes())?;
    if reply.status != 405 {
        return Err(format!("GET / should get 405, got {}", reply.status));
    }
    let allow = reply.header("Allow").unwrap_or("");
    if !allow.contains("POST") {
        return Err(format!(
            "a 405 should say `Allow: POST`; Allow was {allow:?}"
        ));
    }
    Ok(())
}

fn server_refuses_other_paths(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let body = call_body("echo", &[&string("x")]);
    let reply = exchange(addr, &post("/admin", Some(&basic(USER, PASS)), &body, ""))?;
    if reply.status != 404 {
        return Err(format!("POST /admin should get 404, got {}", reply.status));
    }
    let reply = exchange(addr, &post("/RPC2", Some(&basic(USER, PASS)), &body, ""))?;
    let got = expect_xml(&reply, "POST /RPC2")?;
    expect_canon(&got, "string:X", "echo(\"x\") posted to /RPC2")
}

fn server_refuses_large_body(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 2000000\r\n\r\n<methodCall>",
        basic(USER, PASS)
    );
    let reply = exchange(addr, request.as_bytes())?;
    if reply.status != 413 {
        return Err(format!(
            "a request announcing a 2000000-byte body (over 1 MiB) should get 413 at once, got {}",
            reply.status
        ));
    }
    still_running(&server)?;
    let got = call(addr, "echo", &[&string("after")])?;
    expect_canon(&got, "string:AFTER", "echo after a 413")
}

fn server_survives_bad_clients(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    // Half a header block, and the client stays silent.
    let mut stalled = connect(addr)?;
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        .map_err(|e| e.to_string())?;
    // A body shorter than announced, then the client vanishes.
    {
        let mut gone = connect(addr)?;
        let head = format!(
            "POST / HTTP/1.1\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n<methodCall>",
            basic(USER, PASS)
        );
        gone.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    }
    // Half a request line, then the client vanishes.
    connect(addr)?
        .write_all(b"POS")
        .map_err(|e| e.to_string())?;
    for garbage in [
        &b"HELLO\r\n\r\n"[..],
        b"POST / HTTP/1.1 extra\r\n\r\n",
        b"POST / HTTP/1.1\r\nthis header has no colon\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
    ] {
        let reply = exchange(addr, garbage)?;
        if reply.status != 400 {
            return Err(format!(
                "{:?} should get 400 Bad Request, got {}",
                String::from_utf8_lossy(garbage),
                reply.status
            ));
        }
    }
    let got = call(addr, "echo", &[&string("still here")]).map_err(|e| {
        format!("while one client was stalled mid-request and others had left: {e}")
    })?;
    expect_canon(&got, "string:STILL HERE", "echo")?;
    drop(stalled);
    thread::sleep(Duration::from_millis(100));
    still_running(&server)
}

// ---- auth ----

const ALICE: &str = "alice";
const ALICE_PASS: &str = "open sesame:42";

fn alice_server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start_server(ctx, ALICE, ALICE_PASS)
}

/// Posts echo("x") with `auth` and returns the status.
fn status_with(addr: SocketAddr, auth: Option<&str>) -> Result<Reply, String> {
    exchange(
        addr,
        &post("/", auth, &call_body("echo", &[&string("x")]), ""),
    )
}

fn expect_401(addr: SocketAddr, auth: Option<&str>, what: &str) -> Result<(), String> {
    let reply = status_with(addr, auth)?;
    if reply.status != 401 {
        return Err(format!(
            "{what}: expected 401 Unauthorized, got {}",
            reply.status
        ));
    }
    let challenge = reply.header("WWW-Authenticate").unwrap_or("");
    if !challenge.to_ascii_lowercase().starts_with("basic") || !challenge.contains("realm=") {
        return Err(format!(
            "{what}: a 401 needs `WWW-Authenticate: Basic realm=\"…\"`; it was {challenge:?}"
        ));
    }
    Ok(())
}

fn auth_accepts(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = alice_server(ctx)?;
    let right = basic(ALICE, ALICE_PASS);
    let reply = status_with(addr, Some(&right))?;
    expect_xml(
        &reply,
        &format!("the server was started with --username {ALICE} --password '{ALICE_PASS}'; with those credentials"),
    )?;
    let lower = right.replacen("Basic", "basic", 1);
    let reply = status_with(addr, Some(&lower))?;
    expect_xml(
        &reply,
        "with the scheme written `basic` (scheme names are case-insensitive)",
    )?;
    Ok(())
}

fn auth_missing(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    expect_401(addr, None, "a POST without an Authorization header")?;
    still_running(&server)
}

fn auth_wrong(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = alice_server(ctx)?;
    for (user, pass, what) in [
        (ALICE, "open sesame:43", "a wrong password"),
        ("bob", ALICE_PASS, "a wrong username"),
        (
            USER,
            PASS,
            "the default user:pass (the server was given others)",
        ),
        (
            ALICE,
            "open sesame",
            "a password that is a prefix of the right one",
        ),
        (ALICE, "open sesame:42 ", "the right password plus a space"),
        ("", "", "an empty user and password"),
    ] {
        expect_401(addr, Some(&basic(user, pass)), what)?;
    }
    still_running(&server)
}

fn auth_not_basic(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
    for auth in [
        format!("Bearer {token}"),
        "Digest username=\"user\", realm=\"x\", nonce=\"1\", uri=\"/\", response=\"0\"".to_string(),
        token.clone(),
    ] {
        expect_401(addr, Some(&auth), &format!("Authorization: {auth}"))?;
    }
    still_running(&server)
}

fn auth_malformed(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let cases = [
        "Basic".to_string(),
        "Basic ".to_string(),
        "Basic !!!not base64!!!".to_string(),
        format!("Basic {}", b64(b"userpass")),
        format!("Basic {}", b64(b"\xff\xfe:\xfd")),
        format!("Basic {}", &b64(b"user:pass")[1..]),
    ];
    for auth in &cases {
        expect_401(addr, Some(auth), &format!("Authorization: {auth}"))?;
    }
    still_running(&server)?;
    let got = call(addr, "echo", &[&string("fine")])?;
    expect_canon(&got, "string:FINE", "echo after malformed credentials")
}

// ---- echo ----

fn echo_round_trip(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "echo", &[&string("hello server...")])?;
    expect_canon(&got, "string:HELLO SERVER...", "echo(\"hello server...\")")
}

fn echo_escapes(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "echo", &["a &lt;b&gt; &amp; \"c\" é ☺"])?;
    expect_canon(
        &got,
        "string:A <B> & \"C\" É ☺",
        "echo of the untyped value `a &lt;b&gt; &amp; \"c\" é ☺`",
    )
}

fn echo_prints(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    call(addr, "echo", &[&string("hi there")])?;
    let want = "Client said: hi there. So we echo that in uppercase: HI THERE";
    server.expect_line(&format!("the line `{want}`"), WAIT, |l| l.trim() == want)?;
    Ok(())
}

// ---- faults ----

fn fault_unknown_method(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "launch.rockets", &[&string("now")])?;
    expect_fault(&got, "calling launch.rockets, which does not exist")
}

fn fault_bad_params(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let cases: [(&[&str], &str); 4] = [
        (&[], "echo()"),
        (&["<int>5</int>"], "echo(5)"),
        (&[&string("a"), &string("b")], "echo(\"a\", \"b\")"),
        (
            &["<array><data><value>x</value></data></array>"],
            "echo([\"x\"])",
        ),
    ];
    for (params, what) in cases {
        let got = call(addr, "echo", params)?;
        expect_fault(&got, what)?;
    }
    Ok(())
}

fn fault_bad_xml(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let deep = "<value><array><data>".repeat(5000);
    let bodies = [
        "this is not XML".to_string(),
        "<methodCall><methodName>echo</methodName>".to_string(),
        "<methodCall><methodName>echo</wrong></methodCall>".to_string(),
        "<methodCall><params/></methodCall>".to_string(),
        "<methodCall><methodName>echo</methodName><params><param><value><int>twelve</int></value></param></params></methodCall>".to_string(),
        format!("<methodCall><methodName>echo</methodName><params><param>{deep}"),
    ];
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    for body in &bodies {
        let shown = format!("{body:.60}");
        writer
            .write_all(&post("/", Some(&basic(USER, PASS)), body, ""))
            .map_err(|e| format!("sending {shown:?}: {e}"))?;
        let reply =
            read_reply(&mut reader).map_err(|e| format!("after the body {shown:?}: {e}"))?;
        let got = expect_xml(&reply, &format!("the body {shown:?}"))?;
        expect_fault(&got, &format!("the body {shown:?}"))?;
    }
    still_running(&server)?;
    let got = call(addr, "echo", &[&string("ok")])?;
    expect_canon(&got, "string:OK", "echo after malformed calls")
}

// ---- multicall ----

fn multicall_entry(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<value>{p}</value>"))
        .collect();
    format!(
        "<value><struct><member><name>methodName</name><value><string>{method}</string></value></member>\
         <member><name>params</name><value><array><data>{params}</data></array></value></member></struct></value>"
    )
}

fn multicall(addr: SocketAddr, entries: &[String]) -> Result<String, String> {
    let list = format!("<array><data>{}</data></array>", entries.concat());
    call(addr, "system.multicall", &[&list])
}

fn multicall_echos(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = multicall(
        addr,
        &[
            multicall_entry("echo", &[&string("first")]),
            multicall_entry("echo", &["second"]),
        ],
    )?;
    expect_canon(
        &got,
        "[[string:FIRST],[string:SECOND]]",
        "system.multicall([echo(\"first\"), echo(\"second\")])",
    )
}

fn multicall_with_fault(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = multicall(
        addr,
        &[
            multicall_entry("echo", &[&string("a")]),
            multicall_entry("no.such.method", &[]),
            multicall_entry("echo", &[&string("b")]),
        ],
    )?;
    let what = "system.multicall([echo(\"a\"), no.such.method(), echo(\"b\")])";
    let (Some(rest), true) = (
        got.strip_prefix("[[string:A],{"),
        got.ends_with("},[string:B]]"),
    ) else {
        return Err(format!(
            "{what}: expected [[\"A\"], {{faultCode, faultString}}, [\"B\"]], got {got}"
        ));
    };
    expect_fault(
        &format!("fault {{{}", &rest[..rest.len() - "[string:B]]".len() - 1]),
        what,
    )
}

fn list_methods(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "system.listMethods", &[])?;
    for method in ["echo", "system.listMethods", "system.multicall"] {
        if !got.contains(&format!("string:{method}")) {
            return Err(format!(
                "system.listMethods() should list {method}; it answered {got}"
            ));
        }
    }
    Ok(())
}

// ---- the client, against a reference server ----

/// One request as the reference server read it.
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A reference XML-RPC server: reads each request (by its Content-Length), reports it, and
/// answers with what `answer` returns, written in two pieces.
struct RefServer {
    port: u16,
    seen: crossbeam_channel::Receiver<Result<Seen, String>>,
    stop: Arc<AtomicBool>,
}

impl RefServer {
    fn start(answer: fn(&Seen) -> Vec<u8>) -> Result<RefServer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("test server: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let (tx, seen) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let request = read_seen(&stream);
                if let Ok(seen) = &request {
                    let reply = answer(seen);
                    let mut writer = &stream;
                    let half = reply.len() / 2;
                    let _ = writer.write_all(&reply[..half]);
                    let _ = writer.flush();
                    thread::sleep(Duration::from_millis(100));
                    let _ = writer.write_all(&reply[half..]);
                }
                let _ = tx.send(request);
            }
        });
        Ok(RefServer { port, seen, stop })
    }

    /// The request the client sent.
    fn request(&self) -> Result<Seen, String> {
        self.seen
            .recv_timeout(WAIT)
            .map_err(|_| "the client sent no request to the server".to_string())?
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_seen(stream: &TcpStream) -> Result<Seen, String> {
    stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(WAIT)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let request_line = head_line(&mut reader, "a request line")
        .map_err(|e| e.replace("the server", "the client"))?;
    let mut headers = Vec::new();
    loop {
        let line = head_line(
            &mut reader,
            "the end of the request headers (an empty line)",
        )
        .map_err(|e| e.replace("the server", "the client"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("the request header `{line}` has no colon"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut seen = Seen {
        request_line,
        headers,
        body: Vec::new(),
    };
    let length: usize = seen
        .header("Content-Length")
        .ok_or("the request has no Content-Length header")?
        .parse()
        .map_err(|_| "the request's Content-Length is not a number")?;
    seen.body = vec![0; length.min(1 << 20)];
    reader
        .read_exact(&mut seen.body)
        .map_err(|_| format!("the request said Content-Length: {length} but fewer bytes came"))?;
    Ok(seen)
}

fn http_reply(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).to_string()
}

/// Answers echo(s) with s upper-cased; anything else with a fault.
fn echo_answer(seen: &Seen) -> Vec<u8> {
    match canon_call(&seen.body) {
        Ok((method, params)) if method == "echo" && params.len() == 1 => {
            let text = params[0].strip_prefix("string:").unwrap_or("");
            http_reply(
                "200 OK",
                &format!(
                    "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><string>{}</string></value></param></params></methodResponse>\n",
                    escape(&text.to_uppercase())
                ),
            )
        }
        _ => fault_answer(seen),
    }
}

fn fault_answer(_: &Seen) -> Vec<u8> {
    http_reply(
        "200 OK",
        "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>\
         <member><name>faultCode</name><value><int>42</int></value></member>\
         <member><name>faultString</name><value><string>the reference server says no</string></value></member>\
         </struct></value></fault></methodResponse>\n",
    )
}

fn refuse_answer(_: &Seen) -> Vec<u8> {
    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nUnauthorized\n".to_vec()
}

fn run_client(
    ctx: &Ctx,
    server: &RefServer,
    extra: &[&str],
) -> Result<(Vec<String>, bool), String> {
    let port = server.port.to_string();
    let mut args = vec!["--host", "127.0.0.1", "--port", &port];
    args.extend_from_slice(extra);
    let client = ctx.spawn(CLIENT, &args)?;
    let lines = client.rest(WAIT)?;
    let ok = client.wait(WAIT)?.success();
    if let Some(panic) = client.panic_message() {
        return Err(format!("the client {panic}"));
    }
    Ok((lines, ok))
}

fn client_echo(ctx: &Ctx) -> Result<(), String> {
    let server = RefServer::start(echo_answer)?;
    let (lines, ok) = run_client(ctx, &server, &[])?;
    server.request()?;
    let want = [
        "Sending message to server: hello server...",
        "Got reply: HELLO SERVER...",
    ];
    let trimmed: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    if trimmed != want || !ok {
        return Err(format!(
            "the client should print {want:?} and exit 0; it printed {lines:?}{}",
            if ok { "" } else { " and exited non-zero" }
        ));
    }
    Ok(())
}

fn client_request_form(ctx: &Ctx) -> Result<(), String> {
    let server = RefServer::start(echo_answer)?;
    let (user, pass) = ("bob", "pw with space:and colon");
    run_client(ctx, &server, &["--username", user, "--password", pass])?;
    let seen = server.request()?;
    let words: Vec<&str> = seen.request_line.split(' ').collect();
    if words.len() != 3
        || words[0] != "POST"
        || !["/", "/RPC2"].contains(&words[1])
        || !words[2].starts_with("HTTP/1.")
    {
        return Err(format!(
            "the request line should be `POST /RPC2 HTTP/1.1`, was {:?}",
            seen.request_line
        ));
    }
    if seen.header("Host").is_none() {
        return Err("an HTTP/1.1 request needs a Host header".into());
    }
    let want = basic(user, pass);
    let got = seen.header("Authorization").unwrap_or("(none)");
    if got != want {
        return Err(format!(
            "with --username {user} --password '{pass}' the Authorization header should be {want:?}, was {got:?}"
        ));
    }
    let (method, params) = canon_call(&seen.body).map_err(|e| format!("the request body {e}"))?;
    if method != "echo" || params != ["string:hello server..."] {
        return Err(format!(
            "the body should call echo(\"hello server...\"); it called {method}({params:?})"
        ));
    }
    Ok(())
}

fn client_message(ctx: &Ctx) -> Result<(), String> {
    let server = RefServer::start(echo_answer)?;
    let message = "<b> & \"q\" ü ☺";
    let (lines, ok) = run_client(ctx, &server, &["--message", message])?;
    let seen = server.request()?;
    let (_, params) = canon_call(&seen.body).map_err(|e| format!("the request body {e}"))?;
    if params != [format!("string:{message}")] {
        return Err(format!(
            "with --message '{message}' the server should receive that string; it received {params:?}"
        ));
    }
    let want = format!("Got reply: {}", message.to_uppercase());
    if !ok || !lines.iter().any(|l| l.trim() == want) {
        return Err(format!(
            "the client should print `{want}` and exit 0; it printed {lines:?}"
        ));
    }
    Ok(())
}

fn client_errors(ctx: &Ctx) -> Result<(), String> {
    let refusing = RefServer::start(refuse_answer)?;
    let (lines, ok) = run_client(ctx, &refusing, &[])?;
    refusing.request()?;
    if ok || lines.iter().any(|l| l.starts_with("Got reply")) {
        return Err(format!(
            "when the server answers 401 the client should say so and exit non-zero; it printed {lines:?}"
        ));
    }
    if !lines.iter().any(|l| l.contains("401")) {
        return Err(format!(
            "the client should print the 401 status; it printed {lines:?}"
        ));
    }
    let faulting = RefServer::start(fault_answer)?;
    let (lines, ok) = run_client(ctx, &faulting, &[])?;
    if ok
        || !lines
            .iter()
            .any(|l| l.contains("the reference server says no"))
    {
        return Err(format!(
            "when the server answers a fault the client should print its faultString and exit non-zero; it printed {lines:?}"
        ));
    }
    Ok(())
}

// ---- --allow ----

fn start_allowing(ctx: &Ctx, nets: &[&str]) -> Result<(Program, SocketAddr), String> {
    let mut args = vec![
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--username",
        USER,
        "--password",
        PASS,
    ];
    for net in nets {
        args.extend_from_slice(&["--allow", net]);
    }
    let server = ctx.spawn(SERVER, &args)?;
    let addr = server.address(WAIT)?;
    Ok((server, addr))
}

fn allow_refuses_outsiders(ctx: &Ctx) -> Result<(), String> {
    for nets in [
        &["10.0.0.0/8", "192.168.0.0/16"][..],
        &["127.128.0.0/9"],
        &["::1/128"],
    ] {
        let (server, addr) = start_allowing(ctx, nets)?;
        let what = format!(
            "with --allow {} a client at 127.0.0.1",
            nets.join(" --allow ")
        );
        let mut stream = connect(addr)?;
        // The write may already fail if the server closed at once: that is a refusal too.
        let _ = stream.write_all(&post(
            "/",
            Some(&basic(USER, PASS)),
            &call_body("echo", &[&string("x")]),
            "",
        ));
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(0) => {}
            Ok(_) => {
                return Err(format!(
                    "{what} should get no answer, but got {:?}",
                    String::from_utf8_lossy(&buf)
                ))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "{what} should have its connection closed at once; it stayed open for {}",
                    socklab::grader::secs(WAIT)
                ))
            }
            Err(_) => {} // reset: closed
        }
        still_running(&server)?;
    }
    Ok(())
}

fn allow_admits_insiders(ctx: &Ctx) -> Result<(), String> {
    for nets in [
        &["10.0.0.0/8", "127.0.0.0/30"][..],
        &["127.0.0.1"],
        &["127.0.0.0/9"],
        &["0.0.0.0/0"],
    ] {
        let (_server, addr) = start_allowing(ctx, nets)?;
        let what = format!(
            "with --allow {}, a client at 127.0.0.1",
            nets.join(" --allow ")
        );
        let got = call(addr, "echo", &[&string("inside")]).map_err(|e| format!("{what}: {e}"))?;
        expect_canon(&got, "string:INSIDE", &what)?;
    }
    Ok(())
}

// ---- Milestone 8: questions on a capture of the student's own programs (labs/xmlrpc/answers.txt)

/// The questions of `labs/xmlrpc/answers.txt`, in its order. The one fixed answer is stored
/// hashed: `cargo run --bin capture -- --lab xmlrpc --hash KEY=ANSWER` prints a hash.
static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "8 capture questions",
    salt: "socklab/xmlrpc/e6b5",
    captures: &[CaptureFile {
        name: "xmlrpc",
        holds: "your client's echo call to your server and the reply, from the SYN to the FINs \
                (TCP on loopback)",
        check: |packets| call_seen(packets).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "server_port",
            capture: "xmlrpc",
            title: "the server's TCP port, read from the capture",
            text: "Which TCP port did your server listen on?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.syn.dst.port()))),
            hint: "The destination port of the client's SYN (the packet with SYN set and ACK clear): \
                   the OS chose it when the server bound port 0.",
        },
        Question {
            key: "syn_seq",
            capture: "xmlrpc",
            title: "the raw sequence number of the client's SYN",
            text: "What is the raw sequence number of the client's SYN?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.syn.seq))),
            hint: "Wireshark shows relative sequence numbers (the SYN's is 0): expand Transmission \
                   Control Protocol and read `Sequence Number (raw)`.",
        },
        Question {
            key: "token",
            capture: "xmlrpc",
            title: "the Base64 token of the Authorization header",
            text: "What Base64 token follows `Authorization: Basic` in your client's request? \
                   (exactly as sent: Base64 is case-sensitive)",
            form: Form::Text { ignore_case: false },
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.token)),
            hint: "Right-click the request > Follow > TCP Stream shows the head as text; copy the \
                   word after `Basic `, exactly (Base64 is case-sensitive).",
        },
        Question {
            key: "password",
            capture: "xmlrpc",
            title: "the password the token decodes to",
            text: "What password does that token decode to? (the part after the colon; case counts)",
            form: Form::Text { ignore_case: false },
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.password)),
            hint: "`echo TOKEN | base64 -d` prints username:password (so does Wireshark's \
                   `Credentials` line once it decodes the port as HTTP); give the part after the colon.",
        },
        Question {
            key: "readable",
            capture: "xmlrpc",
            title: "whether Basic auth without TLS hides the password",
            text: "Can anyone who can capture this traffic read the password? (yes or no)",
            form: Form::Choice(&["yes", "no"]),
            answer: Answer::Fixed {
                hash: "ef9cd0c0290705ade8b12853854430a2499ce65c771d2b55b80701dc3e2facc6",
                near: &[(
                    "ca15d482f77658e4319a62398aaa2c7b5da7fb653020be021af052e246938086",
                    "you have just read it from the capture yourself: Base64 is an encoding that \
                     anyone can reverse, not encryption",
                )],
            },
            hint: "Base64 is an encoding, not encryption: no key is needed to reverse it. Basic auth \
                   sends the password with every request, so without TLS (HTTPS) everyone on the \
                   path can read it.",
        },
        Question {
            key: "status",
            capture: "xmlrpc",
            title: "the HTTP status code of the reply",
            text: "What HTTP status code did your server's reply carry?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(call_seen(p)?.status))),
            hint: "The first line of the server's response: `HTTP/1.1 CODE REASON`.",
        },
        Question {
            key: "first_fin",
            capture: "xmlrpc",
            title: "which side sent the first FIN",
            text: "Which side sent the first FIN, the client or the server? (client or server)",
            form: Form::Choice(&["client", "server"]),
            answer: Answer::CaptureText(|p| Ok(call_seen(p)?.first_fin.to_string())),
            hint: "Filter `tcp.flags.fin == 1` and compare the first FIN's source port with the \
                   server's. The client asked for `Connection: close`, so both sides close right \
                   after the response: the server once it has written it, the client once it has \
                   read it. Which is first can change from run to run; answer for your capture.",
        },
    ],
    scenario,
};

/// What the questions read from the capture: the connection that carries the client's first
/// POST, found by its handshake's flags.
struct CallSeen {
    /// The client's SYN.
    syn: Packet,
    /// The Base64 token after `Authorization: Basic`.
    token: String,
    /// The password it decodes to (after the first `:`).
    password: String,
    /// The status code of the server's first response.
    status: u16,
    /// "client" or "server".
    first_fin: &'static str,
}

fn call_seen(packets: &[Packet]) -> Result<CallSeen, String> {
    let post = packets
        .iter()
        .find(|p| p.is_tcp() && p.payload.starts_with(b"POST "))
        .ok_or("it holds no TCP segment that starts an HTTP POST request")?;
    let hs = capture::handshake(packets, |syn| syn.src == post.src && syn.dst == post.dst)
        .ok_or_else(|| {
            format!(
                "it holds no handshake (SYN, then SYN-ACK) of the connection from {} to {} that \
                 carries the POST: start the capture before the client",
                post.src, post.dst
            )
        })?;
    let request = stream(packets, &hs.syn);
    let head = head_lines(&request).ok_or("the client's request head is incomplete")?;
    let auth = head
        .iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("Authorization"))
        .map(|(_, value)| value.trim().to_string())
        .ok_or("the client's request has no Authorization header")?;
    let token = match auth.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Basic") => token.trim().to_string(),
        _ => {
            return Err(format!(
                "its Authorization header is not Basic: {auth:.60?}"
            ))
        }
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&token)
        .map_err(|_| format!("the Authorization token {token:.60?} is not Base64"))?;
    let decoded = String::from_utf8_lossy(&decoded).to_string();
    let password = decoded
        .split_once(':')
        .map(|(_, pass)| pass.to_string())
        .ok_or("the decoded Authorization token has no `:` between user and password")?;
    let response = stream(packets, &hs.syn_ack);
    let status_line = head_lines(&response)
        .and_then(|lines| lines.into_iter().next())
        .ok_or("it holds no complete response head from the server")?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("the server's response starts with {status_line:.60?}"))?;
    let fin = packets
        .iter()
        .filter(|p| p.number > hs.syn.number && p.same_flow(&hs.syn))
        .find(|p| p.flags.has(Flags::FIN))
        .ok_or("its connection has no FIN yet: stop the capture after the client has exited")?;
    Ok(CallSeen {
        first_fin: if fin.src == hs.syn.src {
            "client"
        } else {
            "server"
        },
        syn: hs.syn,
        token,
        password,
        status,
    })
}

/// The bytes sent in one direction of a connection, after `syn` (its SYN or SYN-ACK), put in
/// order by sequence number; a retransmitted segment counts once, and the bytes stop at the
/// first gap (a segment missing from the capture).
fn stream(packets: &[Packet], syn: &Packet) -> Vec<u8> {
    let start = syn.seq.wrapping_add(1);
    let mut segments: BTreeMap<u32, &[u8]> = BTreeMap::new();
    for p in packets
        .iter()
        .filter(|p| p.number > syn.number && p.is_tcp() && (p.src, p.dst) == (syn.src, syn.dst))
    {
        if !p.payload.is_empty() {
            segments
                .entry(p.seq.wrapping_sub(start))
                .or_insert(&p.payload);
        }
    }
    let mut bytes = Vec::new();
    for (offset, data) in segments {
        let offset = offset as usize;
        if offset > bytes.len() {
            break;
        }
        if offset + data.len() > bytes.len() {
            bytes.extend_from_slice(&data[bytes.len() - offset..]);
        }
    }
    bytes
}

/// The lines of an HTTP head (up to the empty line), or `None` if it is not complete.
fn head_lines(bytes: &[u8]) -> Option<Vec<String>> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(
        String::from_utf8_lossy(&bytes[..end])
            .split("\r\n")
            .map(str::to_string)
            .collect(),
    )
}

/// The solution server and client making one echo call on loopback, captured on the server's
/// port from before the client connects until after it has exited.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let server = rec.spawn(SERVER, &["--host", "127.0.0.1", "--port", "0"])?;
    let port = server.address(WAIT)?.port().to_string();
    rec.capture("xmlrpc", &format!("tcp port {port}"))?;
    let client = rec.spawn(CLIENT, &["--host", "127.0.0.1", "--port", &port])?;
    client.run_to_end(WAIT).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP segment from `src` to `dst` (loopback ports).
    fn segment(number: usize, src: u16, dst: u16, flags: u8, seq: u32, data: &[u8]) -> Packet {
        let (src, dst) = (([127, 0, 0, 1], src), ([127, 0, 0, 1], dst));
        Packet::tcp(number, src, dst, flags, (seq, 0), data)
    }

    #[test]
    fn the_call_is_read_from_segments_out_of_order_and_retransmitted() {
        let (c, s) = (40000, 8000);
        let (ack, syn, fin, psh) = (Flags::ACK, Flags::SYN, Flags::FIN, Flags::PSH);
        let head = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nauthorization: basic dXNlcjpwYXNz\r\n\r\n";
        let (first, rest) = head.split_at(20);
        let reply = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        // A segment wrapping past 2^32 on the client's side.
        let isn = u32::MAX - 5;
        let mut packets = vec![
            segment(1, c, s, syn, isn, b""),
            segment(2, s, c, syn | ack, 7, b""),
            segment(4, c, s, psh | ack, isn.wrapping_add(21), rest),
            segment(5, c, s, psh | ack, isn.wrapping_add(1), first),
            segment(6, c, s, psh | ack, isn.wrapping_add(1), first),
            segment(7, s, c, psh | ack, 8, reply),
            segment(
                8,
                c,
                s,
                fin | ack,
                isn.wrapping_add(1 + head.len() as u32),
                b"",
            ),
            segment(9, s, c, fin | ack, 8 + reply.len() as u32, b""),
        ];
        // The SYN-ACK must acknowledge the SYN.
        packets[1].ack = isn.wrapping_add(1);
        assert_eq!(stream(&packets, &packets[0]), head.to_vec());
        let seen = call_seen(&packets).unwrap();
        assert_eq!(seen.syn.seq, isn);
        assert_eq!(seen.syn.dst.port(), s);
        assert_eq!(seen.token, "dXNlcjpwYXNz");
        assert_eq!(seen.password, "pass");
        assert_eq!(seen.status, 401);
        assert_eq!(seen.first_fin, "client");

        // Without the FINs, or with a segment missing, the capture does not hold the call.
        let err = call_seen(&packets[..6]).err().unwrap();
        assert!(err.contains("no FIN"), "{err}");
        let gap: Vec<Packet> = packets.iter().filter(|p| p.number != 4).cloned().collect();
        let err = call_seen(&gap).err().unwrap();
        assert!(err.contains("incomplete"), "{err}");
        assert!(call_seen(&packets[2..])
            .err()
            .unwrap()
            .contains("no handshake"));
    }
}
