//! Programs under test: spawning a built lab binary, reading its output with time limits, and
//! making sure it is killed when the check ends, whatever happened.

use super::context::Context;
use super::WAIT;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A line longer than this is cut (the rest is dropped) so a runaway program cannot eat memory.
const MAX_LINE: usize = 64 * 1024;
/// Lines read from a program but not yet taken by its check.
const MAX_LINES: usize = 10_000;
/// How much of a program's stderr is kept for failure messages.
const MAX_STDERR: usize = 64 * 1024;

type Children = Arc<Mutex<Vec<Child>>>;

/// What one check may use: the built binaries, a scratch directory, and a register of every
/// process it started, which the runner kills when the check ends or runs out of time.
pub struct Ctx {
    bins: Arc<BTreeMap<String, PathBuf>>,
    children: Children,
    scratch: PathBuf,
    files: PathBuf,
    /// netlab's subnet when this check runs across hosts (`grade --net`); `None` on loopback.
    net: Option<[u8; 3]>,
    /// The lab programs the check started, by name.
    started: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

impl Ctx {
    pub(crate) fn new(
        bins: Arc<BTreeMap<String, PathBuf>>,
        scratch: PathBuf,
        files: PathBuf,
    ) -> Ctx {
        Ctx {
            bins,
            children: Arc::default(),
            scratch,
            files,
            net: None,
            started: Arc::default(),
        }
    }

    /// The same context for a check that runs across netlab's hosts of `subnet`.
    pub(crate) fn across(mut self, subnet: Option<[u8; 3]>) -> Ctx {
        self.net = subnet;
        self
    }

    /// The address of `host` (`webserver`, where the student's programs run; `client1`,
    /// where the check's own sockets are; `client2`) when the check runs across netlab's
    /// hosts, otherwise `loopback`, the address the check uses for it on this machine.
    pub fn ip(&self, host: &str, loopback: impl Into<IpAddr>) -> IpAddr {
        match self.net {
            // The checks name the hosts of netlab::HOSTS; another name is a bug in the check.
            Some(subnet) => IpAddr::V4(
                crate::netlab::address(subnet, host)
                    .unwrap_or_else(|| panic!("the check names an unknown host {host:?}")),
            ),
            None => loopback.into(),
        }
    }

    /// The folder of the lab's own files other than code (answers file, captures): `labs/<lab>`
    /// (or the submission's), and for the solutions the one `make capture SOLUTIONS=1` fills.
    pub fn lab_files(&self) -> &std::path::Path {
        &self.files
    }

    /// A handle the runner keeps to kill this check's processes after a timeout.
    pub(crate) fn killer(&self) -> impl FnOnce() + Send + 'static {
        let children = Arc::clone(&self.children);
        move || kill_all(&children)
    }

    /// A handle on the names of the lab programs the check starts.
    pub(crate) fn started(&self) -> Arc<Mutex<std::collections::BTreeSet<String>>> {
        Arc::clone(&self.started)
    }

    /// A fresh directory for files the check hands to a program (logs, user files).
    pub fn scratch_dir(&self) -> PathBuf {
        // Failing to create it shows up as a clear error when the program opens a file there.
        let _ = std::fs::create_dir_all(&self.scratch);
        self.scratch.clone()
    }

    /// Whether this check runs across netlab's hosts (`grade --net`).
    pub fn across_hosts(&self) -> bool {
        self.net.is_some()
    }

    /// The path of lab binary `bin`, noted as started by this check.
    fn binary(&self, bin: &str) -> Result<PathBuf, String> {
        let path = self
            .bins
            .get(bin)
            .ok_or_else(|| format!("the grader has no binary named {bin}"))?;
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(bin.to_string());
        Ok(path.clone())
    }

    /// Starts lab binary `bin` with `args`; stdin, stdout and stderr are pipes. Across hosts
    /// it runs on `webserver`.
    pub fn spawn(&self, bin: &str, args: &[&str]) -> Result<Program, String> {
        let host = self.net.map(|_| super::hosts::PROGRAMS);
        self.spawn_on(host, bin, args)
    }

    /// The same on a netlab host (`netlab exec HOST …`), or here when `host` is `None`.
    pub fn spawn_on(
        &self,
        host: Option<&str>,
        bin: &str,
        args: &[&str],
    ) -> Result<Program, String> {
        let path = self.binary(bin)?;
        let mut cmd = match host {
            None => Command::new(path),
            Some(host) => {
                let command = vec![path.display().to_string()];
                crate::netlab::exec_command(host, &command)?
            }
        };
        cmd.args(args);
        let on = host.map(|h| format!(" (on {h})")).unwrap_or_default();
        launch(
            &mut cmd,
            format!("{bin} {}{on}", args.join(" ")),
            &self.children,
            false,
        )
    }

    /// Starts lab binary `bin` here (never across hosts) with at most `fds` file descriptors
    /// (RLIMIT_NOFILE): once they are in use, its next `accept` fails (EMFILE), as on a server
    /// that has run out of them.
    pub fn spawn_with_fd_limit(
        &self,
        bin: &str,
        args: &[&str],
        fds: u64,
    ) -> Result<Program, String> {
        let path = self.binary(bin)?;
        let limit = libc::rlimit {
            rlim_cur: fds,
            rlim_max: fds,
        };
        let mut cmd = Command::new(path);
        cmd.args(args);
        // SAFETY: fcntl, close and setrlimit only (async-signal-safe), on copied integers and
        // a struct copied into the closure.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                // A descriptor below the limit that the grader inherited (and would pass on)
                // would take the program's place: close those, so the count is the program's.
                for fd in 3..fds.min(1024) as libc::c_int {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                        libc::close(fd);
                    }
                }
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let label = format!("{bin} {} (at most {fds} file descriptors)", args.join(" "));
        launch(&mut cmd, label, &self.children, false)
    }

    /// Starts lab binary `bin` here (never across hosts) unable to start a thread: each one asks
    /// for a stack larger than any address space (`RUST_MIN_STACK`, 1 PiB), so
    /// `thread::Builder::spawn` fails (EAGAIN), as on a machine out of threads or memory, and
    /// `thread::spawn` panics.
    pub fn spawn_without_threads(&self, bin: &str, args: &[&str]) -> Result<Program, String> {
        let path = self.binary(bin)?;
        let mut cmd = Command::new(path);
        cmd.args(args)
            .env("RUST_MIN_STACK", (1u64 << 50).to_string());
        let label = format!("{bin} {} (no thread can start)", args.join(" "));
        launch(&mut cmd, label, &self.children, false)
    }

    /// Starts lab binary `bin` here (never across hosts) with nobody reading its stdout: every
    /// write to stdout fails at once, as when its output is piped into a program that has ended.
    pub fn spawn_with_stdout_closed(&self, bin: &str, args: &[&str]) -> Result<Program, String> {
        let path = self.binary(bin)?;
        let label = format!("{bin} {} (stdout closed)", args.join(" "));
        launch(Command::new(path).args(args), label, &self.children, true)
    }

    /// Starts lab server `bin` with `args` and reads its address from its first line.
    pub fn start_server(&self, bin: &str, args: &[&str]) -> Result<(Program, SocketAddr), String> {
        let server = self.spawn(bin, args)?;
        let addr = server.address(WAIT)?;
        Ok((server, addr))
    }
}

/// Starts a server outside a check (the kit's tests, benches) and reads its address from its
/// first line; it is killed when the returned [`Program`] is dropped.
pub fn start_server(cmd: &mut Command) -> Result<(Program, SocketAddr), String> {
    let server = Program::start(cmd)?;
    let addr = server.address(WAIT)?;
    Ok((server, addr))
}

/// Starts `cmd` with piped stdin, stdout and stderr, registered in `children`. With
/// `stdout_closed`, nobody ever reads its stdout: the pipe's reading end is closed at once, so
/// every write to it fails (EPIPE), as for `prog | head -0`.
fn launch(
    cmd: &mut Command,
    label: String,
    children: &Children,
    stdout_closed: bool,
) -> Result<Program, String> {
    let label = label.trim().to_string();
    // Its own process group: whatever it starts is killed with it (see `kill_group`).
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    super::sandbox::limit_program(cmd);
    let mut child = cmd
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {label}"))?;
    let stdin = child.stdin.take();
    // Both pipes exist: they were requested as Stdio::piped() just above.
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr_pipe = child.stderr.take().expect("stderr is piped");

    // Bounded: a program that prints without end blocks on its full pipe instead of
    // filling the grader's memory (unless its output is discarded).
    let (tx, lines) = bounded(MAX_LINES);
    let discard = Arc::new(AtomicBool::new(false));
    let discarding = Arc::clone(&discard);
    let stdout = (!stdout_closed).then_some(stdout);
    thread::spawn(move || {
        let Some(stdout) = stdout else {
            return;
        };
        let mut reader = BufReader::new(stdout);
        loop {
            if discarding.load(Ordering::Relaxed) {
                // Read in large gulps, a few milliseconds apart: waking for every line of a
                // server that prints per request would take CPU time from the server itself.
                // The pipe (64 KiB) holds what comes in between.
                // The pipe is widened to 1 MiB first (Linux's default most for one pipe) so
                // that a few milliseconds of a busy server's lines fit in it even when this
                // thread wakes late on a loaded machine: a full pipe would stop the server
                // itself, and the bench would measure this reader instead. A full gulp means
                // more is waiting: read again at once.
                widen_pipe(reader.get_ref());
                let mut sink = vec![0u8; 256 * 1024];
                loop {
                    match reader.read(&mut sink) {
                        Ok(n) if n == sink.len() => {}
                        Ok(n) if n > 0 => thread::sleep(Duration::from_millis(5)),
                        _ => break,
                    }
                }
                break;
            }
            let mut buf = Vec::new();
            match (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if buf.last() != Some(&b'\n') {
                        // Overlong line: skip to its end.
                        let mut rest = Vec::new();
                        let _ = reader.read_until(b'\n', &mut rest);
                    }
                    let text = String::from_utf8_lossy(&buf);
                    if tx
                        .send(text.trim_end_matches(['\r', '\n']).to_string())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr);
    // Dropped when stderr reaches its end, so readers can wait for the whole panic message.
    let (stderr_open, stderr_done) = bounded::<()>(0);
    thread::spawn(move || {
        let _open = stderr_open;
        let mut reader = BufReader::new(stderr_pipe);
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
            if s.len() < MAX_STDERR {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let mut list = children.lock().unwrap_or_else(|p| p.into_inner());
    list.push(child);
    Ok(Program {
        label,
        lines,
        discard,
        stderr,
        stderr_done,
        stdin,
        children: Arc::clone(children),
        index: list.len() - 1,
    })
}

/// Asks for a 1 MiB pipe behind `pipe` (F_SETPIPE_SZ); where that is refused, it stays as it is.
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    // SAFETY: fcntl on a descriptor this process owns, with an integer argument.
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
}

fn kill_all(children: &Children) {
    let mut children = children.lock().unwrap_or_else(|p| p.into_inner());
    for child in children.iter_mut() {
        kill_group(child);
    }
}

/// Kills a program and every process of its group (what it started and left running), then
/// reaps it.
fn kill_group(child: &mut std::process::Child) {
    // The group keeps its number while any member lives, so this reaches only its own.
    // SAFETY: kill with a process group id and a signal number only.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// A running lab program. Dropping it kills the process.
pub struct Program {
    label: String,
    lines: Receiver<String>,
    /// Set by [`Program::discard_output`]: stdout is read and thrown away.
    discard: Arc<AtomicBool>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Receiver<()>,
    stdin: Option<ChildStdin>,
    children: Children,
    index: usize,
}

impl Program {
    /// Starts `cmd` on its own, outside a check (see [`start_server`]); killed when dropped.
    pub fn start(cmd: &mut Command) -> Result<Program, String> {
        let label = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        // Outside a check nothing else stops it if this process is killed (Ctrl-C in `make
        // bench` reaches our process group, not the program's own): the kernel ends it when
        // the thread that started it ends, however that happens.
        // SAFETY: prctl, getppid and _exit only (async-signal-safe), on a copied integer.
        let parent = std::process::id() as libc::pid_t;
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(cmd, move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the line above: nobody would be told.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        launch(cmd, label, &Children::default(), false)
    }

    /// From now on the program's stdout is read and thrown away, so a server that prints a
    /// line per request never blocks on a full pipe (benches, long runs).
    pub fn discard_output(&self) {
        self.discard.store(true, Ordering::Relaxed);
        while self.lines.try_recv().is_ok() {}
    }

    /// The CPU time the process has used so far (user and system), from /proc.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .map_err(|e| format!("reading the CPU time of {}: {e}", self.label))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<u64> = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse().ok())
            .collect();
        // SAFETY: sysconf only reads a constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        match fields[..] {
            [user, system] => Ok(Duration::from_millis((user + system) * 1000 / ticks)),
            _ => Err(format!("the CPU time of {} cannot be read", self.label)),
        }
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        let children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        children[self.index].id()
    }

    /// The command line, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn try_status(&self) -> Option<ExitStatus> {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        children[self.index].try_wait().ok().flatten()
    }

    /// One line saying how the program ended, with its panic message if it panicked.
    fn death(&self) -> String {
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut status = self.try_status();
        while status.is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
            status = self.try_status();
        }
        let how = match status {
            Some(s) => exit(s),
            None => "closed its output".to_string(),
        };
        match self.panic_message() {
            Some(p) => format!("{} {how}: {p}", self.label),
            None => format!("{} {how}", self.label),
        }
    }

    /// `panicked at FILE:LINE:COL: MESSAGE`, if stderr holds a panic.
    pub fn panic_message(&self) -> Option<String> {
        if self.try_status().is_some() {
            // The process is gone; let the reader collect the rest of its stderr.
            let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        }
        // Paths relative to the kit's root, as students see them in their editor.
        let err = self.stderr().replace("src/bin/../../", "");
        // Out of memory is no panic: Rust prints this line and aborts.
        if let Some(oom) = err.lines().find(|l| l.starts_with("memory allocation of")) {
            return Some(oom.trim().to_string());
        }
        let mut lines = err.lines();
        let at = lines.find(|l| l.contains("panicked at"))?;
        let at = &at[at.find("panicked at")?..];
        let message = lines.next().unwrap_or("").trim();
        Some(format!("{} {message}", at.trim()))
    }

    /// Everything the program wrote on stderr so far; all of it once the program has exited
    /// (its last words may still be on their way to the reader thread: waited for, briefly).
    pub fn stderr(&self) -> String {
        if !self.is_running() {
            let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        }
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How much the program has written on stderr so far: a mark for [`Program::expect_logged`].
    pub fn logged_so_far(&self) -> usize {
        self.stderr.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits until a whole line the program wrote on stderr after `since` (from
    /// [`Program::logged_so_far`]) satisfies `want`: the standard "bad input is logged" made
    /// checkable. The error says what was expected (`what`) and shows what was logged instead.
    pub fn expect_logged(
        &self,
        since: usize,
        what: &str,
        within: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + within;
        loop {
            // Judged before reading: once stderr has ended, everything is in the buffer.
            let ended = !self.is_running() && self.stderr_ended();
            let fresh = {
                let all = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
                all.get(since..).unwrap_or("").to_string()
            };
            // Only lines that have ended: a line is judged once it is whole.
            let whole = &fresh[..fresh.rfind('\n').map_or(0, |i| i + 1)];
            if let Some(line) = whole.lines().find(|l| want(l)) {
                super::transcript::note(&self.label, "logged", line);
                return Ok(line.to_string());
            }
            if ended || Instant::now() >= deadline {
                let shown = match whole.lines().last() {
                    None => "it logged nothing on stderr".to_string(),
                    Some(last) => format!("last line it logged: {last:?}"),
                };
                return Err(format!("expected {what} on stderr; {shown}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the program's stderr has reached its end (the program and its children closed it).
    fn stderr_ended(&self) -> bool {
        matches!(
            self.stderr_done.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }

    /// The next stdout line as it comes, noted in the check's transcript.
    fn next_line(&self, within: Duration) -> Result<String, RecvTimeoutError> {
        let line = self.lines.recv_timeout(within)?;
        super::transcript::note(&self.label, "printed", &line);
        Ok(line)
    }

    /// The next stdout line, waiting at most `within`.
    pub fn line(&self, within: Duration) -> Result<String, String> {
        match self.next_line(within) {
            Ok(line) => Ok(line),
            // It may have died while something it started still holds its output open.
            Err(RecvTimeoutError::Timeout) => Err(self.explain(format!(
                "timed out after {} waiting for a line from {}",
                secs(within),
                self.label
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(self.death()),
        }
    }

    /// Reads lines until one satisfies `want`, for at most `within`; the error says what was
    /// expected (`what`) and shows the last lines seen.
    pub fn expect_line(
        &self,
        what: &str,
        within: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + within;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(line) if want(&line) => return Ok(line),
                Ok(line) => seen.push(line),
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => format!("timed out after {}", secs(within)),
                        RecvTimeoutError::Disconnected => self.death(),
                    };
                    let shown = match seen.len() {
                        0 => "it printed nothing".to_string(),
                        n => format!("last line printed: {:?}", seen[n - 1]),
                    };
                    return Err(format!("expected {what}; {why}; {shown}"));
                }
            }
        }
    }

    /// Reads the first line and takes the address at its end (`... 127.0.0.1:40123`).
    pub fn address(&self, within: Duration) -> Result<SocketAddr, String> {
        let line = self.line(within)?;
        line.split_whitespace()
            .last()
            .map(|w| w.trim_matches(|c| c == '(' || c == ')'))
            // A URL too: `Running on http://127.0.0.1:5000/`.
            .map(|w| w.rsplit("://").next().unwrap_or(w).trim_end_matches('/'))
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| {
                format!("the first line should end with the bound address IP:PORT; it was {line:?}")
            })
    }

    /// Every remaining stdout line until the program closes stdout, for at most `within`.
    pub fn rest(&self, within: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => return Ok(out),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "{} still running after {}; it printed {}",
                        self.label,
                        secs(within),
                        super::shown(&out)
                    ))
                }
            }
        }
    }

    /// Lets the program run to its end (at most `within`): what it printed and its exit status.
    /// A panic is an error naming it, whatever the exit status.
    pub fn finish(&self, within: Duration) -> Result<(Vec<String>, ExitStatus), String> {
        let lines = self.rest(within)?;
        let status = self.wait(within)?;
        match self.panic_message() {
            Some(panic) => Err(format!("{} {panic}", self.label)),
            None => Ok((lines, status)),
        }
    }

    /// Lets the program run to its end (at most `within`) and returns what it printed; an error,
    /// naming its panic or its output, when it exits with a failure.
    pub fn run_to_end(&self, within: Duration) -> Result<Vec<String>, String> {
        let (lines, status) = self.finish(within)?;
        if status.success() {
            Ok(lines)
        } else {
            Err(format!(
                "{} failed ({}): it printed {}",
                self.label,
                exit(status),
                super::shown(&lines)
            ))
        }
    }

    /// `why` with the program's panic (in any of its threads), or that it is gone, added: a
    /// check's failure often has its cause in the program.
    pub fn explain(&self, why: String) -> String {
        if self.is_running() {
            // A thread's panic that just closed a connection may still be on its way to stderr.
            thread::sleep(Duration::from_millis(200));
        }
        match self.panic_message() {
            Some(panic) => format!("{why}; {} {panic}", self.label),
            None if !self.is_running() => format!("{why}; {}", self.death()),
            None => why,
        }
    }

    /// Waits for the program to exit, at most `within`.
    pub fn wait(&self, within: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_status() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not exit within {}",
                    self.label,
                    secs(within)
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the program is still running.
    pub fn is_running(&self) -> bool {
        self.try_status().is_none()
    }

    /// Writes one line to the program's stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin is already closed")?;
        super::transcript::note(&self.label, "was given on stdin", line);
        // One write, the line and its newline together: a program that reads stdin once per
        // line (and sends each read on in one write) sees the whole line at once.
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("could not write to {}: {e}", self.label))
    }

    /// Closes the program's stdin (end of input, as Ctrl-D).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Kills the program now.
    pub fn kill(&self) {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        kill_group(&mut children[self.index]);
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The resident memory of process `pid` now and at its peak (`VmRSS`, `VmHWM`), in KiB; zeros
/// once it is gone. For the benches' memory targets.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `exited with code 1`, `was killed by signal 9`.
fn exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(n)) => format!("was killed by signal {n}"),
        (None, None) => "was killed by a signal".to_string(),
    }
}

/// `2 s`, `0.5 s`: durations as students read them.
pub fn secs(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 100.0).round() / 100.0)
}
