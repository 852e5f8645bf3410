//! Milestone 7: the silly chatter, with clients written here as telnet and netcat users type.

use super::SILLY;
use socket2::SockRef;
use socklab::grader::{Context, Ctx, LinePeer, Program, WAIT};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The server on loopback (across hosts, on webserver), port 0; its first line must be
/// `server listening at IP:PORT`.
fn start(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let server = ctx.spawn(SILLY, &["--host", &host, "--port", "0"])?;
    let line = server.line(WAIT)?;
    let addr = line
        .strip_prefix("server listening at ")
        .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        .filter(|a| a.port() != 0)
        .ok_or_else(|| format!("the first line should be `server listening at IP:PORT` with the real port; it was {line:?}"))?;
    Ok((server, addr))
}

fn connect(server: &Program, addr: SocketAddr, who: &str) -> Result<LinePeer, String> {
    LinePeer::connect(addr, who).map_err(|e| server.explain(e))
}

/// `line` gets exactly one `What?`.
fn what(server: &Program, peer: &mut LinePeer, line: &[u8]) -> Result<(), String> {
    peer.send_raw(line)?;
    peer.expect_next("What?").map_err(|e| {
        server.explain(format!(
            "after {:?}: {e}",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        ))
    })
}

pub(super) fn answers(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx)?;
    let mut amy = connect(&server, addr, "a netcat user")?;
    let me = amy.stream().local_addr().context("the client's address")?;
    let want = format!("connection from {me}");
    server
        .expect_line(&format!("`{want}` printed"), WAIT, |l| l == want)
        .map_err(|e| server.explain(e))?;
    for line in ["hello", "how are you?", "", "quit", " q"] {
        what(&server, &mut amy, format!("{line}\n").as_bytes())?;
    }
    let mut telnet = connect(&server, addr, "a telnet user")?;
    what(&server, &mut telnet, b"hello from telnet\r\n")?;
    telnet.assert_quiet("one line, one answer")?;
    Ok(())
}

pub(super) fn several(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx)?;
    let mut first = connect(&server, addr, "a quiet first client")?;
    let mut second = connect(&server, addr, "a second client")?;
    what(&server, &mut second, b"anyone there?\n")
        .map_err(|e| format!("while a first client was connected and quiet: {e}"))?;
    what(&server, &mut first, b"me too\n")?;
    Ok(())
}

pub(super) fn survives(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx)?;
    let mut amy = connect(&server, addr, "a client sending garbage")?;
    what(&server, &mut amy, b"\xff\xfe\x00 not text\n")?;
    let mut huge = vec![b'x'; 100 * 1024];
    huge.push(b'\n');
    what(&server, &mut amy, &huge)?;
    amy.assert_quiet("a huge line is still one line: one `What?`")?;
    // A client that vanishes in the middle of a line, with a reset.
    let gone = TcpStream::connect(addr).map_err(|e| server.explain(format!("connecting: {e}")))?;
    std::io::Write::write_all(&mut &gone, b"half a li").context("sending half a line")?;
    SockRef::from(&gone)
        .set_linger(Some(Duration::ZERO))
        .context("making the close a reset")?;
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    let mut ben = connect(&server, addr, "a client after the others")?;
    what(&server, &mut ben, b"still there?\n")?;
    what(&server, &mut amy, b"and for me?\n")?;
    Ok(())
}

pub(super) fn q_closes_client(ctx: &Ctx) -> Result<(), String> {
    for (ending, how) in [
        (&b"q\r\n"[..], "`q\\r\\n` (telnet)"),
        (&b"q\n"[..], "`q\\n` (netcat)"),
    ] {
        let (server, addr) = start(ctx)?;
        let mut peer = connect(&server, addr, "a client")?;
        what(&server, &mut peer, b"hi\n")?;
        peer.send_raw(ending)?;
        if !peer.closes(WAIT) {
            return Err(server.explain(format!(
                "after {how} the server should close this client's connection"
            )));
        }
    }
    Ok(())
}

pub(super) fn graceful_shutdown(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start(ctx)?;
    let mut quitter = connect(&server, addr, "the client sending q")?;
    let mut others = [
        connect(&server, addr, "client amy")?,
        connect(&server, addr, "client ben")?,
    ];
    for peer in others.iter_mut() {
        what(&server, peer, b"before\n")?;
    }
    quitter.send("q")?;
    if !quitter.closes(WAIT) {
        return Err(
            server.explain("after `q` the server should close that client's connection".into())
        );
    }
    for peer in others.iter_mut() {
        let who = peer.who().to_string();
        peer.expect("a line saying that the server is closing", |l| {
            l.to_lowercase().contains("closing")
        })
        .map_err(|e| server.explain(format!("{who}, connected when another client sent q: {e}")))?;
        if !peer.closes(WAIT) {
            return Err(server.explain(format!(
                "{who}: after saying it is closing, the server should close the connection"
            )));
        }
    }
    let (lines, status) = server.finish(WAIT).map_err(|e| {
        format!("after `q` and the other clients gone, the server should exit: {e}")
    })?;
    if !status.success() {
        return Err(format!(
            "the server should exit 0 after a graceful shutdown; {status}"
        ));
    }
    // The threads print `ADDR left` as they end: all must have ended before the last line.
    for peer in &others {
        let me = peer.stream().local_addr().context("the client's address")?;
        let left = format!("{me} left");
        let at = lines.iter().position(|l| l == &left);
        let closed = lines.iter().position(|l| l == "server closed");
        if !matches!((at, closed), (Some(a), Some(c)) if a < c) || closed != Some(lines.len() - 1) {
            return Err(format!(
                "the server should wait for every client's thread (`{left}`) before it says `server closed` and exits; it printed {lines:?}"
            ));
        }
    }
    if TcpStream::connect_timeout(&addr, WAIT).is_ok() {
        return Err("after shutting down the server still accepts connections".into());
    }
    Ok(())
}

/// Out of file descriptors: with six (stdin, stdout, stderr, the listener and one client's two
/// handles) a second client cannot be accepted. The server must say so on stderr, wait rather
/// than spin on the failing accept, and serve that client once the first one has left.
pub(super) fn out_of_descriptors(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn_with_fd_limit(SILLY, &["--host", "127.0.0.1", "--port", "0"], 6)?;
    let line = server.line(WAIT)?;
    let addr = line
        .strip_prefix("server listening at ")
        .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        .ok_or_else(|| {
            format!("the first line should be `server listening at IP:PORT`; it was {line:?}")
        })?;
    let mut first = connect(&server, addr, "a first client")?;
    what(&server, &mut first, b"hello\n")?;
    let since = server.logged_so_far();
    // The kernel completes the handshake; only accept() fails, again and again.
    let mut second = connect(&server, addr, "a second client")?;
    second.send("still there?")?;
    server
        .expect_logged(since, "a line saying that accept failed", WAIT, |_| true)
        .map_err(|e| server.explain(e))?;
    let before = server.cpu_time()?;
    std::thread::sleep(Duration::from_secs(1));
    let spent = server.cpu_time()?.saturating_sub(before);
    if spent > Duration::from_millis(250) {
        return Err(format!(
            "while accept() kept failing (no file descriptor left), the server used {} ms of CPU in one second: it retries without pausing",
            spent.as_millis()
        ));
    }
    drop(first);
    second.expect_next("What?").map_err(|e| {
        server.explain(format!(
            "the first client left, freeing its descriptors; the waiting second client should then be served: {e}"
        ))
    })
}

/// Out of file descriptors one step later: with five (stdin, stdout, stderr, the listener and
/// the accepted socket) accept() works but the handle kept for the shutdown (try_clone) cannot
/// be made. The server cannot close that client gracefully later, so it turns it away at once,
/// says so on stderr, and goes on accepting (the next client gets the same).
pub(super) fn turned_away(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn_with_fd_limit(SILLY, &["--host", "127.0.0.1", "--port", "0"], 5)?;
    let line = server.line(WAIT)?;
    let addr = line
        .strip_prefix("server listening at ")
        .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        .ok_or_else(|| {
            format!("the first line should be `server listening at IP:PORT`; it was {line:?}")
        })?;
    for who in ["a first client", "a second client"] {
        let since = server.logged_so_far();
        let mut peer = connect(&server, addr, who)?;
        let me = peer.stream().local_addr().context("the client's address")?;
        let want = format!("connection from {me}");
        server
            .expect_line(&format!("`{want}` printed"), WAIT, |l| l == want)
            .map_err(|e| server.explain(format!("{who}, while no descriptor was left for a second handle: {e}")))?;
        server
            .expect_logged(since, "a line saying that this client is turned away", WAIT, |_| true)
            .map_err(|e| server.explain(e))?;
        if !peer.closes(WAIT) {
            return Err(server.explain(format!(
                "{who}: the server could not keep a second handle on its socket (try_clone failed: no file descriptor left), so it should close this connection at once"
            )));
        }
    }
    Ok(())
}
