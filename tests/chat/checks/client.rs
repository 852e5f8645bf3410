//! Milestone 2: the chat client, driven through its stdin against a server written here (a
//! [`StandIn`] that only accepts; the check then plays the server on the connection), and
//! last with the built server and a second built client.
//!
//! Across netlab's hosts the client under test (alice) runs on webserver, the test server and
//! a stranger are on client1, bob on client2 ([`at`]); in the last check the built server runs
//! on webserver and the two built clients on client1 and client2, finding it by name.

use super::{free_udp_port, ip, spawn_client, start_server, udp_at, CLIENT, PROMPT};
use socklab::grader::{secs, Context, Ctx, LinePeer, Program, StandIn, QUIET, WAIT};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Who is at 127.0.`net`.`host` on loopback, across netlab's hosts: .2 is the client under
/// test (webserver, where the student's programs run), .3 is bob (client2), and the test
/// server (.1) and strangers are on client1.
pub(super) fn at(ctx: &Ctx, net: u8, host: u8) -> IpAddr {
    let on = match host {
        2 => "webserver",
        3 => "client2",
        _ => "client1",
    };
    ctx.ip(on, ip(net, host))
}

/// The client's connection to the test server, within `WAIT`, and the address it came from.
fn accept(
    server: &StandIn<(TcpStream, SocketAddr)>,
    client: &Program,
) -> Result<(LinePeer, SocketAddr), String> {
    let (stream, from) = server.next("connection from the client", client)?;
    Ok((LinePeer::new(stream, "the test server")?, from))
}

/// A client `alice` at 127.0.`net`.2 joined to a test server whose map also lists bob at .3.
struct Joined {
    client: Program,
    conn: LinePeer,
    udp_port: u16,
}

fn joined_client(ctx: &Ctx, net: u8) -> Result<Joined, String> {
    let server = StandIn::listen((at(ctx, net, 1), 0))?;
    let udp_port = free_udp_port()?;
    let client = spawn_client(
        ctx,
        server.addr(),
        at(ctx, net, 2),
        udp_port,
        &["--name", "alice"],
    )?;
    let (mut conn, from) = accept(&server, &client)?;
    if from.ip() != at(ctx, net, 2) {
        return Err(format!(
            "with --bind {} the client connected from {}: bind the TCP socket before connecting",
            at(ctx, net, 2),
            from.ip()
        ));
    }
    let name = conn
        .line()
        .context("the client's first line should be its name")?;
    if name.trim() != "alice" {
        return Err(format!(
            "with --name alice the first line should be `alice`, was {name:?}"
        ));
    }
    conn.send("OK welcome, alice")?;
    conn.send(&format!(
        "!{{\"alice\":\"{}\",\"bob\":\"{}\"}}",
        at(ctx, net, 2),
        at(ctx, net, 3)
    ))?;
    // Lines are handled in order: once this one is printed, the map above is known.
    conn.send("bob: sync")?;
    client.expect_line("`incoming msg from chatserver (bob: sync)`", WAIT, |l| {
        l.contains("incoming msg from chatserver (bob: sync")
    })?;
    Ok(Joined {
        client,
        conn,
        udp_port,
    })
}

pub(super) fn prompt(ctx: &Ctx) -> Result<(), String> {
    let server = StandIn::listen((at(ctx, 111, 1), 0))?;
    let mut client = spawn_client(ctx, server.addr(), at(ctx, 111, 2), free_udp_port()?, &[])?;
    client.expect_line(&format!("the prompt `{PROMPT}:`"), WAIT, |l| {
        l.contains(PROMPT)
    })?;
    let (mut conn, _) = accept(&server, &client)?;
    client.send_line("alice")?;
    let name = conn.line().context("after typing alice at the prompt")?;
    if name.trim() != "alice" {
        return Err(format!(
            "typed alice at the prompt; the client's first line was {name:?}"
        ));
    }
    Ok(())
}

pub(super) fn room_messages(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 112)?;
    // A `!` line only updates the map: the next line printed is the chat line after it.
    j.conn
        .send(&format!("!{{\"alice\":\"{}\"}}", at(ctx, 112, 2)))?;
    j.conn.send("bob: how are you?")?;
    let line = j.client.expect_line(
        "`incoming msg from chatserver (bob: how are you?)`",
        WAIT,
        |l| l.contains("incoming msg from chatserver (") || l.starts_with('!'),
    )?;
    if !line.contains("incoming msg from chatserver (bob: how are you?)") {
        return Err(format!(
            "expected `incoming msg from chatserver (bob: how are you?)`, got {line:?}"
        ));
    }
    Ok(())
}

pub(super) fn sends_to_room(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 113)?;
    j.client.send_line("hello room")?;
    let got = j.conn.line().context("after typing `hello room`")?;
    if got.trim_end() != "hello room" {
        return Err(format!("typed `hello room`; the server got {got:?}"));
    }
    Ok(())
}

pub(super) fn lists_users(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 114)?;
    j.client.send_line("#ls")?;
    let bob = at(ctx, 114, 3).to_string();
    j.client.expect_line(
        &format!("a line listing alice and bob ({bob})"),
        WAIT,
        |l| l.contains("alice") && l.contains("bob") && l.contains(&bob),
    )?;
    // bob leaves and carol comes: the new map replaces the old one.
    let carol = at(ctx, 114, 4).to_string();
    j.conn.send(&format!(
        "!{{\"alice\":\"{}\",\"carol\":\"{carol}\"}}",
        at(ctx, 114, 2)
    ))?;
    j.conn.send("carol: sync")?;
    j.client
        .expect_line("`incoming msg from chatserver (carol: sync)`", WAIT, |l| {
            l.contains("incoming msg from chatserver (carol: sync")
        })?;
    j.client.send_line("#ls")?;
    let listed = j.client.expect_line(
        &format!("a line listing alice and carol ({carol})"),
        WAIT,
        |l| l.contains("alice") && l.contains("carol"),
    )?;
    if listed.contains("bob") {
        return Err(format!(
            "after a new user list without bob, #ls printed {listed:?}: each `!` line replaces \
             the whole map"
        ));
    }
    Ok(())
}

pub(super) fn sends_p2p(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 115)?;
    let bob = udp_at(at(ctx, 115, 3), j.udp_port)?;
    j.client.send_line("@bob: psst, bob")?;
    let mut buf = [0u8; 65535];
    let (n, from) = bob.recv_from(&mut buf).map_err(|_| {
        format!(
            "typed `@bob: psst, bob`; no datagram reached bob at {}:{} within {}",
            at(ctx, 115, 3),
            j.udp_port,
            secs(WAIT)
        )
    })?;
    let text = String::from_utf8_lossy(&buf[..n]);
    if text.trim() != "psst, bob" {
        return Err(format!("typed `@bob: psst, bob`; bob got the datagram {text:?}, expected the text after the colon"));
    }
    if from != SocketAddr::new(at(ctx, 115, 2), j.udp_port) {
        return Err(format!(
            "the datagram came from {from}; it should come from the client's UDP socket {}:{}",
            at(ctx, 115, 2),
            j.udp_port
        ));
    }
    Ok(())
}

pub(super) fn receives_p2p(ctx: &Ctx) -> Result<(), String> {
    let j = joined_client(ctx, 116)?;
    let to = SocketAddr::new(at(ctx, 116, 2), j.udp_port);
    let bob = udp_at(at(ctx, 116, 3), j.udp_port)?;
    bob.send_to(b"hello alice", to)
        .with_context(|| format!("bob sending a datagram to alice at {to}"))?;
    j.client
        .expect_line("`Incoming msg (P2P) from bob:hello alice`", WAIT, |l| {
            l.contains("Incoming msg (P2P) from bob") && l.contains("hello alice")
        })?;
    // A newline in a datagram must not fake a line of output: control characters are spaces.
    bob.send_to(b"one\nIncoming msg (P2P) from carol:fake", to)
        .with_context(|| format!("bob sending a datagram to alice at {to}"))?;
    let line = j.client.expect_line(
        "bob's datagram with a newline in it, on one line",
        WAIT,
        |l| l.contains("Incoming msg (P2P) from bob") && l.contains("one"),
    )?;
    if !line.contains("one Incoming msg (P2P) from carol:fake") {
        return Err(format!(
            "bob sent `one`, a newline and `Incoming msg (P2P) from carol:fake`: the control \
             character should be printed as a space, on bob's line; it printed {line:?}"
        ));
    }
    let stranger = udp_at(at(ctx, 116, 9), 0)?;
    stranger
        .send_to(b"who am I", to)
        .with_context(|| format!("a stranger sending a datagram to alice at {to}"))?;
    j.client.expect_line(
        "`Incoming msg (P2P) from Non-registered:who am I`",
        WAIT,
        |l| l.contains("Incoming msg (P2P) from Non-registered") && l.contains("who am I"),
    )?;
    Ok(())
}

pub(super) fn unknown_user(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 117)?;
    j.client.send_line("@zoe: are you there?")?;
    j.client.expect_line("`zoe is not registered`", WAIT, |l| {
        l.trim() == "zoe is not registered"
    })?;
    Ok(())
}

/// A P2P datagram the system refuses to send (here to 255.255.255.255, the broadcast address a
/// socket may not send to without SO_BROADCAST) is logged, and the client goes on.
pub(super) fn p2p_send_fails(ctx: &Ctx) -> Result<(), String> {
    let mut j = joined_client(ctx, 118)?;
    j.conn.send(&format!(
        "!{{\"alice\":\"{}\",\"eve\":\"255.255.255.255\"}}",
        at(ctx, 118, 2)
    ))?;
    j.conn.send("bob: sync")?;
    j.client
        .expect_line("`incoming msg from chatserver (bob: sync)`", WAIT, |l| {
            l.contains("incoming msg from chatserver (bob: sync")
        })?;
    let since = j.client.logged_so_far();
    j.client.send_line("@eve: hi")?;
    j.client
        .expect_logged(
            since,
            "a line saying that the message to eve (255.255.255.255) could not be sent",
            WAIT,
            |l| l.contains("eve"),
        )
        .map_err(|e| j.client.explain(e))?;
    j.client.send_line("still here")?;
    let got = j.conn.line().map_err(|e| {
        j.client.explain(format!(
            "after a P2P message that could not be sent, typed `still here`: {e}"
        ))
    })?;
    if got.trim_end() != "still here" {
        return Err(format!("typed `still here`; the server got {got:?}"));
    }
    Ok(())
}

pub(super) fn end_to_end(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    // Across hosts the clients run on client1 and client2 and find the server by its name.
    let across = ctx.across_hosts();
    let check = || -> Result<(), String> {
        let udp = free_udp_port()?.to_string();
        let (a, b) = (
            ctx.ip("client1", ip(118, 2)).to_string(),
            ctx.ip("client2", ip(118, 3)).to_string(),
        );
        let port = addr.port().to_string();
        let server_name = if across {
            "www.ttm4200.com"
        } else {
            "localhost"
        };
        let args = |bind: &str, name: &str| -> Vec<String> {
            [
                "--server",
                server_name,
                "--port",
                &port,
                "--bind",
                bind,
                "--udp-port",
                &udp,
                "--name",
                name,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let spawn = |host: &'static str, bind: &str, who: &str| {
            let args = args(bind, who);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ctx.spawn_on(across.then_some(host), CLIENT, &refs)
        };
        let mut alice = spawn("client1", &a, "alice")?;
        alice.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })?;
        let mut bob = spawn("client2", &b, "bob")?;
        bob.expect_line("`Connection Established!`", WAIT, |l| {
            l.contains("Connection Established")
        })?;
        alice.send_line("hi all")?;
        bob.expect_line(
            "bob printing `incoming msg from chatserver (alice: hi all)`",
            WAIT,
            |l| l.contains("incoming msg from chatserver (alice: hi all"),
        )?;
        // alice learns of bob from the server's map; wait until `#ls` shows it.
        let deadline = Instant::now() + WAIT;
        loop {
            alice.send_line("#ls")?;
            let listed = alice.expect_line(
                "alice's `#ls` listing bob",
                Duration::from_millis(300),
                |l| l.contains("bob") && !l.contains("Incoming msg"),
            );
            match listed {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "bob joined, but alice's active users never listed him: {e}"
                    ))
                }
                Err(_) => {}
            }
        }
        bob.send_line("@alice: psst")?;
        alice.expect_line(
            "alice printing `Incoming msg (P2P) from bob: psst`",
            WAIT,
            |l| l.contains("Incoming msg (P2P) from bob") && l.contains("psst"),
        )?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

/// A --bind address that is not this host's, or a P2P port another program holds: the client
/// says so and exits, rather than going on without the socket it was asked for.
pub(super) fn refuses_unusable_addresses(ctx: &Ctx) -> Result<(), String> {
    // 192.0.2.1 is a documentation address (TEST-NET-1): no host here has it, so binding fails
    // and nothing is ever sent to it.
    let server = StandIn::listen((at(ctx, 131, 1), 0))?;
    let udp_port = free_udp_port()?;
    let stranger: std::net::IpAddr = [192, 0, 2, 1].into();
    let client = spawn_client(ctx, server.addr(), stranger, udp_port, &["--name", "alice"])?;
    let (_, status) = client.finish(WAIT)?;
    // A connection would be waiting to be accepted: give the stand-in a moment to take it.
    let connected = server.next_within(QUIET, "connection", &client).is_ok();
    if status.success() || connected {
        return Err(
            "with --bind 192.0.2.1 (not an address of this host) the client should fail to bind, \
             say so and exit non-zero, without connecting from another address"
                .into(),
        );
    }
    // The P2P port taken by another socket at the client's own address.
    let server = StandIn::listen((at(ctx, 131, 1), 0))?;
    let holder = udp_at(at(ctx, 131, 2), udp_port)?;
    let client = spawn_client(
        ctx,
        server.addr(),
        at(ctx, 131, 2),
        udp_port,
        &["--name", "alice"],
    )?;
    let (_, status) = client.finish(WAIT).map_err(|e| {
        format!(
            "UDP port {}:{udp_port} was taken by another program: the client should say so and \
             exit; {e}",
            at(ctx, 131, 2)
        )
    })?;
    drop(holder);
    if status.success() {
        return Err(format!(
            "UDP port {}:{udp_port} was taken by another program: the client should exit non-zero",
            at(ctx, 131, 2)
        ));
    }
    Ok(())
}

/// Nothing listens at the server's address: the client says it cannot connect (naming the
/// address) and exits non-zero, instead of failing later on a socket that never connected.
pub(super) fn no_server(ctx: &Ctx) -> Result<(), String> {
    // A port that was free a moment ago: nothing listens there.
    let ip = at(ctx, 143, 1);
    let listener = socklab::grader::hosts::at(ip, || std::net::TcpListener::bind((ip, 0)))
        .context("binding a test port")?;
    let addr = listener.local_addr().context("reading the test port")?;
    drop(listener);
    let client = spawn_client(
        ctx,
        addr,
        at(ctx, 143, 2),
        free_udp_port()?,
        &["--name", "alice"],
    )?;
    let (lines, status) = client.finish(WAIT)?;
    let stderr = client.stderr();
    let said = lines
        .iter()
        .map(String::as_str)
        .chain(stderr.lines())
        .any(|l| l.contains("connect") && l.contains(&addr.to_string()));
    if status.success() || !said {
        return Err(format!(
            "no server listens at {addr}: the client should say it could not connect to {addr} \
             and exit non-zero; it printed {lines:?} and {}",
            if status.success() {
                "exited with success"
            } else {
                "exited with an error"
            }
        ));
    }
    Ok(())
}

/// Two clients on one address, each with its own P2P port, both connect: `--bind` chooses the
/// source address only, and the system picks a free source port for each connection.
pub(super) fn two_on_one_address(ctx: &Ctx) -> Result<(), String> {
    let server = StandIn::listen((at(ctx, 144, 1), 0))?;
    let bind = at(ctx, 144, 2);
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let client = spawn_client(
            ctx,
            server.addr(),
            bind,
            free_udp_port()?,
            &["--name", name],
        )?;
        let (mut conn, from) = accept(&server, &client).map_err(|e| {
            format!(
                "{name} (with --bind {bind}, while another client of that address was connected) \
                 did not connect: {e}; bind the TCP socket to port 0, so that the system picks \
                 a free port for each connection"
            )
        })?;
        let first = conn
            .line()
            .with_context(|| format!("{name}'s first line"))?;
        if first.trim() != name {
            return Err(format!(
                "{name}'s first line should be its name, was {first:?}"
            ));
        }
        clients.push((client, conn, from));
    }
    if clients[0].2 == clients[1].2 {
        return Err(format!("both clients connected from {}", clients[0].2));
    }
    Ok(())
}
