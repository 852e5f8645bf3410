//! `make bench` for udp-time: answered requests per second and round-trip times of the solution's
//! time server, with one request in flight (closed loop) and with 16, next to a bare UDP echo
//! server driven the same way (the ceiling); then how long a warm `grade --lab udp-time` takes.
//! Loopback only; every load loop is bounded in time. Exits 1 when the target is missed:
//! the time server must answer at least 70 % of what the echo answers with 16 in flight.

use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(2);
const WARMUP: Duration = Duration::from_millis(300);
const TARGET: f64 = 0.70;

struct Stats {
    per_sec: f64,
    median_us: f64,
    p99_us: f64,
    lost: u64,
}

/// Keeps `window` requests in flight against `server` for `RUN`; a reply is matched by its ID.
fn drive(server: SocketAddr, window: usize) -> Stats {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a non-zero timeout");
    let text = "The time is 2019-05-04 16:20:56.975068";
    let mut in_flight: HashMap<i64, Instant> = HashMap::new();
    let mut next_id = 0i64;
    let mut send = |in_flight: &mut HashMap<i64, Instant>| {
        let request = serde_json::json!([next_id, text]).to_string();
        in_flight.insert(next_id, Instant::now());
        let _ = sock.send_to(request.as_bytes(), server);
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
                let id = serde_json::from_slice::<Value>(&buf[..n])
                    .ok()
                    .and_then(|v| v[0].as_i64());
                if let Some(sent) = id.and_then(|id| in_flight.remove(&id)) {
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

/// Kills the server when the bench ends.
struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with stdout in a file (printing is part of the server's work), and reads the
/// address from the file's first line.
fn start_server(cmd: &mut Command, name: &str) -> Option<(Server, SocketAddr)> {
    let out = std::env::temp_dir().join(format!("socklab-bench-{name}-{}.out", std::process::id()));
    let file = File::create(&out).ok()?;
    let child = cmd.stdout(file).stderr(Stdio::null()).spawn().ok()?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
        {
            return Some((server, addr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
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
                "run", "--quiet", "--bin", "grade", "--", "--lab", "udp-time",
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

fn main() {
    println!(
        "udp-time benchmark: release build, loopback, {} s per row\n",
        RUN.as_secs()
    );
    println!(
        "{:<26} {:>9} {:>12} {:>10} {:>9} {:>6}",
        "server", "in flight", "answered/s", "median µs", "p99 µs", "lost"
    );
    let echo = start_echo();
    let (_time_server, time_addr) = start_server(
        Command::new(env!("CARGO_BIN_EXE_udp_time"))
            .args(["server", "127.0.0.1", "0"])
            .env("RUST_LOG", "warn"),
        "udp_time",
    )
    .expect("the solution's time server starts and prints its address");
    let python = start_server(
        Command::new("python3").args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/udp_time_peer.py"),
            "server",
            "127.0.0.1",
            "0",
        ]),
        "python",
    );

    let mut ratio16 = 0.0;
    for window in [1, 16] {
        let e = drive(echo, window);
        row("bare echo (ceiling)", window, &e, "");
        // Drives one server like the echo and prints its row; returns its share of the echo's rate.
        let compare = |name: &str, addr: SocketAddr| {
            let s = drive(addr, window);
            let ratio = s.per_sec / e.per_sec.max(1.0);
            row(name, window, &s, &format!("{:.0} % of echo", ratio * 100.0));
            ratio
        };
        ratio16 = compare("udp_time server (Rust)", time_addr);
        if let Some((_, addr)) = &python {
            compare("Python peer (for scale)", *addr);
        }
    }
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
        "\ntarget: time server ≥ {:.0} % of the echo with 16 in flight: {verdict} ({:.0} %)",
        TARGET * 100.0,
        ratio16 * 100.0
    );
    if ratio16 < TARGET {
        std::process::exit(1);
    }
}
