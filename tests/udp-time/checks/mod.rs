//! Checks for lab `udp-time`: the UDP time server and client over real sockets, on loopback or
//! across netlab's hosts (`grade --net`: the programs on webserver, the test sockets on client1
//! and client2). The server is asked by test sockets written here; the client asks a stand-in
//! time server written here, which can answer late, wrongly or not at all. Milestone 7 asks
//! about a capture of both.

use serde_json::{json, Value};
use socklab::answers::{Answer, CaptureFile, Form, Question, QuestionSet, Recorder};
use socklab::capture::Packet;
use socklab::grader::{
    hosts, secs, shown, Check, Context, Ctx, Lab, Program, StandIn, QUIET, WAIT,
};
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

const BIN: &str = "udp_time";
const FIXED_TIME: &str = "The time is 2001-02-03 04:05:06.070809";

pub fn lab() -> Lab {
    Lab::new(
        "udp-time",
        "UDP time server and client",
        &[BIN],
    )
    .checks(vec![
            Check::new("1 server", "prints `Server listening at IP:PORT` with the real port", 1,
                "With port 0 the OS picks the port: which call tells you the one it picked?", server_prints_address).across_hosts(),
            Check::new("1 server", "answers [id, \"The time is …\"] with the request's ID", 3,
                "Milestone 1: which address tells you whom to answer? (UdpSocket::recv_from)", server_answers).across_hosts(),
            Check::new("1 server", "prints `Request ID: N. Client request, …` per request", 1,
                "Print one line per request, with its ID and the client's text.", server_logs_requests).needs(&["answers [id, \"The time is …\"] with the request's ID"]).across_hosts(),
            Check::new("1 server", "answers two clients, each at its own address", 1,
                "Reply to the address of each datagram, not to the first client seen.", server_two_clients).needs(&["answers [id, \"The time is …\"] with the request's ID"]).across_hosts(),
            Check::new("2 client", "sends [id, time] and prints the server's time", 3,
                "Send the JSON array, recv_from the reply, print its text when the IDs match.", client_prints_time).across_hosts(),
            Check::new("2 client", "ignores datagrams that do not come from the server", 1,
                "Milestone 2: who sent the datagram your client took for the reply? (recv_from says)", client_ignores_strangers).needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
            Check::new("2 client", "logs each datagram it ignores on stderr", 1,
                "Milestone 2: an ignored datagram should not vanish without a trace: where does the client say so? (log::warn!)", client_logs_ignored).needs(&["ignores datagrams that do not come from the server"]).across_hosts(),
            Check::new("3 faulty server", "client reports a reply that has another request's ID", 2,
                "Milestone 3: what must the client notice about a reply, and how does it end then?", client_detects_wrong_id).needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
            Check::new("3 faulty server", "server -faulty sends a wrong ID about half the time", 1,
                "Milestone 3: with -faulty, about half the replies carry an ID that is not the request's.", server_faulty).needs(&["answers [id, \"The time is …\"] with the request's ID"]).across_hosts(),
            Check::new("4 timeout and retry", "client resends after a timeout and prints the reply", 2,
                "Milestone 4: what ends the wait for a lost reply, and what does the client send then?", client_retries)
                .needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
            Check::new("4 timeout and retry", "client gives up with `Request timed out`", 2,
                "Milestone 4: what the client prints, and how it exits, when no try was answered.", client_times_out).needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
            Check::new("4 timeout and retry", "client waits -timeout seconds per try (default 1, 2 retries)", 1,
                "Where does the value of -timeout go, and how long does each try wait?", client_timeout_option)
                .limit(25).needs(&["client gives up with `Request timed out`"]).across_hosts(),
            Check::new("4 timeout and retry", "stray datagrams do not lengthen the wait for the reply", 1,
                "Milestone 4: -timeout is how long the client waits for its reply in all, whatever else arrives meanwhile.", client_strays_do_not_extend_the_wait)
                .limit(25).needs(&["client gives up with `Request timed out`"]).across_hosts(),
            Check::new("4 timeout and retry", "client reports a failed send at once, not as a timeout", 1,
                "What happens to the error send_to returns?", client_send_error).across_hosts(),
            Check::new("5 robustness", "server survives datagrams that are not [integer, string]", 2,
                "Decode errors (not UTF-8, not JSON, wrong shape) are logged and skipped, never unwrap()ed.", server_survives_garbage).needs(&["answers [id, \"The time is …\"] with the request's ID"]).across_hosts(),
            Check::new("5 robustness", "server -drop P drops about that share of requests", 1,
                "Milestone 4: -drop P loses a share P of the requests (socklab::chance()).", server_drops).needs(&["answers [id, \"The time is …\"] with the request's ID"]).across_hosts(),
            Check::new("6 measuring delay", "-measure_delay N prints sent/answered/lost/wrong and the delays", 2,
                "Count each outcome; the summary lines are printed by the given code once the exchanges work.", client_measures).needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
            Check::new("6 measuring delay", "-log FILE writes a header and one CSV row per request", 1,
                "Milestone 6: one row per request, under the header, whatever its outcome.", client_logs_csv).needs(&["sends [id, time] and prints the server's time"]).across_hosts(),
    ])
    .questions(&QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// The protocol, as the test side speaks it.

/// A UDP socket for the test side on `host` (on loopback 127.0.0.1), never blocking more than
/// `WAIT`.
fn test_socket(ctx: &Ctx, host: &str) -> Result<UdpSocket, String> {
    let ip = ctx.ip(host, [127, 0, 0, 1]);
    let sock = hosts::at(ip, || UdpSocket::bind((ip, 0)))
        .with_context(|| format!("binding a test socket to {ip}"))?;
    sock.set_read_timeout(Some(WAIT))
        .context("setting the test socket's read timeout")?;
    Ok(sock)
}

fn time_now() -> String {
    format!(
        "The time is {}",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.6f")
    )
}

/// Parses a datagram as `[integer, string]`, saying what is wrong otherwise.
fn parse(bytes: &[u8]) -> Result<(i64, String), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the datagram is not UTF-8".to_string())?;
    let value: Value =
        serde_json::from_str(text).map_err(|_| format!("the datagram is not JSON: {text:.80}"))?;
    match value.as_array().map(Vec::as_slice) {
        Some([Value::Number(id), Value::String(s)]) if id.is_i64() => {
            Ok((id.as_i64().unwrap_or(0), s.clone()))
        }
        _ => Err(format!(
            "expected a JSON array [integer, string], got {text:.80}"
        )),
    }
}

/// Sends `[id, now]` to `server` and returns the decoded reply.
fn ask(sock: &UdpSocket, server: SocketAddr, id: i64) -> Result<(i64, String), String> {
    ask_with(sock, server, id, &time_now())
}

/// Sends `[id, text]` to `server` and returns the decoded reply.
fn ask_with(
    sock: &UdpSocket,
    server: SocketAddr,
    id: i64,
    text: &str,
) -> Result<(i64, String), String> {
    let request = json!([id, text]).to_string();
    sock.send_to(request.as_bytes(), server)
        .with_context(|| format!("sending {request} to the server at {server}"))?;
    let mut buf = [0u8; 65535];
    loop {
        let (n, from) = sock
            .recv_from(&mut buf)
            .map_err(|_| format!("sent {request} to {server}; no reply within {}", secs(WAIT)))?;
        if from == server {
            return parse(&buf[..n]);
        }
    }
}

/// Checks "The time is YYYY-MM-DD HH:MM:SS.ffffff" and that it is about now.
fn check_time_text(text: &str) -> Result<(), String> {
    let stamp = text
        .strip_prefix("The time is ")
        .ok_or_else(|| format!("the reply's text should start with `The time is `: {text:?}"))?;
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|_| format!("`{stamp}` is not a time like 2019-05-04 16:20:56.975068"))?;
    let skew = (chrono::Local::now().naive_local() - t).num_seconds().abs();
    if skew > 5 {
        return Err(format!(
            "the server's time {stamp} is {skew} s away from the local time"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server, asked by test sockets (milestones 1, 3 and 5).

/// The server's host: 127.0.0.1 on loopback.
fn server_host(ctx: &Ctx) -> String {
    ctx.ip("webserver", [127, 0, 0, 1]).to_string()
}

/// Starts the server on its host and port 0, with `extra` options.
fn start(ctx: &Ctx, extra: &[&str]) -> Result<(Program, SocketAddr), String> {
    let host = server_host(ctx);
    let mut args = vec!["server", host.as_str(), "0"];
    args.extend_from_slice(extra);
    ctx.start_server(BIN, &args)
}

fn server_prints_address(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn(BIN, &["server", &server_host(ctx), "0"])?;
    let line = server.line(WAIT)?;
    if !line.starts_with("Server listening at ") {
        return Err(format!(
            "the first line should be `Server listening at IP:PORT`, was {line:?}"
        ));
    }
    let addr: SocketAddr = line["Server listening at ".len()..]
        .trim()
        .parse()
        .map_err(|_| format!("`{line}` does not end with IP:PORT"))?;
    if addr.port() == 0 {
        return Err("the printed port is 0: print the address after binding (local_addr)".into());
    }
    test_socket(ctx, "client1")?
        .send_to(b"[1, \"x\"]", addr)
        .with_context(|| format!("sending a request to the printed address {addr}"))?;
    Ok(())
}

fn server_answers(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = start(ctx, &[])?;
    // An old time in the request: a server that echoes the client's text is caught.
    let old = "The time is 2019-05-04 16:20:56.975068";
    let (id, text) = ask_with(&test_socket(ctx, "client1")?, addr, 491, old)?;
    if id != 491 {
        return Err(format!("the request had ID 491 but the reply has ID {id}"));
    }
    if text == old {
        return Err(format!(
            "the request said {old:?} and the reply said the same: the server echoed the \
             client's time instead of reading its own clock"
        ));
    }
    check_time_text(&text)
}

fn server_logs_requests(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let sock = test_socket(ctx, "client1")?;
    sock.send_to(br#"[77, "The time is 2019-05-04 16:20:56.975068"]"#, addr)
        .with_context(|| format!("sending request 77 to the server at {addr}"))?;
    let want = "Request ID: 77. Client request, The time is 2019-05-04 16:20:56.975068";
    server.expect_line(&format!("the line `{want}`"), WAIT, |l| l.trim() == want)?;
    Ok(())
}

fn server_two_clients(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = start(ctx, &[])?;
    let (a, b) = (test_socket(ctx, "client1")?, test_socket(ctx, "client2")?);
    for round in 0..3 {
        let (ida, idb) = (100 + round, 200 + round);
        let (got_a, _) = ask(&a, addr, ida)?;
        let (got_b, _) = ask(&b, addr, idb)?;
        if (got_a, got_b) != (ida, idb) {
            return Err(format!(
                "clients sent IDs {ida} and {idb}, got {got_a} and {got_b}"
            ));
        }
    }
    Ok(())
}

fn server_faulty(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = start(ctx, &["-faulty"])?;
    let sock = test_socket(ctx, "client1")?;
    let mut wrong = 0;
    for id in 0..40 {
        if ask(&sock, addr, id)?.0 != id {
            wrong += 1;
        }
    }
    if !(5..=35).contains(&wrong) {
        return Err(format!(
            "{wrong} of 40 replies had a wrong ID; about half should"
        ));
    }
    Ok(())
}

fn server_survives_garbage(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx, &[])?;
    let sock = test_socket(ctx, "client1")?;
    let garbage: [&[u8]; 8] = [
        b"\xff\xfe not utf-8",
        b"hello",
        b"",
        br#"{"id": 1}"#,
        b"[1]",
        br#"["x", "y"]"#,
        br#"[1.5, "x"]"#,
        br#"[1, "x"#,
    ];
    for bad in garbage {
        sock.send_to(bad, addr)
            .with_context(|| format!("sending a bad datagram to the server at {addr}"))?;
    }
    let (id, _) = ask(&sock, addr, 4242)?;
    if id != 4242 {
        return Err(format!(
            "after bad datagrams the server answered with ID {id}, not 4242: it answered garbage"
        ));
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    Ok(())
}

/// Sends `count` requests at once and counts the replies that come within 300 ms of the last.
fn answered_of(sock: &UdpSocket, server: SocketAddr, count: i64) -> Result<usize, String> {
    for id in 0..count {
        let request = json!([id, time_now()]).to_string();
        sock.send_to(request.as_bytes(), server)
            .with_context(|| format!("sending request {id} to the server at {server}"))?;
    }
    sock.set_read_timeout(Some(QUIET))
        .context("setting the test socket's read timeout")?;
    let (mut buf, mut answered) = ([0u8; 65535], 0);
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        if from == server && parse(&buf[..n]).is_ok() {
            answered += 1;
        }
    }
    Ok(answered)
}

/// Sends `count` requests at once (IDs 0 to count - 1), then a probe (IDs from 1000) every
/// 50 ms until one is answered: the server takes datagrams in turn, so by then it has dealt
/// with all `count`, and their replies are here. How many of the `count` were answered.
fn answered_before_probe(
    sock: &UdpSocket,
    server: SocketAddr,
    count: i64,
) -> Result<usize, String> {
    for id in 0..count {
        let request = json!([id, time_now()]).to_string();
        sock.send_to(request.as_bytes(), server)
            .with_context(|| format!("sending request {id} to the server at {server}"))?;
    }
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .context("setting the test socket's read timeout")?;
    let (mut buf, mut answered) = ([0u8; 65535], 0);
    let deadline = std::time::Instant::now() + WAIT;
    let mut probe = 1000;
    loop {
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "with -drop 0.5 the server answered none of {} probes sent after {count} \
                 requests, in {}",
                probe - 1000,
                secs(WAIT)
            ));
        }
        probe += 1;
        let request = json!([probe, time_now()]).to_string();
        sock.send_to(request.as_bytes(), server)
            .with_context(|| format!("sending a probe to the server at {server}"))?;
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            match parse(&buf[..n]) {
                Ok((id, _)) if from == server && id >= 1000 => return Ok(answered),
                Ok(_) if from == server => answered += 1,
                _ => {}
            }
        }
    }
}

fn server_drops(ctx: &Ctx) -> Result<(), String> {
    let (all, all_addr) = start(ctx, &["-drop", "1"])?;
    let since = all.logged_so_far();
    let answered = answered_of(&test_socket(ctx, "client1")?, all_addr, 5)?;
    if answered > 0 {
        return Err(format!(
            "with -drop 1 the server must not answer at all; it answered {answered} of 5"
        ));
    }
    // A drop on purpose is told on stderr, so whoever runs the server can watch it happen.
    all.expect_logged(
        since,
        "a line about the requests dropped on purpose",
        WAIT,
        |_| true,
    )
    .map_err(|e| all.explain(e))?;
    let (_half, half_addr) = start(ctx, &["-drop", "0.5"])?;
    let answered = answered_before_probe(&test_socket(ctx, "client1")?, half_addr, 40)?;
    if !(5..=35).contains(&answered) {
        return Err(format!(
            "with -drop 0.5 the server answered {answered} of 40 requests; about half expected"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The client, against a stand-in time server (milestones 2, 3, 4 and 6).

/// A request as the stand-in parsed it: `[id, text]`, or what is wrong with the datagram.
type Request = Result<(i64, String), String>;

/// A stand-in time server on the grader's host (127.0.0.1 on loopback): `answer` decides what
/// to do with the n-th request (counted from 0, garbage included); every request is reported,
/// parsed.
fn time_server(
    ctx: &Ctx,
    answer: impl Fn(usize, i64, &UdpSocket, SocketAddr) + Send + 'static,
) -> Result<StandIn<Request>, String> {
    let mut n = 0;
    StandIn::udp(
        (ctx.ip("client1", [127, 0, 0, 1]), 0),
        move |sock, datagram, from, seen| {
            // Reported before it is answered: a check that counts requests after the client ended
            // must see every request the client sent.
            let request = parse(datagram);
            let id = request.as_ref().ok().map(|(id, _)| *id);
            let _ = seen.send(request);
            if let Some(id) = id {
                answer(n, id, sock, from);
            }
            n += 1;
        },
    )
}

/// The next request `client` sent, checked to be `[integer, "The time is …"]`.
fn request(server: &StandIn<Request>, client: &Program) -> Result<(i64, String), String> {
    let request = server.next("request from the client", client)??;
    if !request.1.starts_with("The time is ") {
        return Err(format!(
            "the request's text should be `The time is …`, was {:?}",
            request.1
        ));
    }
    Ok(request)
}

fn reply(sock: &UdpSocket, to: SocketAddr, id: i64, text: &str) {
    let _ = sock.send_to(json!([id, text]).to_string().as_bytes(), to);
}

/// The ID of the grader's marker datagram (no client picks a negative ID).
const MARKER: i64 = -7_777;

/// How many requests the stand-in got from the client, counted once the client has ended: a
/// marker datagram sent to the stand-in then queues behind every datagram the client sent, so
/// when the stand-in reports the marker, none of the client's is still on its way (no waiting
/// for silence).
fn requests_after_end(
    ctx: &Ctx,
    server: &StandIn<Request>,
    client: &Program,
) -> Result<usize, String> {
    let mut requests = server
        .drain()
        .iter()
        .filter(|r| !matches!(r, Ok((MARKER, _))))
        .count();
    let marker = test_socket(ctx, "client2")?;
    reply(&marker, server.addr(), MARKER, "The grader's marker");
    loop {
        match server.next("the grader's marker datagram", client)? {
            Ok((MARKER, _)) => return Ok(requests),
            _ => requests += 1,
        }
    }
}

fn client(ctx: &Ctx, server: &StandIn<Request>, extra: &[&str]) -> Result<Program, String> {
    let (host, port) = (server.addr().ip().to_string(), server.port());
    let mut args = vec!["client", host.as_str(), port.as_str()];
    args.extend_from_slice(extra);
    ctx.spawn(BIN, &args)
}

fn client_prints_time(ctx: &Ctx) -> Result<(), String> {
    let server = time_server(ctx, |_, id, sock, from| reply(sock, from, id, FIXED_TIME))?;
    let client = client(ctx, &server, &[])?;
    let (lines, status) = client.finish(WAIT)?;
    request(&server, &client)?;
    if !lines.iter().any(|l| l.trim() == FIXED_TIME) || !status.success() {
        return Err(format!("the server replied {FIXED_TIME:?}; the client should print it and exit 0, it printed {lines:?}"));
    }
    Ok(())
}

fn client_ignores_strangers(ctx: &Ctx) -> Result<(), String> {
    let stranger = test_socket(ctx, "client2")?;
    let server = time_server(ctx, move |_, id, sock, from| {
        reply(
            &stranger,
            from,
            id,
            "The time is 1999-12-31 23:59:59.000000",
        );
        reply_later(sock, from, id);
    })?;
    let client = client(ctx, &server, &[])?;
    let (lines, _) = client.finish(WAIT)?;
    if lines.iter().any(|l| l.contains("1999-12-31")) {
        return Err("the client printed the time sent by a socket that is not the server".into());
    }
    if !lines.iter().any(|l| l.trim() == FIXED_TIME) {
        return Err(format!(
            "the client should print the server's reply {FIXED_TIME:?}; it printed {lines:?}"
        ));
    }
    // The server answered 100 ms after the stranger: one request was enough.
    let requests = requests_after_end(ctx, &server, &client)?;
    if requests > 1 {
        return Err(format!(
            "the server answered within 100 ms, yet the client sent {requests} requests: \
             the stranger's datagram ended its wait for the reply"
        ));
    }
    Ok(())
}

/// The real reply 100 ms later, from another thread: the stand-in stays free to see a second
/// request at once.
fn reply_later(sock: &UdpSocket, to: SocketAddr, id: i64) {
    if let Ok(sock) = sock.try_clone() {
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            reply(&sock, to, id, FIXED_TIME);
        });
    }
}

/// Each datagram the client ignores leaves a line on its stderr (the handout, milestone 2): one
/// from a stranger and one from the server that is not JSON, then the real reply.
fn client_logs_ignored(ctx: &Ctx) -> Result<(), String> {
    let stranger = test_socket(ctx, "client2")?;
    let server = time_server(ctx, move |_, id, sock, from| {
        reply(&stranger, from, id, FIXED_TIME);
        let _ = sock.send_to(b"not JSON at all", from);
        reply_later(sock, from, id);
    })?;
    let client = client(ctx, &server, &[])?;
    let (lines, _) = client.finish(WAIT)?;
    if !lines.iter().any(|l| l.trim() == FIXED_TIME) {
        return Err(format!(
            "the client should print the server's reply {FIXED_TIME:?}; it printed {lines:?}"
        ));
    }
    let stderr = client.stderr();
    let logged: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if logged.len() < 2 {
        return Err(format!(
            "before the reply came a datagram from a stranger and one from the server that is not \
             JSON; each should leave a line on stderr (what it says is yours); stderr had {logged:?}"
        ));
    }
    Ok(())
}

fn client_detects_wrong_id(ctx: &Ctx) -> Result<(), String> {
    let server = time_server(ctx, |_, id, sock, from| {
        reply(sock, from, id + 1, FIXED_TIME)
    })?;
    let client = client(ctx, &server, &[])?;
    let (lines, status) = client.finish(WAIT)?;
    request(&server, &client)?;
    if lines.iter().any(|l| l.contains(FIXED_TIME)) {
        return Err(
            "the client printed the time from a reply whose ID is not the request's".into(),
        );
    }
    if status.success() || !lines.iter().any(|l| l.contains("another request")) {
        return Err(format!(
            "the client should print that the reply belongs to another request and exit non-zero; it printed {lines:?}"
        ));
    }
    // The request itself was taken by `request` above: any other is a retry.
    let requests = requests_after_end(ctx, &server, &client)?;
    if requests > 0 || lines.iter().any(|l| l.contains("timed out")) {
        return Err(format!(
            "the server answered with another request's ID: the client should report that and \
             stop, not try again; it sent the request at least {} times and printed {}",
            requests + 1,
            shown(&lines)
        ));
    }
    Ok(())
}

fn client_retries(ctx: &Ctx) -> Result<(), String> {
    let server = time_server(ctx, |n, id, sock, from| {
        if n > 0 {
            reply(sock, from, id, FIXED_TIME);
        }
    })?;
    let client = client(ctx, &server, &["-timeout", "0.3", "-retries", "2"])?;
    let (lines, status) = client.finish(WAIT)?;
    if !status.success() || !lines.iter().any(|l| l.trim() == FIXED_TIME) {
        return Err(format!(
            "the server ignored the first request and answered the second; the client printed {}",
            shown(&lines)
        ));
    }
    let ids: Vec<i64> = server.drain().into_iter().flatten().map(|r| r.0).collect();
    if ids.len() == 2 && ids[0] != ids[1] {
        return Err(format!(
            "the client sent request {} again as request {}: a retry is the same request, \
             with the same ID (a late reply to the first try answers it too)",
            ids[0], ids[1]
        ));
    }
    Ok(())
}

/// The times the silent stand-in received the client's requests, and how the client ended.
fn silent_server_times(
    ctx: &Ctx,
    extra: &[&str],
    deadline: Duration,
) -> Result<(Vec<std::time::Instant>, Vec<String>, bool), String> {
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = times.clone();
    let server = time_server(ctx, move |_, _, _, _| {
        if let Ok(mut t) = seen.lock() {
            t.push(std::time::Instant::now());
        }
    })?;
    let client = client(ctx, &server, extra)?;
    let (lines, status) = client.finish(deadline)?;
    drop(server);
    let times = times.lock().map(|t| t.clone()).unwrap_or_default();
    Ok((times, lines, status.success()))
}

/// Gaps between the requests, each at least `at_least` (the client's own timer: only a lower
/// bound is deterministic on a loaded machine).
fn check_gaps(
    times: &[std::time::Instant],
    want: usize,
    at_least: Duration,
    options: &str,
) -> Result<(), String> {
    if times.len() != want {
        return Err(format!(
            "with {options} a silent server should get {want} requests; it got {}",
            times.len()
        ));
    }
    for (i, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        if gap < at_least {
            return Err(format!(
                "with {options} the client should wait {} for a reply before sending again; \
                 it sent try {} only {} ms after try {}",
                secs(at_least),
                i + 2,
                gap.as_millis(),
                i + 1
            ));
        }
    }
    Ok(())
}

fn client_timeout_option(ctx: &Ctx) -> Result<(), String> {
    // The two clients wait side by side (3 s each): the check waits for the slower, not both.
    let transcript = socklab::grader::transcript::Transcript::current();
    let (defaults, options) = thread::scope(|scope| {
        let with_options = scope.spawn(|| {
            if let Some(t) = &transcript {
                t.enter();
            }
            silent_server_times(
                ctx,
                &["-timeout", "1.5", "-retries", "1"],
                Duration::from_secs(3) + WAIT + WAIT,
            )
        });
        // Defaults: -timeout 1, -retries 2.
        let defaults = silent_server_times(ctx, &[], Duration::from_secs(3) + WAIT + WAIT);
        let options = with_options
            .join()
            .unwrap_or_else(|_| Err("the check's second client thread panicked".to_string()));
        (defaults, options)
    });
    let (times, lines, ok) = defaults?;
    if ok || !lines.iter().any(|l| l.trim() == "Request timed out") {
        return Err(format!(
            "without options, a silent server: the client should print `Request timed out` \
             and exit non-zero; it printed {}",
            shown(&lines)
        ));
    }
    check_gaps(
        &times,
        3,
        Duration::from_millis(950),
        "no options (-timeout 1 -retries 2 by default)",
    )?;
    let (times, _, _) = options?;
    check_gaps(
        &times,
        2,
        Duration::from_millis(1450),
        "-timeout 1.5 -retries 1",
    )
}

fn client_times_out(ctx: &Ctx) -> Result<(), String> {
    let server = time_server(ctx, |_, _, _, _| {})?;
    let client = client(ctx, &server, &["-timeout", "0.2", "-retries", "1"])?;
    let (lines, status) = client.finish(WAIT)?;
    let sent = server.drain().len();
    if status.success() || !lines.iter().any(|l| l.trim() == "Request timed out") {
        return Err(format!("with a silent server the client should print `Request timed out` and exit non-zero; it printed {lines:?}"));
    }
    if sent != 2 {
        return Err(format!(
            "with -retries 1 the client should send 2 requests; the server got {sent}"
        ));
    }
    Ok(())
}

/// Strangers' datagrams keep coming while the server stays silent: the wait still ends
/// `-timeout` after the request, since the timeout is for the reply, not for any datagram.
fn client_strays_do_not_extend_the_wait(ctx: &Ctx) -> Result<(), String> {
    let stranger = test_socket(ctx, "client2")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = time_server(ctx, move |_, _, _, from| {
        let _ = tx.send(from);
    })?;
    let client = client(ctx, &server, &["-timeout", "0.5", "-retries", "0"])?;
    request(&server, &client)?;
    let from: SocketAddr = rx
        .recv_timeout(WAIT)
        .map_err(|_| "the stand-in server saw no request".to_string())?;
    // A client whose wait starts again with each datagram never ends while they come (one
    // every 150 ms); a right one ends 0.5 s after its request, however loaded the machine
    // (6.5 s allowed).
    let deadline = std::time::Instant::now() + Duration::from_millis(500) + WAIT + WAIT;
    let mut strays = 0;
    while client.is_running() {
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "with -timeout 0.5 -retries 0 and a silent server the client should give up \
                 0.5 s after its request; after 6.5 s and {strays} strangers' datagrams it still \
                 waited: each one started its wait again"
            ));
        }
        reply(&stranger, from, 7, "The time is 1999-12-31 23:59:59.000000");
        strays += 1;
        thread::sleep(Duration::from_millis(150));
    }
    let (lines, status) = client.finish(WAIT)?;
    if status.success() || !lines.iter().any(|l| l.trim() == "Request timed out") {
        return Err(format!(
            "with a silent server and strangers' datagrams the client should print `Request \
             timed out` and exit non-zero; it printed {}",
            shown(&lines)
        ));
    }
    Ok(())
}

/// A request that cannot even be sent (port 0 is no one's) is an error at once, never a wait
/// for a reply that cannot come.
fn client_send_error(ctx: &Ctx) -> Result<(), String> {
    let host = ctx.ip("client1", [127, 0, 0, 1]).to_string();
    let client = ctx.spawn(
        BIN,
        &["client", &host, "0", "-timeout", "2", "-retries", "2"],
    )?;
    // The retries alone would take 6 s (3 × -timeout 2); a slow start must not fail the check.
    let (lines, status) = client.finish(WAIT).map_err(|e| {
        format!("sending to port 0 fails at once; the client should report that and end: {e}")
    })?;
    if status.success() || lines.iter().any(|l| l.contains("timed out")) {
        return Err(format!(
            "sending to port 0 fails at once: the client should exit non-zero with the error, \
             not wait for a reply; it printed {}",
            shown(&lines)
        ));
    }
    Ok(())
}

/// The stand-in for the delay checks: its clock is 10 s ahead; it ignores the 3rd and
/// 7th requests and gives the 5th a wrong ID.
fn delay_server(ctx: &Ctx) -> Result<StandIn<Request>, String> {
    time_server(ctx, |n, id, sock, from| {
        let ahead = chrono::Local::now() + chrono::Duration::seconds(10);
        let text = format!("The time is {}", ahead.format("%Y-%m-%d %H:%M:%S%.6f"));
        match n {
            2 | 6 => {}
            4 => reply(sock, from, id + 1, &text),
            _ => reply(sock, from, id, &text),
        }
    })
}

fn numbers_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.trim_start().split([',', ' ']).next()?.parse().ok()
}

fn client_measures(ctx: &Ctx) -> Result<(), String> {
    let server = delay_server(ctx)?;
    let client = client(ctx, &server, &["-measure_delay", "10", "-timeout", "0.3"])?;
    let (lines, _) = client.finish(Duration::from_secs(8))?;
    let want = "sent 10, answered 7, lost 2, wrong ID 1";
    if !lines.iter().any(|l| l.trim() == want) {
        return Err(format!("of 10 requests the server answered 7, ignored 2 and gave 1 a wrong ID; expected the line `{want}`, got {lines:?}"));
    }
    let rtt = lines
        .iter()
        .find(|l| l.starts_with("round trip"))
        .ok_or("no `round trip (ms): min …` line")?;
    let stats: Vec<f64> = ["min", "median", "p99", "max"]
        .iter()
        .filter_map(|k| numbers_after(rtt, k))
        .collect();
    if stats.len() != 4 || stats.windows(2).any(|w| w[0] > w[1]) || stats[3] > 300.0 {
        return Err(format!(
            "the round-trip line should give min ≤ median ≤ p99 ≤ max in ms: {rtt:?}"
        ));
    }
    let offset = lines
        .iter()
        .find(|l| l.contains("offset"))
        .and_then(|l| numbers_after(l, "median"))
        .ok_or("no `server clock offset (ms, Cristian): median …` line")?;
    if (offset - 10_000.0).abs() > 1_000.0 {
        return Err(format!(
            "the server's clock is 10 s ahead; the client reported an offset of {offset} ms"
        ));
    }
    Ok(())
}

fn client_logs_csv(ctx: &Ctx) -> Result<(), String> {
    let server = delay_server(ctx)?;
    let path = ctx.scratch_dir().join("delays.csv");
    let path_text = path.to_string_lossy().to_string();
    let client = client(
        ctx,
        &server,
        &["-measure_delay", "5", "-timeout", "0.3", "-log", &path_text],
    )?;
    client.finish(Duration::from_secs(6))?;
    let csv = std::fs::read_to_string(&path).with_context(|| format!("-log {path_text}"))?;
    let rows: Vec<&str> = csv.lines().collect();
    if rows.len() != 6 || !rows[0].contains("request_id") {
        return Err(format!(
            "expected a header with request_id and 5 rows, got {} lines",
            rows.len()
        ));
    }
    if !rows[1..].iter().any(|r| r.contains("lost")) {
        return Err("the 3rd request was never answered; its row should say lost".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 7: questions on a capture of the student's own programs (labs/udp-time/answers.txt).

/// The questions of `labs/udp-time/answers.txt`, in its order. Fixed answers are stored hashed:
/// `cargo run --bin socklab -- capture --lab udp-time --hash KEY=ANSWER` prints a hash.
static QUESTIONS: QuestionSet = QuestionSet {
    milestone: "7 capture questions",
    salt: "socklab/udp-time/5e1f",
    captures: &[CaptureFile {
        name: "udp-time",
        holds: "a request of your client and your server's reply (UDP on loopback)",
        check: |packets| exchange(packets).map(|_| ()),
    }],
    questions: &[
        Question {
            key: "client_port",
            capture: "udp-time",
            title: "the client's source port, read from the capture",
            text: "Which UDP port did your client send its first request from?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok(f64::from(exchange(p)?.0.src.port()))),
            hint: "The source port of the first request: the OS chose it when the client bound port 0.",
        },
        Question {
            key: "udp_length",
            capture: "udp-time",
            title: "the Length field of the first request",
            text: "What is the Length field of the first request's UDP header, in bytes?",
            form: Form::Integer,
            answer: Answer::Capture(|p| Ok((exchange(p)?.0.len + 8) as f64)),
            hint: "Expand User Datagram Protocol in Wireshark and read its Length field in the first request (not the payload's length).",
        },
        Question {
            key: "rtt_ms",
            capture: "udp-time",
            title: "the round-trip time of the first request",
            text: "How many milliseconds passed between the first request and its reply?",
            form: Form::Decimal { tolerance: 0.002 },
            answer: Answer::Capture(|p| {
                let (request, reply) = exchange(p)?;
                Ok((reply.time_ns - request.time_ns) as f64 / 1e6)
            }),
            hint: "Subtract the request's capture time from the reply's (View > Time Display Format shows seconds since the previous packet); give milliseconds with 3 decimals.",
        },
        Question {
            key: "udp_fields",
            capture: "udp-time",
            title: "how many fields the UDP header has",
            text: "How many fields does the UDP header have?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "478de12e80198b78a775f69fdf183c2b0ac44e10f87354a39fdb756d15ffadcb",
                near: &[],
            },
            hint: "Select a request and expand User Datagram Protocol: count the header's fields (not the payload).",
        },
        Question {
            key: "field_bytes",
            capture: "udp-time",
            title: "how many bytes each UDP header field takes",
            text: "How many bytes long is each field of the UDP header?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "addfc4e1956b53240731c41d968451c4ed5568816161c0dd6d81c9ad7407b1ef",
                near: &[],
            },
            hint: "Click a header field in Wireshark: the bytes pane highlights its bytes.",
        },
        Question {
            key: "max_payload",
            capture: "udp-time",
            title: "the largest payload the UDP Length field allows",
            text: "What is the largest number of payload bytes that the UDP header's Length field allows? (UDP alone: do not count the IP header)",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "d785a39997a94cbe5579a9fc0069394ea544f773d947fe018c365922a4f1cdc8",
                near: &[
                    ("b08fec2671c57dfc32785a1ffd59f8a69ad9bffa2aaa547b94ba931aff7be73f",
                     "that is what is left over IPv4, once its 20-byte header is also taken off; the question asks what UDP's own Length field allows"),
                    ("1897194cc05c21ad2a6b9e0cd7b2396d2a1e92bcb16368c34de8fec7d4c5d50f",
                     "that is the largest Length value, but Length counts more than the payload"),
                ],
            },
            hint: "How large a number fits in the Length field, and what does Length count besides the payload? This question is about UDP's own field, not about what IPv4 leaves room for.",
        },
        Question {
            key: "max_port",
            capture: "udp-time",
            title: "the largest possible port number",
            text: "What is the largest possible source port number?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "6e264114ed09a2f11f7c6dff406a4e0ed37f3ccfaca03f7824aba20810ddd028",
                near: &[],
            },
            hint: "A port is one UDP header field: how large a number fits in its bits?",
        },
        Question {
            key: "protocol_number",
            capture: "udp-time",
            title: "the IP protocol number of UDP",
            text: "What is the protocol number of UDP (the IPv4 Protocol field of your request)?",
            form: Form::Integer,
            answer: Answer::Fixed {
                hash: "ee7492ceea6bee365e7e4c912543f5012e6991bcba3c8ed035d6d536553d9f96",
                near: &[],
            },
            hint: "Expand Internet Protocol Version 4 in a request and read its Protocol field.",
        },
    ],
    scenario,
};

/// The first request (a UDP datagram carrying a JSON array) and the first datagram after it
/// in the opposite direction between the same two sockets.
fn exchange(packets: &[Packet]) -> Result<(&Packet, &Packet), String> {
    let (i, request) = packets
        .iter()
        .enumerate()
        .find(|(_, p)| p.is_udp() && p.payload.first() == Some(&b'['))
        .ok_or("it holds no UDP datagram carrying a request [id, \"The time is …\"]")?;
    let reply = packets[i + 1..]
        .iter()
        .find(|p| p.is_udp() && (p.src, p.dst) == (request.dst, request.src))
        .ok_or_else(|| {
            format!(
                "no reply to the request from {} to {}",
                request.src, request.dst
            )
        })?;
    Ok((request, reply))
}

/// Server and client exchanging one request on loopback, captured on the server's port.
fn scenario(rec: &mut Recorder) -> Result<(), String> {
    let host = rec.ip("webserver")?;
    let (_server, addr) = rec.start_server_on("webserver", BIN, &["server", &host, "0"])?;
    let port = addr.port().to_string();
    rec.capture_on("client1", "udp-time", &format!("udp port {port}"))?;
    let server = rec.name_of("webserver")?;
    let client = rec.spawn_on("client1", BIN, &["client", &server, &port])?;
    client.run_to_end(WAIT).map(|_| ())
}
