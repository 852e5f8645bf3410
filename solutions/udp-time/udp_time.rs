//! UDP time server and client.
//!
//! The client sends one datagram holding the JSON array `[request_id, "The time is …"]` with its
//! own clock; the server answers `[request_id, "The time is …"]` with the server's clock. The
//! request ID lets the client tell its reply from any other datagram that happens to arrive.
//!
//!     udp_time server HOST PORT [-faulty] [-drop P]
//!     udp_time client HOST PORT [-measure_delay N] [-timeout SECS] [-retries N] [-log FILE]

// The command line (given): `options::parse` reads it into a Role.
#[path = "options.rs"]
mod options;

use chrono::format::{Item, StrftimeItems};
use options::{ClientOptions, Role};
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// No UDP datagram is larger than this, so a buffer this big never cuts one short.
const MAX_BYTES: usize = 65535;
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";
/// The server shows the lines it has printed when no datagram came for this long.
const SHOW_AFTER: Duration = Duration::from_millis(50);

/// TIME_FORMAT, parsed once: the server formats a time for every request.
static TIME_ITEMS: LazyLock<Vec<Item<'static>>> =
    LazyLock::new(|| StrftimeItems::new(TIME_FORMAT).collect());

/// "The time is 2019-05-04 16:20:56.975068", local time, as the Python version prints it.
fn time_text() -> String {
    let now = chrono::Local::now();
    format!("The time is {}", now.format_with_items(TIME_ITEMS.iter()))
}

/// Decodes a request or a reply: UTF-8 text holding a JSON array `[integer, string]`.
/// Anything else is an error, never a panic: datagrams come from anyone.
fn decode(bytes: &[u8]) -> Result<(i64, String), String> {
    // BEGIN BLANK: the handout's message format read back (std::str::from_utf8, serde_json); anything else is an Err saying why
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    // A JSON array of two elements reads into a Rust tuple; anything else is an error.
    serde_json::from_str::<(i64, String)>(text)
        .map_err(|e| format!("not a JSON array [integer, string] ({e}): {text:.80}"))
    // END BLANK
}

/// Encodes `[id, text]` as the JSON bytes of one datagram.
fn encode(id: i64, text: &str) -> Vec<u8> {
    // BEGIN BLANK: [id, text] in the handout's message format (serde_json)
    // A Rust tuple is written as a JSON array.
    serde_json::to_vec(&(id, text)).expect("an integer and a string always encode")
    // END BLANK
}

fn server(host: &str, port: u16, faulty: bool, drop: f64) -> io::Result<()> {
    // Binding is what makes this a server: it claims (host, port) so clients can find it.
    let sock: UdpSocket =
        /* BLANK: a UDP socket that claims (host, port) (std::net::UdpSocket) */ UdpSocket::bind((host, port))? /* END */;
    println!("Server listening at {}", sock.local_addr()?);
    // The per-request lines go into a buffer, written out when it is full or when no datagram
    // came for SHOW_AFTER: one write per line would cost the server about as much as the reply
    // (Python's print buffers the same way when its output is not a terminal).
    let mut out = io::BufWriter::new(io::stdout().lock());
    sock.set_read_timeout(Some(SHOW_AFTER))?;
    let mut buf = [0u8; MAX_BYTES];
    loop {
        // recv_from tells us who sent the datagram: UDP has no connection to remember it.
        let received: io::Result<(usize, SocketAddr)> =
            /* BLANK: one datagram into buf, and who sent it */ sock.recv_from(&mut buf) /* END */;
        let (len, address) = match received {
            Ok(r) => r,
            // A quiet moment: show the lines printed so far.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let _ = out.flush();
                continue;
            }
            Err(e) => {
                log::warn!("receive failed: {e}");
                continue;
            }
        };
        let (mut request_id, request) = match decode(&buf[..len]) {
            Ok(r) => r,
            Err(why) => {
                log::warn!("ignored a datagram from {address}: {why}");
                continue;
            }
        };
        // BEGIN BLANK: the handout's request line (written into `out`), then -drop and -faulty (milestones 1, 3, 4; socklab::chance() is random in [0, 1))
        // A line that cannot be shown (its reader gone) must not stop the server.
        let _ = writeln!(out, "Request ID: {request_id}. Client request, {request}");
        if socklab::chance() < drop {
            log::info!("dropped request {request_id} on purpose (-drop)");
            continue;
        }
        if faulty && socklab::chance() < 0.5 {
            request_id = request_id.wrapping_add(1);
        }
        // END BLANK
        let reply = encode(request_id, &time_text());
        // BEGIN BLANK: the reply to whoever asked (milestone 1); a failed send must not stop the server
        if let Err(e) = sock.send_to(&reply, address) {
            log::warn!("could not reply to {address}: {e}");
        }
        // END BLANK
    }
}

/// What came back for one request.
enum Reply {
    /// The server's time text, and the round-trip time.
    Time(String, Duration),
    /// A reply carrying another request's ID.
    WrongId(i64),
    TimedOut,
}

/// Sends request `id` to `server` and waits at most `timeout` for the reply.
fn exchange(sock: &UdpSocket, server: SocketAddr, id: i64, timeout: Duration) -> io::Result<Reply> {
    let request = encode(id, &time_text());
    let sent_at = Instant::now();
    // BEGIN BLANK: the request to the server
    sock.send_to(&request, server)?;
    // END BLANK
    let mut buf = [0u8; MAX_BYTES];
    loop {
        // A stray datagram must not give the reply more time than `timeout` in all.
        let (len, from): (usize, SocketAddr) = /* BLANK: a datagram, waiting no longer than `timeout` after sent_at in all (UdpSocket::set_read_timeout: which errors mean time is up? That is Reply::TimedOut) */
        {
            let left = timeout.saturating_sub(sent_at.elapsed());
            if left.is_zero() {
                return Ok(Reply::TimedOut);
            }
            sock.set_read_timeout(Some(left))?;
            match sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Reply::TimedOut)
                }
                Err(e) => return Err(e),
            }
        } /* END */;
        let (reply_id, text): (i64, String) = /* BLANK: (reply_id, text) from the server's datagram (milestones 2 and 5: what becomes of any other?) */
        {
            if from != server {
                log::warn!("ignored a datagram from {from}: not the server");
                continue;
            }
            match decode(&buf[..len]) {
                Ok(r) => r,
                Err(why) => {
                    log::warn!("ignored a datagram from the server: {why}");
                    continue;
                }
            }
        } /* END */;
        // BEGIN BLANK: which Reply this is (milestone 3)
        let reply = if reply_id == id {
            Reply::Time(text, sent_at.elapsed())
        } else {
            Reply::WrongId(reply_id)
        };
        return Ok(reply);
        // END BLANK
    }
}

/// Cristian's estimate of the server clock's offset: the server read its clock about halfway
/// through the round trip, so offset = server time − (send time + rtt / 2).
fn offset_ms(server_text: &str, sent_wall: chrono::NaiveDateTime, rtt: Duration) -> Option<f64> {
    let stamp = server_text.strip_prefix("The time is ")?;
    let server_time = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let midpoint = sent_wall + chrono::Duration::from_std(rtt / 2).ok()?;
    Some((server_time - midpoint).num_microseconds()? as f64 / 1000.0)
}

fn client(host: &str, port: u16, mut opts: ClientOptions) -> io::Result<ExitCode> {
    // A name may have several addresses ("localhost": 127.0.0.1 and ::1); like the Python
    // version's AF_INET socket, prefer IPv4, since a server bound to 127.0.0.1 only hears that.
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let server = *addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .ok_or_else(|| io::Error::other(format!("{host} has no address")))?;
    // Port 0: the OS picks a free port for us; the server learns it from recv_from.
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("a literal socket address");
    let sock: UdpSocket =
        /* BLANK: a UDP socket on any free local port */ UdpSocket::bind(any)? /* END */;
    if let Some(log) = opts.log.as_mut() {
        writeln!(
            log,
            "request_id,sent_at,rtt_ms,server_time,offset_ms,outcome"
        )?;
    }
    let Some(count) = opts.measure else {
        return single_request(&sock, server, &mut opts);
    };

    let (mut rtts, mut offsets) = (Vec::new(), Vec::new());
    let (mut lost, mut wrong) = (0, 0);
    for _ in 0..count {
        let id = (socklab::chance() * 1_000_000.0) as i64;
        // BEGIN BLANK: one timed_request, recorded where the summary below reads it (milestone 6; round trips in ms)
        match timed_request(&sock, server, id, &mut opts)? {
            (Reply::Time(_, rtt), offset) => {
                rtts.push(rtt.as_secs_f64() * 1000.0);
                offsets.extend(offset);
            }
            (Reply::WrongId(_), _) => wrong += 1,
            (Reply::TimedOut, _) => lost += 1,
        }
        // END BLANK
    }
    println!(
        "sent {count}, answered {}, lost {lost}, wrong ID {wrong}",
        rtts.len()
    );
    if rtts.is_empty() {
        println!("round trip (ms): no replies");
        return Ok(ExitCode::SUCCESS);
    }
    let (r, o) = (summary(&mut rtts), summary(&mut offsets));
    println!(
        "round trip (ms): min {:.3}, median {:.3}, p99 {:.3}, max {:.3}",
        r[0], r[1], r[2], r[3]
    );
    println!("server clock offset (ms, Cristian): median {:+.3}", o[1]);
    Ok(ExitCode::SUCCESS)
}

/// One exchange, with the clock offset it shows and a `-log` row written for it.
fn timed_request(
    sock: &UdpSocket,
    server: SocketAddr,
    id: i64,
    opts: &mut ClientOptions,
) -> io::Result<(Reply, Option<f64>)> {
    let sent_wall = chrono::Local::now().naive_local();
    let reply = exchange(sock, server, id, opts.timeout)?;
    let offset = match &reply {
        Reply::Time(text, rtt) => offset_ms(text, sent_wall, *rtt),
        _ => None,
    };
    if let Some(log) = opts.log.as_mut() {
        let sent = sent_wall.format(TIME_FORMAT);
        let offset = offset.map_or(String::new(), |o| format!("{o:.3}"));
        // BEGIN BLANK: this request's row under the header's columns (outcome: ok, wrong_id N or lost)
        match &reply {
            Reply::Time(text, rtt) => {
                let rtt = rtt.as_secs_f64() * 1000.0;
                writeln!(log, "{id},{sent},{rtt:.3},{text},{offset},ok")?
            }
            Reply::WrongId(other) => writeln!(log, "{id},{sent},,,,wrong_id {other}")?,
            Reply::TimedOut => writeln!(log, "{id},{sent},,,,lost")?,
        }
        // END BLANK
    }
    Ok((reply, offset))
}

/// One request, resent after each timeout up to `retries` times.
fn single_request(
    sock: &UdpSocket,
    server: SocketAddr,
    opts: &mut ClientOptions,
) -> io::Result<ExitCode> {
    // BEGIN BLANK: milestones 2 to 4 with timed_request: the request's ID across tries, -retries, and what is printed and returned for each outcome
    let id = (socklab::chance() * 1001.0) as i64;
    for _ in 0..=opts.retries {
        match timed_request(sock, server, id, opts)?.0 {
            Reply::Time(text, _) => {
                println!("{text}");
                return Ok(ExitCode::SUCCESS);
            }
            Reply::WrongId(other) => {
                println!("The reply has ID {other} but the request had ID {id}: it belongs to another request");
                return Ok(ExitCode::FAILURE);
            }
            Reply::TimedOut => {}
        }
    }
    println!("Request timed out");
    Ok(ExitCode::FAILURE)
    // END BLANK
}

/// min, median, p99 and max of `values` (NaN-free; at least one value), or zeros when empty.
fn summary(values: &mut [f64]) -> [f64; 4] {
    if values.is_empty() {
        return [0.0; 4];
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [values[0], at(0.5), at(0.99), values[values.len() - 1]]
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let result = match options::parse() {
        Role::Server {
            host,
            port,
            faulty,
            drop,
        } => server(&host, port, faulty, drop).map(|()| ExitCode::SUCCESS),
        Role::Client { host, port, opts } => client(&host, port, opts),
    };
    result.unwrap_or_else(|e| {
        eprintln!("udp_time: {e}");
        ExitCode::FAILURE
    })
}
