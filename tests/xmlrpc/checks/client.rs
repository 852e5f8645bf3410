//! Milestone 6: the student's client against a stand-in XML-RPC server written here, which
//! reads each request, answers it in two pieces 100 ms apart (so the client must read until the
//! whole body is there) and reports what it read. Across netlab's hosts (`grade --net`) the
//! client runs on webserver and the stand-in on client1.

use super::http::{basic, read_request, Request};
use super::xml::canon_call;
use super::CLIENT;
use socklab::grader::{Ctx, Program, StandIn, WAIT};
use std::io::Write;
use std::thread;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The stand-in server.

/// A stand-in server: it reports each request it read, or why it could not read one.
type XmlStandIn = StandIn<Result<Request, String>>;

/// A stand-in on a free loopback port (across hosts, on client1) that answers each request with
/// what `answer` returns.
fn stand_in(ctx: &Ctx, answer: fn(&Request) -> Vec<u8>) -> Result<XmlStandIn, String> {
    StandIn::tcp(
        (ctx.ip("client1", [127, 0, 0, 1]), 0),
        move |stream, _from, seen| {
            let request = read_request(&stream);
            if let Ok(request) = &request {
                let reply = answer(request);
                let mut writer = &stream;
                let half = reply.len() / 2;
                let _ = writer.write_all(&reply[..half]);
                let _ = writer.flush();
                thread::sleep(Duration::from_millis(100));
                let _ = writer.write_all(&reply[half..]);
            }
            let _ = seen.send(request);
        },
    )
}

/// A stand-in like [`stand_in`] that keeps each connection open after its reply, as a server
/// that keeps connections alive does, until the client closes it (or twice [`WAIT`]): a client
/// must end its reply at Content-Length, not at the close.
fn holding_stand_in(ctx: &Ctx, answer: fn(&Request) -> Vec<u8>) -> Result<XmlStandIn, String> {
    StandIn::tcp(
        (ctx.ip("client1", [127, 0, 0, 1]), 0),
        move |stream, _from, seen| {
            let request = read_request(&stream);
            if let Ok(request) = &request {
                let mut writer = &stream;
                let _ = writer.write_all(&answer(request));
                let _ = writer.flush();
            }
            let _ = seen.send(request);
            let _ = stream.set_read_timeout(Some(WAIT * 2));
            let mut rest = [0u8; 1024];
            while matches!(std::io::Read::read(&mut &stream, &mut rest), Ok(n) if n > 0) {}
        },
    )
}

/// The request the stand-in read from `client`.
fn request(server: &XmlStandIn, client: &Program) -> Result<Request, String> {
    server.next("request from the client", client)?
}

/// Runs the client against `server` with the `extra` options, to its end: the program (for
/// its panic), what it printed, and whether it exited 0.
fn run_client(
    ctx: &Ctx,
    server: &XmlStandIn,
    extra: &[&str],
) -> Result<(Program, Vec<String>, bool), String> {
    let (host, port) = (server.addr().ip().to_string(), server.port());
    let mut args = vec!["--host", host.as_str(), "--port", &port];
    args.extend_from_slice(extra);
    let client = ctx.spawn(CLIENT, &args)?;
    let (lines, status) = client.finish(WAIT)?;
    Ok((client, lines, status.success()))
}

/// A response with a Content-Length, closing the connection.
fn http_reply(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `text` with XML's special characters escaped.
fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).to_string()
}

/// Answers echo(s) with s upper-cased; anything else with a fault.
fn echo_answer(request: &Request) -> Vec<u8> {
    match canon_call(&request.body) {
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
        _ => fault_answer(request),
    }
}

/// A fault, whatever the call.
fn fault_answer(_: &Request) -> Vec<u8> {
    http_reply(
        "200 OK",
        "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>\
         <member><name>faultCode</name><value><int>42</int></value></member>\
         <member><name>faultString</name><value><string>the reference server says no</string></value></member>\
         </struct></value></fault></methodResponse>\n",
    )
}

/// The echo reply announcing 40 bytes more than it sends, then the close: a reply cut short.
fn cut_answer(request: &Request) -> Vec<u8> {
    let whole = String::from_utf8_lossy(&echo_answer(request)).to_string();
    let (head, body) = whole.split_once("\r\n\r\n").unwrap_or((&whole, ""));
    let head = head.replace(
        &format!("Content-Length: {}", body.len()),
        &format!("Content-Length: {}", body.len() + 40),
    );
    format!("{head}\r\n\r\n{body}").into_bytes()
}

/// The echo reply with its header names in lower case, as some servers write them.
fn lower_case_answer(request: &Request) -> Vec<u8> {
    let whole = String::from_utf8_lossy(&echo_answer(request)).to_string();
    let (head, body) = whole.split_once("\r\n\r\n").unwrap_or((&whole, ""));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("").to_string();
    let headers: Vec<String> = lines
        .map(|l| match l.split_once(':') {
            Some((name, value)) => format!("{}:{value}", name.to_lowercase()),
            None => l.to_string(),
        })
        .collect();
    let headers = headers
        .join("\r\n")
        .replace("connection: close", "connection: keep-alive");
    format!("{status}\r\n{headers}\r\n\r\n{body}").into_bytes()
}

/// 401 Unauthorized, whatever the call.
fn refuse_answer(_: &Request) -> Vec<u8> {
    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nUnauthorized\n".to_vec()
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// The seed's run: echo("hello server...") and its reply printed, exit 0.
pub(super) fn echo(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, echo_answer)?;
    let (client, lines, ok) = run_client(ctx, &server, &[])?;
    request(&server, &client)?;
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

/// The request line, Host, the Basic credentials of --username/--password, and the body.
pub(super) fn request_form(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, echo_answer)?;
    let (user, pass) = ("bob", "pw with space:and colon");
    let (client, _, _) = run_client(ctx, &server, &["--username", user, "--password", pass])?;
    let seen = request(&server, &client)?;
    let words: Vec<&str> = seen.line.split(' ').collect();
    if words.len() != 3
        || words[0] != "POST"
        || !["/", "/RPC2"].contains(&words[1])
        || !words[2].starts_with("HTTP/1.")
    {
        return Err(format!(
            "the request line should be `POST /RPC2 HTTP/1.1`, was {:?}",
            seen.line
        ));
    }
    let host = format!("{}:{}", server.addr().ip(), server.port());
    match seen.headers.get("Host") {
        None => return Err("an HTTP/1.1 request needs a Host header".into()),
        Some(got) if got != host => {
            return Err(format!(
                "the Host header should name the server as host:port, {host}; it was {got:?}"
            ))
        }
        Some(_) => {}
    }
    let content_type = seen.headers.get("Content-Type").unwrap_or("(none)");
    if !content_type.starts_with("text/xml") {
        return Err(format!(
            "an XML-RPC request's Content-Type is text/xml; it was {content_type:?}"
        ));
    }
    let want = basic(user, pass);
    let got = seen.headers.get("Authorization").unwrap_or("(none)");
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

/// --message with XML's special characters and non-ASCII letters arrives intact.
pub(super) fn message(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, echo_answer)?;
    let message = "<b> & \"q\" ü ☺";
    let (client, lines, ok) = run_client(ctx, &server, &["--message", message])?;
    let seen = request(&server, &client)?;
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

/// A 401 and a fault are reported, with a non-zero exit.
pub(super) fn errors(ctx: &Ctx) -> Result<(), String> {
    let refusing = stand_in(ctx, refuse_answer)?;
    let (client, lines, ok) = run_client(ctx, &refusing, &[])?;
    request(&refusing, &client)?;
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
    let faulting = stand_in(ctx, fault_answer)?;
    let (_client, lines, ok) = run_client(ctx, &faulting, &[])?;
    if ok
        || !lines
            .iter()
            .any(|l| l.contains("the reference server says no"))
    {
        return Err(format!(
            "when the server answers a fault the client should print its faultString and exit non-zero; it printed {lines:?}"
        ));
    }
    let cutting = stand_in(ctx, cut_answer)?;
    let (_client, lines, ok) = run_client(ctx, &cutting, &[])?;
    if ok || lines.iter().any(|l| l.starts_with("Got reply")) {
        return Err(format!(
            "when the reply is 40 bytes shorter than its Content-Length (the server closed too \
             early), the client should report an error and exit non-zero; it printed {lines:?}"
        ));
    }
    Ok(())
}

/// A reply whose header names are in lower case (`content-length: 135`) is read as well.
pub(super) fn lower_case_headers(ctx: &Ctx) -> Result<(), String> {
    let server = holding_stand_in(ctx, lower_case_answer)?;
    let (client, lines, ok) = run_client(ctx, &server, &[]).map_err(|e| {
        format!(
            "the server's reply said `content-length: …` and `connection: keep-alive` (header \
             names are case-insensitive) and kept the connection open: {e}"
        )
    })?;
    request(&server, &client)?;
    let want = "Got reply: HELLO SERVER...";
    if !ok || !lines.iter().any(|l| l.trim() == want) {
        return Err(format!(
            "the server's reply said `content-length: …` (header names are case-insensitive); \
             the client should print `{want}` and exit 0; it printed {}",
            socklab::grader::shown(&lines)
        ));
    }
    Ok(())
}
