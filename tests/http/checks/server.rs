//! Milestones 1-5: the student's webapp, driven with raw requests over loopback: its routes and
//! status codes, keep-alive, bad requests, and HTTPS with its printed certificate.

use super::wire::{keep_request, read_reply, Conn, Reply};
use super::{expect_status, get, running_on, start, WEBAPP};
use socklab::grader::{data_segments_in, Context, Ctx, Program, WAIT};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// Fails if the server has exited or one of its threads panicked after `what`.
fn alive(server: &Program, what: &str) -> Result<(), String> {
    if server.is_running() && server.panic_message().is_none() {
        return Ok(());
    }
    Err(server.explain(format!("the webapp should still be running after {what}")))
}

/// Fails unless the connection is closed by the server within WAIT, after `what`.
fn expect_close(conn: &mut Conn, server: &Program, what: &str) -> Result<(), String> {
    if conn.closes(WAIT).map_err(|e| server.explain(e))? {
        return Ok(());
    }
    Err(format!(
        "after {what} the server should close the connection; it was still open after {} s",
        WAIT.as_secs()
    ))
}

/// Sends `raw` on a connection that should still be open, and reads its response: the answer
/// itself shows that the connection stayed open (nothing is waited for that should not come).
/// `closed` says what a close here means, for the failure.
fn ask_again(
    conn: &mut Conn,
    server: &Program,
    raw: &[u8],
    what: &str,
    closed: &str,
) -> Result<Reply, String> {
    conn.send(raw)
        .and_then(|()| conn.reply(what, false))
        .map_err(|e| server.explain(format!("{closed}; {e}")))
}

/// Whether a response says `Connection: close`.
fn says_close(reply: &Reply) -> bool {
    reply
        .headers
        .get("Connection")
        .is_some_and(|v| v.to_ascii_lowercase().contains("close"))
}

/// Sends `raw` on a new connection and reads the response.
fn exchange(server: &Program, addr: SocketAddr, raw: &[u8], what: &str) -> Result<Reply, String> {
    let mut conn = Conn::tcp(addr)?;
    conn.send(raw)
        .and_then(|()| conn.reply(what, false))
        .map_err(|e| server.explain(e))
}

// ---------------------------------------------------------------------------------------------
// Milestone 1.

pub(super) fn hello(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let reply = get(&server, addr, "/")?;
    expect_status(&reply, 200, "GET /")?;
    if reply.text() != "Hello World" {
        return Err(format!(
            "GET / should answer `Hello World`; the body was {:?}",
            reply.text()
        ));
    }
    if reply.media_type() != "text/plain" {
        return Err(format!(
            "GET / is plain text: Content-Type should be text/plain, was {:?}",
            reply.headers.show("Content-Type")
        ));
    }
    Ok(())
}

pub(super) fn pieces(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let mut conn = Conn::tcp(addr)?;
    let request = b"GET /index/Ada HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pieces\r\n\r\n";
    for piece in [
        &request[..7],
        &request[7..30],
        &request[30..50],
        &request[50..],
    ] {
        conn.send(piece)?;
        thread::sleep(Duration::from_millis(120));
    }
    let reply = conn
        .reply("a request sent in four pieces 120 ms apart", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET /index/Ada sent in pieces")?;
    if !reply.text().contains("Ada") {
        return Err(format!(
            "GET /index/Ada sent in four pieces: the page should greet Ada; it was {:?}",
            reply.text()
        ));
    }
    // Two requests in one write: both answered, in order.
    let mut two = keep_request("GET", "/");
    two.extend(keep_request("GET", "/index/Bea"));
    conn.send(&two)?;
    let first = conn
        .reply("the first of two requests sent in one write", false)
        .map_err(|e| server.explain(e))?;
    let second = conn
        .reply("the second of two requests sent in one write", false)
        .map_err(|e| server.explain(e))?;
    if first.text() != "Hello World" || !second.text().contains("Bea") {
        return Err(format!(
            "two requests in one write (GET / then GET /index/Bea) should get two answers in \
             order; they were {:.80?} and {:.80?}",
            first.text(),
            second.text()
        ));
    }
    Ok(())
}

pub(super) fn several(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    // A client that sends half a request and waits.
    let mut slow = Conn::tcp(addr)?;
    slow.send(b"GET / HTTP/1.1\r\nHost: 127.")?;
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let reply = get(&server, addr, "/").map_err(|e| {
        format!("while another client has sent half a request, a second one gets no answer: {e}")
    })?;
    expect_status(&reply, 200, "GET / from a second client")?;
    if started.elapsed() > Duration::from_secs(2) {
        return Err("the second client waited for the first one's request".into());
    }
    slow.send(b"0.0.1\r\n\r\n")?;
    let reply = slow
        .reply("the first client's request, completed", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET / completed after a pause")
}

// ---------------------------------------------------------------------------------------------
// Milestone 2.

pub(super) fn index(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let reply = get(&server, addr, "/index")?;
    expect_status(&reply, 200, "GET /index")?;
    if reply.media_type() != "text/html" || !reply.text().to_ascii_lowercase().contains("<html") {
        return Err(format!(
            "GET /index should be an HTML page with Content-Type text/html; it was {:?} with {:.80?}",
            reply.headers.show("Content-Type"),
            reply.text()
        ));
    }
    for (target, name) in [
        ("/index/Ada", "Ada"),
        ("/index/Ada%20Lovelace", "Ada Lovelace"),
        ("/index/J%C3%BCrgen", "Jürgen"),
        ("/index/%e5%b0%8f%e6%98%8e", "小明"),
        ("/index/a+b", "a+b"),
    ] {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 200, &format!("GET {target}"))?;
        if !reply.text().contains(name) || reply.media_type() != "text/html" {
            return Err(format!(
                "GET {target} should be an HTML page greeting {name:?} (%XX escapes decoded; a + \
                 in a path is a plus); it was {:?} with {:.300?}",
                reply.headers.show("Content-Type"),
                reply.text()
            ));
        }
    }
    for target in ["/index/%zz", "/index/%4", "/index/%ff"] {
        let reply = get(&server, addr, target)?;
        expect_status(
            &reply,
            400,
            &format!("GET {target} (not a %XX escape, or not UTF-8 once decoded)"),
        )?;
    }
    alive(&server, "undecodable names")
}

pub(super) fn escaping(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for (target, raw, escaped) in [
        (
            "/index/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "<script>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        ),
        ("/index/Tom%20%26%20Jerry", "Tom & Jerry", "Tom &amp; Jerry"),
        (
            "/index/%22%3E%3Cimg%20src%3Dx%3E",
            "<img",
            "\"&gt;&lt;img src=x&gt;",
        ),
        ("/index/O'Brien%26lt%3B", "Brien&lt;", "O'Brien&amp;lt;"),
    ] {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 200, &format!("GET {target}"))?;
        let text = reply.text();
        // Quotes may be escaped or not: in the text of an element they mean nothing.
        let mut plain = text.clone();
        for (entity, quote) in [("&#39;", "'"), ("&#x27;", "'"), ("&apos;", "'")] {
            plain = plain.replace(entity, quote);
        }
        for entity in ["&quot;", "&#34;", "&#x22;"] {
            plain = plain.replace(entity, "\"");
        }
        if text.contains(raw) || !plain.contains(escaped) {
            return Err(format!(
                "GET {target}: the page should show the name escaped as {escaped:?}, so the \
                 browser displays it instead of running it; the body was {text:.400?}"
            ));
        }
    }
    Ok(())
}

pub(super) fn data(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let json = |target: &str| -> Result<(), String> {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 200, &format!("GET {target}"))?;
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&reply.body);
        if reply.media_type() != "application/json" || parsed.is_err() {
            return Err(format!(
                "GET {target} should be JSON with Content-Type application/json; it was {:?} \
                 with {:.200?}",
                reply.headers.show("Content-Type"),
                reply.text()
            ));
        }
        Ok(())
    };
    json("/data?format=json")?;
    json("/data")?;
    json("/data?x=1&format=%6Ason")?;
    for (target, media, marker) in [
        ("/data?format=csv", "text/csv", "service,port,transport"),
        ("/data?format=cs%76&y", "text/csv", "service,port,transport"),
        ("/data?format=html", "text/html", "<table"),
        ("/data?lang=en&format=h%74ml", "text/html", "<table"),
    ] {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 200, &format!("GET {target}"))?;
        if reply.media_type() != media || !reply.text().contains(marker) {
            return Err(format!(
                "GET {target} should answer {media} holding {marker:?}; it was {:?} with {:.200?}",
                reply.headers.show("Content-Type"),
                reply.text()
            ));
        }
    }
    Ok(())
}

pub(super) fn bad_format(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for target in [
        "/data?format=xml",
        "/data?format=",
        "/data?format=%zz",
        "/data?format=csv+",
    ] {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 400, &format!("GET {target}"))?;
        if reply.text().trim().len() < 10 {
            return Err(format!(
                "GET {target}: a 400 should say what is wrong in its body; it was {:?}",
                reply.text()
            ));
        }
    }
    alive(&server, "unknown formats")
}

pub(super) fn home(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let reply = get(&server, addr, "/home")?;
    expect_status(&reply, 301, "GET /home")?;
    match reply.headers.get("Location") {
        Some("/index") | Some("http://127.0.0.1/index") => Ok(()),
        Some(other) if other.ends_with(&format!("{addr}/index")) => Ok(()),
        _ => Err(format!(
            "GET /home: the 301 should carry `Location: /index`; it had {:?}",
            reply.headers.show("Location")
        )),
    }
}

pub(super) fn not_found_and_method(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for target in ["/nowhere", "/index/a/b", "/homepage", "/data/x"] {
        let reply = get(&server, addr, target)?;
        expect_status(&reply, 404, &format!("GET {target}"))?;
    }
    let reply = exchange(
        &server,
        addr,
        b"POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
        "POST /nowhere",
    )?;
    expect_status(
        &reply,
        404,
        "POST /nowhere (no such path, whatever the method)",
    )?;
    for (method, target) in [("POST", "/"), ("DELETE", "/index/Ada"), ("PUT", "/data")] {
        let raw =
            format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi");
        let what = format!("{method} {target}");
        let reply = exchange(&server, addr, raw.as_bytes(), &what)?;
        expect_status(&reply, 405, &what)?;
        let allow = reply.headers.get("Allow").unwrap_or("");
        if !(allow.contains("GET") && allow.contains("HEAD")) {
            return Err(format!(
                "{what}: a 405 must list the methods the path answers in an Allow header \
                 (GET and HEAD); it had {:?}",
                reply.headers.show("Allow")
            ));
        }
    }
    alive(&server, "404s and 405s")
}

pub(super) fn head(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let full = get(&server, addr, "/index")?;
    let mut conn = Conn::tcp(addr)?;
    for (target, status) in [("/index", 200), ("/nowhere", 404)] {
        conn.send(&keep_request("HEAD", target))?;
        let what = format!("HEAD {target}");
        let reply = conn.reply(&what, true).map_err(|e| server.explain(e))?;
        expect_status(&reply, status, &what)?;
        if status == 200
            && reply.headers.get("Content-Length") != Some(&full.body.len().to_string())
        {
            return Err(format!(
                "HEAD /index should carry the Content-Length GET /index has ({}); it had {:?}",
                full.body.len(),
                reply.headers.show("Content-Length")
            ));
        }
    }
    // If a body followed a HEAD response, it would be read here in place of the next status line.
    conn.send(&keep_request("GET", "/"))?;
    let reply = conn
        .reply(
            "GET / after two HEAD requests on the same connection (a HEAD response has no body)",
            false,
        )
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET / after two HEADs")?;
    if reply.text() != "Hello World" {
        return Err(format!("GET / after two HEADs answered {:?}", reply.text()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 3.

pub(super) fn keep_alive(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let mut conn = Conn::tcp(addr)?;
    // Each request after the first shows, by being answered, that the connection stayed open.
    let kept_open = |before: &str| {
        format!(
            "after {before} the connection should stay open for the next request (HTTP/1.1 \
             keeps it open unless the client sends `Connection: close`), and the next request \
             on it be answered"
        )
    };
    let mut before: Option<String> = None;
    for target in ["/", "/index/Kim"] {
        let what = format!("GET {target} on a kept-alive connection");
        let reply = match &before {
            None => {
                conn.send(&keep_request("GET", target))?;
                conn.reply(&what, false).map_err(|e| server.explain(e))?
            }
            Some(before) => ask_again(
                &mut conn,
                &server,
                &keep_request("GET", target),
                &what,
                &kept_open(before),
            )?,
        };
        expect_status(&reply, 200, &what)?;
        if says_close(&reply) {
            return Err(format!(
                "{what}: the response says `Connection: close` but the connection stays open"
            ));
        }
        before = Some(what);
    }
    let reply = ask_again(
        &mut conn,
        &server,
        b"GET /index HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "a third request, with `Connection: close`",
        &kept_open(before.as_deref().unwrap_or("a request")),
    )?;
    expect_status(&reply, 200, "GET /index with Connection: close")?;
    if !says_close(&reply) {
        return Err(format!(
            "the response to a request with `Connection: close` should say `Connection: close` \
             too (the server closes after it); it said {:?}",
            reply.headers.show("Connection")
        ));
    }
    expect_close(&mut conn, &server, "a request with `Connection: close`")?;

    let mut old = Conn::tcp(addr)?;
    old.send(b"GET / HTTP/1.0\r\n\r\n")?;
    let reply = old
        .reply("an HTTP/1.0 request", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET / HTTP/1.0")?;
    expect_close(
        &mut old,
        &server,
        "an HTTP/1.0 request without `Connection: keep-alive`",
    )?;

    let mut kept = Conn::tcp(addr)?;
    kept.send(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?;
    let reply = kept
        .reply("an HTTP/1.0 request with `Connection: Keep-Alive`", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET / HTTP/1.0 with Connection: Keep-Alive")?;
    let reply = ask_again(
        &mut kept,
        &server,
        b"GET /index HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        "a second HTTP/1.0 request with `Connection: Keep-Alive` on the same connection",
        "an HTTP/1.0 client that sends `Connection: Keep-Alive` asks to keep the connection \
         open for its next request, which should be answered",
    )?;
    expect_status(&reply, 200, "a second GET /index HTTP/1.0 with Keep-Alive")
}

pub(super) fn small_body(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let mut conn = Conn::tcp(addr)?;
    // The body in two pieces: the first with the head, the rest a moment later.
    conn.send(b"GET /index/Lee HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 25\r\n\r\nGET /now")?;
    thread::sleep(Duration::from_millis(150));
    conn.send(b"here HTTP/1.1\r\n\r\n")?;
    let reply = conn
        .reply(
            "GET /index/Lee with a 25-byte body sent in two pieces",
            false,
        )
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 200, "GET /index/Lee with a body")?;
    conn.send(&keep_request("GET", "/"))?;
    let reply = conn
        .reply("GET / after a request with a 25-byte body", false)
        .map_err(|e| server.explain(e))?;
    if reply.status != 200 || reply.text() != "Hello World" {
        return Err(format!(
            "after a request with `Content-Length: 25` and 25 body bytes in two pieces (which \
             look like a request), the next request on the connection is GET /; it was answered {} {:.80?}: \
             was the body taken for a request?",
            reply.status,
            reply.text()
        ));
    }
    // A body cut short by the client's close is no request: nothing is answered.
    let mut cut = Conn::tcp(addr)?;
    cut.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabcd")?;
    cut.finish_sending()?;
    let what = "a request announcing a 10-byte body whose client closed after 4 bytes";
    match cut.closes(WAIT) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{what}: the server should close the connection; it was still open after {} s",
            WAIT.as_secs()
        )),
        Err(sent) => Err(format!(
            "{what} is not a complete request and must not be answered: {sent}"
        )),
    }
}

pub(super) fn idle(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &["--idle", "1"])?;
    let mut quiet = Conn::tcp(addr)?;
    let mut used = Conn::tcp(addr)?;
    used.send(&keep_request("GET", "/"))?;
    used.reply("GET /", false).map_err(|e| server.explain(e))?;
    let started = Instant::now();
    for (conn, what) in [
        (&mut quiet, "a connection that sent nothing"),
        (&mut used, "a kept-alive connection after one request"),
    ] {
        if !conn.closes(Duration::from_millis(2500))? {
            return Err(format!(
                "with --idle 1, {what} should be closed after about a second; it was open \
                 after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
    }
    if started.elapsed() < Duration::from_millis(700) {
        return Err("with --idle 1 connections were closed at once, not after a second".into());
    }
    let reply = get(&server, addr, "/")?;
    expect_status(&reply, 200, "GET / after idle connections were closed")
}

// ---------------------------------------------------------------------------------------------
// Milestone 4.

pub(super) fn malformed(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for (raw, what) in [
        (&b"GET /\r\n\r\n"[..], "a request line of two words"),
        (
            b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "a request line of four words",
        ),
        (
            b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            "two spaces in the request line",
        ),
        (
            b"G(E)T / HTTP/1.1\r\nHost: x\r\n\r\n",
            "a method that is not a token",
        ),
        (
            b"GET index HTTP/1.1\r\nHost: x\r\n\r\n",
            "a target without a leading /",
        ),
        (b"hello\r\n\r\n", "a line that is no request"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            "a header line without a colon",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUser Agent : y\r\n\r\n",
            "a header name with spaces",
        ),
        (
            b"GET / HTTP/1.1\r\nUser-Agent: test\r\n\r\n",
            "an HTTP/1.1 request without Host",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
            "Content-Length: ten",
        ),
        (
            b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
            "a request line that is not UTF-8",
        ),
    ] {
        let reply = exchange(&server, addr, raw, what)?;
        expect_status(
            &reply,
            400,
            &format!("{what} ({:?})", String::from_utf8_lossy(raw)),
        )?;
    }
    // The connection ends after the 400: where a next request would start is unknown.
    let mut conn = Conn::tcp(addr)?;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")?;
    let reply = conn
        .reply("a header line without a colon", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 400, "a header line without a colon")?;
    expect_close(&mut conn, &server, "a 400 for a malformed request")?;
    alive(&server, "malformed requests")?;
    let reply = get(&server, addr, "/")?;
    expect_status(&reply, 200, "GET / after malformed requests")
}

pub(super) fn bad_version(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/3", "HTTPS/1.1", "banana"] {
        let raw = format!("GET / {version}\r\nHost: x\r\n\r\n");
        let what = format!("GET / {version}");
        let reply = exchange(&server, addr, raw.as_bytes(), &what)?;
        expect_status(&reply, 505, &what)?;
    }
    alive(&server, "unsupported versions")
}

pub(super) fn too_large(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..100 {
        raw.extend(format!("X-Filler-{i:03}: {}\r\n", "a".repeat(80)).as_bytes());
    }
    raw.extend(b"\r\n");
    let reply = exchange(&server, addr, &raw, "a request with 9 KiB of headers")?;
    expect_status(
        &reply,
        431,
        "a request with 100 headers of 96 bytes (over 8 KiB)",
    )?;

    // A request line over the limit on its own.
    let raw = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let reply = exchange(&server, addr, raw.as_bytes(), "a request line of 9 KiB")?;
    expect_status(
        &reply,
        414,
        "a request line of 9 KiB (over 8 KiB on its own)",
    )?;

    // Headers just under the limit are fine.
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..70 {
        raw.extend(format!("X-Filler-{i:03}: {}\r\n", "a".repeat(80)).as_bytes());
    }
    raw.extend(b"\r\n");
    let reply = exchange(&server, addr, &raw, "a request with 6.6 KiB of headers")?;
    expect_status(
        &reply,
        200,
        "a request with 70 headers of 96 bytes (under 8 KiB)",
    )?;

    // A huge announced body: answered at once, before any of it is sent.
    let started = Instant::now();
    let reply = exchange(
        &server,
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
        "a request announcing a 100 MB body (none sent)",
    )?;
    expect_status(&reply, 413, "a request announcing a 100 MB body")?;
    if started.elapsed() > Duration::from_secs(2) {
        return Err("the 413 came only after a wait: compare Content-Length first".into());
    }
    alive(&server, "oversized requests")?;
    let reply = get(&server, addr, "/")?;
    expect_status(&reply, 200, "GET / after oversized requests")
}

// ---------------------------------------------------------------------------------------------
// Milestone 5.

pub(super) fn tls(ctx: &Ctx) -> Result<(), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let server = ctx.spawn(WEBAPP, &["--host", &host, "--port", "0", "--tls"])?;
    let first = server.line(WAIT)?;
    let addr = running_on(&first, "https").map_err(|e| server.explain(e))?;
    let second = server.line(WAIT)?;
    let pem = second.split_whitespace().last().unwrap_or("").to_string();
    if !Path::new(&pem).is_file() {
        return Err(format!(
            "the second line should end with the path of the certificate's PEM file; it was {second:?}"
        ));
    }
    let mut conn = Conn::tls(addr, Path::new(&pem))
        .with_context(|| format!("a TLS client trusting {pem}"))
        .map_err(|e| server.explain(e))?;
    for (target, want) in [("/", "Hello World"), ("/index/Zo%C3%AB", "Zoë")] {
        conn.send(&keep_request("GET", target))?;
        let what = format!("GET {target} over TLS");
        let reply = conn.reply(&what, false).map_err(|e| server.explain(e))?;
        expect_status(&reply, 200, &what)?;
        if !reply.text().contains(want) {
            return Err(format!(
                "{what}: the body should hold {want:?}; it was {:.200?}",
                reply.text()
            ));
        }
    }
    conn.send(b"GET /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let reply = conn
        .reply("GET /nowhere over TLS", false)
        .map_err(|e| server.explain(e))?;
    expect_status(&reply, 404, "GET /nowhere over TLS")?;
    expect_close(
        &mut conn,
        &server,
        "a request with `Connection: close` over TLS",
    )?;
    // Plain HTTP sent to the TLS port is no TLS handshake: the server must survive it.
    let mut plain = Conn::tcp(addr)?;
    plain.send(&keep_request("GET", "/"))?;
    let _ = plain.closes(WAIT);
    alive(&server, "plain HTTP sent to its TLS port")
}

// ---------------------------------------------------------------------------------------------
// Rules across the milestones.

/// Reads one response the way the seeds' Python clients read: a single `recv(1024)`; then the
/// rest, if any, with a deadline. Returns the bytes of the single read, the whole response, and
/// how many data segments it took (from the test socket's TCP counters: how many writes).
fn read_once(
    tcp: &mut std::net::TcpStream,
    request: &[u8],
    head_only: bool,
    what: &str,
) -> Result<(String, Reply, u32), String> {
    use std::io::{BufReader, Cursor, Read, Write};
    let before = data_segments_in(tcp)?;
    tcp.write_all(request).context("sending to the server")?;
    let mut first = [0u8; 1024];
    let n = tcp
        .read(&mut first)
        .with_context(|| format!("reading the response to {what} (one read of 1024 bytes)"))?;
    if n == 0 {
        return Err(format!(
            "{what}: the server closed the connection without answering"
        ));
    }
    let once = String::from_utf8_lossy(&first[..n]).to_string();
    let mut reader = BufReader::new(Cursor::new(first[..n].to_vec()).chain(&*tcp));
    let reply =
        read_reply(&mut reader, head_only).with_context(|| format!("the response to {what}"))?;
    let after = data_segments_in(tcp)?;
    Ok((once, reply, after.saturating_sub(before)))
}

pub(super) fn one_write(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    for (raw, head_only, what) in [
        (keep_request("GET", "/"), false, "GET /"),
        (keep_request("GET", "/index/Ada"), false, "GET /index/Ada"),
        (
            keep_request("GET", "/data?format=csv"),
            false,
            "GET /data?format=csv",
        ),
        (keep_request("HEAD", "/index"), true, "HEAD /index"),
        (keep_request("GET", "/home"), false, "GET /home (the 301)"),
        (
            keep_request("GET", "/nowhere"),
            false,
            "GET /nowhere (the 404)",
        ),
        (
            b"GET / HTTP/1.1\r\nUser-Agent: no-host\r\n\r\n".to_vec(),
            false,
            "a request without Host (the 400)",
        ),
    ] {
        let mut tcp = super::wire::connect(addr)?;
        let (once, reply, writes) =
            read_once(&mut tcp, &raw, head_only, what).map_err(|e| server.explain(e))?;
        if writes != 1 {
            return Err(format!(
                "{what}: the response (status {}, {} body bytes) came in {writes} TCP segments: it \
                 was written with {writes} writes, not one as the handout asks. A client that reads \
                 once with recv(1024), as the seeds' Python programs do, got only {once:.120?}. \
                 Build the status line, headers, empty line and body into one buffer, then write \
                 it once.",
                reply.status,
                reply.body.len()
            ));
        }
    }
    Ok(())
}

pub(super) fn header_case(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let mut conn = Conn::tcp(addr)?;
    let ask = |conn: &mut Conn, raw: &[u8], what: &str| -> Result<Reply, String> {
        conn.send(raw)?;
        conn.reply(what, false).map_err(|e| server.explain(e))
    };
    let what = "`host: 127.0.0.1` in lower case";
    let reply = ask(
        &mut conn,
        b"GET /index/Ada HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
        what,
    )?;
    expect_status(
        &reply,
        200,
        &format!("GET /index/Ada with {what} (header names ignore case: this request has a Host)"),
    )?;
    let what = "`HOST: x` and `content-length: 25` with 25 body bytes that look like a request";
    let reply = ask(
        &mut conn,
        b"GET /index/Lee HTTP/1.1\r\nHOST: x\r\ncontent-length: 25\r\n\r\nGET /nowhere HTTP/1.1\r\n\r\n",
        what,
    )?;
    expect_status(&reply, 200, &format!("GET /index/Lee with {what}"))?;
    let reply = ask(
        &mut conn,
        b"GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: close\r\n\r\n",
        "GET / with `CONNECTION: close`",
    )?;
    if reply.status != 200 || reply.text() != "Hello World" {
        return Err(format!(
            "after a request with `content-length: 25` (header names ignore case) and its 25 body \
             bytes, the next request is GET /; it was answered {} {:.80?}: was the lower-case \
             content-length ignored and the body taken for a request?",
            reply.status,
            reply.text()
        ));
    }
    if !says_close(&reply) {
        return Err(format!(
            "a request with `CONNECTION: close` (header names ignore case) should be answered \
             with `Connection: close`; the response said {:?}",
            reply.headers.show("Connection")
        ));
    }
    expect_close(&mut conn, &server, "a request with `CONNECTION: close`")?;
    let mut kept = Conn::tcp(addr)?;
    let reply = ask(
        &mut kept,
        b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
        "an HTTP/1.0 request with `connection: keep-alive`",
    )?;
    expect_status(&reply, 200, "GET / HTTP/1.0 with `connection: keep-alive`")?;
    ask_again(
        &mut kept,
        &server,
        b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
        "a second HTTP/1.0 request with `connection: keep-alive` on the same connection",
        "an HTTP/1.0 request with `connection: keep-alive` (header names ignore case) asks to \
         keep the connection open for the next request, which should be answered",
    )?;
    let started = Instant::now();
    let reply = exchange(
        &server,
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nCONTENT-LENGTH: 104857600\r\n\r\n",
        "a request announcing a 100 MB body with `CONTENT-LENGTH`",
    )?;
    expect_status(
        &reply,
        413,
        "a request announcing a 100 MB body with `CONTENT-LENGTH` (header names ignore case)",
    )?;
    if started.elapsed() > Duration::from_secs(2) {
        return Err("the 413 for `CONTENT-LENGTH: 104857600` came only after a wait".into());
    }
    Ok(())
}

pub(super) fn never_reads(ctx: &Ctx) -> Result<(), String> {
    use std::io::{ErrorKind, Write};
    let (server, addr) = start(ctx, &["--idle", "1"])?;
    let mut tcp = super::wire::connect(addr)?;
    // Requests whose answers are 13 times their size: a client that never reads fills its own
    // receive buffer, then the server's send buffer, and the server's next write waits.
    let batch = keep_request("GET", "/data?format=html").repeat(100);
    tcp.set_write_timeout(Some(Duration::from_millis(300)))
        .context("setting a write timeout")?;
    let mut sent = 0usize;
    let filled = Instant::now();
    // Until the server stops reading (it waits in a write): our write then waits too.
    loop {
        match tcp.write_all(&batch) {
            Ok(()) => sent += batch.len(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => {
                return Err(server.explain(
                    "a client that sends requests without reading the answers: the server \
                     closed the connection before its writes could have waited --idle 1 second"
                        .to_string(),
                ))
            }
        }
        if filled.elapsed() > Duration::from_secs(8) {
            return Err(format!(
                "a client that sends requests without reading the answers: after {} the server \
                 still read them ({sent} bytes); its answers should have filled the buffers",
                socklab::grader::secs(Duration::from_secs(8))
            ));
        }
    }
    // Its write must give up after --idle 1 and end the connection (a reset, since requests
    // lie unread in its socket, or a FIN): watched on the test socket, without reading or
    // writing, which would free the buffers.
    let stuck = Instant::now();
    let limit = Duration::from_secs(1) + WAIT;
    while stuck.elapsed() < limit {
        let reset = tcp.take_error().ok().flatten().is_some();
        if reset || socklab::grader::peer_closed(&tcp) {
            return alive(&server, "a client that never read its answers");
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(server.explain(format!(
        "a client that sends requests but never reads the answers: with --idle 1 the server's \
         write should give up after about a second and the connection end; it still held it \
         after {:.1} s (a write waits for ever without a write timeout)",
        stuck.elapsed().as_secs_f64()
    )))
}
