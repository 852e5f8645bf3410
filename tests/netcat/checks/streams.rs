//! Milestones 1–4 and 6: netcat over plain TCP and UDP, against sockets written here: connecting
//! and listening, the two directions and the half-close, exact transfers, a reset, memory, UDP,
//! `-C`, commands and error messages. Across netlab's hosts (`grade --net`) netcat runs on
//! webserver and the sockets written here are on client1.

use super::{first_difference, listening, random_bytes, stderr_line, NETCAT};
use socket2::SockRef;
use socklab::grader::{
    data_segments_in, hosts, shown, Context, Ctx, LinePeer, Program, StandIn, WAIT,
};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

/// A stand-in server that only accepts: the check plays the server on each connection.
type Hub = StandIn<(TcpStream, SocketAddr)>;

/// Where the sockets written here are: 127.0.0.1 on loopback, client1 across hosts.
fn grader_ip(ctx: &Ctx) -> IpAddr {
    ctx.ip("client1", [127, 0, 0, 1])
}

/// Where netcat listens: 127.0.0.1 on loopback, webserver across hosts.
fn netcat_ip(ctx: &Ctx) -> IpAddr {
    ctx.ip("webserver", [127, 0, 0, 1])
}

fn hub(ctx: &Ctx) -> Result<Hub, String> {
    StandIn::listen((grader_ip(ctx), 0))
}

/// netcat connecting to a stand-in: the program and the connection it made.
fn connected(ctx: &Ctx, extra: &[&str]) -> Result<(Program, Hub, TcpStream), String> {
    let hub = hub(ctx)?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([host.as_str(), port.as_str()]);
    let nc = ctx.spawn(NETCAT, &args)?;
    let (stream, _) = hub.next("connection from netcat", &nc)?;
    stream
        .set_read_timeout(Some(WAIT))
        .context("the test socket")?;
    Ok((nc, hub, stream))
}

/// netcat listening with `-v -l 127.0.0.1 0` (across hosts, webserver's address; and
/// `extra`): the program and its address.
fn listener(ctx: &Ctx, extra: &[&str]) -> Result<(Program, SocketAddr), String> {
    let host = netcat_ip(ctx).to_string();
    let mut args = vec!["-v", "-l"];
    args.extend(extra);
    args.extend([host.as_str(), "0"]);
    let nc = ctx.spawn(NETCAT, &args)?;
    let addr = listening(&nc)?;
    Ok((nc, addr))
}

/// Waits for a line of netcat's stdout equal to `want`.
fn printed(nc: &Program, want: &str) -> Result<(), String> {
    nc.expect_line(
        &format!("`{want}` printed (it arrived from the network)"),
        WAIT,
        |l| l == want,
    )
    .map(|_| ())
    .map_err(|e| nc.explain(e))
}

/// Reads until the peer's end of stream, for at most `within`: the bytes, and whether the end
/// came (false: the time ran out first).
fn read_to_end_within(sock: &TcpStream, within: Duration) -> Result<(Vec<u8>, bool), String> {
    let mut stream = sock;
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((got, false));
        }
        sock.set_read_timeout(Some(left))
            .context("the test socket")?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok((got, true)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok((got, false))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("the connection with netcat failed: {e}")),
        }
    }
}

/// Reads exactly `n` bytes within [`WAIT`].
fn read_bytes(stream: &mut TcpStream, n: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut got = vec![0u8; n];
    let mut have = 0;
    let deadline = Instant::now() + WAIT;
    while have < n {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(left))
            .context("the test socket")?;
        match stream.read(&mut got[have..]) {
            Ok(0) => {
                return Err(format!(
                    "expected {what}; the connection closed after {:?}",
                    String::from_utf8_lossy(&got[..have])
                ))
            }
            Ok(k) => have += k,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "expected {what}; got {:?} within {} s",
                    String::from_utf8_lossy(&got[..have]),
                    WAIT.as_secs()
                ))
            }
            Err(e) => return Err(format!("expected {what}; the connection failed: {e}")),
        }
    }
    Ok(got)
}

/// Lines of text with tabs, non-ASCII letters and NUL bytes, 256 KiB in all, ending in `\n`.
/// (netcat's stdout reaches the grader line by line, so the data has no `\r`.)
fn text_file(len: usize) -> String {
    const PIECES: &[&str] = &[
        "netcat",
        " ",
        "\t",
        "é",
        "漢字",
        "\0",
        "0123456789",
        "ÆØÅ",
        "{}",
        "—",
        "",
    ];
    let noise = random_bytes(len, 7);
    let mut out = String::with_capacity(len + 64);
    let mut i = 0;
    while out.len() < len {
        let piece = PIECES[noise[i % noise.len()] as usize % PIECES.len()];
        out.push_str(piece);
        if noise[(i * 7 + 3) % noise.len()] < 8 {
            out.push('\n');
        }
        i += 1;
    }
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------
// 1 connect and listen

pub(super) fn connects(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, stream) = connected(ctx, &[])?;
    let mut peer = LinePeer::new(stream, "the test server")?;
    for i in 1..=3 {
        let line = format!("line {i} typed into netcat");
        nc.send_line(&line)?;
        peer.expect_next(&line)
            .map_err(|e| nc.explain(format!("typed {line:?} into netcat's stdin: {e}")))?;
        let back = format!("line {i} from the network");
        peer.send(&back)?;
        printed(&nc, &back)?;
    }
    Ok(())
}

pub(super) fn listens(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, addr) = listener(ctx, &[])?;
    let mut peer = LinePeer::connect(addr, "the test client").map_err(|e| nc.explain(e))?;
    for i in 1..=3 {
        let back = format!("line {i} from the client");
        peer.send(&back)?;
        printed(&nc, &back)?;
        let line = format!("line {i} typed into the listener");
        nc.send_line(&line)?;
        peer.expect_next(&line)
            .map_err(|e| nc.explain(format!("typed {line:?} into netcat's stdin: {e}")))?;
    }
    Ok(())
}

pub(super) fn verbose_lines(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, stream) = connected(ctx, &["-v"])?;
    let server = stream.local_addr().context("the test server's address")?;
    let want = format!("Connected to {server}.");
    stderr_line(&nc, &format!("`netcat: {want}`"), |l| l.ends_with(&want))?;
    nc.send_line("hello")?;
    nc.close_stdin();
    let (got, _) = read_to_end_within(&stream, WAIT)?;
    if got != b"hello\n" {
        return Err(nc.explain(format!(
            "typed `hello`; the server got {:?}",
            String::from_utf8_lossy(&got)
        )));
    }
    stream
        .shutdown(Shutdown::Both)
        .context("the test server closing")?;
    stderr_line(
        &nc,
        "the last `-v` line `6 bytes sent, 0 bytes received in T seconds.`",
        |l| l.contains("6 bytes sent, 0 bytes received in "),
    )?;
    let (nc, addr) = listener(ctx, &[])?;
    let mut peer = LinePeer::connect(addr, "the test client").map_err(|e| nc.explain(e))?;
    let me = peer
        .stream()
        .local_addr()
        .context("the test client's address")?;
    let want = format!("Connection from {me}.");
    stderr_line(&nc, &format!("`netcat: {want}`"), |l| l.ends_with(&want))?;
    peer.send("abc")?;
    peer.stream()
        .shutdown(Shutdown::Write)
        .context("the test client closing")?;
    printed(&nc, "abc")?;
    stderr_line(
        &nc,
        "the last `-v` line `N bytes sent, 4 bytes received in T seconds.`",
        |l| l.contains(" bytes sent, 4 bytes received in "),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2 streams

pub(super) fn half_close(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, mut stream) = connected(ctx, &[])?;
    nc.send_line("GET /index HTTP/1.0")?;
    nc.send_line("")?;
    nc.close_stdin();
    let (request, ended) = read_to_end_within(&stream, WAIT)?;
    if !ended {
        return Err(nc.explain(format!(
            "netcat's stdin ended, but no end of stream (FIN) reached the server within {} s \
             (it got {:?}): the server waits for the end of the request before it answers",
            WAIT.as_secs(),
            String::from_utf8_lossy(&request)
        )));
    }
    if request != b"GET /index HTTP/1.0\n\n" {
        return Err(format!(
            "the server should get the request typed, got {:?}",
            String::from_utf8_lossy(&request)
        ));
    }
    stream
        .write_all(b"HTTP/1.0 200 OK\n\nthe response\n")
        .context(
            "the test server answering after netcat's FIN (did netcat close all of its socket?)",
        )?;
    stream
        .shutdown(Shutdown::Write)
        .context("the test server closing")?;
    let lines = nc.run_to_end(WAIT).map_err(|e| {
        format!(
            "after the server answered and closed, netcat should print the answer and exit 0: {e}"
        )
    })?;
    if lines != ["HTTP/1.0 200 OK", "", "the response"] {
        return Err(format!(
            "netcat's stdin had ended; the server then answered `HTTP/1.0 200 OK`, ``, `the response` and closed: netcat printed {}",
            shown(&lines)
        ));
    }
    Ok(())
}

/// `--recv-only`: what is typed never goes out; what arrives is printed; the peer's close ends
/// the session.
pub(super) fn recv_only(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, stream) = connected(ctx, &["--recv-only"])?;
    let mut peer = LinePeer::new(stream, "the test server")?;
    nc.send_line("typed into a --recv-only netcat")?;
    peer.send("from the network")?;
    printed(&nc, "from the network")?;
    peer.assert_quiet(
        "a line typed into `netcat --recv-only`: that option uses the receiving direction only",
    )?;
    peer.stream()
        .shutdown(Shutdown::Write)
        .context("the test server closing")?;
    nc.run_to_end(WAIT).map_err(|e| {
        format!("the server closed its half: `netcat --recv-only` should end, exit 0: {e}")
    })?;
    Ok(())
}

pub(super) fn listener_half_close(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, addr) = listener(ctx, &[])?;
    nc.close_stdin();
    let mut stream =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    let (got, ended) = read_to_end_within(&stream, WAIT)?;
    if !ended || !got.is_empty() {
        return Err(nc.explain(format!(
            "netcat -l ran with its stdin already ended: the client should get an empty stream and its end (a FIN); got {:?} and {}",
            String::from_utf8_lossy(&got),
            if ended { "the end" } else { "no end" }
        )));
    }
    stream
        .write_all(b"late news\n")
        .context("the client writing after netcat's FIN")?;
    stream
        .shutdown(Shutdown::Write)
        .context("the client closing")?;
    let lines = nc.run_to_end(WAIT)?;
    if lines != ["late news"] {
        return Err(format!(
            "after its own half-close netcat must still print what arrives (`late news`), then exit when the client closes; it printed {}",
            shown(&lines)
        ));
    }
    Ok(())
}

pub(super) fn file_transfer(ctx: &Ctx) -> Result<(), String> {
    let data = text_file(256 * 1024);
    // The receiving side: `netcat -l … > out`, a client sends the file and closes.
    let (nc, addr) = listener(ctx, &[])?;
    let mut client =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    client
        .write_all(data.as_bytes())
        .context("sending the file to netcat -l")?;
    client
        .shutdown(Shutdown::Write)
        .context("closing after the file")?;
    let (lines, status) = nc.finish(WAIT)?;
    let mut got = lines.join("\n");
    got.push('\n');
    if got != data {
        return Err(format!(
            "netcat -l > out: a client sent {} bytes and closed; what netcat printed differs: {}",
            data.len(),
            first_difference(got.as_bytes(), data.as_bytes())
        ));
    }
    if !status.success() {
        return Err(format!(
            "netcat -l should exit 0 once the sender closed; {status}"
        ));
    }

    // The sending side: `netcat --send-only HOST PORT < in`.
    let (mut nc, _hub, stream) = connected(ctx, &["--send-only"])?;
    let reader = thread::spawn(move || read_to_end_within(&stream, WAIT * 3));
    for line in data.lines() {
        nc.send_line(line)?;
    }
    nc.close_stdin();
    let (got, ended) = reader
        .join()
        .map_err(|_| "the reading thread failed".to_string())??;
    if got != data.as_bytes() {
        return Err(nc.explain(format!(
            "netcat --send-only < in: the receiver got something else than the file: {}",
            first_difference(&got, data.as_bytes())
        )));
    }
    if !ended {
        return Err(
            "netcat --send-only sent the file but no end of stream (FIN) followed its stdin's end"
                .into(),
        );
    }
    exits_zero(&nc, "netcat --send-only should exit 0 after the transfer")
}

pub(super) fn both_ways_at_once(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, stream) = connected(ctx, &[])?;
    let mut peer = LinePeer::new(stream, "the test server")?;
    for i in 1..=3 {
        // The network speaks first, while netcat's stdin has nothing to give.
        let first = format!("network first, round {i}");
        peer.send(&first)?;
        printed(&nc, &first).map_err(|e| format!("{e} (netcat's stdin was open and quiet)"))?;
        let reply = format!("stdin second, round {i}");
        nc.send_line(&reply)?;
        peer.expect_next(&reply).map_err(|e| nc.explain(e))?;
    }
    Ok(())
}

pub(super) fn reset(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, _hub, mut stream) = connected(ctx, &[])?;
    nc.send_line("some data")?;
    read_bytes(&mut stream, 10, "`some data` from netcat")?;
    stream
        .write_all(b"partial transfer")
        .context("the test server sending")?;
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .context("making the test server's close a reset")?;
    drop(stream);
    let (_, status) = nc
        .finish(WAIT)
        .map_err(|e| format!("the server reset the connection; netcat should end: {e}"))?;
    let err = nc.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    if status.code() != Some(1) || lines.len() != 1 {
        return Err(format!(
            "the server reset the connection: netcat should print one line on stderr and exit 1; it {status} after printing {lines:?} on stderr"
        ));
    }
    // While netcat sends without end (a command's output), a reset must end the sending too.
    let (nc, addr) = listener(ctx, &["--sh-exec", "yes"])?;
    let mut client =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    read_bytes(&mut client, 64 * 1024, "the output of `yes`")?;
    SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .context("making the client's close a reset")?;
    drop(client);
    let (_, status) = nc
        .finish(WAIT)
        .map_err(|e| format!("netcat -l --sh-exec yes: the client reset the connection while netcat was sending; netcat should stop: {e}"))?;
    if status.code() != Some(1) {
        return Err(format!("netcat -l --sh-exec yes: the client reset the connection while netcat was sending: it should exit 1; it {status}"));
    }
    Ok(())
}

/// `--send-only` (with and without `-C`): the receiver reads what came, then closes its socket
/// while netcat's stdin is still open. netcat's next writes meet a connection the peer no longer
/// has (a reset comes back), so it must end with the error, not send on into nothing until
/// stdin ends. The grader keeps typing a line at a time until netcat has ended.
pub(super) fn receiver_leaves(ctx: &Ctx) -> Result<(), String> {
    for flags in [&["--send-only"][..], &["--send-only", "-C"]] {
        let options = flags.join(" ");
        let (mut nc, _hub, mut stream) = connected(ctx, flags)?;
        nc.send_line("first")?;
        let want = if flags.contains(&"-C") { "first\r\n" } else { "first\n" };
        read_bytes(&mut stream, want.len(), "`first` from netcat")
            .map_err(|e| nc.explain(format!("netcat {options}: {e}")))?;
        // Everything sent was read: the close is a FIN, not a reset.
        drop(stream);
        let deadline = Instant::now() + WAIT;
        let mut typed = 0;
        while nc.is_running() && Instant::now() < deadline {
            typed += 1;
            if nc.send_line(&format!("line {typed} after the receiver left")).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let (_, status) = nc.finish(WAIT).map_err(|e| {
            format!("netcat {options}: the receiver closed its socket and {typed} lines were typed after it: netcat should end with the error: {e}")
        })?;
        let err = nc.stderr();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        if status.code() != Some(1) || lines.len() != 1 {
            return Err(format!(
                "netcat {options}: the receiver closed its socket while stdin was still open; writing to it fails: netcat should print one line on stderr and exit 1; it {status} after printing {lines:?} on stderr"
            ));
        }
    }
    if ctx.across_hosts() {
        // The wait below reads netcat's sockets in /proc, which shows this host's only.
        return Ok(());
    }
    // The receiver ends its half (FIN), then resets: netcat's connection is gone before its
    // stdin ends, so the half-close at stdin's end cannot be made, and that is an error too.
    let (mut nc, _hub, mut stream) = connected(ctx, &["--send-only"])?;
    nc.send_line("first")?;
    read_bytes(&mut stream, 6, "`first` from netcat").map_err(|e| nc.explain(e))?;
    let netcat_at = stream.peer_addr().context("netcat's address")?;
    stream.shutdown(Shutdown::Write).context("the receiver closing its half")?;
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .context("making the receiver's close a reset")?;
    drop(stream);
    gone(&nc, netcat_at)?;
    nc.close_stdin();
    let (_, status) = nc.finish(WAIT).map_err(|e| {
        format!("netcat --send-only: the receiver reset the connection, then stdin ended: netcat should end: {e}")
    })?;
    let err = nc.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    if status.code() != Some(1) || lines.len() != 1 {
        return Err(format!(
            "netcat --send-only: the receiver closed its half, then reset the connection; at stdin's end the half-close fails: netcat should print one line on stderr and exit 1; it {status} after printing {lines:?} on stderr"
        ));
    }
    Ok(())
}

/// Waits until netcat's end of a connection (local address `at`) is gone from its host's TCP
/// table: the reset has reached it.
fn gone(nc: &Program, at: SocketAddr) -> Result<(), String> {
    let local = match at {
        SocketAddr::V4(a) => format!("{:08X}:{:04X}", u32::from_le_bytes(a.ip().octets()), a.port()),
        SocketAddr::V6(_) => return Ok(()),
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let table = std::fs::read_to_string(format!("/proc/{}/net/tcp", nc.pid()))
            .context("reading netcat's TCP table")?;
        let present = table
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(local.as_str()));
        if !present {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("netcat's connection from {at} was still open {} s after a reset", WAIT.as_secs()));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Peak memory (VmHWM) of a running process, in KiB.
fn peak_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading netcat's /proc status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc status".to_string())
}

pub(super) fn flat_memory(ctx: &Ctx) -> Result<(), String> {
    const MIB: usize = 64;
    let (mut nc, _hub, stream) = connected(ctx, &["--send-only"])?;
    let mut reading = stream.try_clone().context("the test socket")?;
    let counter = thread::spawn(move || -> Result<(usize, bool), String> {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            stream
                .set_read_timeout(Some(WAIT))
                .map_err(|e| e.to_string())?;
            match reading.read(&mut buf) {
                Ok(0) => return Ok((total, true)),
                Ok(n) => total += n,
                Err(_) => return Ok((total, false)),
            }
            if Instant::now() > deadline {
                return Ok((total, false));
            }
        }
    });
    let line = "x".repeat(64 * 1024 - 1);
    for _ in 0..MIB * 16 {
        nc.send_line(&line).map_err(|e| nc.explain(e))?;
    }
    // netcat has read all of its input by now, or holds it somewhere.
    thread::sleep(Duration::from_millis(200));
    let peak = peak_kib(nc.pid())?;
    nc.close_stdin();
    let (total, _) = counter
        .join()
        .map_err(|_| "the counting thread failed".to_string())??;
    if total != MIB * 1024 * 1024 {
        return Err(nc.explain(format!(
            "{MIB} MiB went into netcat's stdin, {total} bytes came out"
        )));
    }
    if peak > 32 * 1024 {
        return Err(format!(
            "while {MIB} MiB went through, netcat's peak memory (VmHWM) reached {} MiB: it should stay flat (a few MiB)",
            peak / 1024
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3 UDP and CRLF

pub(super) fn udp_connect(ctx: &Ctx) -> Result<(), String> {
    let server = StandIn::udp((grader_ip(ctx), 0), |sock, datagram, from, seen| {
        let _ = seen.send(datagram.to_vec());
        let text = String::from_utf8_lossy(datagram);
        let _ = sock.send_to(format!("pong: {}\n", text.trim_end()).as_bytes(), from);
    })?;
    let (host, port) = (server.addr().ip().to_string(), server.port());
    // Two clients at once: each has a port of its own.
    let mut other = ctx.spawn(NETCAT, &["-u", &host, &port])?;
    let mut nc = ctx.spawn(NETCAT, &["-u", &host, &port])?;
    for word in ["ping", "ping again"] {
        nc.send_line(word)?;
        // One stdin read is one datagram: a line may come in more than one.
        let mut got = Vec::new();
        while !got.ends_with(b"\n") && got.len() <= word.len() {
            got.extend(server.next("datagram from netcat", &nc)?);
        }
        if got != format!("{word}\n").as_bytes() {
            return Err(format!(
                "typed {word:?}: the server should get {:?} in datagrams, got {:?}",
                format!("{word}\n"),
                String::from_utf8_lossy(&got)
            ));
        }
        printed(&nc, &format!("pong: {word}"))?;
    }
    other.send_line("second client")?;
    server.next("datagram from a second netcat -u", &other)?;
    printed(&other, "pong: second client")
        .map_err(|e| format!("a second netcat -u running at the same time: {e}"))?;
    nc.close_stdin();
    nc.finish(WAIT)
        .map_err(|e| format!("netcat -u should end when its stdin ends: {e}"))?;
    Ok(())
}

pub(super) fn udp_listen(ctx: &Ctx) -> Result<(), String> {
    let (mut nc, addr) = listener(ctx, &["-u"])?;
    let sock = UdpSocket::bind((grader_ip(ctx), 0)).context("the test client's socket")?;
    sock.set_read_timeout(Some(WAIT))
        .context("the test client's socket")?;
    // A first datagram without a line end, then the rest of the line.
    sock.send_to(b"hello ", addr)
        .context("sending to netcat -u -l")?;
    let me = sock.local_addr().context("the test client's address")?;
    let want = format!("Connection from {me}.");
    stderr_line(&nc, &format!("`netcat: {want}` (-v)"), |l| {
        l.ends_with(&want)
    })?;
    sock.send_to(b"listener\n", addr)
        .context("sending to netcat -u -l")?;
    printed(&nc, "hello listener")?;
    nc.send_line("hello sender")?;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    // One stdin read is one datagram: a line may come in more than one.
    while !got.ends_with(b"\n") && got.len() <= 12 {
        let (n, from) = sock.recv_from(&mut buf).map_err(|e| {
            nc.explain(format!("typed `hello sender` into netcat -u -l: the first datagram's sender should get it; {e}"))
        })?;
        if from != addr {
            return Err(format!(
                "a datagram came from {from}, not from netcat at {addr}"
            ));
        }
        got.extend_from_slice(&buf[..n]);
    }
    if got != b"hello sender\n" {
        return Err(format!(
            "typed `hello sender`: expected `hello sender\\n` from {addr}, got {:?}",
            String::from_utf8_lossy(&got)
        ));
    }
    sock.send_to(b"second\n", addr)
        .context("sending to netcat -u -l")?;
    printed(&nc, "second")?;
    Ok(())
}

pub(super) fn crlf(ctx: &Ctx) -> Result<(), String> {
    for (flags, want) in [(&["-C"][..], "one\r\ntwo\r\n"), (&[][..], "one\ntwo\n")] {
        let (mut nc, _hub, mut stream) = connected(ctx, flags)?;
        nc.send_line("one")?;
        nc.send_line("two")?;
        let got = read_bytes(&mut stream, want.len(), &format!("{want:?}"))?;
        if got != want.as_bytes() {
            return Err(format!(
                "netcat {}typed `one` and `two`: the server should get {want:?}, got {:?}",
                flags.iter().map(|f| format!("{f} ")).collect::<String>(),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    Ok(())
}

/// "A read, then a write of exactly what was read": a chunk netcat read in one piece goes out
/// in one write, so a peer that reads once (the seeds' `recv(1024)`) gets all of it. Through
/// `-e cat` every step is one write of a few bytes (a segment, a pipe write under PIPE_BUF), so
/// the segments the test socket receives count netcat's writes (`data_segments_in`).
pub(super) fn one_write_per_chunk(ctx: &Ctx) -> Result<(), String> {
    for (flags, sent, want) in [
        (
            &["-e", "cat"][..],
            "a chunk of two\nlines\n",
            "a chunk of two\nlines\n",
        ),
        (&["-C", "-e", "cat"][..], "one\ntwo\n", "one\r\ntwo\r\n"),
    ] {
        let (nc, addr) = listener(ctx, flags)?;
        let peer = LinePeer::connect(addr, "the test client").map_err(|e| nc.explain(e))?;
        let mut stream = peer.stream().try_clone().context("the test socket")?;
        let options = flags.join(" ");
        let before = data_segments_in(&stream)?;
        stream
            .write_all(sent.as_bytes())
            .context("sending a chunk in one write")?;
        let got = read_bytes(&mut stream, want.len(), &format!("{want:?} back"))
            .map_err(|e| nc.explain(format!("netcat -l {options}: {e}")))?;
        if got != want.as_bytes() {
            return Err(format!(
                "netcat -l {options}: sent {sent:?}, expected {want:?} back, got {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        let writes = data_segments_in(&stream)? - before;
        if writes != 1 {
            return Err(format!(
                "netcat -l {options}: cat gave netcat {sent:?} in one piece, and netcat sent \
                 {want:?} in {writes} writes: a peer that reads once (recv(1024), as the seeds' \
                 programs do) gets only the first piece; write what one read returned with one \
                 write"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4 commands

pub(super) fn sh_exec(ctx: &Ctx) -> Result<(), String> {
    let (nc, addr) = listener(ctx, &["--sh-exec", "echo Successfully Connected"])?;
    let stream =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    let (got, ended) = read_to_end_within(&stream, WAIT)?;
    if got != b"Successfully Connected\n" || !ended {
        return Err(nc.explain(format!(
            "the client should read `Successfully Connected` and then the end of the stream; it read {:?} and {}",
            String::from_utf8_lossy(&got),
            if ended { "the end" } else { "no end" }
        )));
    }
    exits_zero(
        &nc,
        "netcat -l --sh-exec should exit 0 after its one connection",
    )
}

pub(super) fn keep_open(ctx: &Ctx) -> Result<(), String> {
    let (nc, addr) = listener(ctx, &["-k", "-e", "cat"])?;
    let connect = |who: &str| LinePeer::connect(addr, who).map_err(|e| nc.explain(e));
    let mut amy = connect("client amy")?;
    let mut ben = connect("client ben")?;
    for peer in [&amy, &ben] {
        let me = peer
            .stream()
            .local_addr()
            .context("the test client's address")?;
        let want = format!("Connection from {me}.");
        stderr_line(&nc, &format!("`netcat: {want}` (-v)"), |l| {
            l.ends_with(&want)
        })?;
    }
    for round in 1..=2 {
        for peer in [&mut amy, &mut ben] {
            let line = format!("{} round {round}", peer.who());
            peer.send(&line)?;
            peer.expect_next(&line).map_err(|e| {
                nc.explain(format!("with -k -e cat every client has its own cat: {e}"))
            })?;
        }
    }
    drop(amy);
    let mut cy = connect("client cy")?;
    cy.send("still accepting")?;
    cy.expect_next("still accepting")
        .map_err(|e| nc.explain(e))?;
    Ok(())
}

/// Sets the soft limit on netcat's file descriptors (RLIMIT_NOFILE) while it runs; returns the
/// limits it had. Lowering the soft limit, and raising it again up to the hard one, needs no
/// privilege for a process of one's own.
fn set_fd_limit(nc: &Program, soft: Option<u64>, back: Option<libc::rlimit>) -> Result<libc::rlimit, String> {
    let pid = nc.pid() as libc::pid_t;
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit reads the struct given (or none) and writes the old limits into `old`.
    let done = unsafe {
        match (soft, back) {
            (_, Some(limit)) => libc::prlimit(pid, libc::RLIMIT_NOFILE, &limit, &mut old),
            (Some(soft), None) => {
                if libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) != 0 {
                    -1
                } else {
                    let lower = libc::rlimit { rlim_cur: soft, rlim_max: old.rlim_max };
                    libc::prlimit(pid, libc::RLIMIT_NOFILE, &lower, std::ptr::null_mut())
                }
            }
            (None, None) => 0,
        }
    };
    if done != 0 {
        return Err(format!(
            "the grader could not change netcat's file descriptor limit: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(old)
}

/// `-k` out of file descriptors: once a first client is served, netcat's limit is lowered to
/// its lowest free descriptor. The accept already waiting has its descriptor (Linux takes it
/// before waiting), so one more client is accepted and turned away by the given code (no
/// descriptor for a second handle); from then on every accept fails at once (EMFILE). netcat
/// must say so, wait rather than spin on the failing accept, and take the next client once
/// descriptors are free again (the limit is put back).
pub(super) fn keep_open_out_of_descriptors(ctx: &Ctx) -> Result<(), String> {
    let (nc, addr) = listener(ctx, &["-k"])?;
    let mut first = LinePeer::connect(addr, "a first client").map_err(|e| nc.explain(e))?;
    first.send("hello")?;
    printed(&nc, "hello")?;
    let used: Vec<u64> = std::fs::read_dir(format!("/proc/{}/fd", nc.pid()))
        .context("listing netcat's file descriptors")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let lowest = (0..).find(|n| !used.contains(n)).unwrap_or(0);
    let old = set_fd_limit(&nc, Some(lowest), None)?;
    let since = nc.logged_so_far();
    let mut taken = LinePeer::connect(addr, "a client taking the waiting accept")
        .map_err(|e| nc.explain(e))?;
    let taken_at = taken.stream().local_addr().context("the client's address")?.to_string();
    let closed = taken.closes(WAIT);
    let failed = nc
        .expect_logged(since, "a line saying that accept failed", WAIT, |l| {
            !l.contains("Connection from") && !l.contains(&taken_at)
        })
        .map_err(|e| nc.explain(format!("netcat -k with no file descriptor left: {e}")));
    let spent = failed.and_then(|_| {
        let before = nc.cpu_time()?;
        thread::sleep(Duration::from_secs(1));
        Ok(nc.cpu_time()?.saturating_sub(before))
    });
    set_fd_limit(&nc, None, Some(old))?;
    if !closed {
        return Err(nc.explain(format!(
            "{taken_at}, accepted with the last descriptor, should have been closed (the given Halves::plain cannot clone its socket)"
        )));
    }
    let spent = spent?;
    if spent > Duration::from_millis(250) {
        return Err(format!(
            "while accept() kept failing (no file descriptor left), netcat -k used {} ms of CPU in one second: it retries without pausing",
            spent.as_millis()
        ));
    }
    let mut second = LinePeer::connect(addr, "a client once descriptors are free")
        .map_err(|e| nc.explain(e))?;
    second.send("still there?")?;
    printed(&nc, "still there?").map_err(|e| {
        format!("descriptors were free again; netcat -k should then take the next client: {e}")
    })
}

pub(super) fn binary_exact(ctx: &Ctx) -> Result<(), String> {
    let data = random_bytes(2 * 1024 * 1024, 2024);
    let dir = ctx.scratch_dir();
    // Network → netcat → `cat > file`.
    let out = dir.join("received.bin");
    let cmd = format!("cat > '{}'", out.display());
    let (nc, addr) = listener(ctx, &["--sh-exec", &cmd])?;
    let mut stream =
        TcpStream::connect(addr).map_err(|e| nc.explain(format!("connecting to {addr}: {e}")))?;
    stream
        .write_all(&data)
        .context("sending 2 MiB to netcat -l --sh-exec 'cat > file'")?;
    stream
        .shutdown(Shutdown::Write)
        .context("closing after the data")?;
    let (_, ended) = read_to_end_within(&stream, WAIT)?;
    if !ended {
        return Err(
            nc.explain("once `cat > file` ended, netcat should close the connection".into())
        );
    }
    nc.finish(WAIT)?;
    let got = std::fs::read(&out).context("reading what cat wrote")?;
    if got != data {
        return Err(format!(
            "network → netcat → cat > file: {}",
            first_difference(&got, &data)
        ));
    }
    // `cat file` → netcat → network.
    let input = dir.join("sent.bin");
    std::fs::write(&input, &data).context("writing the file to send")?;
    let cmd = format!("cat '{}'", input.display());
    let (nc, _hub, stream) = connected(ctx, &["--sh-exec", &cmd])?;
    let (got, ended) = read_to_end_within(&stream, WAIT)?;
    if got != data || !ended {
        return Err(nc.explain(format!(
            "cat file → netcat → network: {}{}",
            first_difference(&got, &data),
            if ended {
                ""
            } else {
                ", and no end of stream followed"
            }
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6 errors

/// netcat must end with exit 1 and one line on stderr that mentions `words`.
fn fails_with_one_line(nc: &Program, situation: &str, words: &str) -> Result<(), String> {
    let (_, status) = nc
        .finish(WAIT)
        .map_err(|e| format!("{situation}: netcat should end at once: {e}"))?;
    let err = nc.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let ok =
        status.code() == Some(1) && lines.len() == 1 && lines[0].to_lowercase().contains(words);
    if !ok {
        return Err(format!(
            "{situation}: netcat should print one line saying `{words}` on stderr and exit 1; it {status} after printing {lines:?}"
        ));
    }
    Ok(())
}

pub(super) fn errors(ctx: &Ctx) -> Result<(), String> {
    let closed = TcpListener::bind((grader_ip(ctx), 0)).context("finding a closed port")?;
    let host = grader_ip(ctx).to_string();
    let port = closed
        .local_addr()
        .context("finding a closed port")?
        .port()
        .to_string();
    drop(closed);
    let nc = ctx.spawn(NETCAT, &[&host, &port])?;
    fails_with_one_line(&nc, "connecting to a closed port", "refused")?;
    // Taken on netcat's own host.
    let ip = netcat_ip(ctx);
    let host = ip.to_string();
    let taken = hosts::at(ip, || TcpListener::bind((ip, 0))).context("taking a port")?;
    let port = taken
        .local_addr()
        .context("taking a port")?
        .port()
        .to_string();
    let nc = ctx.spawn(NETCAT, &["-l", &host, &port])?;
    fails_with_one_line(&nc, "listening on a port that is taken", "in use")?;
    Ok(())
}

/// netcat's output closed (as in `netcat … | head -0`): what arrives can no longer be printed,
/// so netcat ends (quietly, as `nc | head` does) rather than reading the network on for nobody.
/// TCP first; then `-u -l`'s first datagram, with a line end and without one (stdout's buffer
/// keeps a line without an end until it is flushed).
pub(super) fn stdout_closed(ctx: &Ctx) -> Result<(), String> {
    let hub = hub(ctx)?;
    let (host, port) = (hub.addr().ip().to_string(), hub.port());
    let nc = ctx.spawn_with_stdout_closed(NETCAT, &[&host, &port])?;
    let (mut stream, _) = hub.next("connection from netcat", &nc)?;
    stream
        .write_all(b"nobody reads this\n")
        .context("the test server sending")?;
    nc.wait(WAIT).map_err(|e| {
        format!("netcat's stdout was closed (nobody reads it) and a line came from the network, the connection still open: netcat should end: {e}")
    })?;
    let host = netcat_ip(ctx).to_string();
    for first in [&b"hello\n"[..], b"hello"] {
        let nc = ctx.spawn_with_stdout_closed(NETCAT, &["-v", "-u", "-l", &host, "0"])?;
        let addr = listening(&nc)?;
        let sock = UdpSocket::bind((grader_ip(ctx), 0)).context("the test client's socket")?;
        sock.send_to(first, addr)
            .context("sending to netcat -u -l")?;
        nc.wait(WAIT).map_err(|e| {
            format!(
                "netcat -u -l with its stdout closed: the first datagram ({:?}) cannot be printed, so netcat should end: {e}",
                String::from_utf8_lossy(first)
            )
        })?;
    }
    Ok(())
}

/// Lets netcat run to its end; `should` (`netcat -l should exit 0 …`) and how it ended when that
/// is not success.
fn exits_zero(nc: &Program, should: &str) -> Result<(), String> {
    let (_, status) = nc.finish(WAIT)?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("{should}; {status}")),
    }
}
