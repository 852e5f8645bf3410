//! `--wire seed`: the seed's own bytes (no newlines, one message per write, one `recv(1024)`
//! taken as one message), as the seed's Python programs speak them. The handout promises that
//! both programs talk to those programs in that mode; a peer that reads once, as the seed's do,
//! sees one message only if it left in one write, so the writes are counted
//! ([`SeedPeer::segments`]), never guessed from one read.

use super::{printed, start_server_with, CLIENT};
use socklab::grader::seed_peer::SeedPeer;
use socklab::grader::{Context, Ctx, StandIn};
use std::net::{SocketAddr, TcpStream};

/// The server in seed mode: the handshake and a chat message in the seed's bytes, and each
/// message in one write.
pub(super) fn seed_server(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server_with(ctx, &["--wire", "seed"])?;
    let mut amy = SeedPeer::connect(addr, "amy")?;
    amy.expect("NICKNAME").map_err(|e| server.explain(e))?;
    amy.send("amy")?;
    amy.expect("amy joined!Connected to server!")
        .map_err(|e| server.explain(e))?;
    let mut ben = SeedPeer::connect(addr, "ben")?;
    ben.expect("NICKNAME")?;
    ben.send("ben")?;
    ben.expect("ben joined!Connected to server!")?;
    amy.expect("ben joined!")?;
    // The seed's client writes `NAME: text` in one send: one recv is one message.
    let before = amy.segments()?;
    ben.send("ben: hi amy")?;
    amy.expect("ben: hi amy")
        .context("ben sent `ben: hi amy` without a newline, as the seed's client does")?;
    let writes = amy.segments()? - before;
    if writes != 1 {
        return Err(format!(
            "`ben: hi amy` reached amy in {writes} TCP segments: the seed's client takes one \
             recv(1024) as one message, so the server must send each message in one write"
        ));
    }
    Ok(())
}

/// The client in seed mode: its nickname and each typed line in one write each, no newline.
pub(super) fn seed_client(ctx: &Ctx) -> Result<(), String> {
    let hub: StandIn<(TcpStream, SocketAddr)> =
        StandIn::listen((ctx.ip("client1", [127, 0, 0, 1]), 0))?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let mut client = ctx.spawn(
        CLIENT,
        &[
            "--host",
            &host,
            "--port",
            &port,
            "--nickname",
            "zoe",
            "--wire",
            "seed",
        ],
    )?;
    let (stream, _) = hub.next("connection from the client", &client)?;
    let mut conn = SeedPeer::new(stream, "the test server")?;
    conn.send("NICKNAME")?;
    conn.expect("zoe").map_err(|e| client.explain(e))?;
    conn.send("zoe joined!")?;
    conn.send("Connected to server!")?;
    printed(&client, "`Connected to server!`", "Connected to server!")?;
    for typed in ["hello there", "second line"] {
        let before = conn.segments()?;
        client.send_line(typed)?;
        let want = format!("zoe: {typed}");
        conn.expect(&want)
            .with_context(|| format!("typed {typed:?} with --wire seed"))?;
        let writes = conn.segments()? - before;
        if writes != 1 {
            return Err(format!(
                "typed {typed:?}: `{want}` reached the server in {writes} TCP segments; the \
                 seed's server takes one recv(1024) as one message, so the client must send it \
                 in one write (write_message does)"
            ));
        }
    }
    Ok(())
}
