//! `make bench` for udp-time: answered requests per second and round-trip times of the solution's
//! time server, with one request in flight (closed loop) and with 16, next to a bare UDP echo
//! server driven the same way (the ceiling); then how long a warm `grade --lab udp-time` takes.
//! Loopback only; every load loop is bounded in time. Exits 1 when the target is missed (median
//! of three rounds, echo and server measured one after the other in each):
//! the time server must answer at least 70 % of what the echo answers with 16 in flight.

use socklab::grader::start_server;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(2);
const WARMUP: Duration = Duration::from_millis(300);
const TARGET: f64 = 0.70;
/// Rounds per window; the verdict takes the median.
const ROUNDS: usize = 3;

struct Stats {
    per_sec: f64,
    median_us: f64,
    p99_us: f64,
    lost: u64,
}

/// The request ID at the start of a reply `[ID, "…"]`, read without a JSON parser: the driver
/// must cost as little as possible, or it, not the server, sets the ceiling.
fn reply_id(bytes: &[u8]) -> Option<i64> {
    let rest = bytes.strip_prefix(b"[")?;
    let end = rest.iter().position(|&b| b == b',')?;
    std::str::from_utf8(&rest[..end]).ok()?.trim().parse().ok()
}

/// Keeps `window` requests in flight against `server` for `RUN`; a reply is matched by its ID.
fn drive(server: SocketAddr, window: usize) -> Stats {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a non-zero timeout");
    let mut in_flight: HashMap<i64, Instant> = HashMap::new();
    let mut next_id = 0i64;
    let mut request = Vec::with_capacity(64);
    let mut send = |in_flight: &mut HashMap<i64, Instant>| {
        request.clear();
        let _ = write!(
            request,
            "[{next_id}, \"The time is 2019-05-04 16:20:56.975068\"]"
        );
        in_flight.insert(next_id, Instant::now());
        let _ = sock.send_to(&request, server);
        next_id += 1;
    };
    for _ in 0..window {
        send(&mut in_flight);
    }
    let (start, mut buf) = (Instant::now(), [0u8; 2048]);
    let (mut rtts, mut lost) = (Vec::new(), 0u64);
    let mut measuring_since = None;
    while start.elapsed() < WARMUP + RUN {
        if measuring_since.is_none() && start.elapsed() >= WARMUP {
            measuring_since = Some(Instant::now());
            rtts.clear();
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                if let Some(sent) = reply_id(&buf[..n]).and_then(|id| in_flight.remove(&id)) {
                    rtts.push(sent.elapsed().as_secs_f64() * 1e6);
                }
            }
            Err(_) => {
                // Nothing for 200 ms: count what is outstanding as lost and refill the window.
                lost += in_flight.len() as u64;
                in_flight.clear();
            }
        }
        while in_flight.len() < window {
            send(&mut in_flight);
        }
    }
    let elapsed = measuring_since.map_or(RUN, |t| t.elapsed());
    rtts.sort_by(f64::total_cmp);
    let at = |q: f64| {
        rtts.get(((rtts.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Stats {
        per_sec: rtts.len() as f64 / elapsed.as_secs_f64(),
        median_us: at(0.5),
        p99_us: at(0.99),
        lost,
    }
}

/// A bare echo server: receive, send back, nothing else.
fn start_echo() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind the echo server");
    let addr = sock.local_addr().expect("a bound socket has an address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    addr
}

fn row(name: &str, window: usize, s: &Stats, note: &str) {
    println!(
        "{name:<26} {window:>9} {:>12.0} {:>10.1} {:>9.1} {:>6}  {note}",
        s.per_sec, s.median_us, s.p99_us, s.lost
    );
}

/// Seconds for `grade --lab udp-time` after the lab file's modification time changes.
fn warm_grade(extra: &[&str], file: &str) -> Option<f64> {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let grade = |quiet: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(root)
            .args([
                "run", "--quiet", "--bin", "socklab", "--", "grade", "--lab", "udp-time",
            ])
            .args(extra)
            .args(["--json", "target/grade/bench.json"]);
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd.status().ok().filter(|s| s.success())
    };
    grade(true)?;
    let path = format!("{root}/{file}");
    let f = File::options().append(true).open(&path).ok()?;
    f.set_modified(std::time::SystemTime::now()).ok()?;
    let start = Instant::now();
    grade(true)?;
    Some(start.elapsed().as_secs_f64())
}

pub fn main() {
    println!(
        "udp-time benchmark: release build, loopback, {} s per row\n",
        RUN.as_secs()
    );
    println!(
        "{:<26} {:>9} {:>12} {:>10} {:>9} {:>6}",
        "server", "in flight", "answered/s", "median µs", "p99 µs", "lost"
    );
    let echo = start_echo();
    // The kit's one start-a-server helper; the servers' per-request lines are read and thrown
    // away, as a terminal would take them.
    let (time_server, time_addr) = start_server(
        Command::new(env!("CARGO_BIN_EXE_udp_time"))
            .args(["server", "127.0.0.1", "0"])
            .env("RUST_LOG", "warn"),
    )
    .expect("the solution's time server starts and prints its address");
    time_server.discard_output();
    let python = start_server(Command::new("python3").args([
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/udp-time/peer.py"),
        "server",
        "127.0.0.1",
        "0",
    ]))
    .ok();
    if let Some((peer, _)) = &python {
        peer.discard_output();
    }

    // Each window is measured in ROUNDS rounds of echo then servers, one after the other, so a
    // burst of load from elsewhere hits one round, not the verdict: the target is judged on the
    // median round.
    let mut ratios16 = Vec::new();
    for window in [1, 16] {
        for _ in 0..ROUNDS {
            let e = drive(echo, window);
            row("bare echo (ceiling)", window, &e, "");
            // Drives one server like the echo and prints its row; its share of the echo's rate.
            let compare = |name: &str, addr: SocketAddr| {
                let s = drive(addr, window);
                let ratio = s.per_sec / e.per_sec.max(1.0);
                row(name, window, &s, &format!("{:.0} % of echo", ratio * 100.0));
                ratio
            };
            let ratio = compare("udp_time server (Rust)", time_addr);
            if window == 16 {
                ratios16.push(ratio);
            }
            if let Some((_, addr)) = &python {
                compare("Python peer (for scale)", *addr);
            }
        }
    }
    ratios16.sort_by(f64::total_cmp);
    let ratio16 = ratios16[ratios16.len() / 2];
    drop(python);

    println!();
    let file = "labs/udp-time/udp_time.rs";
    match warm_grade(&[], file) {
        Some(s) => println!("warm `make grade LAB=udp-time` after an edit (skeleton): {s:.2} s"),
        None => println!("warm grade (skeleton): could not run the grader"),
    }
    match warm_grade(&["--solutions"], "solutions/udp-time/udp_time.rs") {
        Some(s) => println!(
            "warm `make grade LAB=udp-time SOLUTIONS=1` after an edit (all checks pass): {s:.2} s"
        ),
        None => println!("warm grade (solutions): could not run the grader"),
    }

    let verdict = if ratio16 >= TARGET { "met" } else { "MISSED" };
    println!(
        "\ntarget: time server ≥ {:.0} % of the echo with 16 in flight, median of {ROUNDS} rounds: {verdict} ({:.0} %)",
        TARGET * 100.0,
        ratio16 * 100.0
    );
    // exit() runs no destructor: the servers are stopped first, whatever the verdict.
    drop(time_server);
    if ratio16 < TARGET {
        std::process::exit(1);
    }
}
