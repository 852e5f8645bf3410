//! HTTP on the test side: connecting to the student's server, building requests, and reading
//! what either program sends — a response from the server, a request from the client — with
//! the harness's reader ([`socklab::grader::http`]), shared with the http checks.

use super::xml::canon_response;
use super::{PASS, USER};
use base64::Engine;
use socklab::grader::http::{self, set_timeouts, Sender};
pub(super) use socklab::grader::http::{connect, Reply, Request};
use socklab::grader::Context;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

// ---------------------------------------------------------------------------------------------
// Connections and reading messages (the harness's reader, shared with the http checks).

/// Sends `raw` on a new connection and reads one response.
pub(super) fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<Reply, String> {
    let mut stream = connect(addr)?;
    stream.write_all(raw).context("sending the request")?;
    read_reply(&mut BufReader::new(stream))
}

/// Reads one response: status line, headers, and a body of Content-Length bytes.
pub(super) fn read_reply(reader: &mut impl BufRead) -> Result<Reply, String> {
    http::read_reply(reader, false)
}

/// Reads one request from the client: request line, headers, and a body of Content-Length
/// bytes, which it must have.
pub(super) fn read_request(stream: &TcpStream) -> Result<Request, String> {
    set_timeouts(stream)?;
    let request = http::read_request(&mut BufReader::new(stream), &Sender::client("the client"))?;
    match request.headers.get("Content-Length") {
        Some(_) => Ok(request),
        None => Err("the request has no Content-Length header".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Building requests.

/// The value of an `Authorization` header for `user:pass` in the Basic scheme.
pub(super) fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// A POST request with `Authorization: auth` (none when `None`) and the `extra` header lines.
pub(super) fn post(path: &str, auth: Option<&str>, body: &str, extra: &str) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: text/xml\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The body of a call of `method` with `params` (each the inside of a `<value>`).
pub(super) fn call_body(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param><value>{p}</value></param>"))
        .collect();
    format!("<?xml version=\"1.0\"?>\n<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>\n")
}

/// A typed string value.
pub(super) fn string(s: &str) -> String {
    format!("<string>{s}</string>")
}

// ---------------------------------------------------------------------------------------------
// Calls.

/// Expects a 200 XML response and gives its canonical form (see `xml.rs`).
pub(super) fn expect_xml(reply: &Reply, request: &str) -> Result<String, String> {
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
pub(super) fn call(addr: SocketAddr, method: &str, params: &[&str]) -> Result<String, String> {
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
