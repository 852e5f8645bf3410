//! `make bench`: the chatroom hub (the solution's `chatroom_server`, release build) under load,
//! over loopback only.
//!
//! 1. Fan-out: 100 clients join, then each sends 100 lines as fast as it may: a client sends
//!    its next line once its previous one has reached every client (one line in flight per
//!    client, so the server's per-client queues never hold more than one line per talker and
//!    the bench measures delivery, not the slow-client policy).
//!    Every line must reach every client, its sender included, exactly once: each client counts
//!    what it receives per (sender, line number). Reports lines delivered per second and the
//!    delivery latency (from the send to each receiver's read: p50, p99, max).
//! 2. 1,000 idle clients (they read and discard everything, but never talk) plus 10 talking
//!    clients sending 100 lines each: the server's resident memory (`VmRSS`/`VmHWM` in
//!    /proc/<pid>/status) and the talkers' delivery latency. The talkers start once the last
//!    join notice has reached every idle client (the joins queue some 500,000 notices; a line
//!    sent behind them would measure the join storm). Measured twice: first at a brisk
//!    chat's pace (each talker sends 50 lines, one per 100 ms, the talkers spread over that
//!    interval: 100 lines/s, about 100,000 deliveries/s to the 1,010 clients), then 100 lines
//!    each flat out as in phase 1, which saturates the server: the latency then is mostly time
//!    spent waiting for a CPU.
//!
//! Phase 2 also reports the server's CPU time (user + system, from /proc/<pid>/stat) per 1,000
//! deliveries, and the machine's load average: on a shared machine the latency depends on what
//! else runs, the CPU time hardly.
//!
//! Every loop is bounded in count and time: sockets have read timeouts, and each phase has a
//! deadline after which it reports what it saw. Phase 2 needs about 1,100 file descriptors for
//! this process and as many for the server: the bench raises its soft limit (`ulimit -n`) up to
//! the hard one, and the server inherits it. The server dies with the bench, however the bench
//! ends (a destructor, or the kernel when it is killed).

use socklab::grader::{start_server, Program};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_chatroom_server");
const FANOUT_CLIENTS: usize = 100;
const FANOUT_LINES: usize = 100;
const IDLE_CLIENTS: usize = 1000;
const TALKERS: usize = 10;
const TALKER_LINES: usize = 100;
/// Phase 2's first run: each talker sends this many lines, one per `CHAT_PACE`.
const CHAT_LINES: usize = 50;
const CHAT_PACE: Duration = Duration::from_millis(100);
/// No socket read waits longer than this.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Each phase ends by this time, whatever happened.
const PHASE_LIMIT: Duration = Duration::from_secs(90);

pub fn main() {
    let needed = (IDLE_CLIENTS + TALKERS + 100) as u64;
    // Each client is a socket here and one in the server, which inherits this limit.
    if let Err(e) = raise_open_files(needed) {
        eprintln!(
            "chatroom bench: phase 2 needs about {needed} sockets: {e}.\n\
             Raise the hard limit first (for example `ulimit -Hn 4096`), then run it again."
        );
        std::process::exit(1);
    }
    println!(
        "chatroom bench (loopback, release build of the solution server); load average {}",
        load()
    );

    let server = Server::start();
    let fan = run_room(&server, "c", FANOUT_CLIENTS, FANOUT_LINES, Duration::ZERO);
    println!(
        "fan-out: {FANOUT_CLIENTS} clients x {FANOUT_LINES} lines: {} of {} deliveries, \
         {} lost, {} duplicated, {} clients failed",
        fan.delivered, fan.expected, fan.lost, fan.duplicated, fan.failed
    );
    println!(
        "  {:.0} lines delivered/s over {:.2} s; latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        fan.delivered as f64 / fan.elapsed.as_secs_f64(),
        fan.elapsed.as_secs_f64(),
        fan.p50_ms,
        fan.p99_ms,
        fan.max_ms
    );
    println!(
        "  server disconnected {} slow client(s)",
        server.disconnects()
    );
    drop(server);

    let server = Server::start();
    let baseline = server.memory();
    let idle = Idle::join(&server.addr, IDLE_CLIENTS);
    let with_idle = server.memory();
    match idle.settle() {
        Some(took) => println!(
            "{} idle clients joined; every join notice had reached them {:.2} s later",
            idle.joined,
            took.as_secs_f64()
        ),
        None => {
            eprintln!("idle clients: the join notices were still arriving after {PHASE_LIMIT:?}")
        }
    }
    let (load_before, cpu_before) = (load(), server.cpu_ms());
    let paced = run_room(&server, "p", TALKERS, CHAT_LINES, CHAT_PACE);
    let (load_paced, cpu_paced) = (load(), server.cpu_ms());
    let talk = run_room(&server, "t", TALKERS, TALKER_LINES, Duration::ZERO);
    let (load_talk, cpu_talk) = (load(), server.cpu_ms());
    let after = server.memory();
    let idle_joined = idle.joined;
    idle.stop();
    println!(
        "{} idle + {TALKERS} talking x {CHAT_LINES} lines, one per {} ms each: {} of {} \
         deliveries, {} lost, {} duplicated, {} talkers failed",
        idle_joined,
        CHAT_PACE.as_millis(),
        paced.delivered,
        paced.expected,
        paced.lost,
        paced.duplicated,
        paced.failed
    );
    println!(
        "  latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        paced.p50_ms, paced.p99_ms, paced.max_ms
    );
    let deliveries = |lines: usize| (TALKERS * lines * (TALKERS + idle_joined)) as f64 / 1000.0;
    println!(
        "  server CPU {:.0} ms over {:.2} s ({:.2} ms per 1,000 deliveries); load average {} \
         before, {} after",
        cpu_paced - cpu_before,
        paced.elapsed.as_secs_f64(),
        (cpu_paced - cpu_before) / deliveries(CHAT_LINES),
        load_before,
        load_paced
    );
    println!(
        "{} idle + {TALKERS} talking x {TALKER_LINES} lines, flat out: {} of {} deliveries, {} lost, \
         {} duplicated, {} talkers failed; idle clients dropped by the server: {}",
        idle_joined,
        talk.delivered,
        talk.expected,
        talk.lost,
        talk.duplicated,
        talk.failed,
        server.disconnects()
    );
    println!(
        "  latency ms: p50 {:.2}, p99 {:.2}, max {:.2}; the server delivered about {:.0} lines/s \
         (to the talkers and the idle clients) over {:.2} s",
        talk.p50_ms,
        talk.p99_ms,
        talk.max_ms,
        (TALKERS * TALKER_LINES * (TALKERS + idle_joined)) as f64 / talk.elapsed.as_secs_f64(),
        talk.elapsed.as_secs_f64()
    );
    println!(
        "  server CPU {:.0} ms ({:.2} ms per 1,000 deliveries); load average {} after",
        cpu_talk - cpu_paced,
        (cpu_talk - cpu_paced) / deliveries(TALKER_LINES),
        load_talk
    );
    let per_client = (with_idle.0.saturating_sub(baseline.0)) as f64 / idle_joined.max(1) as f64;
    println!(
        "  server memory: VmRSS {} KiB at start, {} KiB with {} idle clients (~{:.1} KiB each), \
         {} KiB after talking; peak VmHWM {} KiB",
        baseline.0, with_idle.0, idle_joined, per_client, after.0, after.1
    );
    let exact = [&fan, &paced, &talk]
        .iter()
        .all(|r| r.lost == 0 && r.duplicated == 0 && r.failed == 0);
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: no line lost or duplicated: {}; p99 <= 50 ms with 1,000 clients: {} at a chat's \
         pace, {} flat out",
        verdict(exact),
        verdict(paced.p99_ms <= 50.0),
        verdict(talk.p99_ms <= 50.0)
    );
    // exit() runs no destructor: the server is stopped first, whatever the verdict.
    drop(server);
    // The targets are a lossless room and p99 <= 50 ms at a chat's pace.
    if !exact || paced.p99_ms > 50.0 {
        std::process::exit(1);
    }
}

/// Raises this process's soft limit on open files to at least `needed` (up to the hard limit);
/// the server started afterwards inherits it.
fn raise_open_files(needed: u64) -> Result<(), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on a struct of ours.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        if limit.rlim_cur >= needed {
            return Ok(());
        }
        if limit.rlim_max < needed {
            return Err(format!(
                "the hard limit (`ulimit -Hn`) is {}",
                limit.rlim_max
            ));
        }
        limit.rlim_cur = limit.rlim_max.min(needed * 4);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The machine's load averages over 1, 5 and 15 minutes, as `uptime` shows them, and how many
/// threads are runnable at this moment (of how many). The machine may be shared: a latency
/// means little without it. The averages include this bench's own threads, the count taken
/// between phases hardly does.
fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.get(..4) {
        Some([one, five, fifteen, now]) => {
            format!("{one} {five} {fifteen} ({now} threads runnable)")
        }
        _ => "unknown".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------

/// The server under test, started with the kit's one start-a-server helper; killed when
/// dropped. Its stdout is discarded (a full pipe would stall it); its stderr is kept.
struct Server {
    program: Program,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut cmd = Command::new(SERVER);
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .env("RUST_LOG", "warn");
        // The server has its own process group, so a Ctrl-C or a `timeout` that stops this
        // bench never reaches it, and no destructor runs then: the kernel kills it when we die.
        // SAFETY: prctl only, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let (program, addr) =
            start_server(&mut cmd).unwrap_or_else(|e| panic!("cannot start {SERVER}: {e}"));
        program.discard_output();
        Server { program, addr }
    }

    /// Slow clients the server disconnected so far (its warnings say so).
    fn disconnects(&self) -> usize {
        self.program.stderr().matches("disconnecting").count()
    }

    /// (VmRSS, VmHWM) of the server process, in KiB.
    fn memory(&self) -> (u64, u64) {
        socklab::grader::memory_kib(self.program.pid())
    }

    /// CPU time the server has used so far (user + system), in milliseconds: unlike a latency,
    /// it hardly depends on what else the machine runs.
    fn cpu_ms(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.program.pid()))
            .unwrap_or_default();
        // The fields after the command's closing parenthesis; utime and stime are the 12th and
        // 13th of them (fields 14 and 15 of proc(5)), in clock ticks.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        ticks as f64 * 1000.0 / per_second
    }
}

// ---------------------------------------------------------------------------------------------

/// A joined client: the stream and a reader over it.
fn join(addr: &SocketAddr, name: &str) -> Result<(TcpStream, BufReader<TcpStream>), String> {
    let stream = TcpStream::connect_timeout(addr, READ_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if line.trim_end() != "NICKNAME" {
        return Err(format!("{name}: expected NICKNAME, got {line:?}"));
    }
    (&stream)
        .write_all(format!("{name}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    // Bounded: one line per other member's join at most, then the welcome.
    for _ in 0..IDLE_CLIENTS * 2 {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("{name}: the server closed the connection"));
        }
        if line.trim_end() == "Connected to server!" {
            return Ok((stream, reader));
        }
    }
    Err(format!("{name}: no welcome"))
}

/// 1,000 clients that join, then only read (and discard) what arrives: one thread sweeps all
/// their non-blocking sockets every 100 ms.
struct Idle {
    joined: usize,
    /// Idle sockets that have received the last join notice (see [`Idle::settle`]).
    settled: Arc<AtomicUsize>,
    /// The last join notice, once every idle client has joined.
    last_notice: Arc<Mutex<Option<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    sweeper: thread::JoinHandle<()>,
}

/// How many of the last bytes an idle socket received are kept: more than a join notice.
const TAIL: usize = 64;

/// One idle client's socket, and whether the last join notice has reached it.
struct IdleSocket {
    stream: TcpStream,
    /// The last [`TAIL`] bytes that came: the notice may be split between two reads, or come
    /// before the sweeper knows it.
    tail: Vec<u8>,
    seen: bool,
}

impl Idle {
    fn join(addr: &SocketAddr, count: usize) -> Idle {
        let sockets: Arc<Mutex<Vec<IdleSocket>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let settled = Arc::new(AtomicUsize::new(0));
        let last_notice: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let (all, stopped) = (Arc::clone(&sockets), Arc::clone(&stop));
        let (settled_count, notice) = (Arc::clone(&settled), Arc::clone(&last_notice));
        let sweeper = thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while !stopped.load(Ordering::Relaxed) {
                let notice = notice.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for s in all.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
                    // Bounded: at most 64 reads per socket and sweep.
                    for _ in 0..64 {
                        let n = match (&s.stream).read(&mut buf) {
                            Ok(n) if n > 0 => n,
                            _ => break,
                        };
                        s.tail.extend_from_slice(&buf[..n]);
                        let keep = s.tail.len().saturating_sub(TAIL);
                        s.tail.drain(..keep);
                    }
                    // The notice is the last line an idle client gets before phase 2 talks, so
                    // it is in the tail, even if it came before the notice was known here.
                    if let Some(notice) = notice.as_deref().filter(|_| !s.seen) {
                        if s.tail.windows(notice.len()).any(|w| w == notice) {
                            s.seen = true;
                            settled_count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                // Each idle socket gets about 25 KB in phase 2, which its kernel buffers hold:
                // sweeping seldom keeps this thread from taking CPU time from the server.
                thread::sleep(Duration::from_millis(100));
            }
        });
        let started = Instant::now();
        let mut joined = 0;
        let mut last = None;
        for i in 0..count {
            if started.elapsed() > PHASE_LIMIT {
                eprintln!("idle clients: stopped joining at {i} (time limit)");
                break;
            }
            match join(addr, &format!("idle{i}")) {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        let mut all = sockets.lock().unwrap_or_else(|p| p.into_inner());
                        all.push(IdleSocket {
                            stream,
                            tail: Vec::new(),
                            seen: false,
                        });
                        joined += 1;
                        last = Some(i);
                    }
                }
                Err(e) => eprintln!("idle client {i}: {e}"),
            }
        }
        if let Some(i) = last {
            let mut all = sockets.lock().unwrap_or_else(|p| p.into_inner());
            // The last one read its own notice before its welcome, in `join`.
            if let Some(newest) = all.last_mut() {
                newest.seen = true;
                settled.fetch_add(1, Ordering::Relaxed);
            }
            *last_notice.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(format!("idle{i} joined!\n").into_bytes());
        }
        Idle {
            joined,
            settled,
            last_notice,
            stop,
            sweeper,
        }
    }

    /// Waits until the last join notice has reached every idle client: 1,000 joins queue about
    /// 500,000 notices, which the server takes a second or more to write. A line sent before
    /// then waits behind them, which is the join storm's latency, not a chat line's. Returns
    /// how long it took, or `None` at the time limit.
    fn settle(&self) -> Option<Duration> {
        let started = Instant::now();
        if self
            .last_notice
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            return Some(Duration::ZERO);
        }
        while started.elapsed() < PHASE_LIMIT {
            if self.settled.load(Ordering::Relaxed) >= self.joined {
                return Some(started.elapsed());
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.sweeper.join();
    }
}

/// What one room run measured.
struct RoomResult {
    expected: usize,
    delivered: usize,
    lost: usize,
    duplicated: usize,
    failed: usize,
    elapsed: Duration,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// What one talking client saw: counts[sender][line], latencies in microseconds.
struct Seen {
    counts: Vec<Vec<u32>>,
    latencies: Vec<u32>,
    error: Option<String>,
}

/// `clients` clients named PREFIX0.. join, wait for each other, then each sends `lines` lines,
/// one in flight at a time and at most one per `pace`, and reads until it has every client's
/// lines (or time runs out).
fn run_room(
    server: &Server,
    prefix: &str,
    clients: usize,
    lines: usize,
    pace: Duration,
) -> RoomResult {
    let run = Arc::new(Run {
        addr: server.addr,
        prefix: prefix.to_string(),
        clients,
        lines,
        pace,
        barrier: Barrier::new(clients + 1),
        epoch: Instant::now(),
        reached: (0..clients).map(|_| AtomicUsize::new(0)).collect(),
    });
    let handles: Vec<_> = (0..clients)
        .map(|me| {
            let run = Arc::clone(&run);
            thread::spawn(move || talk(&run, me))
        })
        .collect();
    run.barrier.wait();
    let started = Instant::now();
    let seen: Vec<Seen> = handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| Seen {
                counts: vec![],
                latencies: vec![],
                error: Some("thread panicked".into()),
            })
        })
        .collect();
    let elapsed = started.elapsed();
    let (mut delivered, mut lost, mut duplicated, mut failed) = (0, 0, 0, 0);
    let mut latencies = Vec::new();
    for s in &seen {
        if let Some(e) = &s.error {
            failed += 1;
            eprintln!("  a client failed: {e}");
        }
        for sender in 0..clients {
            for line in 0..lines {
                match s.counts.get(sender).and_then(|c| c.get(line)).copied() {
                    Some(1) => delivered += 1,
                    None | Some(0) => lost += 1,
                    Some(n) => {
                        delivered += 1;
                        duplicated += n as usize - 1;
                    }
                }
            }
        }
        latencies.extend_from_slice(&s.latencies);
    }
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        latencies[((latencies.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
    };
    RoomResult {
        expected: clients * clients * lines,
        delivered,
        lost,
        duplicated,
        failed,
        elapsed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// What the talking clients of one run share.
struct Run {
    addr: SocketAddr,
    prefix: String,
    clients: usize,
    lines: usize,
    pace: Duration,
    barrier: Barrier,
    epoch: Instant,
    /// Per sender: how many (line, receiver) deliveries of its lines have been read so far.
    reached: Vec<AtomicUsize>,
}

/// One talking client. Lines are `PREFIXi: b SEQ MICROS`, MICROS since `run.epoch`. A client
/// sends its next line once its previous one has reached every client (so no queue in the
/// server ever holds more than one line per talker), and not sooner than `run.pace` after it.
fn talk(run: &Run, me: usize) -> Seen {
    let (clients, lines) = (run.clients, run.lines);
    let mut seen = Seen {
        counts: vec![vec![0; lines]; clients],
        latencies: Vec::with_capacity(clients * lines),
        error: None,
    };
    let joined = join(&run.addr, &format!("{}{me}", run.prefix));
    // Everyone waits here, joined or not, so a failed join cannot hang the others.
    run.barrier.wait();
    let (stream, mut reader) = match joined {
        Ok(j) => j,
        Err(e) => {
            seen.error = Some(e);
            return seen;
        }
    };
    let deadline = Instant::now() + PHASE_LIMIT;
    let expected = clients * lines;
    let mut received = 0;
    let mut line = String::new();
    let record = |text: &str, seen: &mut Seen| -> Option<()> {
        // "c17: b 42 123456"
        let (name, rest) = text.split_once(": b ")?;
        let sender: usize = name.strip_prefix(run.prefix.as_str())?.parse().ok()?;
        let mut parts = rest.split(' ');
        let seq: usize = parts.next()?.parse().ok()?;
        let sent: u64 = parts.next()?.parse().ok()?;
        let now = run.epoch.elapsed().as_micros() as u64;
        let slot = seen.counts.get_mut(sender)?.get_mut(seq)?;
        *slot += 1;
        seen.latencies.push(now.saturating_sub(sent) as u32);
        run.reached.get(sender)?.fetch_add(1, Ordering::Relaxed);
        Some(())
    };
    let mut sent = 0;
    // Paced talkers start spread over one pace interval, as people do not type in step.
    let first = Instant::now() + run.pace.mul_f64(me as f64 / clients as f64);
    let mut last_send: Option<Instant> = None;
    let mut stalled_since = Instant::now();
    while received < expected && Instant::now() < deadline {
        let everywhere = run.reached[me].load(Ordering::Relaxed) >= clients * sent;
        let due = match last_send {
            None => Instant::now() >= first,
            Some(t) => t.elapsed() >= run.pace,
        };
        if sent < lines && everywhere && due {
            let now = run.epoch.elapsed().as_micros();
            let msg = format!("{}{me}: b {sent} {now}\n", run.prefix);
            if let Err(e) = (&stream).write_all(msg.as_bytes()) {
                seen.error = Some(format!("send: {e}"));
                return seen;
            }
            last_send = Some(Instant::now());
            stalled_since = Instant::now();
            sent += 1;
            continue;
        }
        // While a line of ours is still on its way to others, or the next is not due yet, look
        // again soon: what we wait for may arrive on other clients' sockets, not ours.
        let waiting = sent < lines;
        if waiting && stalled_since.elapsed() > READ_TIMEOUT {
            seen.error = Some(format!(
                "line {sent} not reached by everyone after {READ_TIMEOUT:?}"
            ));
            return seen;
        }
        let wait = if waiting {
            Duration::from_millis(2)
        } else {
            READ_TIMEOUT
        };
        if let Err(e) = stream.set_read_timeout(Some(wait)) {
            seen.error = Some(format!("set_read_timeout: {e}"));
            return seen;
        }
        // A read that times out keeps what it has read of the line in `line`.
        match reader.read_line(&mut line) {
            Ok(0) => {
                seen.error = Some("the server closed the connection".into());
                return seen;
            }
            Ok(_) => {
                if record(line.trim_end(), &mut seen).is_some() {
                    received += 1;
                }
                line.clear();
            }
            Err(e)
                if waiting && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                seen.error = Some(format!("read ({received} of {expected} lines): {e}"));
                return seen;
            }
        }
    }
    if received < expected {
        seen.error = Some(format!("time limit: {received} of {expected} lines"));
    }
    seen
}
