//! The student's server (`rp_server`) behind a stand-in proxy written here: its setup is read
//! here, and its data messages are sent here, straight to the port it listens on.

use super::{
    data, error_sentence, number, one_write, sha1_hex, waits_without_spinning, JsonPeer, ACK,
    PAYLOAD, PAYLOAD_SHA1, SERVER,
};
use serde_json::{json, Value};
use socklab::grader::{Ctx, Program, StandIn, WAIT};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A stand-in proxy: it only accepts; the check plays the proxy on each connection.
type Proxy = StandIn<(TcpStream, SocketAddr)>;

/// What the stand-in proxy does once it has the setup.
#[derive(Clone, Copy, PartialEq)]
enum Ack {
    /// Sends the acknowledgement, then closes.
    Send,
    /// Closes without a word.
    Close,
    /// Says nothing and keeps the connection open (12 s: longer than the check waits).
    Silent,
}

/// A stand-in proxy (on client1 across hosts) and a server with id 100 for PP_1 on a port of its
/// choosing (on webserver across hosts), told to register with it; the server's address from its
/// first line; `options` are more of its options (`-ackwait`).
fn start(ctx: &Ctx, options: &[&str]) -> Result<(Proxy, Program, SocketAddr), String> {
    let proxy: Proxy = StandIn::listen((ctx.ip("client1", [127, 0, 0, 1]), 0))?;
    let (port, revhost) = (proxy.port(), proxy.addr().ip().to_string());
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let mut args = vec![
        "-id", "100", "-pp", "PP_1", "-listen", "0", "-revproc", &port, "-revhost", &revhost,
        "-host", &host,
    ];
    args.extend_from_slice(options);
    let (server, addr) = ctx.start_server(SERVER, &args)?;
    Ok((proxy, server, addr))
}

/// A server with id 100 for PP_1 on a port of its choosing, registered with a stand-in proxy:
/// the server, its address (from its first line) and the setup it sent.
fn started(ctx: &Ctx, ack: Ack) -> Result<(Program, SocketAddr, Value, Proxy), String> {
    started_with(ctx, ack, &[])
}

/// The same with more options for the server.
fn started_with(
    ctx: &Ctx,
    ack: Ack,
    options: &[&str],
) -> Result<(Program, SocketAddr, Value, Proxy), String> {
    let (proxy, server, addr) = start(ctx, options)?;
    let (stream, _) = proxy.next("setup connection from the server", &server)?;
    let mut conn = JsonPeer::new(stream, "the test proxy")?;
    let setup = conn
        .receive()
        .map_err(|e| server.explain(format!("the server should send its setup at once: {e}")))?;
    match ack {
        Ack::Send => conn.send(&json!({"Status": ACK}))?,
        Ack::Close => {}
        Ack::Silent => {
            // Held open by the stand-in's own thread, then closed.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(12));
                drop(conn);
            });
        }
    }
    Ok((server, addr, setup, proxy))
}

/// Sends a data message straight to the server and returns its answer.
fn ask_server(
    server: &Program,
    addr: SocketAddr,
    message: &Value,
    within: Duration,
) -> Result<(JsonPeer, Value), String> {
    let mut peer = JsonPeer::connect(addr, "the test proxy").map_err(|e| server.explain(e))?;
    peer.send(message)?;
    let answer = peer.receive_within(within).map_err(|e| server.explain(e))?;
    Ok((peer, answer))
}

/// The reply must be server 100's right answer to client `client` for `payload`, with numbers.
fn check_reply(answer: &Value, client: i64, payload: &str) -> Result<(), String> {
    let want = sha1_hex(payload);
    let ok = number(answer, "type", false) == Some(2)
        && number(answer, "srcid", false) == Some(100)
        && number(answer, "destid", false) == Some(client)
        && number(answer, "payloadsize", false) == Some(40)
        && answer["payload"].as_str() == Some(want.as_str());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the reply should be {{\"type\": 2, \"srcid\": 100, \"destid\": {client}, \"payloadsize\": 40, \"payload\": \"{want}\"}} (numbers as JSON numbers); it was {answer}"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// 1 registration.

pub(super) fn registers(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, setup, _proxy) = started(ctx, Ack::Send)?;
    let fine = number(&setup, "type", false) == Some(1)
        && number(&setup, "id", false) == Some(100)
        && number(&setup, "listenport", false) == Some(i64::from(addr.port()))
        && setup["privPolyId"].as_str() == Some("PP_1")
        && setup["privPoliId"].as_str() == Some("PP_1");
    if !fine {
        return Err(format!(
            "the setup should be {{\"type\": 1, \"id\": 100, \"privPolyId\": \"PP_1\", \"privPoliId\": \"PP_1\", \"listenport\": {}}} (the port of its first line, numbers as JSON numbers, both spellings of the policy key); it was {setup}",
            addr.port()
        ));
    }
    let (_, answer) = ask_server(&server, addr, &data(50, "PP_1", PAYLOAD), WAIT)?;
    check_reply(&answer, 50, PAYLOAD)
}

pub(super) fn without_ack(ctx: &Ctx) -> Result<(), String> {
    for (ack, how) in [
        (Ack::Close, "closes after the setup"),
        (Ack::Silent, "says nothing after the setup"),
    ] {
        // It may wait for an acknowledgement before serving: `-ackwait` says how long.
        let (server, addr, _, _proxy) = started_with(ctx, ack, &["-ackwait", ACK_WAIT])?;
        let (_, answer) = ask_server(
            &server,
            addr,
            &data(51, "PP_1", PAYLOAD),
            ACK_WAIT_TIME + WAIT,
        )
        .map_err(|e| {
            format!("when the proxy {how}, the server (started with `-ackwait {ACK_WAIT}`) should still serve: {e}")
        })?;
        check_reply(&answer, 51, PAYLOAD).map_err(|e| format!("when the proxy {how}: {e}"))?;
    }
    Ok(())
}

/// The `-ackwait` [`without_ack`] gives the server, in seconds: short, so that the check need not
/// wait the 2 s of the default.
const ACK_WAIT: &str = "0.5";
const ACK_WAIT_TIME: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------------
// 3 server.

pub(super) fn answers_sha1(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    let (_, answer) = ask_server(&server, addr, &data(1327, "PP_1", PAYLOAD), WAIT)?;
    if answer["payload"].as_str() != Some(PAYLOAD_SHA1) {
        return Err(format!(
            "for the payload {PAYLOAD} the reply's payload should be its SHA-1 {PAYLOAD_SHA1}; the reply was {answer}"
        ));
    }
    check_reply(&answer, 1327, PAYLOAD)?;
    // Ids as strings, as some proxies forward them; the message split over two writes.
    let payload = "qctspreinhpsqjwpbhvyvmmglsyvitbl";
    let message = json!({"type": "0", "srcid": "1334", "privPoliId": "PP_1", "payloadsize": "32", "payload": payload});
    let mut peer = JsonPeer::connect(addr, "the test proxy").map_err(|e| server.explain(e))?;
    peer.send_split(message.to_string().as_bytes(), 20, server.pid())?;
    let answer = peer.receive().map_err(|e| server.explain(e))?;
    check_reply(&answer, 1334, payload)
        .map_err(|e| format!("a message sent in two writes, with ids as strings: {e}"))
}

pub(super) fn closes_after_reply(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    let (mut peer, _) = ask_server(&server, addr, &data(52, "PP_1", PAYLOAD), WAIT)?;
    if !peer.closes(Duration::from_secs(1)) {
        return Err("after its reply the server should close the connection (some proxies read until it does)".into());
    }
    Ok(())
}

pub(super) fn several_at_once(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    // A connection that sends nothing yet…
    // (first in the queue of connections, so a server that serves one at a time takes it first)…
    let mut idle = JsonPeer::connect(addr, "a silent test proxy").map_err(|e| server.explain(e))?;
    // …must not hold up another.
    let (_, answer) = ask_server(
        &server,
        addr,
        &data(53, "PP_1", PAYLOAD),
        Duration::from_secs(2),
    )
    .map_err(|e| format!("while another connection had sent nothing yet: {e}"))?;
    check_reply(&answer, 53, PAYLOAD)?;
    idle.send(&data(54, "PP_1", PAYLOAD))?;
    let answer = idle.receive().map_err(|e| server.explain(e))?;
    check_reply(&answer, 54, PAYLOAD)
}

/// Out of file descriptors: with six (stdin, stdout, stderr, the listener and two connections
/// that have sent nothing yet) a third connection cannot be accepted. The server must say so on
/// stderr, wait rather than spin on the failing accept, and serve that connection once one has
/// left.
pub(super) fn out_of_descriptors(ctx: &Ctx) -> Result<(), String> {
    let proxy: Proxy = StandIn::listen(("127.0.0.1", 0))?;
    let port = proxy.port();
    let args = [
        "-id", "100", "-pp", "PP_1", "-listen", "0", "-revproc", &port, "-revhost", "127.0.0.1",
        "-host", "127.0.0.1",
    ];
    let server = ctx.spawn_with_fd_limit(SERVER, &args, 6)?;
    let addr = server.address(WAIT)?;
    let (stream, _) = proxy.next("setup connection from the server", &server)?;
    let mut conn = JsonPeer::new(stream, "the test proxy")?;
    conn.receive().map_err(|e| server.explain(e))?;
    conn.send(&json!({"Status": ACK}))?;
    server
        .expect_line("the acknowledgement printed", WAIT, |l| l.contains(ACK))
        .map_err(|e| server.explain(e))?;
    let first = JsonPeer::connect(addr, "a first test proxy").map_err(|e| server.explain(e))?;
    let _second = JsonPeer::connect(addr, "a second test proxy").map_err(|e| server.explain(e))?;
    let since = server.logged_so_far();
    // The kernel completes the handshake; only accept() fails, again and again.
    let mut third = JsonPeer::connect(addr, "a third test proxy").map_err(|e| server.explain(e))?;
    third.send(&data(58, "PP_1", PAYLOAD))?;
    waits_without_spinning(&server, since)?;
    drop(first);
    let answer = third.receive().map_err(|e| {
        server.explain(format!(
            "the first connection closed, freeing its descriptor; the waiting third one should then be answered: {e}"
        ))
    })?;
    check_reply(&answer, 58, PAYLOAD)
}

pub(super) fn survives_bad_input(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    let bad: [(&str, &[u8]); 3] = [
        ("text that is not JSON", b"hello server"),
        ("a data message without payload", br#"{"type": 0, "srcid": 5, "privPoliId": "PP_1"}"#),
        ("a payloadsize that does not match", br#"{"type": 0, "srcid": 5, "privPoliId": "PP_1", "payloadsize": 3, "payload": "abcdef"}"#),
    ];
    for (what, bytes) in bad {
        let mut peer = JsonPeer::connect(addr, "the test proxy").map_err(|e| server.explain(e))?;
        peer.send_raw(bytes)?;
        let answer = peer.receive().map_err(|e| {
            server.explain(format!(
                "after {what}, the server should answer with an error: {e}"
            ))
        })?;
        if error_sentence(&answer).is_none() {
            return Err(format!("after {what}, the server should answer an error object with a sentence; it answered {answer}"));
        }
    }
    // One that vanishes in the middle of a message.
    let mut half = JsonPeer::connect(addr, "the test proxy").map_err(|e| server.explain(e))?;
    half.send_raw(br#"{"type": 0, "sr"#)?;
    drop(half);
    let (_, answer) = ask_server(&server, addr, &data(55, "PP_1", PAYLOAD), WAIT)
        .map_err(|e| format!("after bad messages, the server should go on serving: {e}"))?;
    check_reply(&answer, 55, PAYLOAD)
}

pub(super) fn log_lines(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    ask_server(&server, addr, &data(56, "PP_1", PAYLOAD), WAIT)?;
    server.expect_line(
        &format!("`Received a message from client 56, payload: {PAYLOAD}`"),
        WAIT,
        |l| l.contains("Received a message from client 56") && l.contains(PAYLOAD),
    )?;
    server.expect_line(
        &format!("`Sending a response to client 56, payload: {PAYLOAD_SHA1}`"),
        WAIT,
        |l| l.contains("Sending a response to") && l.contains("56") && l.contains(PAYLOAD_SHA1),
    )?;
    Ok(())
}

pub(super) fn refused_setup(ctx: &Ctx) -> Result<(), String> {
    let (proxy, server, _) = start(ctx, &[])?;
    let (stream, _) = proxy.next("setup connection from the server", &server)?;
    let mut conn = JsonPeer::new(stream, "the test proxy")?;
    conn.receive().map_err(|e| server.explain(e))?;
    let sentence = "server id 100 is already registered from another address";
    conn.send(&json!({"type": 3, "error": sentence}))?;
    let status = server
        .wait(WAIT)
        .map_err(|_| format!("the proxy refused the setup with {{\"error\": \"{sentence}\"}}; the server should stop (exit 1), not serve"))?;
    // The program has exited, but its stderr may still be on its way to the grader's reader
    // thread: wait for its output to be in (stdout closed), then look until the deadline.
    let printed = server.rest(WAIT).unwrap_or_default();
    let deadline = std::time::Instant::now() + WAIT;
    let said = loop {
        let found =
            server.stderr().contains(sentence) || printed.iter().any(|l| l.contains(sentence));
        if found || std::time::Instant::now() >= deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.success() || !said {
        return Err(format!(
            "the proxy refused the setup with {{\"error\": \"{sentence}\"}}; the server should say so (the sentence) and exit 1; it exited with {status}"
        ));
    }
    Ok(())
}

pub(super) fn one_write_per_message(ctx: &Ctx) -> Result<(), String> {
    let (proxy, server, addr) = start(ctx, &[])?;
    let (stream, _) = proxy.next("setup connection from the server", &server)?;
    let mut conn = JsonPeer::new(stream, "the test proxy")?;
    conn.receive()
        .map_err(|e| server.explain(format!("the server should send its setup at once: {e}")))?;
    conn.send(&json!({"Status": ACK}))?;
    one_write(&mut conn, "the server's setup")?;
    let (mut peer, answer) = ask_server(&server, addr, &data(57, "PP_1", PAYLOAD), WAIT)?;
    check_reply(&answer, 57, PAYLOAD)?;
    one_write(&mut peer, "the server's reply")
}

/// Bad input leaves a line on the server's stderr (the handout: logged and answered). Any new
/// line counts; what it says is the student's.
pub(super) fn logs_bad_input(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _, _proxy) = started(ctx, Ack::Send)?;
    for (what, bytes) in [
        ("text that is not JSON", &b"hello server"[..]),
        (
            "a data message without payload",
            br#"{"type": 0, "srcid": 5, "privPoliId": "PP_1"}"#,
        ),
    ] {
        let since = server.logged_so_far();
        let mut peer = JsonPeer::connect(addr, "the test proxy").map_err(|e| server.explain(e))?;
        peer.send_raw(bytes)?;
        let _ = peer.receive();
        server
            .expect_logged(since, &format!("a line about {what}"), WAIT, |l| {
                !l.trim().is_empty()
            })
            .map_err(|e| server.explain(e))?;
    }
    Ok(())
}
