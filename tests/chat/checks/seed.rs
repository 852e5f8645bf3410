//! `--wire seed`: the course's own bytes (no newlines, the name as the first send, no `OK` for
//! a bare name, `NAME: text ` with the trailing space, the `!` map as Python's `json.dumps`
//! writes it), one message per write. The handout promises that both programs talk to the
//! course's Python programs in that mode; those read once with `recv(1024)`, so every message
//! must leave in one write, which is counted ([`SeedPeer::segments`]), never guessed.

use super::client::at;
use super::{free_udp_port, peer_ip, spawn_client, start_server_with};
use socklab::grader::seed_peer::SeedPeer;
use socklab::grader::{tcp_from, Ctx, StandIn};
use std::net::{SocketAddr, TcpStream};

/// The server in seed mode, as two of the course's clients see it.
pub(super) fn seed_server(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server_with(ctx, &["--wire", "seed"])?;
    let (a, b) = (peer_ip(ctx, 141, 2), peer_ip(ctx, 141, 3));
    let mut amy = SeedPeer::new(tcp_from(addr, a, "amy", None)?, "amy")?;
    amy.send("amy")?;
    // A bare name gets no OK in seed mode: the map comes first, in Python's spelling.
    let first = format!("!{{\"amy\": \"{a}\"}}");
    amy.expect(&first).map_err(|e| server.explain(e))?;
    let mut ben = SeedPeer::new(tcp_from(addr, b, "ben", None)?, "ben")?;
    ben.send("ben")?;
    let both = format!("!{{\"amy\": \"{a}\", \"ben\": \"{b}\"}}");
    ben.expect(&both)?;
    amy.expect(&both)?;
    let before = amy.segments()?;
    ben.send("hi amy")?;
    amy.expect("ben: hi amy ")
        .map_err(|e| format!("ben sent `hi amy` (no newline, as the course's client does): {e}"))?;
    let writes = amy.segments()? - before;
    if writes != 1 {
        return Err(format!(
            "`ben: hi amy ` reached amy in {writes} TCP segments: the course's client takes one \
             recv(1024) as one message, so the server must send each message in one write"
        ));
    }
    Ok(())
}

/// The client in seed mode: its name, then each typed line, in one write each, no newline.
pub(super) fn seed_client(ctx: &Ctx) -> Result<(), String> {
    let hub: StandIn<(TcpStream, SocketAddr)> = StandIn::listen((at(ctx, 142, 1), 0))?;
    let udp = free_udp_port()?;
    let a = at(ctx, 142, 2);
    let mut client = spawn_client(
        ctx,
        hub.addr(),
        a,
        udp,
        &["--name", "amy", "--wire", "seed"],
    )?;
    let (stream, _) = hub.next("connection from the client", &client)?;
    let mut conn = SeedPeer::new(stream, "the test server")?;
    // A fresh connection: every data segment it received so far is the client's.
    conn.expect("amy").map_err(|e| client.explain(e))?;
    let writes = conn.segments()?;
    if writes != 1 {
        return Err(format!(
            "the name `amy` reached the server in {writes} TCP segments: the course's server \
             takes one recv(1024) as the name, so it must leave in one write"
        ));
    }
    conn.send(&format!("!{{\"amy\": \"{a}\"}}"))?;
    for typed in ["hello room", "second line"] {
        let before = conn.segments()?;
        client.send_line(typed)?;
        conn.expect(typed)
            .map_err(|e| format!("typed {typed:?} with --wire seed: {e}"))?;
        let writes = conn.segments()? - before;
        if writes != 1 {
            return Err(format!(
                "typed {typed:?}: it reached the server in {writes} TCP segments; the course's \
                 server takes one recv(1024) as one message, so the client must send it in one \
                 write (write_message does)"
            ));
        }
    }
    Ok(())
}
