//! The student's client (`rp_client`) against a stand-in proxy written here, which answers
//! right, wrong, in pieces, or with an error.

use super::{number, one_write, sha1_hex, JsonPeer, CLIENT, PAYLOAD, PAYLOAD_SHA1};
use serde_json::{json, Value};
use socklab::grader::{Context, Ctx, Program, StandIn, WAIT};
use std::net::{SocketAddr, TcpStream};

/// A packet file as the course writes them: pretty-printed, 4 spaces, no newline at the end.
pub(super) fn packet_text(srcid: i64, policy: &str, payload: &str) -> String {
    format!(
        "{{\n    \"type\": 0,\n    \"srcid\": {srcid},\n    \"privPoliId\": \"{policy}\",\n    \"payloadsize\": {},\n    \"payload\": \"{payload}\"\n}}",
        payload.len()
    )
}

/// A client run with `-id 1327 -pkt …/4242.PP_2` (the file is `4242.PP_2.json`, whose srcid is
/// 4242) against a stand-in proxy, and its connection as the proxy sees it.
fn client_with_proxy(ctx: &Ctx) -> Result<(Program, JsonPeer), String> {
    // Across hosts the stand-in proxy is on client1 and the client on webserver.
    let proxy: StandIn<(TcpStream, SocketAddr)> =
        StandIn::listen((ctx.ip("client1", [127, 0, 0, 1]), 0))?;
    let revhost = proxy.addr().ip().to_string();
    let dir = ctx.scratch_dir();
    std::fs::write(
        dir.join("4242.PP_2.json"),
        packet_text(4242, "PP_2", PAYLOAD),
    )
    .context("writing a packet file")?;
    let pkt = dir.join("4242.PP_2");
    let client = ctx.spawn(
        CLIENT,
        &[
            "-id",
            "1327",
            "-revproc",
            &proxy.port(),
            "-pkt",
            &pkt.to_string_lossy(),
            "-revhost",
            &revhost,
        ],
    )?;
    let (stream, _) = proxy.next("connection from the client", &client)?;
    let mut conn = JsonPeer::new(stream, "the test proxy")?;
    let message = conn.receive().map_err(|e| client.explain(e))?;
    let fine = number(&message, "type", false) == Some(0)
        && number(&message, "srcid", false) == Some(1327)
        && message["privPoliId"].as_str() == Some("PP_2")
        && number(&message, "payloadsize", false) == Some(32)
        && message["payload"].as_str() == Some(PAYLOAD);
    if !fine {
        return Err(format!(
            "with -id 1327 -pkt 4242.PP_2 (the file 4242.PP_2.json), the client should send {{\"type\": 0, \"srcid\": 1327, \"privPoliId\": \"PP_2\", \"payloadsize\": 32, \"payload\": \"{PAYLOAD}\"}} (-id replaces the file's srcid); it sent {message}"
        ));
    }
    Ok((client, conn))
}

/// A reply from server 2 to client 1327 carrying `hash`.
fn reply(hash: &str) -> Value {
    json!({"type": 2, "srcid": 2, "destid": 1327, "payloadsize": 40, "payload": hash})
}

/// How the client ended, in words for a reason ("exited with code 1").
struct Exit(Option<i32>);

impl PartialEq<Option<i32>> for Exit {
    fn eq(&self, other: &Option<i32>) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(code) => write!(f, "code {code}"),
            None => write!(f, "no code (killed by a signal)"),
        }
    }
}

/// Lets the client end; its lines and exit code (a crash is an error).
fn ended(client: &Program) -> Result<(Vec<String>, Exit), String> {
    let (lines, status) = client.finish(WAIT)?;
    Ok((lines, Exit(status.code())))
}

fn matched(lines: &[String]) -> bool {
    lines.iter().any(|l| l.trim() == "Hash matched.")
}

pub(super) fn hash_matched(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = client_with_proxy(ctx)?;
    conn.send(&reply(PAYLOAD_SHA1))?;
    let (lines, code) = ended(&client)?;
    if !matched(&lines) || code != Some(0) {
        return Err(format!(
            "after the right reply the client should print `Hash matched.` and exit 0; it printed {lines:?} and exited with {code}"
        ));
    }
    if !lines
        .iter()
        .any(|l| l.contains("Receiving a response from the server 2") && l.contains(PAYLOAD_SHA1))
    {
        return Err(format!(
            "the client should print `Receiving a response from the server 2 payload: {PAYLOAD_SHA1}` (the seed's line); it printed {lines:?}"
        ));
    }
    Ok(())
}

pub(super) fn wrong_hash(ctx: &Ctx) -> Result<(), String> {
    let wrong = sha1_hex("something else");
    let (client, mut conn) = client_with_proxy(ctx)?;
    conn.send(&reply(&wrong))?;
    let (lines, code) = ended(&client)?;
    if matched(&lines) || code != Some(1) {
        return Err(format!(
            "the reply carried {wrong}, not the payload's SHA-1: the client should say so and exit 1; it printed {lines:?} and exited with {code}"
        ));
    }
    if !lines.iter().any(|l| l.contains(PAYLOAD_SHA1)) {
        return Err(format!("on a wrong hash the client should say what differs: the hash it computed ({PAYLOAD_SHA1}) against the one that came; it printed {lines:?}"));
    }
    // The right hash for another client is not an answer for this one either.
    let (client, mut conn) = client_with_proxy(ctx)?;
    conn.send(
        &json!({"type": 2, "srcid": 2, "destid": 9999, "payloadsize": 40, "payload": PAYLOAD_SHA1}),
    )?;
    let (lines, code) = ended(&client)?;
    if matched(&lines) || code != Some(1) || !lines.iter().any(|l| l.contains("9999")) {
        return Err(format!(
            "a reply for client 9999 reached client 1327: it should say so (naming 9999) and exit 1; it printed {lines:?} and exited with {code}"
        ));
    }
    Ok(())
}

pub(super) fn reply_in_pieces(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = client_with_proxy(ctx)?;
    let text = json!({"type": "2", "srcid": "2", "destid": "1327", "payloadsize": "40", "payload": PAYLOAD_SHA1}).to_string();
    conn.send_split(text.as_bytes(), 30, client.pid())?;
    let (lines, code) = ended(&client)?;
    if !matched(&lines) || code != Some(0) {
        return Err(format!(
            "a reply sent in two writes (the second once the client had read the first), with ids as strings, should give `Hash matched.` and exit 0; the client printed {lines:?} and exited with {code}"
        ));
    }
    Ok(())
}

pub(super) fn proxy_error(ctx: &Ctx) -> Result<(), String> {
    for (key, sentence) in [
        ("error", "no server serves privacy policy PP_2"),
        ("Error", "No server currently serving this privacy policy"),
    ] {
        let (client, mut conn) = client_with_proxy(ctx)?;
        conn.send(&json!({"type": 3, key: sentence}))?;
        let (lines, code) = ended(&client)?;
        if code != Some(1) || !lines.iter().any(|l| l.contains(sentence)) || matched(&lines) {
            return Err(format!(
                "the proxy answered {{\"{key}\": \"{sentence}\"}}: the client should print the sentence and exit 1; it printed {lines:?} and exited with {code}"
            ));
        }
    }
    // Neither a reply nor an error: the client says what came.
    let (client, mut conn) = client_with_proxy(ctx)?;
    conn.send(&json!({"Status": "Successfully setup with reverse proxy"}))?;
    let (lines, code) = ended(&client)?;
    if code != Some(1) || matched(&lines) || !lines.iter().any(|l| l.contains("Successfully setup"))
    {
        return Err(format!(
            "the proxy answered {{\"Status\": \"Successfully setup with reverse proxy\"}}, which is no reply: the client should say what came (show it) and exit 1; it printed {lines:?} and exited with {code}"
        ));
    }
    Ok(())
}

pub(super) fn one_write_per_message(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = client_with_proxy(ctx)?;
    conn.send(&reply(PAYLOAD_SHA1))?;
    ended(&client)?;
    one_write(&mut conn, "the client's data message")
}

pub(super) fn judges_by_hash(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = client_with_proxy(ctx)?;
    // The right hash, but the request's payloadsize copied into the reply (a real student's
    // server does that, and the proxy relays it).
    conn.send(
        &json!({"type": 2, "srcid": 2, "destid": 1327, "payloadsize": 32, "payload": PAYLOAD_SHA1}),
    )?;
    let (lines, code) = ended(&client)?;
    if !matched(&lines) || code != Some(0) {
        return Err(format!(
            "the reply carried the right SHA-1 with \"payloadsize\": 32 (its server copied the request's size); the hash is what the client judges: it should print `Hash matched.` and exit 0; it printed {lines:?} and exited with {code}"
        ));
    }
    Ok(())
}
