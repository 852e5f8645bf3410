//! Milestone 1: the server's HTTP, driven with raw requests written here — status codes,
//! Content-Length, bodies in pieces, keep-alive, and clients that stall, vanish or send garbage.

use super::http::{
    basic, call, call_body, connect, exchange, expect_xml, post, read_reply, string,
};
use super::xml::expect_canon;
use super::{server, still_running, PASS, SERVER, USER};
use socklab::grader::{secs, Context, Ctx, WAIT};
use std::io::{BufReader, Read, Write};
use std::thread;
use std::time::Duration;

/// The first line ends with a real address, where a connection is accepted.
pub(super) fn prints_address(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    if addr.port() == 0 {
        return Err("the printed port is 0: print the address after binding (local_addr)".into());
    }
    connect(addr)?;
    Ok(())
}

/// A POST of echo("ok") is answered 200 with an XML Content-Type and body.
pub(super) fn answers_post(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let request = post(
        "/",
        Some(&basic(USER, PASS)),
        &call_body("echo", &[&string("ok")]),
        "",
    );
    let reply = exchange(addr, &request)?;
    let got = expect_xml(&reply, "POST / with echo(\"ok\")")?;
    let content_type = reply.headers.get("Content-Type").unwrap_or("");
    if !content_type.contains("xml") {
        return Err(format!(
            "the response's Content-Type should be text/xml, was {content_type:?}"
        ));
    }
    expect_canon(&got, "string:OK", "echo(\"ok\")")
}

/// A request sent in three pieces 150 ms apart is read whole.
pub(super) fn reads_body_in_pieces(ctx: &Ctx) -> Result<(), String> {
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
    for (i, piece) in pieces.into_iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(150));
        }
        stream
            .write_all(piece)
            .context("sending a piece of the request")?;
    }
    let reply = read_reply(&mut BufReader::new(stream))?;
    let got = expect_xml(
        &reply,
        "a request whose body came in three pieces 150 ms apart",
    )?;
    expect_canon(&got, "string:PIECES", "echo(\"pieces\")")
}

/// Three requests on one HTTP/1.1 connection, then `Connection: close`; HTTP/1.0 closes too.
pub(super) fn keeps_alive(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().context("cloning the test socket")?;
    let mut reader = BufReader::new(stream);
    for word in ["one", "two", "three"] {
        let request = post(
            "/",
            Some(&basic(USER, PASS)),
            &call_body("echo", &[&string(word)]),
            "",
        );
        writer.write_all(&request).with_context(|| {
            format!("sending request `{word}` on the same connection (the server closed it?)")
        })?;
        let reply = read_reply(&mut reader)
            .with_context(|| format!("request `{word}` on the same HTTP/1.1 connection"))?;
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
    writer
        .write_all(&last)
        .context("sending the request with `Connection: close`")?;
    read_reply(&mut reader)?;
    let mut rest = [0u8; 16];
    match reader.read(&mut rest) {
        Ok(0) => {}
        Ok(_) => return Err("after the response to `Connection: close` the server sent more bytes".into()),
        Err(_) => {
            return Err(format!(
                "after answering a request with `Connection: close` the server should close the connection; it was still open after {}",
                secs(WAIT)
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
        .context("sending an HTTP/1.0 request")?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)?;
    if !matches!(reader.read(&mut rest), Ok(0)) {
        return Err("an HTTP/1.0 request without `Connection: keep-alive` should be answered and the connection closed".into());
    }
    // HTTP/1.0 with `Connection: keep-alive` stays open.
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().context("cloning the test socket")?;
    let mut reader = BufReader::new(stream);
    for word in ["first", "second"] {
        let body = call_body("echo", &[&string(word)]);
        let request = format!(
            "POST / HTTP/1.0\r\nAuthorization: {}\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n{body}",
            basic(USER, PASS),
            body.len()
        );
        writer.write_all(request.as_bytes()).with_context(|| {
            format!("sending HTTP/1.0 request `{word}` with `Connection: keep-alive` (the server closed the connection?)")
        })?;
        let reply = read_reply(&mut reader).with_context(|| {
            format!("HTTP/1.0 request `{word}` with `Connection: keep-alive`: the connection should stay open")
        })?;
        let got = expect_xml(
            &reply,
            &format!("echo(\"{word}\") over HTTP/1.0 with keep-alive"),
        )?;
        expect_canon(&got, &format!("string:{}", word.to_uppercase()), "echo")?;
    }
    Ok(())
}

/// GET gets 405 with `Allow: POST`.
pub(super) fn refuses_get(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic(USER, PASS)
    );
    let reply = exchange(addr, request.as_bytes())?;
    if reply.status != 405 {
        return Err(format!("GET / should get 405, got {}", reply.status));
    }
    let allow = reply.headers.get("Allow").unwrap_or("");
    if !allow.contains("POST") {
        return Err(format!(
            "a 405 should say `Allow: POST`; Allow was {allow:?}"
        ));
    }
    Ok(())
}

/// /admin gets 404; /RPC2 is served.
pub(super) fn refuses_other_paths(ctx: &Ctx) -> Result<(), String> {
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

/// Each refused request leaves a line on the server's stderr (the handout: who is refused, and
/// why, is logged): a GET (405), another path (404), no credentials (401). Any new line counts.
pub(super) fn logs_refusals(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let body = call_body("echo", &[&string("x")]);
    let get = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic(USER, PASS)
    );
    let admin = post("/admin", Some(&basic(USER, PASS)), &body, "");
    let anonymous = post("/", None, &body, "");
    for (what, request) in [
        ("a GET (405)", get.into_bytes()),
        ("a POST to /admin (404)", admin),
        ("a POST without credentials (401)", anonymous),
    ] {
        let since = server.logged_so_far();
        exchange(addr, &request)?;
        server
            .expect_logged(since, &format!("a line about {what}"), WAIT, |_| true)
            .map_err(|e| server.explain(e))?;
    }
    Ok(())
}

/// A body announced over 1 MiB gets 413 at once, and the server goes on.
pub(super) fn refuses_large_body(ctx: &Ctx) -> Result<(), String> {
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
    still_running(&server, "a 413")?;
    let got = call(addr, "echo", &[&string("after")])?;
    expect_canon(&got, "string:AFTER", "echo after a 413")
}

/// Stalled, vanished and garbage-sending clients do not stop the server serving others.
pub(super) fn survives_bad_clients(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    // Half a header block, and the client stays silent.
    let mut stalled = connect(addr)?;
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        .context("sending half a header block")?;
    // A body shorter than announced, then the client vanishes.
    {
        let mut gone = connect(addr)?;
        let head = format!(
            "POST / HTTP/1.1\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n<methodCall>",
            basic(USER, PASS)
        );
        gone.write_all(head.as_bytes())
            .context("sending a request with a short body")?;
    }
    // Half a request line, then the client vanishes.
    connect(addr)?
        .write_all(b"POS")
        .context("sending half a request line")?;
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
    // An HTTP version the server does not speak, and a POST that does not say how long it is.
    for (request, status, why) in [
        (
            &b"POST / HTTP/2.0\r\nContent-Length: 0\r\n\r\n"[..],
            505,
            "HTTP/2.0 (a version this server does not speak)",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
            411,
            "a POST without Content-Length",
        ),
    ] {
        let reply = exchange(addr, request)?;
        if reply.status != status {
            return Err(format!("{why} should get {status}, got {}", reply.status));
        }
    }
    // A body cut short: the client closes its sending side after 12 of 100 bytes. What came
    // is not a request, so it must not be answered as one.
    {
        let mut short = connect(addr)?;
        let head = format!(
            "POST / HTTP/1.1\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n<methodCall>",
            basic(USER, PASS)
        );
        short
            .write_all(head.as_bytes())
            .context("sending a request whose body stops short")?;
        short
            .shutdown(std::net::Shutdown::Write)
            .context("closing the sending side after a short body")?;
        if let Ok(reply) = read_reply(&mut BufReader::new(short)) {
            if reply.status == 200 {
                return Err(
                    "a body of 12 bytes where Content-Length said 100, then the client's close: \
                     the server answered 200 as if the request were complete"
                        .into(),
                );
            }
        }
    }
    // A header block with no end in sight: a server must stop collecting at some count.
    let mut flood = b"POST / HTTP/1.1\r\n".to_vec();
    for i in 0..150 {
        flood.extend_from_slice(format!("X-Pad-{i}: 1\r\n").as_bytes());
    }
    flood.extend_from_slice(b"\r\n");
    let reply = exchange(addr, &flood)?;
    if reply.status != 400 {
        return Err(format!(
            "a request with 150 headers should get 400 Bad Request (too many headers), got {}",
            reply.status
        ));
    }
    let got = call(addr, "echo", &[&string("still here")])
        .context("while one client was stalled mid-request and others had left")?;
    expect_canon(&got, "string:STILL HERE", "echo")?;
    drop(stalled);
    thread::sleep(Duration::from_millis(100));
    still_running(&server, "stalled, vanished and garbage-sending clients")
}

/// Header names in any case (RFC 9110: they are case-insensitive): `content-length`,
/// `AUTHORIZATION` and `connection` as some clients write them.
pub(super) fn headers_any_case(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let body = call_body("echo", &[&string("case")]);
    let request = format!(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nAUTHORIZATION: {}\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: Close\r\n\r\n{body}",
        basic(USER, PASS),
        body.len()
    );
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().context("cloning the test socket")?;
    writer
        .write_all(request.as_bytes())
        .context("sending a request whose header names are in lower and upper case")?;
    let mut reader = BufReader::new(stream);
    let reply = read_reply(&mut reader).context(
        "a request with `content-length`, `AUTHORIZATION` and `connection: close` (header names in other cases)",
    )?;
    if reply.status == 401 {
        return Err("a request with `AUTHORIZATION: Basic …` (the right credentials) got 401: header names are case-insensitive".into());
    }
    if reply.status == 411 {
        return Err(
            "a request with `content-length: …` got 411: header names are case-insensitive".into(),
        );
    }
    let got = expect_xml(
        &reply,
        "echo(\"case\") with header names in lower and upper case",
    )?;
    expect_canon(&got, "string:CASE", "echo")?;
    let mut rest = [0u8; 16];
    if !matches!(reader.read(&mut rest), Ok(0)) {
        return Err(format!(
            "after answering a request with `connection: Close` the server should close the connection; it was still open after {}",
            secs(WAIT)
        ));
    }
    Ok(())
}

/// The `--idle` the check starts the server with.
const IDLE: Duration = Duration::from_millis(500);

/// `--idle 0.5`: a connection that stops in the middle of its headers is closed after about half
/// a second (never before: the server's own timer), and the server goes on serving.
pub(super) fn closes_idle(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = super::start(ctx, USER, PASS, &["--idle", "0.5"])?;
    let mut stalled = connect(addr)?;
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        .context("sending half a header block")?;
    let sent_at = std::time::Instant::now();
    let deadline = IDLE + WAIT;
    stalled
        .set_read_timeout(Some(deadline))
        .context("setting the test socket's read timeout")?;
    let mut rest = [0u8; 256];
    let closed = loop {
        match stalled.read(&mut rest) {
            Ok(0) => break true,
            // Whatever the server says (a 408, say) before it closes is fine.
            Ok(_) if sent_at.elapsed() < deadline => continue,
            Ok(_) => break false,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    let after = sent_at.elapsed();
    if !closed {
        return Err(server.explain(format!(
            "with --idle 0.5, a client that sent half a header block and then nothing should be \
             disconnected after about 0.5 s; the connection was still open after {}",
            secs(deadline)
        )));
    }
    if after < IDLE * 9 / 10 {
        return Err(format!(
            "with --idle 0.5 the server closed a connection that had been silent for only {} ms: \
             half a request is not an error until the client has been silent for --idle seconds",
            after.as_millis()
        ));
    }
    still_running(&server, "closing an idle connection")?;
    call(addr, "echo", &[&string("after")])
        .context("a call after the idle connection was closed")?;
    Ok(())
}

/// How many connections the out-of-descriptors check makes, at most, to see an accept fail.
const ROUNDS: usize = 3;

/// Out of file descriptors: with five (stdin, stdout, stderr, the listener, one more) the server
/// accepts a connection into the last one, so it can neither clone that connection's socket
/// nor accept the next connection until the failed one is closed. Each failure is logged, the
/// connection's with the client's address, and ends nothing else: the server keeps running.
/// (The accept loop's next accept fails while the connection's thread starts, nearly always;
/// a few connections make sure to see it.)
pub(super) fn out_of_descriptors(ctx: &Ctx) -> Result<(), String> {
    let args = [
        "--host", "127.0.0.1", "--port", "0", "--username", USER, "--password", PASS,
    ];
    let server = ctx.spawn_with_fd_limit(SERVER, &args, 5)?;
    let addr = server.address(WAIT)?;
    let request = post("/", Some(&basic(USER, PASS)), &call_body("echo", &[&string("fd")]), "");
    let start = server.logged_so_far();
    let mut clients = Vec::new();
    for round in 1..=ROUNDS {
        let since = server.logged_so_far();
        let mut stream = connect(addr)?;
        let port = stream.local_addr().context("the test socket's address")?.port();
        stream
            .write_all(&request)
            .context("sending a request to a server with one free file descriptor")?;
        server
            .expect_logged(
                since,
                &format!("a line naming the client (port {port}) whose connection failed for want of a file descriptor"),
                WAIT,
                |line| names_port(line, port),
            )
            .map_err(|e| server.explain(e))?;
        still_running(&server, "a connection it had no file descriptor for")?;
        clients.push(port);
        let logged = server.stderr();
        let accept_failed = logged.get(start..).unwrap_or("").lines().any(|line| {
            !clients.iter().any(|port| names_port(line, *port))
        });
        if accept_failed {
            return Ok(());
        }
        if round == ROUNDS {
            return Err(server.explain(format!(
                "while each of {ROUNDS} connections held the last file descriptor, the next accept() \
                 failed; that failure should be logged too (a line naming no client), but every line \
                 logged named a client"
            )));
        }
    }
    Ok(())
}

/// Whether a logged line names a client's port (`…:PORT` not followed by another digit).
fn names_port(line: &str, port: u16) -> bool {
    let tag = format!(":{port}");
    line.match_indices(&tag).any(|(at, _)| {
        !line[at + tag.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}
