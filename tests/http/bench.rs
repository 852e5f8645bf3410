//! `make bench`: the webapp (the solution, release build) against two reference servers in one
//! run, over loopback only: Flask's development server (the seed's tool, `app.run()`'s threaded
//! Werkzeug server, tests/http/flask_app.py) and tiny_http (a plain synchronous Rust
//! server, answering `/` as the webapp does, run by this same bench binary in a child process
//! so that its memory can be measured on its own).
//!
//! For each server: `GET /` from 64 connections at once, first with keep-alive (each connection
//! sends its next request when the last response is in; a server that closes anyway gets a new
//! connection), then with `Connection: close` (a new connection per request). Reports requests
//! per second, latency p50/p99 (from writing the request to reading the whole response), the
//! server's CPU time per request (user and system, from /proc: what the server costs apart from
//! the load, which runs on the same cores and caps every ratio of rates) and the servers'
//! resident memory at the end (VmRSS now, VmHWM peak). Three rounds, each measuring
//! every server in turn. Targets, on the median round's ratios (issue 25): the webapp at least 20×
//! Flask in both modes, and against tiny_http at least 2× with keep-alive and 0.8× with
//! `Connection: close`; the bench prints every ratio and exits 1 when one is missed.
//!
//! Flask comes from PyPI: the first run makes a virtual environment in
//! `target/bench-venv` and `pip install flask` there (needs the network once; python3-venv).
//! Every phase is bounded: 64 connections for [`PHASE`] (Flask: [`FLASK_PHASE`]), at most
//! [`MAX_PER_CONN`] requests each, 5 s socket timeouts.

use socklab::grader::{start_server, Program};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

const WEBAPP: &str = env!("CARGO_BIN_EXE_webapp");
const FLASK_APP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http/flask_app.py");
const CONNECTIONS: usize = 64;
const PHASE: Duration = Duration::from_millis(1500);
const FLASK_PHASE: Duration = Duration::from_millis(1500);
/// Every server is measured in each of this many rounds.
const ROUNDS: usize = 3;
const MAX_PER_CONN: usize = 50_000;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Starts one of the servers under test: the program and its address.
type Starter = Box<dyn Fn() -> Result<(Program, SocketAddr), String>>;
/// When this variable is set, the bench binary is the tiny_http server (see [`tiny_http_main`]).
const TINY_ROLE: &str = "SOCKLAB_HTTP_BENCH_TINY";
/// The webapp's least throughput as a multiple of Flask's, in both modes.
const VS_FLASK: f64 = 20.0;
/// ... and as a multiple of tiny_http's: with keep-alive, then with `Connection: close`.
const VS_TINY: [f64; 2] = [2.0, 0.8];

pub fn main() {
    if std::env::var_os(TINY_ROLE).is_some() {
        tiny_http_main();
        return;
    }
    println!(
        "http bench: GET / from {CONNECTIONS} connections, loopback, release build of the \
         solution webapp"
    );
    let python = match flask_python() {
        Ok(python) => python,
        Err(why) => {
            eprintln!("http bench: cannot set up Flask: {why}");
            std::process::exit(1);
        }
    };
    let servers: [(&str, Starter, Duration); 3] = [
        (
            "webapp",
            Box::new(|| {
                let mut cmd = Command::new(WEBAPP);
                cmd.args(["--host", "127.0.0.1", "--port", "0"])
                    .env("RUST_LOG", "warn");
                start_server(&mut cmd)
            }),
            PHASE,
        ),
        (
            "tiny_http",
            Box::new(|| {
                let me = std::env::current_exe().map_err(|e| e.to_string())?;
                start_server(Command::new(me).env(TINY_ROLE, "1"))
            }),
            PHASE,
        ),
        (
            "flask",
            Box::new(move || {
                start_server(Command::new(&python).args([FLASK_APP, "127.0.0.1", "0"]))
            }),
            FLASK_PHASE,
        ),
    ];
    let mut running = Vec::new();
    for (name, start, phase) in &servers {
        match start() {
            Ok((program, addr)) => {
                program.discard_output();
                running.push((*name, program, addr, *phase));
            }
            Err(why) => {
                eprintln!("http bench: cannot start {name}: {why}");
                // exit() runs no destructor: stop the servers already started.
                drop(running);
                std::process::exit(1);
            }
        }
    }
    // Rounds, each measuring every server in turn, so that a burst of load from elsewhere on
    // the machine hits one round rather than one server; the verdict takes the median round.
    // rates[round][server][mode]
    let mut rates = vec![vec![vec![0.0; 2]; running.len()]; ROUNDS];
    for (round, rates) in rates.iter_mut().enumerate() {
        println!("round {}:", round + 1);
        println!(
            "  {:<10} {:<11} {:>9} {:>9} {:>9} {:>12} {:>8}",
            "server", "mode", "req/s", "p50 ms", "p99 ms", "cpu us/req", "errors"
        );
        for (s, (name, program, addr, phase)) in running.iter().enumerate() {
            for (m, keep) in [true, false].into_iter().enumerate() {
                // A short warm-up, then the measured phase.
                load(*addr, keep, Duration::from_millis(200));
                let cpu_before = program.cpu_time();
                let result = load(*addr, keep, *phase);
                let cpu = match (cpu_before, program.cpu_time()) {
                    (Ok(before), Ok(after)) => {
                        (after - before).as_secs_f64() * 1e6 / result.count.max(1) as f64
                    }
                    _ => f64::NAN,
                };
                println!(
                    "  {:<10} {:<11} {:>9.0} {:>9.2} {:>9.2} {:>12.1} {:>8}",
                    name,
                    if keep { "keep-alive" } else { "close" },
                    result.rate,
                    result.p50_ms,
                    result.p99_ms,
                    cpu,
                    result.errors
                );
                rates[s][m] = result.rate;
            }
        }
    }
    for (name, program, _, _) in &running {
        let (rss, peak) = socklab::grader::memory_kib(program.pid());
        println!("memory of {name}: VmRSS {rss} KiB, peak VmHWM {peak} KiB");
    }
    let mut met = true;
    for (m, mode) in ["keep-alive", "close"].iter().enumerate() {
        let median = |ratio: &dyn Fn(&Vec<Vec<f64>>) -> f64| {
            let mut values: Vec<f64> = rates.iter().map(ratio).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let vs_flask = median(&|r| r[0][m] / r[2][m].max(1e-9));
        let vs_tiny = median(&|r| r[0][m] / r[1][m].max(1e-9));
        let ok = vs_flask >= VS_FLASK && vs_tiny >= VS_TINY[m];
        met &= ok;
        println!(
            "{mode} (median of {ROUNDS} rounds): webapp/flask {vs_flask:.1}x (target >= \
             {VS_FLASK}), webapp/tiny_http {vs_tiny:.2}x (target >= {}): {}",
            VS_TINY[m],
            if ok { "met" } else { "NOT met" }
        );
    }
    drop(running);
    if !met {
        std::process::exit(1);
    }
}

/// A Python with Flask: `target/bench-venv`, made and filled with `pip install flask` if needed.
fn flask_python() -> Result<PathBuf, String> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv");
    let python = venv.join("bin/python3");
    let has_flask = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import flask"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_flask(&python) {
        return Ok(python);
    }
    println!("setting up Flask in {} (once)", venv.display());
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    if !made.success() {
        return Err("python3 -m venv failed (Debian: apt-get install python3-venv)".into());
    }
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "flask"])
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() || !has_flask(&python) {
        return Err(format!(
            "pip install flask into {} failed (network?)",
            venv.display()
        ));
    }
    Ok(python)
}

// ---------------------------------------------------------------------------------------------
// The load.

struct Load {
    count: usize,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// `CONNECTIONS` threads sending `GET /` for `phase`: with keep-alive, or a new connection each.
fn load(addr: SocketAddr, keep: bool, phase: Duration) -> Load {
    let start = Arc::new(Barrier::new(CONNECTIONS + 1));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let deadline = Instant::now() + phase;
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut conn: Option<BufReader<TcpStream>> = None;
                while Instant::now() < deadline && latencies.len() < MAX_PER_CONN {
                    let began = Instant::now();
                    match request(addr, keep, &mut conn) {
                        Ok(()) => latencies.push(began.elapsed()),
                        Err(_) => {
                            errors += 1;
                            conn = None;
                            thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((latencies, e)) = w.join() {
            all.extend(latencies);
            errors += e;
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Load {
        count: all.len(),
        rate: all.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        errors,
    }
}

/// One `GET /` and its whole response, on `conn` (made when there is none). Without keep-alive,
/// or when the server says it closes, the connection is read to its end and dropped.
fn request(
    addr: SocketAddr,
    keep: bool,
    conn: &mut Option<BufReader<TcpStream>>,
) -> Result<(), String> {
    if conn.is_none() {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        *conn = Some(BufReader::new(stream));
    }
    let reader = conn.as_mut().ok_or("no connection")?;
    let head: &[u8] = if keep {
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    };
    reader
        .get_mut()
        .write_all(head)
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("HTTP/1.") || line.get(9..12) != Some("200") {
        return Err(format!("status line {line:?}"));
    }
    let http10 = line.starts_with("HTTP/1.0");
    let mut length = None;
    let mut closes = http10;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("Content-Length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("Connection") {
                closes = value.eq_ignore_ascii_case("close")
                    || (http10 && !value.eq_ignore_ascii_case("keep-alive"));
            }
        }
    }
    let length = length.ok_or("no Content-Length")?;
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    if body != b"Hello World" {
        return Err(format!("body {:?}", String::from_utf8_lossy(&body)));
    }
    if !keep || closes {
        // Wait for the server's close, so that the server's side keeps the TIME_WAIT.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        *conn = None;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tiny_http reference server (this binary, in a child process).

/// Serves `/` as the webapp does (200, text/plain, `Hello World`), 404 elsewhere, with four
/// threads taking requests from tiny_http's queue; prints its address first.
fn tiny_http_main() {
    let server = match tiny_http::Server::http("127.0.0.1:0") {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("tiny_http: {e}");
            std::process::exit(1);
        }
    };
    let addr = server.server_addr().to_ip();
    println!(
        "tiny_http at {}",
        addr.map_or("?".to_string(), |a| a.to_string())
    );
    let content_type = tiny_http::Header::from_bytes("Content-Type", "text/plain; charset=utf-8")
        .unwrap_or_else(|()| std::process::exit(1));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let server = Arc::clone(&server);
            let content_type = content_type.clone();
            thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let response = if request.url() == "/" {
                        tiny_http::Response::from_string("Hello World")
                            .with_header(content_type.clone())
                    } else {
                        tiny_http::Response::from_string("not found").with_status_code(404)
                    };
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
