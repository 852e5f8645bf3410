//! `make bench`: the revproxy lab's solution programs (release build) under load, loopback only.
//!
//! 1. Direct: 64 client threads send data messages straight to one `rp_server` (the ceiling: one
//!    connection per request). Through the proxy: the same 64 clients send to `revproc`, which
//!    forwards each message round-robin to two `rp_server`s (two connections per request).
//!    Every reply must carry the SHA-1 of its own payload and the client's id. Reports requests
//!    per second and latency (p50, p99, max) for both, measured in this one run, and the ratios.
//!    Targets (issue 11): proxy throughput ≥ 0.5 × direct, proxy p99 ≤ 3 × direct p99.
//! 2. Memory: a fresh proxy's resident memory (`VmRSS` in /proc/<pid>/status) before and after
//!    1,000 servers register (setups only: the servers are never asked anything).
//!
//! Everything is bounded: each client sends `REQUESTS` messages or stops at `PHASE_LIMIT`, every
//! socket has a timeout, and the programs are killed when the bench ends.

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use socklab::grader::{start_server, Program};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const PROXY: &str = env!("CARGO_BIN_EXE_revproc");
const SERVER: &str = env!("CARGO_BIN_EXE_rp_server");
const CLIENTS: usize = 64;
/// Requests per client in each phase.
const REQUESTS: usize = 60;
const IDLE_SERVERS: usize = 1000;
const TIMEOUT: Duration = Duration::from_secs(10);
const PHASE_LIMIT: Duration = Duration::from_secs(60);

pub fn main() {
    println!("revproxy bench (loopback, release build of the solution programs)");
    let proxy = start(Command::new(PROXY).args(["-port", "0", "-host", "127.0.0.1"]));
    let servers: Vec<(Program, SocketAddr)> = ["1", "2"]
        .iter()
        .map(|id| {
            start(Command::new(SERVER).args([
                "-id",
                id,
                "-pp",
                "PP_1",
                "-listen",
                "0",
                "-revproc",
                &proxy.1.port().to_string(),
                "-revhost",
                "127.0.0.1",
                "-host",
                "127.0.0.1",
            ]))
        })
        .collect();
    // Both setups are in the proxy's table once the servers printed their acknowledgement; a
    // moment is enough here (their output is discarded).
    thread::sleep(Duration::from_millis(300));

    let direct = load("direct to one server", servers[0].1);
    let through = load("through the proxy", proxy.1);
    let ratio = through.rate / direct.rate;
    let p99_ratio = through.p99_ms / direct.p99_ms.max(0.001);
    println!(
        "ratios: throughput {ratio:.2} of direct (target >= 0.5); p99 {p99_ratio:.2} x direct (target <= 3)"
    );
    drop(servers);
    drop(proxy);

    let (memory_proxy, addr) =
        start(Command::new(PROXY).args(["-port", "0", "-host", "127.0.0.1"]));
    let before = socklab::grader::memory_kib(memory_proxy.pid()).0;
    let mut registered = 0;
    let started = Instant::now();
    for id in 0..IDLE_SERVERS {
        let setup = json!({"type": 1, "id": 10_000 + id, "privPolyId": format!("PP_{}", id % 10), "listenport": 40_000 + id});
        if exchange(addr, &setup).is_ok_and(|v| v.get("Status").is_some()) {
            registered += 1;
        }
        if started.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    let after = socklab::grader::memory_kib(memory_proxy.pid()).0;
    println!(
        "memory: proxy VmRSS {before} KiB at start, {after} KiB with {registered} registered idle servers (~{:.2} KiB each)",
        after.saturating_sub(before) as f64 / registered.max(1) as f64
    );

    let exact = direct.wrong == 0 && through.wrong == 0 && registered == IDLE_SERVERS;
    let met = exact && ratio >= 0.5 && p99_ratio <= 3.0;
    println!(
        "targets: every reply right: {}; throughput >= 0.5 x direct and p99 <= 3 x direct: {}",
        verdict(exact),
        verdict(ratio >= 0.5 && p99_ratio <= 3.0)
    );
    // exit() runs no destructor: the proxy is stopped first, whatever the verdict.
    drop(memory_proxy);
    if !met {
        std::process::exit(1);
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// Starts a program whose first line ends with its address; its output is thrown away.
fn start(cmd: &mut Command) -> (Program, SocketAddr) {
    let (program, addr) = start_server(cmd.env("RUST_LOG", "warn"))
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    program.discard_output();
    (program, addr)
}

/// One message over a new connection: its answer.
fn exchange(to: SocketAddr, message: &Value) -> Result<Value, String> {
    let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(message.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    // Both programs close after their one answer: read to the end.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    serde_json::from_slice(&answer)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&answer)))
}

struct Load {
    rate: f64,
    p99_ms: f64,
    wrong: usize,
}

/// `CLIENTS` threads, `REQUESTS` messages each, to `to`; prints and returns the figures.
fn load(what: &str, to: SocketAddr) -> Load {
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut latencies = Vec::with_capacity(REQUESTS);
                let mut wrong = 0;
                start.wait();
                let began = Instant::now();
                for r in 0..REQUESTS {
                    if began.elapsed() > PHASE_LIMIT {
                        break;
                    }
                    let srcid = (c * REQUESTS + r) as i64;
                    let payload = format!("{srcid:032}");
                    let message = json!({"type": 0, "srcid": srcid, "privPoliId": "PP_1", "payloadsize": 32, "payload": payload});
                    let sent = Instant::now();
                    let want: String = Sha1::digest(payload.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                    match exchange(to, &message) {
                        Ok(answer) if answer["payload"] == want.as_str() && answer["destid"] == srcid => {
                            latencies.push(sent.elapsed().as_secs_f64() * 1000.0)
                        }
                        _ => wrong += 1,
                    }
                }
                (latencies, wrong)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut latencies = Vec::new();
    let mut wrong = 0;
    for t in threads {
        let (l, w) = t.join().unwrap_or_default();
        latencies.extend(l);
        wrong += w;
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let rate = latencies.len() as f64 / elapsed;
    println!(
        "{what}: {CLIENTS} clients x {REQUESTS}: {} answered right, {wrong} wrong or failed, {rate:.0} req/s; latency ms p50 {:.2}, p99 {:.2}, max {:.2}",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    Load {
        rate,
        p99_ms: at(0.99),
        wrong,
    }
}
