//! Milestone 2: HTTP Basic auth — the right credentials in any scheme case, and a 401 with a
//! challenge for anything else, the server going on after each.

use super::http::{basic, call, call_body, exchange, expect_xml, post, string, Reply};
use super::xml::expect_canon;
use super::{server, start, still_running, PASS, USER};
use base64::Engine;
use socklab::grader::{Ctx, Program};
use std::net::SocketAddr;

/// A user whose password has a space and a colon, for the checks that start the server with
/// other credentials than the default.
const ALICE: &str = "alice";
const ALICE_PASS: &str = "open sesame:42";

/// The server started with `--username alice --password 'open sesame:42'`.
fn alice_server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start(ctx, ALICE, ALICE_PASS, &[])
}

/// Posts echo("x") with `auth` and returns the response.
fn status_with(addr: SocketAddr, auth: Option<&str>) -> Result<Reply, String> {
    exchange(
        addr,
        &post("/", auth, &call_body("echo", &[&string("x")]), ""),
    )
}

/// Fails unless the server answers echo("x") with `auth` by a 401 with a Basic challenge.
fn expect_401(addr: SocketAddr, auth: Option<&str>, what: &str) -> Result<(), String> {
    let reply = status_with(addr, auth)?;
    if reply.status != 401 {
        return Err(format!(
            "{what}: expected 401 Unauthorized, got {}",
            reply.status
        ));
    }
    let challenge = reply.headers.get("WWW-Authenticate").unwrap_or("");
    if !challenge.to_ascii_lowercase().starts_with("basic") || !challenge.contains("realm=") {
        return Err(format!(
            "{what}: a 401 needs `WWW-Authenticate: Basic realm=\"…\"`; it was {challenge:?}"
        ));
    }
    Ok(())
}

/// The right credentials are accepted, with the scheme in either case.
pub(super) fn accepts(ctx: &Ctx) -> Result<(), String> {
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

/// No Authorization header: 401 with a challenge.
pub(super) fn missing(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    expect_401(addr, None, "a POST without an Authorization header")?;
    still_running(&server, "a request without credentials")
}

/// Wrong users and passwords, and a prefix of the right password, are refused.
pub(super) fn wrong(ctx: &Ctx) -> Result<(), String> {
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
    still_running(&server, "wrong credentials")
}

/// Schemes other than Basic are refused.
pub(super) fn not_basic(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
    for auth in [
        format!("Bearer {token}"),
        "Digest username=\"user\", realm=\"x\", nonce=\"1\", uri=\"/\", response=\"0\"".to_string(),
        token.clone(),
    ] {
        expect_401(addr, Some(&auth), &format!("Authorization: {auth}"))?;
    }
    still_running(&server, "other schemes")
}

/// Credentials that do not decode are refused, and the server goes on.
pub(super) fn malformed(ctx: &Ctx) -> Result<(), String> {
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
    still_running(&server, "malformed credentials")?;
    let got = call(addr, "echo", &[&string("fine")])?;
    expect_canon(&got, "string:FINE", "echo after malformed credentials")
}
