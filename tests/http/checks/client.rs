//! Milestones 6-8: the student's http_get against stand-in servers written here. Each stand-in
//! reads the request, reports it, and answers with bytes chosen by the check, in pieces a little
//! apart (one read is never the whole answer); then it closes, or holds the connection open
//! until the client closes it, as a kept-alive server would: a client that waits for the close
//! although the headers said where the body ends is still waiting when the check looks.
//!
//! Across netlab's hosts (`grade --net`) http_get runs on webserver and the stand-ins on
//! client1 ([`stand_ins_ip`]); https asks for client1 by its name in the course's zone.

use super::wire::{read_request, set_timeouts, Request};
use super::HTTP_GET;
use socklab::grader::{Context, Ctx, Program, StandIn, WAIT};
use socklab::tls::{self, rustls};
use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The pause between the pieces of an answer.
const GAP: Duration = Duration::from_millis(60);
/// How long a holding stand-in keeps a connection open, at most.
const HOLD: Duration = Duration::from_secs(6);

/// What a stand-in does after writing its answer.
#[derive(Clone, Copy, PartialEq)]
enum End {
    Close,
    /// Keep the connection open until the client closes it (at most [`HOLD`]).
    Hold,
}

/// An answer: its pieces, written [`GAP`] apart, then the end.
struct Answer {
    pieces: Vec<Vec<u8>>,
    end: End,
}

/// An answer in one piece.
fn whole(bytes: impl Into<Vec<u8>>, end: End) -> Answer {
    Answer {
        pieces: vec![bytes.into()],
        end,
    }
}

/// A response with a Content-Length, in two pieces (split inside the body), held open.
fn sized(status: &str, headers: &str, body: &str) -> Answer {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let whole = [head.as_bytes(), body.as_bytes()].concat();
    let cut = head.len() + body.len() / 2;
    Answer {
        pieces: vec![whole[..cut].to_vec(), whole[cut..].to_vec()],
        end: End::Hold,
    }
}

/// A stand-in server that reports each request it read (or why it could not read one).
type Server = StandIn<Result<Request, String>>;

/// Writes `answer` to `stream`, then closes or holds; `tcp` is the socket under it.
fn deliver(stream: &mut (impl Read + Write), tcp: &TcpStream, answer: &Answer) {
    for piece in &answer.pieces {
        if stream
            .write_all(piece)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        thread::sleep(GAP);
    }
    if answer.end == End::Hold {
        let _ = tcp.set_read_timeout(Some(HOLD));
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// Where the stand-ins listen: 127.0.0.1 on loopback, client1 across hosts.
fn stand_ins_ip(ctx: &Ctx) -> IpAddr {
    ctx.ip("client1", [127, 0, 0, 1])
}

/// A stand-in on a free port of [`stand_ins_ip`] answering each request with `answer(request)`.
fn stand_in(
    ctx: &Ctx,
    answer: impl Fn(&Request) -> Answer + Send + 'static,
) -> Result<Server, String> {
    stand_in_at((stand_ins_ip(ctx), 0), answer)
}

/// The same on `bind`.
fn stand_in_at(
    bind: impl ToSocketAddrs,
    answer: impl Fn(&Request) -> Answer + Send + 'static,
) -> Result<Server, String> {
    StandIn::tcp(bind, move |stream, _from, seen| {
        if set_timeouts(&stream).is_err() {
            return;
        }
        let mut reader = BufReader::new(&stream);
        let request = read_request(&mut reader);
        let reply = request.as_ref().ok().map(&answer);
        let _ = seen.send(request);
        if let Some(reply) = reply {
            deliver(&mut &stream, &stream, &reply);
        }
    })
}

/// The same inside TLS, with the certificate of `identity`.
fn tls_stand_in(
    ctx: &Ctx,
    identity: &tls::Identity,
    answer: impl Fn(&Request) -> Answer + Send + 'static,
) -> Result<Server, String> {
    let config = tls::server_config(identity)?;
    StandIn::tcp((stand_ins_ip(ctx), 0), move |tcp, _from, seen| {
        if set_timeouts(&tcp).is_err() {
            return;
        }
        let Ok(sock) = tcp.try_clone() else { return };
        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
            return;
        };
        let mut stream = rustls::StreamOwned::new(conn, sock);
        let mut reader = BufReader::new(&mut stream);
        let request = read_request(&mut reader);
        drop(reader);
        let reply = request.as_ref().ok().map(&answer);
        let _ = seen.send(request);
        if let Some(reply) = reply {
            deliver(&mut stream, &tcp, &reply);
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    })
}

/// How http_get ended: its stdout lines (trailing empty lines dropped), stderr, exit success.
struct Run {
    client: Program,
    lines: Vec<String>,
    stderr: String,
    ok: bool,
}

impl Run {
    /// The stdout lines as one text.
    fn out(&self) -> String {
        self.lines.join("\n")
    }

    /// Fails unless stderr holds exactly one line (a failure's sentence) and the exit is 1.
    fn failed_with_a_sentence(&self, what: &str) -> Result<(), String> {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if self.ok || lines.len() != 1 {
            return Err(format!(
                "{what}: http_get should exit 1 with one line on stderr saying why; it {} and \
                 wrote {} stderr line(s): {:.300?}",
                if self.ok {
                    "exited 0"
                } else {
                    "exited non-zero"
                },
                lines.len(),
                self.stderr
            ));
        }
        Ok(())
    }
}

/// Runs http_get with `args` to its end (within WAIT); `what` names the situation for errors.
fn run(ctx: &Ctx, args: &[&str], what: &str) -> Result<Run, String> {
    let client = ctx.spawn(HTTP_GET, args)?;
    finish(client, what)
}

/// Lets http_get run to its end (within WAIT).
fn finish(client: Program, what: &str) -> Result<Run, String> {
    let (mut lines, status) = client.finish(WAIT).map_err(|e| {
        if e.contains("still running") {
            format!(
                "{what}: {e}. Did it wait for the server to close the connection, although the \
                 headers said where the body ends? (The test server keeps it open, as a \
                 kept-alive server does.)"
            )
        } else {
            format!("{what}: {e}")
        }
    })?;
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let stderr = client.stderr();
    Ok(Run {
        lines,
        stderr,
        ok: status.success(),
        client,
    })
}

/// The URL of `path` on `server`.
fn url(server: &Server, path: &str) -> String {
    format!("http://{}{path}", server.addr())
}

/// The next request `server` read.
fn request(server: &Server, run: &Run) -> Result<Request, String> {
    server.next("request from http_get", &run.client)?
}

/// Fails unless http_get printed exactly `body` (as lines) and exited 0.
fn expect_body(run: &Run, body: &str, what: &str) -> Result<(), String> {
    let want: Vec<&str> = body.trim_end_matches('\n').split('\n').collect();
    if run.lines != want || !run.ok {
        return Err(format!(
            "{what}: http_get should print the body {want:?} and exit 0; it printed {:?} and \
             exited {}{}",
            run.lines,
            if run.ok { "0" } else { "non-zero" },
            stderr_note(&run.stderr)
        ));
    }
    Ok(())
}

fn stderr_note(stderr: &str) -> String {
    match stderr.trim() {
        "" => String::new(),
        text => format!(" (stderr: {text:.200?})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Milestone 6.

pub(super) fn request_form(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |_| sized("200 OK", "", "ok\n"))?;
    for (path, target) in [
        ("/data?format=csv&x=a%20b", "/data?format=csv&x=a%20b"),
        ("", "/"),
        ("/index/Ada#section", "/index/Ada"),
    ] {
        let given = url(&server, path);
        let run = run(ctx, &[&given], &format!("http_get {given}"))?;
        let seen = request(&server, &run)?;
        let want = format!("GET {target} HTTP/1.1");
        if seen.line != want {
            return Err(format!(
                "for {given} the request line should be {want:?} (the path and query as given, \
                 / when there is none, no #fragment); it was {:?}",
                seen.line
            ));
        }
        let host = server.addr().to_string();
        if seen.headers.get("Host") != Some(host.as_str()) {
            return Err(format!(
                "the Host header should name the server as the URL does, {host:?}; it was {:?}",
                seen.headers.show("Host")
            ));
        }
        if seen.headers.get("User-Agent").is_none_or(str::is_empty) {
            return Err("the request should say who is asking in a User-Agent header".into());
        }
        let close = seen.headers.get("Connection").unwrap_or("");
        if !close.to_ascii_lowercase().contains("close") {
            return Err(format!(
                "the request should carry `Connection: close` (one request per connection); it \
                 had Connection: {close:?}"
            ));
        }
        expect_body(&run, "ok", &format!("http_get {given}"))?;
    }
    // An IPv6 address goes in brackets in a URL and in Host. (Only where the machine has IPv6
    // loopback: some containers have none. Netlab's hosts share no IPv6 network, so across
    // hosts this one runs on client1, beside the stand-in, over that host's loopback.)
    if let Ok(v6) = stand_in_at("[::1]:0", |_| sized("200 OK", "", "over IPv6\n")) {
        let given = format!("http://[::1]:{}/six", v6.port());
        let on = ctx.across_hosts().then_some("client1");
        let client = ctx.spawn_on(on, HTTP_GET, &[&given])?;
        let run = finish(client, &format!("http_get {given}"))?;
        let seen = request(&v6, &run)?;
        let host = format!("[::1]:{}", v6.port());
        if seen.line != "GET /six HTTP/1.1" || seen.headers.get("Host") != Some(host.as_str()) {
            return Err(format!(
                "http_get {given} should send `GET /six HTTP/1.1` and `Host: {host}`; it sent \
                 {:?} and Host {:?}",
                seen.line,
                seen.headers.show("Host")
            ));
        }
        expect_body(&run, "over IPv6", &format!("http_get {given}"))?;
    }
    Ok(())
}

pub(super) fn content_length(ctx: &Ctx) -> Result<(), String> {
    let body = "first line\nsecond line: ü ☺ (multi-byte letters)\nthird line\n";
    let server = stand_in(ctx, move |_| sized("200 OK", "X-Note: held open\r\n", body))?;
    let given = url(&server, "/text");
    let run = run(
        ctx,
        &[&given],
        "a body of Content-Length bytes in two pieces, the connection then left open",
    )?;
    request(&server, &run)?;
    expect_body(&run, body, "a Content-Length body in two pieces")
}

pub(super) fn chunked(ctx: &Ctx) -> Result<(), String> {
    let chunks = [
        "abcdefghijklmnopqrstuvwxyz",
        "0123456789",
        "\nsecond line, a longer chunk of forty-two",
    ];
    let server = stand_in(ctx, move |_| {
        let mut wire = String::from(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        wire.push_str(&format!("{:x}\r\n{}\r\n", chunks[0].len(), chunks[0]));
        wire.push_str(&format!(
            "{:X};name=value\r\n{}\r\n",
            chunks[1].len(),
            chunks[1]
        ));
        wire.push_str(&format!("{:x}\r\n{}\r\n", chunks[2].len(), chunks[2]));
        wire.push_str("0\r\nX-Trailer: yes\r\n\r\n");
        let bytes = wire.into_bytes();
        // Cut inside a size line and inside a chunk's data.
        let first = bytes.windows(2).position(|w| w == b"1a").unwrap_or(10) + 1;
        let second = first + 40;
        Answer {
            pieces: vec![
                bytes[..first].to_vec(),
                bytes[first..second].to_vec(),
                bytes[second..].to_vec(),
            ],
            end: End::Hold,
        }
    })?;
    let given = url(&server, "/chunks");
    let run = run(
        ctx,
        &[&given],
        "a chunked body (sizes 1a, A;name=value and 29 in hex), the connection then left open",
    )?;
    request(&server, &run)?;
    expect_body(&run, &chunks.concat(), "a chunked body")
}

pub(super) fn until_close(ctx: &Ctx) -> Result<(), String> {
    let body = "no length was given\nso the body ends\nwhere the connection does\n";
    let server = stand_in(ctx, move |_| Answer {
        pieces: vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".to_vec(),
            body.as_bytes()[..20].to_vec(),
            body.as_bytes()[20..].to_vec(),
        ],
        end: End::Close,
    })?;
    let given = url(&server, "/");
    let run = run(
        ctx,
        &[&given],
        "a body without Content-Length, ended by the close",
    )?;
    request(&server, &run)?;
    expect_body(&run, body, "a body ended by the close")
}

pub(super) fn include(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |_| sized("200 OK", "X-Test: yes\r\n", "the body\n"))?;
    let given = url(&server, "/");
    let run = run(ctx, &["-i", &given], "http_get -i")?;
    request(&server, &run)?;
    let lines = &run.lines;
    let blank = lines.iter().position(|l| l.trim().is_empty());
    let ok = lines.first().map(|l| l.trim()) == Some("HTTP/1.1 200 OK")
        && lines.iter().any(|l| l.trim() == "X-Test: yes")
        && lines.iter().any(|l| l.trim() == "Content-Length: 9")
        && blank.is_some_and(|i| lines[i + 1..] == ["the body".to_string()])
        && run.ok;
    if !ok {
        return Err(format!(
            "http_get -i should print the status line `HTTP/1.1 200 OK`, the headers as sent \
             (X-Test: yes, Content-Length: 9, …), an empty line, then the body; it printed {lines:?}"
        ));
    }
    Ok(())
}

pub(super) fn statuses(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |request| {
        let path = request.line.split(' ').nth(1).unwrap_or("");
        match path {
            "/created" => sized("201 Created", "", "made it\n"),
            "/moved" => sized("302 Found", "Location: /elsewhere\r\n", "see elsewhere\n"),
            "/missing" => sized("404 Not Found", "", "no such page\n"),
            "/bad" => sized("400 Bad Request", "", "say that again\n"),
            "/broken" => sized("500 Internal Server Error", "", "oops\n"),
            "/empty" => whole(
                "HTTP/1.1 204 No Content\r\nX-Note: no body\r\n\r\n",
                End::Hold,
            ),
            _ => whole(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\nETag: \"v1\"\r\n\r\n",
                End::Hold,
            ),
        }
    })?;
    for (path, body, ok) in [
        ("/created", "made it", true),
        ("/moved", "see elsewhere", true),
        ("/missing", "no such page", false),
        ("/bad", "say that again", false),
        ("/broken", "oops", false),
        ("/empty", "", true),
        ("/cached", "", true),
    ] {
        let given = url(&server, path);
        let what = format!("http_get {given}");
        let run = run(ctx, &[&given], &what)?;
        request(&server, &run)?;
        let printed = run.out();
        if printed.trim() != body || run.ok != ok {
            return Err(format!(
                "{what}: http_get should print {body:?} and exit {}; it printed {printed:?} and \
                 exited {}{}",
                if ok { "0" } else { "1" },
                if run.ok { "0" } else { "non-zero" },
                stderr_note(&run.stderr)
            ));
        }
    }
    // Without -L a redirect is not followed.
    let extra = server.drain();
    if !extra.is_empty() {
        return Err(format!(
            "without -L http_get should not follow the 302; it made {} more request(s)",
            extra.len()
        ));
    }
    Ok(())
}

pub(super) fn failures(ctx: &Ctx) -> Result<(), String> {
    let ip = stand_ins_ip(ctx);
    let port = TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let given = format!("http://{ip}:{port}/");
    let run1 = run(ctx, &[&given], "a port nobody listens on")?;
    run1.failed_with_a_sentence(&format!("http_get {given} (nobody listens there)"))?;

    let server = stand_in(ctx, |request| {
        if request.line.contains("/long-chunk") {
            whole(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnine byte\r\n0\r\n\r\n",
                End::Hold,
            )
        } else if request.line.contains("/rtsp") {
            whole(
                "RTSP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                End::Close,
            )
        } else if request.line.contains("/cut") {
            whole(
                "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly forty bytes of the hundred promised\n",
                End::Close,
            )
        } else {
            whole("SSH-2.0-OpenSSH_9.2\r\n\r\n", End::Close)
        }
    })?;
    let given = url(&server, "/cut");
    let run2 = run(ctx, &[&given], "a body cut short")?;
    request(&server, &run2)?;
    run2.failed_with_a_sentence(
        "a response announcing Content-Length: 100 whose connection closes after 41 bytes",
    )?;
    let given = url(&server, "/garbage");
    let run3 = run(ctx, &[&given], "an answer that is not HTTP")?;
    request(&server, &run3)?;
    run3.failed_with_a_sentence("an answer `SSH-2.0-OpenSSH_9.2` (not an HTTP status line)")?;
    let given = url(&server, "/rtsp");
    let run5 = run(ctx, &[&given], "an answer in another protocol")?;
    request(&server, &run5)?;
    run5.failed_with_a_sentence("an answer `RTSP/1.0 200 OK` (not HTTP/1.x)")?;
    let given = url(&server, "/long-chunk");
    let run4 = run(ctx, &[&given], "a chunk longer than its size")?;
    request(&server, &run4)?;
    run4.failed_with_a_sentence("a chunk of size 5 that carries 9 bytes")
}

pub(super) fn bad_urls(ctx: &Ctx) -> Result<(), String> {
    for url in [
        "ftp://127.0.0.1/file",
        "http:///no-host",
        "http://127.0.0.1:http/",
        "http://127.0.0.1:70000/",
        "127.0.0.1/index",
    ] {
        let client = ctx.spawn(HTTP_GET, &[url])?;
        let (lines, status) = client.finish(WAIT)?;
        if status.code() != Some(2) || !client.stderr().contains("error") {
            return Err(format!(
                "http_get {url}: a URL it cannot fetch is a command-line mistake: an `error: …` \
                 line and exit status 2; it exited {:?} and printed {lines:?}{}",
                status.code(),
                stderr_note(&client.stderr())
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 7.

pub(super) fn redirects(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |request| {
        let path = request.line.split(' ').nth(1).unwrap_or("");
        let host = request.headers.get("Host").unwrap_or("127.0.0.1");
        let moved = |status: &str, location: String| {
            sized(status, &format!("Location: {location}\r\n"), "moved\n")
        };
        match path {
            "/a" => moved("301 Moved Permanently", "/b".into()),
            "/b" => moved("302 Found", format!("http://{host}/c/")),
            "/c/" => moved("303 See Other", "d".into()),
            "/c/d" => moved("307 Temporary Redirect", "/e?x=1".into()),
            "/e?x=1" => moved("308 Permanent Redirect", "/final".into()),
            "/final" => sized("200 OK", "", "arrived\n"),
            _ => sized("404 Not Found", "", "lost\n"),
        }
    })?;
    let given = url(&server, "/a");
    let run = run(ctx, &["-L", &given], "http_get -L through five redirects")?;
    let mut paths = Vec::new();
    for _ in 0..6 {
        match server.next_within(Duration::from_millis(200), "request", &run.client) {
            Ok(Ok(seen)) => paths.push(seen.line.split(' ').nth(1).unwrap_or("").to_string()),
            _ => break,
        }
    }
    let want = ["/a", "/b", "/c/", "/c/d", "/e?x=1", "/final"];
    if paths != want {
        return Err(format!(
            "http_get -L {given} should follow 301 → /b, 302 → http://…/c/, 303 → d (relative: \
             /c/d), 307 → /e?x=1, 308 → /final: the test server should see {want:?}; it saw \
             {paths:?}{}",
            stderr_note(&run.stderr)
        ));
    }
    expect_body(&run, "arrived", "http_get -L after five redirects")
}

pub(super) fn redirect_loop(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |_| {
        sized("302 Found", "Location: /loop\r\n", "again\n")
    })?;
    let given = url(&server, "/loop");
    let run = run(ctx, &["-L", &given], "http_get -L into a redirect loop")?;
    let seen = server.drain().len();
    run.failed_with_a_sentence("a redirect loop (/loop → /loop)")?;
    if !(2..=6).contains(&seen) {
        return Err(format!(
            "http_get -L should follow at most 5 redirects (6 requests) before giving up on a \
             loop; the test server saw {seen} request(s)"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 8.

pub(super) fn https(ctx: &Ctx) -> Result<(), String> {
    // The stand-in's name: across hosts client1's in the course's zone, which webserver asks
    // the DNS server for.
    let name = if ctx.across_hosts() {
        "client1.ttm4200.com"
    } else {
        "localhost"
    };
    let identity = tls::self_signed(&[name])?;
    let dir: PathBuf = ctx.scratch_dir();
    let pem = dir.join("server.pem");
    std::fs::write(&pem, &identity.cert_pem).context("writing the test certificate")?;
    let other = dir.join("other.pem");
    std::fs::write(&other, tls::self_signed(&[name])?.cert_pem)
        .context("writing another certificate")?;
    let server = tls_stand_in(ctx, &identity, |_| sized("200 OK", "", "secret page\n"))?;
    let port = server.port();
    let given = format!("https://{name}:{port}/private/page?id=7");
    let pem_arg = pem.display().to_string();
    let ok = run(
        ctx,
        &["--cacert", &pem_arg, &given],
        &format!("http_get --cacert CERT https://{name}:…"),
    )?;
    let seen = request(&server, &ok)?;
    if seen.line != "GET /private/page?id=7 HTTP/1.1" {
        return Err(format!(
            "inside TLS the request line should be `GET /private/page?id=7 HTTP/1.1`; it was {:?}",
            seen.line
        ));
    }
    let host = format!("{name}:{port}");
    if seen.headers.get("Host") != Some(host.as_str()) {
        return Err(format!(
            "the Host header should be {host:?}; it was {:?}",
            seen.headers.show("Host")
        ));
    }
    expect_body(
        &ok,
        "secret page",
        "http_get --cacert with the server's certificate",
    )?;

    for (args, what) in [
        (
            vec![given.as_str()],
            "without --cacert (a self-signed certificate is no web root)",
        ),
        (
            vec!["--cacert", other.to_str().unwrap_or(""), given.as_str()],
            "with --cacert naming another certificate",
        ),
    ] {
        let refused = run(ctx, &args, what)?;
        refused.failed_with_a_sentence(&format!(
            "https to a server whose certificate is not trusted, {what}"
        ))?;
        if refused.out().contains("secret page") {
            return Err(format!(
                "{what}: http_get printed the page of a server it cannot trust"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rules across the milestones.

pub(super) fn encodes_target(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |_| sized("200 OK", "", "ok\n"))?;
    for (path, target) in [
        ("/index/Ada Lovelace", "/index/Ada%20Lovelace"),
        (
            "/search?q=two words&say=\"hi\"",
            "/search?q=two%20words&say=%22hi%22",
        ),
        ("/index/Jürgen", "/index/J%C3%BCrgen"),
        ("/index/a%20b?x=1&y=/z", "/index/a%20b?x=1&y=/z"),
    ] {
        let given = url(&server, path);
        let run = run(ctx, &[&given], &format!("http_get {given:?}"))?;
        let seen = request(&server, &run)?;
        let want = format!("GET {target} HTTP/1.1");
        if seen.line != want {
            return Err(format!(
                "for the URL {given:?} the request line should be {want:?}: a space, a quote or a \
                 non-ASCII letter cannot stand in a request target (a space would make more than \
                 three words) and goes as %XX, while the URL's own escapes and / ? & = stay as \
                 they are; it was {:?}",
                seen.line
            ));
        }
        expect_body(&run, "ok", &format!("http_get {given:?}"))?;
    }
    Ok(())
}

pub(super) fn header_case(ctx: &Ctx) -> Result<(), String> {
    let server = stand_in(ctx, |request| {
        let path = request.line.split(' ').nth(1).unwrap_or("");
        match path {
            "/lower" => whole(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nlower case\n",
                End::Hold,
            ),
            "/CHUNKS" => whole(
                "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: chunked\r\n\r\n6\r\nchunks\r\n0\r\n\r\n",
                End::Hold,
            ),
            "/moved" => whole(
                "HTTP/1.1 302 Found\r\nlocation: /lower\r\ncontent-length: 0\r\n\r\n",
                End::Hold,
            ),
            _ => sized("404 Not Found", "", "lost\n"),
        }
    })?;
    for (args, body, what) in [
        (
            vec!["/lower"],
            "lower case",
            "`content-length: 11` in lower case",
        ),
        (
            vec!["/CHUNKS"],
            "chunks",
            "`TRANSFER-ENCODING: chunked` in capitals",
        ),
        (
            vec!["-L", "/moved"],
            "lower case",
            "a 302 with `location: /lower` in lower case, and -L",
        ),
    ] {
        let path = args.last().copied().unwrap_or("/");
        let given = url(&server, path);
        let mut argv: Vec<&str> = args[..args.len() - 1].to_vec();
        argv.push(&given);
        let situation = format!(
            "a response with {what}, the connection then left open (header names ignore case)"
        );
        let run = run(ctx, &argv, &situation)?;
        request(&server, &run)?;
        expect_body(&run, body, &situation)?;
    }
    Ok(())
}
