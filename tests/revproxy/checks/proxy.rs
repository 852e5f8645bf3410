//! The student's proxy (`revproc`) between stand-in servers and clients written here; last, all
//! three of the student's programs together.

use super::{
    ask, data, error_sentence, expect_reply, number, one_write, random_payload, register,
    register_from, reply_to, servers_ip, sha1_hex, stand_in_server, stand_in_server_on, Behaviour,
    waits_without_spinning, JsonPeer, ACK, CLIENT, PAYLOAD, PAYLOAD_SHA1, PROXY, SERVER,
};
use serde_json::{json, Value};
use socklab::grader::{hosts, Context, Ctx, Program, StandIn, WAIT};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Starts the proxy on its host (127.0.0.1 on loopback) and a port the OS picks.
fn start_proxy(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start_proxy_with(ctx, &[])
}

/// The same with more options (`-timeout`, `-retry`).
fn start_proxy_with(ctx: &Ctx, options: &[&str]) -> Result<(Program, SocketAddr), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let mut args = vec!["-port", "0", "-host", &host];
    args.extend_from_slice(options);
    ctx.start_server(PROXY, &args)
}

/// The `-timeout` and `-retry` the failure checks give the proxy, in seconds: short, so that
/// they need not wait the 5 s of the defaults.
const SHORT: &str = "1";
const SHORT_TIME: Duration = Duration::from_secs(1);

/// A port nothing listens on at [`servers_ip`]: bound, then let go.
fn dead_port(ctx: &Ctx) -> Result<u16, String> {
    let ip = servers_ip(ctx);
    let listener = hosts::at(ip, || TcpListener::bind((ip, 0))).context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

// ---------------------------------------------------------------------------------------------
// 1 registration.

pub(super) fn acknowledges(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let setups = [
        json!({"type": 1, "id": 100, "privPolyId": "PP_1", "listenport": 5001}),
        json!({"type": 1, "id": 101, "privPoliId": "PP_1", "listenport": 5002}),
        json!({"type": "1", "id": "102", "privPoliId": "PP_2", "listenport": "5003"}),
    ];
    for setup in &setups {
        register_from(addr, servers_ip(ctx), setup).map_err(|e| proxy.explain(e))?;
    }
    Ok(())
}

pub(super) fn framing(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let setup = json!({"type": 1, "id": 7, "privPolyId": "PP_1", "listenport": 5001}).to_string();
    let pieces: [(&str, Vec<u8>, usize); 3] = [
        (
            "in two writes, the second once the proxy has read the first",
            setup.clone().into_bytes(),
            9,
        ),
        (
            "followed by a newline",
            format!("{setup}\n").into_bytes(),
            usize::MAX,
        ),
        (
            "in two writes, the second ending in a newline",
            format!("{setup}\n").into_bytes(),
            setup.len() - 3,
        ),
    ];
    for (how, bytes, at) in pieces {
        let mut peer = JsonPeer::connect(addr, "a test server registering")?;
        peer.send_split(&bytes, at, proxy.pid())?;
        let answer = peer
            .receive()
            .with_context(|| format!("a setup sent {how}"))
            .map_err(|e| proxy.explain(e))?;
        if answer.get("Status").and_then(Value::as_str) != Some(ACK) {
            return Err(format!(
                "a setup sent {how} should be acknowledged with {{\"Status\": \"{ACK}\"}}; the proxy answered {answer}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2 routing.

pub(super) fn routes_by_policy(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let one = stand_in_server(ctx, 1, Behaviour::Good)?;
    let two = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", one.addr().port())?;
    register(ctx, addr, 2, "PP_2", two.addr().port())?;
    // The course's packet: the reply carries the SHA-1 of its payload.
    let answer =
        ask(addr, &data(1327, "PP_2", PAYLOAD), "client 1327").map_err(|e| proxy.explain(e))?;
    let forwarded = two
        .next("message from the proxy (PP_2's server)", &proxy)
        .context("client 1327 sent a message for PP_2")?;
    if number(&forwarded, "type", true) != Some(0)
        || number(&forwarded, "srcid", true) != Some(1327)
        || forwarded["payload"].as_str() != Some(PAYLOAD)
    {
        return Err(format!(
            "the server of PP_2 should get the client's data message (type 0, srcid 1327, payload {PAYLOAD}); it got {forwarded}"
        ));
    }
    if answer["payload"].as_str() != Some(PAYLOAD_SHA1)
        || number(&answer, "srcid", true) != Some(2)
        || number(&answer, "destid", true) != Some(1327)
    {
        return Err(format!(
            "client 1327 should get server 2's reply (srcid 2, destid 1327, payload {PAYLOAD_SHA1}); it got {answer}"
        ));
    }
    if !one.drain().is_empty() {
        return Err("a message for PP_2 also reached the server of PP_1".into());
    }
    expect_reply(addr, 1334, "PP_1", 1).map_err(|e| proxy.explain(e))?;
    if !two.drain().is_empty() {
        return Err("a message for PP_1 reached the server of PP_2".into());
    }
    // One message per connection: the proxy closes the client's connection after the reply.
    let mut peer = JsonPeer::connect(addr, "client 1335")?;
    peer.send(&data(1335, "PP_1", &random_payload()))?;
    peer.receive()?;
    if !peer.closes(WAIT) {
        return Err("after the reply, the proxy should close the client's connection (one message per connection)".into());
    }
    Ok(())
}

pub(super) fn either_policy_key(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let ip = servers_ip(ctx);
    let servers = [
        (
            11,
            "PP_1",
            "privPolyId",
            stand_in_server(ctx, 11, Behaviour::Good)?,
        ),
        (
            12,
            "PP_2",
            "privPoliId",
            stand_in_server(ctx, 12, Behaviour::Good)?,
        ),
        (
            13,
            "PP_3",
            "privPoliId",
            stand_in_server(ctx, 13, Behaviour::Good)?,
        ),
    ];
    for (id, policy, key, server) in &servers {
        let port = server.addr().port();
        // The third one sends every number as a string, as some servers do.
        let setup = if *id == 13 {
            json!({"type": "1", "id": id.to_string(), *key: policy, "listenport": port.to_string()})
        } else {
            json!({"type": 1, "id": id, *key: policy, "listenport": port})
        };
        register_from(addr, ip, &setup).map_err(|e| proxy.explain(e))?;
    }
    for (i, (id, policy, key, _)) in servers.iter().enumerate() {
        let why = if *id == 13 {
            format!("server {id} registered for {policy} with the key `{key}` and every number as a string")
        } else {
            format!("server {id} registered for {policy} with the key `{key}` (real servers send either spelling)")
        };
        expect_reply(addr, 200 + i as i64, policy, *id)
            .context(&why)
            .map_err(|e| proxy.explain(e))?;
    }
    Ok(())
}

pub(super) fn reply_in_pieces(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let server = stand_in_server(ctx, 6, Behaviour::Pieces(proxy.pid()))?;
    register(ctx, addr, 6, "PP_6", server.addr().port())?;
    expect_reply(addr, 210, "PP_6", 6)
        .context("PP_6's server writes its reply in two pieces, the second once the proxy has read the first; the proxy must read until the reply is whole (read_message), not take one read as the message")
        .map_err(|e| proxy.explain(e))
}

pub(super) fn relays_wrong_size(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let server = stand_in_server(ctx, 5, Behaviour::CopiesSize)?;
    register(ctx, addr, 5, "PP_5", server.addr().port())?;
    let payload = random_payload();
    let answer =
        ask(addr, &data(220, "PP_5", &payload), "client 220").map_err(|e| proxy.explain(e))?;
    let want = sha1_hex(&payload);
    let relayed = number(&answer, "type", true) == Some(2)
        && number(&answer, "srcid", true) == Some(5)
        && number(&answer, "destid", true) == Some(220)
        && answer["payload"].as_str() == Some(want.as_str())
        && error_sentence(&answer).is_none();
    if !relayed {
        return Err(format!(
            "PP_5's server 5 replied with the right SHA-1 but with \"payloadsize\": 32 (it copied the request's, as a real student's server does); the proxy should relay that reply to the client (log a warning if you like: the client's hash check judges the reply), not answer an error; client 220 got {answer}"
        ));
    }
    Ok(())
}

pub(super) fn one_write_per_message(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let ip = servers_ip(ctx);
    // The server is played here, connection by connection.
    let server: StandIn<(TcpStream, SocketAddr)> = hosts::at(ip, || StandIn::listen((ip, 0)))?;
    let mut setup = JsonPeer::connect_from(addr, ip, "a test server registering")
        .map_err(|e| proxy.explain(e))?;
    setup.send(
        &json!({"type": 1, "id": 8, "privPolyId": "PP_8", "listenport": server.addr().port()}),
    )?;
    let ack = setup.receive().map_err(|e| proxy.explain(e))?;
    if ack.get("Status").and_then(Value::as_str) != Some(ACK) {
        return Err(format!(
            "after a setup the proxy should answer {{\"Status\": \"{ACK}\"}}; it answered {ack}"
        ));
    }
    one_write(&mut setup, "the proxy's acknowledgement of a setup")?;
    let payload = random_payload();
    let mut client = JsonPeer::connect(addr, "client 230").map_err(|e| proxy.explain(e))?;
    client.send(&data(230, "PP_8", &payload))?;
    let (stream, _) = server.next("connection from the proxy", &proxy)?;
    let mut up = JsonPeer::new(stream, "the test server")?;
    let forwarded = up.receive().map_err(|e| proxy.explain(e))?;
    up.send(&reply_to(8, &forwarded))?;
    one_write(
        &mut up,
        "the data message the proxy forwarded to the server",
    )?;
    let answer = client.receive().map_err(|e| proxy.explain(e))?;
    if answer["payload"].as_str() != Some(sha1_hex(&payload).as_str()) {
        return Err(format!(
            "client 230 should get server 8's reply with the SHA-1 of its payload; it got {answer}"
        ));
    }
    one_write(&mut client, "the reply the proxy relayed to the client")?;
    let mut lost = JsonPeer::connect(addr, "client 231").map_err(|e| proxy.explain(e))?;
    lost.send(&data(231, "PP_9", &payload))?;
    let error = lost.receive().map_err(|e| proxy.explain(e))?;
    if error_sentence(&error).is_none() {
        return Err(format!(
            "no server serves PP_9; client 231 should get an error object with a sentence; it got {error}"
        ));
    }
    one_write(&mut lost, "the proxy's error message (no server for PP_9)")
}

/// Sends `policies` in order and returns the id of the server whose reply each got.
fn servers_of(proxy: &Program, addr: SocketAddr, policies: &[&str]) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let payload = random_payload();
        let answer = ask(addr, &data(500 + i as i64, policy, &payload), "a client")
            .map_err(|e| proxy.explain(e))?;
        if answer["payload"].as_str() != Some(sha1_hex(&payload).as_str()) {
            return Err(format!(
                "message {} (for {policy}) should be answered with its SHA-1; the proxy answered {answer}",
                i + 1
            ));
        }
        ids.push(number(&answer, "srcid", true).unwrap_or(-1));
    }
    Ok(ids)
}

pub(super) fn round_robin(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let first = stand_in_server(ctx, 1, Behaviour::Good)?;
    let second = stand_in_server(ctx, 2, Behaviour::Good)?;
    let other = stand_in_server(ctx, 9, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", first.addr().port())?;
    register(ctx, addr, 9, "PP_2", other.addr().port())?;
    register(ctx, addr, 2, "PP_1", second.addr().port())?;
    // PP_2's messages in between must not move PP_1's turn.
    let order = [
        "PP_1", "PP_2", "PP_1", "PP_1", "PP_2", "PP_2", "PP_1", "PP_1",
    ];
    let ids = servers_of(&proxy, addr, &order)?;
    let pp1: Vec<i64> = order
        .iter()
        .zip(&ids)
        .filter(|(p, _)| **p == "PP_1")
        .map(|(_, id)| *id)
        .collect();
    let pp2: Vec<i64> = order
        .iter()
        .zip(&ids)
        .filter(|(p, _)| **p == "PP_2")
        .map(|(_, id)| *id)
        .collect();
    if pp1 != [1, 2, 1, 2, 1] || pp2 != [9, 9, 9] {
        return Err(format!(
            "PP_1 has servers 1 then 2, PP_2 has server 9; messages for {order:?} should reach PP_1's servers 1, 2, 1, 2, 1 and PP_2's 9, 9, 9; they reached {ids:?}"
        ));
    }
    Ok(())
}

pub(super) fn registered_address(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    // The stand-in listens on 127.0.0.7 only (across hosts, on client2), and registers from
    // there: the proxy must connect to the setup's source address, not to 127.0.0.1, to the
    // address it listens on or to the client's.
    let at = ctx.ip("client2", [127, 0, 0, 7]);
    let server = stand_in_server_at(at, 4)?;
    register_from(
        addr,
        at,
        &json!({"type": 1, "id": 4, "privPolyId": "PP_4", "listenport": server.addr().port()}),
    )
    .map_err(|e| proxy.explain(e))?;
    for srcid in [40, 41, 42] {
        expect_reply(addr, srcid, "PP_4", 4).map_err(|e| proxy.explain(e))?;
    }
    let got = server.drain();
    if got.len() != 3 {
        return Err(format!(
            "three messages should reach the server over three connections; {} did",
            got.len()
        ));
    }
    Ok(())
}

/// A good stand-in server listening on `ip` only (across hosts, on the host that has it).
fn stand_in_server_at(ip: IpAddr, id: i64) -> Result<StandIn<Value>, String> {
    hosts::at(ip, || {
        StandIn::tcp((ip, 0), move |stream, _from, seen| {
            let Ok(mut peer) = JsonPeer::new(stream, "the test server") else {
                return;
            };
            if let Ok(message) = peer.receive() {
                let _ = seen.send(message.clone());
                let _ = peer.send(&super::reply_to(id, &message));
            }
        })
    })
}

pub(super) fn unknown_policy(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let server = stand_in_server(ctx, 1, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", server.addr().port())?;
    let answer =
        ask(addr, &data(77, "PP_9", PAYLOAD), "client 77").map_err(|e| proxy.explain(e))?;
    if error_sentence(&answer).is_none() {
        return Err(format!(
            "no server serves PP_9; the client should get an error object with a sentence (an `error` field); it got {answer}"
        ));
    }
    expect_reply(addr, 78, "PP_1", 1)
        .context("after an unknown policy, the proxy should go on serving")
        .map_err(|e| proxy.explain(e))
}

// ---------------------------------------------------------------------------------------------
// 5 failures.

pub(super) fn dead_server_skipped(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let alive = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", dead_port(ctx)?)?;
    register(ctx, addr, 2, "PP_1", alive.addr().port())?;
    for srcid in 60..64 {
        expect_reply(addr, srcid, "PP_1", 2)
            .context("server 1 of PP_1 refuses connections; every message should reach server 2")
            .map_err(|e| proxy.explain(e))?;
    }
    // Server 1 restarts on another port and registers again: it is back at once, at its new
    // address, and takes its turns again.
    let back = stand_in_server(ctx, 1, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", back.addr().port())?;
    let ids = servers_of(&proxy, addr, &["PP_1", "PP_1"])?;
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    if sorted != [1, 2] {
        return Err(format!(
            "server 1 of PP_1 registered again from a new port; the next two messages should reach servers 1 and 2, one each; they reached {ids:?}"
        ));
    }
    // A dead server between two live ones: skipping it must not upset the turn of the others.
    let first = stand_in_server(ctx, 21, Behaviour::Good)?;
    let last = stand_in_server(ctx, 22, Behaviour::Good)?;
    register(ctx, addr, 21, "PP_2", first.addr().port())?;
    register(ctx, addr, 23, "PP_2", dead_port(ctx)?)?;
    register(ctx, addr, 22, "PP_2", last.addr().port())?;
    let ids = servers_of(&proxy, addr, &["PP_2"; 5])?;
    if ids != [21, 22, 21, 22, 21] {
        return Err(format!(
            "PP_2 has servers 21, 23 and 22 in that order, and 23 refuses connections; five messages should reach 21, 22, 21, 22, 21 (23 skipped, the turn moving past the server chosen); they reached {ids:?}"
        ));
    }
    // Three dead servers in a row before a live one: one message tries them all (up to four).
    let alive = stand_in_server(ctx, 44, Behaviour::Good)?;
    for id in [41, 42, 43] {
        register(ctx, addr, id, "PP_4", dead_port(ctx)?)?;
    }
    register(ctx, addr, 44, "PP_4", alive.addr().port())?;
    expect_reply(addr, 240, "PP_4", 44)
        .context("PP_4's servers 41, 42 and 43 refuse connections and 44 is up; the handout: a message tries up to four servers, so the first message should reach server 44")
        .map_err(|e| proxy.explain(e))?;
    // Server 31 registers again from a new port while its old one still answers: the proxy
    // knows one address per server, the newest.
    let old = stand_in_server(ctx, 31, Behaviour::Good)?;
    let other = stand_in_server(ctx, 32, Behaviour::Good)?;
    let new = stand_in_server(ctx, 31, Behaviour::Good)?;
    register(ctx, addr, 31, "PP_3", old.addr().port())?;
    register(ctx, addr, 32, "PP_3", other.addr().port())?;
    register(ctx, addr, 31, "PP_3", new.addr().port())?;
    servers_of(&proxy, addr, &["PP_3"; 4])?;
    let (at_old, at_new, at_other) = (old.drain().len(), new.drain().len(), other.drain().len());
    if at_old != 0 || at_new != 2 || at_other != 2 {
        return Err(format!(
            "server 31 of PP_3 registered again from a new port: the proxy should forget its old address, so four messages go 2 to its new port and 2 to server 32; its old port got {at_old}, its new port {at_new}, server 32 {at_other}"
        ));
    }
    Ok(())
}

pub(super) fn silent_server_skipped(ctx: &Ctx) -> Result<(), String> {
    // A short time limit; the default time a server stays down (5 s) outlasts the check.
    let (proxy, addr) = start_proxy_with(ctx, &["-timeout", SHORT])?;
    // Accepts and never answers: the connections are held here, each one noted.
    let ip = servers_ip(ctx);
    let silent: StandIn<(TcpStream, SocketAddr)> = hosts::at(ip, || StandIn::listen((ip, 0)))?;
    let alive = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_7", silent.addr().port())?;
    register(ctx, addr, 2, "PP_7", alive.addr().port())?;
    let mut first = JsonPeer::connect(addr, "client 65").map_err(|e| proxy.explain(e))?;
    let payload = random_payload();
    first.send(&data(65, "PP_7", &payload))?;
    let answer = first
        .receive_within(SHORT_TIME + WAIT)
        .with_context(|| format!("server 1 of PP_7 never answers; the proxy was started with `-timeout {SHORT}`, so after {SHORT} s the message should go to server 2"))
        .map_err(|e| proxy.explain(e))?;
    if number(&answer, "srcid", true) != Some(2)
        || answer["payload"].as_str() != Some(sha1_hex(&payload).as_str())
    {
        return Err(format!(
            "server 1 of PP_7 never answers; client 65's message should then go to server 2 and get its reply; it got {answer}"
        ));
    }
    let _held = silent.next("connection from the proxy (server 1's turn)", &proxy)?;
    for srcid in [66, 67] {
        expect_reply(addr, srcid, "PP_7", 2).map_err(|e| proxy.explain(e))?;
    }
    // Every connection to server 1 is noted as it is accepted: only the first may have come.
    let again = silent.drain().len();
    if again != 0 {
        return Err(format!(
            "server 1 of PP_7 did not answer in time once; the next messages should skip it for a while (5 s by default), but the proxy connected to it again for {again} of the next two"
        ));
    }
    Ok(())
}

/// Out of file descriptors: with six (stdin, stdout, stderr, the listener and two clients that
/// have sent nothing yet) a third client cannot be accepted. The proxy must say so on stderr,
/// wait rather than spin on the failing accept, and serve that client once one has left.
pub(super) fn out_of_descriptors(ctx: &Ctx) -> Result<(), String> {
    let proxy = ctx.spawn_with_fd_limit(PROXY, &["-port", "0", "-host", "127.0.0.1"], 6)?;
    let addr = proxy.address(WAIT)?;
    let first = JsonPeer::connect(addr, "a first client").map_err(|e| proxy.explain(e))?;
    let _second = JsonPeer::connect(addr, "a second client").map_err(|e| proxy.explain(e))?;
    let since = proxy.logged_so_far();
    // The kernel completes the handshake; only accept() fails, again and again.
    let mut third = JsonPeer::connect(addr, "a third client").map_err(|e| proxy.explain(e))?;
    third.send(&json!({"type": 1, "id": 9, "privPolyId": "PP_1", "listenport": 5009}))?;
    waits_without_spinning(&proxy, since)?;
    drop(first);
    let answer = third.receive().map_err(|e| {
        proxy.explain(format!(
            "the first client left, freeing its descriptor; the waiting third client's setup should then be acknowledged: {e}"
        ))
    })?;
    if answer.get("Status").and_then(Value::as_str) != Some(ACK) {
        return Err(format!(
            "the third client's setup should be acknowledged with {{\"Status\": \"{ACK}\"}} once a descriptor is free; the proxy answered {answer}"
        ));
    }
    Ok(())
}

pub(super) fn all_down(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    register(ctx, addr, 1, "PP_3", dead_port(ctx)?)?;
    register(ctx, addr, 2, "PP_3", dead_port(ctx)?)?;
    for srcid in [70, 71] {
        let answer =
            ask(addr, &data(srcid, "PP_3", PAYLOAD), "a client").map_err(|e| proxy.explain(e))?;
        if error_sentence(&answer).is_none() {
            return Err(format!(
                "both servers of PP_3 refuse connections; client {srcid} should get an error object with a sentence; it got {answer}"
            ));
        }
    }
    Ok(())
}

pub(super) fn slow_server_stalls_no_one(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    // Server 1 holds its reply until the message for PP_2 has been answered (or the check
    // ends): a proxy that waits for one server before serving anyone else never answers it.
    let (release, held) = crossbeam_channel::bounded::<()>(0);
    let slow = stand_in_server(ctx, 1, Behaviour::Held(held))?;
    let fast = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", slow.addr().port())?;
    register(ctx, addr, 2, "PP_2", fast.addr().port())?;
    let waiting = thread::spawn(move || ask(addr, &data(80, "PP_1", PAYLOAD), "client 80"));
    // The slow server has the first message before the second is sent.
    slow.next("message for the slow server", &proxy)?;
    expect_reply(addr, 81, "PP_2", 2)
        .context(
            "while PP_1's server had not replied yet, a message for PP_2 got no answer; it \
             should not wait for another server",
        )
        .map_err(|e| proxy.explain(e))?;
    drop(release);
    let first = waiting
        .join()
        .map_err(|_| "the slow client's thread panicked".to_string())??;
    if first["payload"].as_str() != Some(PAYLOAD_SHA1) {
        return Err(format!(
            "the slow server's reply should reach client 80 in the end; it got {first}"
        ));
    }
    Ok(())
}

pub(super) fn survives_bad_input(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let server = stand_in_server(ctx, 1, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", server.addr().port())?;
    let bad: [(&str, Vec<u8>); 7] = [
        ("text that is not JSON", b"hello proxy".to_vec()),
        ("a JSON array", b"[1, 2, 3]".to_vec()),
        ("a data message without payload", br#"{"type": 0, "srcid": 5, "privPoliId": "PP_1"}"#.to_vec()),
        ("a payloadsize that does not match", br#"{"type": 0, "srcid": 5, "privPoliId": "PP_1", "payloadsize": 99, "payload": "abc"}"#.to_vec()),
        ("type 7", br#"{"type": 7, "srcid": 5}"#.to_vec()),
        ("a setup whose listenport is text", br#"{"type": 1, "id": 5, "privPolyId": "PP_1", "listenport": "eighty"}"#.to_vec()),
        ("invalid UTF-8 in a string", b"{\"type\": 0, \"payload\": \"\xff\xfe\"}".to_vec()),
    ];
    for (what, bytes) in bad {
        let mut peer = JsonPeer::connect(addr, "a client").map_err(|e| proxy.explain(e))?;
        peer.send_raw(&bytes)?;
        let answer = peer
            .receive()
            .with_context(|| format!("after {what}, the proxy should answer with an error"))
            .map_err(|e| proxy.explain(e))?;
        if error_sentence(&answer).is_none() {
            return Err(format!(
                "after {what}, the proxy should answer an error object with a sentence; it answered {answer}"
            ));
        }
    }
    // A client that vanishes in the middle of a message, and one that sends nothing at all.
    let mut half = JsonPeer::connect(addr, "a client").map_err(|e| proxy.explain(e))?;
    half.send_raw(br#"{"type": 0, "srcid": 5, "privPo"#)?;
    drop(half);
    drop(JsonPeer::connect(addr, "a client")?);
    thread::sleep(Duration::from_millis(100));
    expect_reply(addr, 90, "PP_1", 1)
        .context("after bad messages, the proxy should go on serving")
        .map_err(|e| proxy.explain(e))?;
    if server.drain().len() != 1 {
        return Err("only the good message should reach the server".into());
    }
    Ok(())
}

pub(super) fn too_large(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let mut peer = JsonPeer::connect(addr, "a client").map_err(|e| proxy.explain(e))?;
    // A string that never ends: only the size limit can stop the reading.
    let mut endless = br#"{"type": 0, "payload": ""#.to_vec();
    endless.resize(80 * 1024, b'a');
    // The proxy may stop reading while this is still being written: that is fine.
    let _ = peer.send_raw(&endless);
    match peer.receive() {
        Ok(answer) if error_sentence(&answer).is_some() => {}
        Ok(answer) => {
            return Err(format!(
                "after 80 KiB without a complete message, the proxy should answer an error; it answered {answer}"
            ))
        }
        Err(e) => {
            return Err(proxy.explain(format!(
                "after 80 KiB without a complete message (the limit is 64 KiB), the proxy should answer an error sentence and close: {e}"
            )))
        }
    }
    if !peer.closes(WAIT) {
        return Err(
            "after refusing an overlong message, the proxy should close the connection".into(),
        );
    }
    let server = stand_in_server(ctx, 1, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", server.addr().port())?;
    expect_reply(addr, 91, "PP_1", 1)
        .context("after refusing an overlong message, the proxy should go on serving")
        .map_err(|e| proxy.explain(e))
}

pub(super) fn garbage_from_server(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let garbage = stand_in_server(ctx, 3, Behaviour::Garbage)?;
    let good = stand_in_server(ctx, 4, Behaviour::Good)?;
    register(ctx, addr, 3, "PP_5", garbage.addr().port())?;
    register(ctx, addr, 4, "PP_5", good.addr().port())?;
    // Server 3 is alive but answers garbage: its client is told so, and server 3 keeps its turn.
    for (srcid, garbled) in [(95, true), (96, false), (97, true)] {
        if !garbled {
            expect_reply(addr, srcid, "PP_5", 4).map_err(|e| proxy.explain(e))?;
            continue;
        }
        let answer =
            ask(addr, &data(srcid, "PP_5", PAYLOAD), "a client").map_err(|e| proxy.explain(e))?;
        if error_sentence(&answer).is_none() {
            return Err(format!(
                "PP_5's server 3 answers with bytes that are not JSON, and it was its turn: client {srcid} should get an error object with a sentence (the server is up, only its answer is bad); it got {answer}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6 together.

pub(super) fn fifty_clients(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let one = stand_in_server(ctx, 1, Behaviour::Good)?;
    let two = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", one.addr().port())?;
    register(ctx, addr, 2, "PP_1", two.addr().port())?;
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS as i64)
        .map(|i| {
            let start = Arc::clone(&start);
            thread::spawn(move || -> Result<(), String> {
                let srcid = 1000 + i;
                let payload = random_payload();
                start.wait();
                let answer = ask(
                    addr,
                    &data(srcid, "PP_1", &payload),
                    &format!("client {srcid}"),
                )?;
                let ok = answer["payload"].as_str() == Some(sha1_hex(&payload).as_str())
                    && number(&answer, "destid", true) == Some(srcid);
                if ok {
                    Ok(())
                } else {
                    Err(format!("client {srcid} got {answer}"))
                }
            })
        })
        .collect();
    let failures: Vec<String> = clients
        .into_iter()
        .filter_map(|c| {
            c.join()
                .unwrap_or_else(|_| Err("a client thread panicked".into()))
                .err()
        })
        .collect();
    if let Some(first) = failures.first() {
        return Err(proxy.explain(format!(
            "{CLIENTS} clients at once: {} did not get their right reply (the SHA-1 of their own payload, destid their id); first: {first}",
            failures.len()
        )));
    }
    let (a, b) = (one.drain().len(), two.drain().len());
    if a != CLIENTS / 2 || b != CLIENTS / 2 {
        return Err(format!(
            "PP_1's two servers should take turns, {} messages each, even when {CLIENTS} come at once; server 1 got {a}, server 2 got {b}",
            CLIENTS / 2
        ));
    }
    Ok(())
}

/// Clients at once in [`fifty_clients`].
const CLIENTS: usize = 50;

pub(super) fn all_three(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let port = addr.port().to_string();
    // Across hosts the servers run on client2 and the clients on client1, and both find the
    // proxy by its name, as in the handout.
    let across = ctx.across_hosts();
    let revhost = if across {
        "www.ttm4200.com".to_string()
    } else {
        addr.ip().to_string()
    };
    let host = servers_ip(ctx).to_string();
    let mut servers = Vec::new();
    for id in ["21", "22"] {
        let server = ctx.spawn_on(
            across.then_some("client2"),
            SERVER,
            &[
                "-id", id, "-pp", "PP_2", "-listen", "0", "-revproc", &port, "-revhost", &revhost,
                "-host", &host,
            ],
        )?;
        server.address(WAIT)?;
        server
            .expect_line("the acknowledgement printed", WAIT, |l| l.contains(ACK))
            .map_err(|e| server.explain(e))?;
        servers.push(server);
    }
    let dir = ctx.scratch_dir();
    let packet = dir.join("1327.PP_2.json");
    std::fs::write(&packet, super::client::packet_text(1327, "PP_2", PAYLOAD))
        .context("writing a packet file")?;
    let name = dir.join("1327.PP_2");
    let name = name.to_string_lossy();
    let mut ids = Vec::new();
    for id in ["1327", "1328", "1329"] {
        let client = ctx.spawn_on(
            across.then_some("client1"),
            CLIENT,
            &[
                "-id", id, "-revproc", &port, "-pkt", &name, "-revhost", &revhost,
            ],
        )?;
        let lines = client.run_to_end(WAIT).map_err(|e| proxy.explain(e))?;
        if !lines.iter().any(|l| l.trim() == "Hash matched.") {
            return Err(format!(
                "client {id} should print `Hash matched.`; it printed {lines:?}"
            ));
        }
        let from = lines
            .iter()
            .find(|l| l.contains("Receiving a response from the server"))
            .and_then(|l| l.split("server ").nth(1))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        ids.push(from);
    }
    if ids != ["21", "22", "21"] {
        return Err(format!(
            "servers 21 and 22 serve PP_2; three clients should be answered by 21, 22, 21 (`Receiving a response from the server ID …`); they were answered by {ids:?}"
        ));
    }
    Ok(())
}

pub(super) fn log_lines(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let server = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 2, "PP_2", server.addr().port())?;
    ask(addr, &data(1327, "PP_2", PAYLOAD), "client 1327").map_err(|e| proxy.explain(e))?;
    type Want = fn(&str) -> bool;
    let lines: [(&str, Want); 5] = [
        (
            "`Received setup message from server id 2, privacy policy PP_2, port …`",
            |l| {
                (l.contains("Receiving setup message") || l.contains("Received setup message"))
                    && l.contains("server id 2")
                    && l.contains("PP_2")
            },
        ),
        (
            "`Received a data message from client id 1327, privacy policy PP_2, payload: …`",
            |l| {
                l.contains("Received a data message from client")
                    && l.contains("1327")
                    && l.contains(PAYLOAD)
            },
        ),
        (
            "`Forwarding a data message from client id 1327 to server id 2, payload: …`",
            |l| {
                l.contains("Forwarding a data message")
                    && l.contains("server id 2")
                    && l.contains(PAYLOAD)
            },
        ),
        (
            "`Received a data message from server id 2, payload: …`",
            |l| l.contains("Received a data message from server id 2") && l.contains(PAYLOAD_SHA1),
        ),
        (
            "`Forwarding a data message to client 1327, payload: …`",
            |l| {
                l.contains("Forwarding a data message to client")
                    && l.contains("1327")
                    && l.contains(PAYLOAD_SHA1)
            },
        ),
    ];
    for (what, want) in lines {
        proxy
            .expect_line(
                &format!("the proxy to print {what}, in this order"),
                WAIT,
                want,
            )
            .map_err(|e| proxy.explain(e))?;
    }
    Ok(())
}

pub(super) fn down_server_tried_again(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy_with(ctx, &["-retry", SHORT])?;
    let port = dead_port(ctx)?;
    let alive = stand_in_server(ctx, 2, Behaviour::Good)?;
    register(ctx, addr, 1, "PP_1", port)?;
    register(ctx, addr, 2, "PP_1", alive.addr().port())?;
    expect_reply(addr, 250, "PP_1", 2)
        .context("server 1 of PP_1 refuses connections; the message should reach server 2")
        .map_err(|e| proxy.explain(e))?;
    // Server 1 comes back at the same address, without registering again.
    let back = stand_in_server_on(ctx, 1, Behaviour::Good, port)?;
    let within = SHORT_TIME + WAIT;
    let deadline = Instant::now() + within;
    for srcid in 251.. {
        let payload = random_payload();
        let answer =
            ask(addr, &data(srcid, "PP_1", &payload), "a client").map_err(|e| proxy.explain(e))?;
        if answer["payload"].as_str() != Some(sha1_hex(&payload).as_str()) {
            return Err(format!(
                "client {srcid} of PP_1 should get the SHA-1 of its payload from server 1 or 2; it got {answer}"
            ));
        }
        if !back.drain().is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        // One message every 100 ms: the proxy's time, not the grader's, decides when.
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "server 1 of PP_1 was marked down when it refused a connection, then came back at the same address; with `-retry {SHORT}` it should be skipped for {SHORT} s and then tried again, but in {} of messages for PP_1 it got none",
        socklab::grader::secs(within)
    ))
}

/// Each failure the proxy meets leaves a line on its stderr (the handout: bad input and failed
/// servers are logged): a peer that says nothing, bytes that are not JSON, a type it does not
/// take, a server that refuses connections, one that answers garbage or JSON that is no
/// reply, a reply whose size disagrees, a client that left before its answer could be written.
/// Any new line counts; what it says is the student's.
pub(super) fn logs_failures(ctx: &Ctx) -> Result<(), String> {
    let (proxy, addr) = start_proxy(ctx)?;
    let dead = dead_port(ctx)?;
    let good = stand_in_server(ctx, 3, Behaviour::Good)?;
    let garbage = stand_in_server(ctx, 4, Behaviour::Garbage)?;
    let sized = stand_in_server(ctx, 5, Behaviour::CopiesSize)?;
    let stranger = stand_in_server(ctx, 6, Behaviour::NotAReply)?;
    register(ctx, addr, 2, "PP_2", dead)?;
    register(ctx, addr, 3, "PP_2", good.addr().port())?;
    register(ctx, addr, 4, "PP_4", garbage.addr().port())?;
    register(ctx, addr, 5, "PP_5", sized.addr().port())?;
    register(ctx, addr, 6, "PP_6", stranger.addr().port())?;
    let logged = |since: usize, what: &str| {
        proxy
            .expect_logged(since, &format!("a line about {what}"), WAIT, |l| {
                !l.trim().is_empty()
            })
            .map_err(|e| proxy.explain(e))
    };
    let since = proxy.logged_so_far();
    drop(JsonPeer::connect(addr, "a client").map_err(|e| proxy.explain(e))?);
    logged(
        since,
        "a client that connected and closed without a message",
    )?;
    for (what, bytes) in [
        ("text that is not JSON", &b"hello proxy"[..]),
        ("a message of type 7", br#"{"type": 7, "srcid": 5}"#),
    ] {
        let since = proxy.logged_so_far();
        let mut peer = JsonPeer::connect(addr, "a client").map_err(|e| proxy.explain(e))?;
        peer.send_raw(bytes)?;
        let _ = peer.receive();
        logged(since, what)?;
    }
    let since = proxy.logged_so_far();
    expect_reply(addr, 70, "PP_2", 3).map_err(|e| proxy.explain(e))?;
    logged(since, "server 2 of PP_2, which refuses connections")?;
    for (what, policy) in [
        ("server 4's answer, which is not JSON", "PP_4"),
        (
            "server 5's reply, whose payloadsize disagrees with its payload",
            "PP_5",
        ),
        ("server 6's answer, which is JSON but not a reply", "PP_6"),
    ] {
        let since = proxy.logged_so_far();
        ask(addr, &data(71, policy, PAYLOAD), "client 71").map_err(|e| proxy.explain(e))?;
        logged(since, what)?;
    }
    // A client that leaves (a reset) while its message is with a server: its answer cannot be
    // written.
    let (release, held) = crossbeam_channel::bounded::<()>(0);
    let slow = stand_in_server(ctx, 7, Behaviour::Held(held))?;
    register(ctx, addr, 7, "PP_7", slow.addr().port())?;
    let mut gone = JsonPeer::connect(addr, "client 72").map_err(|e| proxy.explain(e))?;
    gone.send(&data(72, "PP_7", PAYLOAD))?;
    slow.next("message for server 7", &proxy)?;
    gone.reset(proxy.pid())?;
    let since = proxy.logged_so_far();
    drop(release);
    logged(since, "client 72, which left before its answer came")?;
    Ok(())
}
