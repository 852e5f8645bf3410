//! Milestone 6: the built client, driven through its stdin against a stand-in hub written here
//! (and, last, against the built server).

use super::{join, printed, start_server, CLIENT};
use socket2::SockRef;
use socklab::grader::{shown, Context, Ctx, LinePeer, Program, StandIn, WAIT};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A stand-in hub: it only accepts; the check plays the hub on each connection.
type Hub = StandIn<(TcpStream, SocketAddr)>;

/// A stand-in hub on the grader's host (127.0.0.1 on loopback).
fn hub(ctx: &Ctx) -> Result<Hub, String> {
    StandIn::listen((ctx.ip("client1", [127, 0, 0, 1]), 0))
}

/// The client's connection to the stand-in hub, within [`WAIT`].
fn accept(hub: &Hub, client: &Program) -> Result<LinePeer, String> {
    let (stream, _) = hub.next("connection from the client", client)?;
    LinePeer::new(stream, "the test server")
}

/// The hub's side of a join: NICKNAME, the nickname (which must be `want`), the welcome.
fn welcome(conn: &mut LinePeer, want: &str) -> Result<(), String> {
    conn.send("NICKNAME")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == want => {}
        other => {
            return Err(format!(
                "after NICKNAME the client should send its nickname `{want}`, sent {}",
                shown(other.as_slice())
            ))
        }
    }
    conn.send(&format!("{want} joined!"))?;
    conn.send("Connected to server!")
}

/// A client joined to a stand-in hub as `zoe` through --host and --nickname (the hub stops
/// accepting when this returns; the connection stays).
fn joined_client(ctx: &Ctx) -> Result<(Program, LinePeer), String> {
    let hub = hub(ctx)?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let client = ctx.spawn(
        CLIENT,
        &["--host", &host, "--port", &port, "--nickname", "zoe"],
    )?;
    let mut conn = accept(&hub, &client)?;
    welcome(&mut conn, "zoe")?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    Ok((client, conn))
}

pub(super) fn client_prompts(ctx: &Ctx) -> Result<(), String> {
    let hub = hub(ctx)?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let mut client = ctx.spawn(CLIENT, &["--port", &port])?;
    printed(
        &client,
        "the prompt `Enter server IP address:`",
        "Enter server IP address:",
    )?;
    client.send_line(&host)?;
    printed(
        &client,
        "the prompt `Choose your nickname:`",
        "Choose your nickname:",
    )?;
    client.send_line("zoe")?;
    let mut conn = accept(&hub, &client)?;
    welcome(&mut conn, "zoe")?;
    printed(
        &client,
        "`Connected to server!` printed",
        "Connected to server!",
    )?;
    Ok(())
}

pub(super) fn client_sends(ctx: &Ctx) -> Result<(), String> {
    let (mut client, mut conn) = joined_client(ctx)?;
    // An empty line is nothing to say: the first line the server gets is the next one.
    client.send_line("")?;
    for (typed, want) in [
        ("hello there", "zoe: hello there"),
        ("@amy just for you", "zoe: @amy just for you"),
    ] {
        client.send_line(typed)?;
        match conn.next_within(WAIT)? {
            Some(line) if line == want => {}
            other => {
                return Err(format!(
                    "typed {typed:?}; the server should receive `{want}`, got {}",
                    shown(other.as_slice())
                ))
            }
        }
    }
    Ok(())
}

/// When the hub closes the connection, the client says so once and ends.
pub(super) fn client_server_closes(ctx: &Ctx) -> Result<(), String> {
    // Once with a clean close (FIN), once with a reset (RST), as when the server crashes.
    for reset in [false, true] {
        let how = if reset { "reset" } else { "closed" };
        let (client, conn) = joined_client(ctx)?;
        if reset {
            SockRef::from(conn.stream())
                .set_linger(Some(Duration::ZERO))
                .context("making the test server's close a reset")?;
        }
        drop(conn);
        let (lines, _) = client.finish(WAIT).map_err(|e| {
            format!("the server {how} the connection; the client should say so and end: {e}")
        })?;
        let said = lines
            .iter()
            .filter(|l| l.contains("The server closed the connection"))
            .count();
        if said != 1 {
            return Err(format!(
                "the server {how} the connection; the client should print \
                 `The server closed the connection…` once and end; it printed {}",
                shown(&lines)
            ));
        }
    }
    Ok(())
}

pub(super) fn client_prints(ctx: &Ctx) -> Result<(), String> {
    let (client, mut conn) = joined_client(ctx)?;
    let lines = ["amy joined!", "amy: hi zoe", "bob: @zoe psst", "amy left!"];
    for (i, line) in lines.iter().enumerate() {
        if i == 2 {
            // A line that is not UTF-8 is skipped; the connection goes on.
            conn.send_raw(b"amy: \xff\xfe garbled\n")?;
        }
        conn.send(line)?;
    }
    for line in lines {
        printed(&client, &format!("`{line}` printed"), line)?;
    }
    Ok(())
}

pub(super) fn client_retries_nickname(ctx: &Ctx) -> Result<(), String> {
    let hub = hub(ctx)?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let mut client = ctx.spawn(
        CLIENT,
        &["--host", &host, "--port", &port, "--nickname", "amy"],
    )?;
    let mut conn = accept(&hub, &client)?;
    conn.send("NICKNAME")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == "amy" => {}
        other => {
            return Err(format!(
                "the client should send amy, sent {}",
                shown(other.as_slice())
            ))
        }
    }
    conn.send("ERROR the nickname amy is taken; choose another nickname")?;
    printed(&client, "the refusal printed", "the nickname amy is taken")?;
    // The server asks again; the client asks its user again.
    conn.send("NICKNAME")?;
    printed(
        &client,
        "the prompt `Choose your nickname:` again",
        "Choose your nickname:",
    )?;
    client.send_line("amy2")?;
    match conn.next_within(WAIT)? {
        Some(name) if name == "amy2" => {}
        other => {
            return Err(format!(
                "after the refusal the user typed amy2; the client sent {}",
                shown(other.as_slice())
            ))
        }
    }
    conn.send("amy2 joined!")?;
    conn.send("Connected to server!")?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    Ok(())
}

pub(super) fn client_with_server(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut bob = join(&server, addr, "bob")?;
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let mut client = ctx.spawn(
        CLIENT,
        &["--host", &host, "--port", &port, "--nickname", "zoe"],
    )?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    bob.expect_line("zoe joined!")?;
    client.send_line("hi bob")?;
    bob.expect_line("zoe: hi bob")?;
    bob.send("bob: @zoe hi zoe")?;
    printed(&client, "`bob: @zoe hi zoe`", "bob: @zoe hi zoe")?;
    client.close_stdin();
    bob.expect_line("zoe left!")
        .context("once the client's input ends it should leave")?;
    Ok(())
}
