//! The sandbox every submission is built and graded in (`socklab grade --submission` and
//! `--submissions`): Debian's bubblewrap, the tool Flatpak uses.
//!
//! What a submission's code can do inside, and what it cannot:
//! - It sees the system read-only (`/usr`, `/etc`), the Rust toolchain and cargo's downloaded
//!   sources (`registry/` and `git/` of the cargo home, never the rest: no credentials) read-only,
//!   its own copy of the kit at `/kit`, and a private `/tmp` (also `$HOME`) and `/dev/shm`; all
//!   three are size-limited tmpfs that vanish with it, so the folder's limit holds for files
//!   deleted but kept open, for paths of any length and for anything else a walk would miss.
//!   Everything else is read-only. Nothing else of the machine: no other student's folder, no
//!   gradebook, no results file.
//! - It cannot make user namespaces of its own (bubblewrap's `--disable-userns`, 0.8.0 and later:
//!   Debian 12's): no root inside, no mounts of its own.
//! - One control group per sandbox ([`super::cgroup`]) limits its CPU (a share of the cores),
//!   memory (its tmpfs pages and memfds included, no swap beyond) and processes as a whole, so a
//!   submission that spins up a hundred processes slows itself, not the one graded beside it.
//!   Without cgroups (a one-line warning) the per-process limits below remain.
//! - Its network namespace has only loopback: nothing leaves, and submissions graded side by side
//!   cannot see each other's ports.
//! - Its PID namespace ends with the grader inside: no process outlives grading.
//! - Limits on processes, memory, file size and CPU time per process ([`LIMITS`]); the outer
//!   grader adds a wall-clock limit for the whole run, the inner one a wall-clock limit per
//!   compile.
//! - The results come back on a pipe (fd 3 inside) that only the grader holds: [`enter`] moves it
//!   where no child inherits it and makes the grader undumpable, so a student's program, running
//!   as the same user, can neither open the grader's descriptors nor write into its memory.
//!
//! Run as root, the sandbox runs as user `nobody` (root is exempt from the process limit): the
//! paths it needs are first bound, in a private mount namespace of the bubblewrap process, below
//! a stage folder that `nobody` may enter.

use super::cgroup::{self, Cgroups, GroupLimits};
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Resource limits inside the sandbox, set by [`enter`] on the grader and inherited by cargo,
/// rustc and the student's programs.
pub struct Limits {
    /// Processes and threads of the sandbox's user (counted in its own user namespace).
    pub processes: u64,
    /// Address space of one process, in bytes.
    pub memory: u64,
    /// Largest file one process may write, in bytes.
    pub file_size: u64,
    /// CPU seconds of one process.
    pub cpu: u64,
    /// How much the kit copy may grow, all files together (the size of its tmpfs beyond the kit).
    pub disk: u64,
    /// Memory of the sandbox as a whole (its cgroup), beyond what its tmpfs hold.
    pub group_memory: u64,
    /// `/tmp` (also `$HOME`) and `/dev/shm`.
    pub tmp: u64,
    pub shm: u64,
}

pub const LIMITS: Limits = Limits {
    processes: 512,
    memory: 4 << 30,
    file_size: 512 << 20,
    cpu: 600,
    disk: 2 << 30,
    group_memory: 3 << 30,
    tmp: 256 << 20,
    shm: 64 << 20,
};

/// Where the kit copy is mounted inside, and the grader binary.
pub const KIT: &str = "/kit";
const GRADER: &str = "/opt/socklab/socklab";
/// The results pipe's descriptor inside.
const RESULTS_FD: i32 = 3;
/// `nobody`: the sandbox's user when the grader runs as root.
const NOBODY: u32 = 65534;
/// What the outer grader keeps of a sandbox's output (the rest is read and dropped).
const MAX_LOG: usize = 1 << 20;
const MAX_RESULTS: usize = 16 << 20;

/// Called first by the grader inside the sandbox. Sets [`LIMITS`] for itself and everything it
/// starts, makes itself undumpable, and takes the results pipe off fd 3 so that no child
/// inherits it. Returns the pipe.
pub fn enter() -> Result<File, String> {
    // A copy of the pipe that is closed on exec, then fd 3 goes: no child inherits the pipe.
    // (Reopening /proc/self/fd/3 would not do: the pipe belongs to the grader outside.)
    // SAFETY: fcntl and close on fd 3, which only this process uses.
    let fd = unsafe { libc::fcntl(RESULTS_FD, libc::F_DUPFD_CLOEXEC, 10) };
    if fd < 0 {
        return Err(format!(
            "no results pipe on fd {RESULTS_FD}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` was just made by fcntl and is owned by nothing else.
    let results = unsafe { File::from_raw_fd(fd) };
    // SAFETY: see above.
    unsafe { libc::close(RESULTS_FD) };
    let limits = [
        (libc::RLIMIT_NPROC, LIMITS.processes),
        (libc::RLIMIT_AS, LIMITS.memory),
        (libc::RLIMIT_FSIZE, LIMITS.file_size),
        (libc::RLIMIT_CPU, LIMITS.cpu),
        (libc::RLIMIT_CORE, 0),
    ];
    for (resource, value) in limits {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads the struct given; no memory is shared.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(format!("prctl: {}", std::io::Error::last_os_error()));
    }
    INSIDE.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(results)
}

/// Set by [`enter`]: this grader runs inside a sandbox.
static INSIDE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Inside a sandbox, a student's program may have half the processes the grader may: a fork
/// bomb stops there and leaves the grader room to go on and report it.
pub fn limit_program(cmd: &mut Command) {
    if !INSIDE.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let limit = libc::rlimit {
        rlim_cur: LIMITS.processes / 2,
        rlim_max: LIMITS.processes / 2,
    };
    // SAFETY: setrlimit, open, write and close only (async-signal-safe), on a struct copied into
    // the closure and static strings.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // When the sandbox runs out of memory, the kernel should stop the student's program,
            // not the grader beside it (a memfd belongs to no process, so the largest process
            // would be picked). Raising one's own score needs no privilege; it outlives exec.
            let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY);
            if fd >= 0 {
                libc::write(fd, b"1000".as_ptr().cast(), 4);
                libc::close(fd);
            }
            Ok(())
        });
    }
}

/// How a sandboxed run ended.
pub struct Ran {
    /// What the grader inside wrote on its results pipe (empty if it wrote nothing).
    pub results: Vec<u8>,
    /// Its exit code, `None` when killed by a signal.
    pub code: Option<i32>,
    /// Why the sandbox was stopped from outside: a limit it reached.
    pub stopped: Option<String>,
}

/// bubblewrap, and the paths a sandbox binds from this machine.
pub struct Sandbox {
    bwrap: PathBuf,
    sysroot: PathBuf,
    cargo_home: PathBuf,
    grader: PathBuf,
    as_root: bool,
    /// Where each sandbox's control group is made; `None` where cgroups are unavailable.
    cgroups: Option<Cgroups>,
    /// CPU of one sandbox, in cores ([`Sandbox::share`]).
    cores: f64,
    /// How much a submission's kit copy may grow, and its cgroup's memory beyond its tmpfs
    /// (defaults from [`LIMITS`]; `--disk-limit`, `--memory-limit`).
    pub disk: u64,
    pub group_memory: u64,
}

/// Where a sandbox's `/kit` comes from.
pub enum KitFrom<'a> {
    /// This folder, bound writable (the shared build, compiled once).
    Folder(&'a Path),
    /// A copy, made inside on a tmpfs of the kit's size plus the disk limit: the shared build
    /// (bound read-only at `/base`), then the student's files (`/submitted`, laid out as in the
    /// kit) over it.
    Copy { base: &'a Path, submitted: &'a Path },
}

impl Sandbox {
    /// Finds bubblewrap and the toolchain, and tries a sandbox once. `Err` says in one sentence
    /// why grading cannot be sandboxed here.
    pub fn find() -> Result<Sandbox, String> {
        let bwrap = which("bwrap").ok_or(
            "bubblewrap (bwrap) is not installed (Debian and Ubuntu: apt-get install bubblewrap)",
        )?;
        // --disable-userns came with bubblewrap 0.8.0 (Debian 12, Ubuntu 24.04). An older one
        // could deny nested user namespaces with a seccomp filter on clone/unshare
        // (CLONE_NEWUSER) given by --seccomp; the kit asks for 0.8.0 instead.
        let said = Command::new(&bwrap)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let version: Vec<u32> = said
            .split_whitespace()
            .last()
            .unwrap_or("")
            .split('.')
            .map(|n| n.parse().unwrap_or(0))
            .collect();
        if version < vec![0, 8, 0] {
            return Err(format!(
                "bubblewrap 0.8.0 or later is needed (for --disable-userns); this one says \"{}\"",
                said.trim()
            ));
        }
        let sysroot = Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .ok_or("rustc is not on PATH")?;
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .filter(|p| p.is_dir())
            .ok_or("no cargo home (CARGO_HOME or ~/.cargo)")?;
        // Where the crates really are: the sandbox sees them at that path (its CARGO_HOME is the
        // folder holding registry/), so they are the ones the kit's own build compiled, however
        // the cargo home was reached (a link, another CARGO_HOME).
        let cargo_home = std::fs::canonicalize(cargo_home.join("registry"))
            .ok()
            .and_then(|r| r.parent().map(Path::to_path_buf))
            .unwrap_or(cargo_home);
        let grader = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let cgroups = match Cgroups::find() {
            Ok(c) => Some(c),
            Err(why) => {
                eprintln!(
                    "grade: warning: no control group per sandbox ({why}); only per-process limits hold, and a submission's processes compete with its neighbours'"
                );
                None
            }
        };
        let sandbox = Sandbox {
            bwrap,
            sysroot,
            cargo_home,
            grader,
            // SAFETY: geteuid has no arguments and cannot fail.
            as_root: unsafe { libc::geteuid() } == 0,
            cgroups,
            cores: cores() as f64,
            disk: LIMITS.disk,
            group_memory: LIMITS.group_memory,
        };
        let probe = std::env::temp_dir().join(format!("socklab-probe-{}", std::process::id()));
        std::fs::create_dir_all(&probe).map_err(|e| format!("{}: {e}", probe.display()))?;
        let log = probe.join("log");
        let ran = sandbox.run(
            KitFrom::Folder(&probe.join("kit")),
            &["true".to_string()],
            Duration::from_secs(20),
            &log,
        );
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&probe);
        match ran {
            Ok(r) if r.code == Some(0) => Ok(sandbox),
            Ok(_) => Err(format!(
                "bubblewrap cannot make a sandbox here (user namespaces disabled?): {}",
                said.lines().next().unwrap_or("no message")
            )),
            Err(e) => Err(e),
        }
    }

    /// How these sandboxes share the machine's cores when `students` are graded at once: each
    /// may use its part of them (and one core at least), so a submission spinning many processes
    /// takes no more than a fair part, however many it starts.
    pub fn share(&mut self, students: usize) {
        self.cores = (cores() as f64 / students.max(1) as f64).max(0.25);
    }

    /// The control groups in use, for the grader's first line.
    pub fn describe(&self) -> String {
        match &self.cgroups {
            Some(c) => format!(
                "{}: {:.1} cores, {} MiB and {} processes per submission",
                c.describe(),
                self.cores,
                self.group_memory >> 20,
                LIMITS.processes
            ),
            None => "no control groups".into(),
        }
    }

    /// Runs `argv` inside a sandbox around the kit (mounted at [`KIT`]: see [`KitFrom`]; a
    /// folder is created if missing, and given to `nobody` when run as root), for at most
    /// `limit`. Its output goes to `log` (the first MiB); the results pipe is returned.
    pub fn run(
        &self,
        kit: KitFrom,
        argv: &[String],
        limit: Duration,
        log: &Path,
    ) -> Result<Ran, String> {
        let started = Instant::now();
        let mut binds: Vec<(PathBuf, String, bool)> =
            vec![(self.grader.clone(), GRADER.into(), false)];
        // Cargo's downloaded crates only: never the whole cargo home (credentials.toml, config).
        for part in ["registry", "git"] {
            let dir = self.cargo_home.join(part);
            if dir.is_dir() {
                binds.push((dir.clone(), path_str(&dir), false));
            }
        }
        let mut argv = argv.to_vec();
        let mut kit_tmpfs = None;
        match kit {
            KitFrom::Folder(kit) => {
                std::fs::create_dir_all(kit).map_err(|e| format!("{}: {e}", kit.display()))?;
                if self.as_root {
                    chown_tree(kit, NOBODY)?;
                }
                binds.push((kit.to_path_buf(), KIT.into(), true));
            }
            KitFrom::Copy { base, submitted } => {
                binds.push((base.to_path_buf(), "/base".into(), false));
                binds.push((submitted.to_path_buf(), "/submitted".into(), false));
                // The tmpfs holds the kit and at most `disk` more; the copy is made inside, by
                // the sandbox's user, so its pages count in the sandbox's cgroup.
                kit_tmpfs = Some(tree_size(base) + self.disk);
                let mut copy = vec![
                    "/bin/sh".to_string(),
                    "-c".into(),
                    "cp -a /base/. /kit/ && cp -R /submitted/. /kit/ && exec \"$@\"".into(),
                    "sh".into(),
                ];
                copy.append(&mut argv);
                argv = copy;
            }
        }
        if !self.sysroot.starts_with("/usr") {
            binds.push((self.sysroot.clone(), path_str(&self.sysroot), false));
        }
        // As root: each source is bound below a stage folder `nobody` may enter (in the
        // bubblewrap process's own mount namespace), and bubblewrap binds it from there.
        let stage =
            std::env::temp_dir().join(format!("socklab-stage-{}-{}", std::process::id(), unique()));
        let mut staged = Vec::new();
        if self.as_root {
            std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
            for (i, (source, _, _)) in binds.iter_mut().enumerate() {
                let point = stage.join(i.to_string());
                let made = if source.is_dir() {
                    std::fs::create_dir(&point)
                } else {
                    File::create(&point).map(|_| ())
                };
                made.map_err(|e| format!("{}: {e}", point.display()))?;
                staged.push((cstring(source)?, cstring(&point)?));
                *source = point;
            }
        }

        let mut args: Vec<String> = [
            // Nothing of the grader's environment reaches the submission.
            "--clearenv",
            "--unshare-all",
            // No user namespaces inside (it needs its own, hence --unshare-user).
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
            "--ro-bind",
            "/etc",
            "/etc",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
        ]
        .map(String::from)
        .to_vec();
        // A private /tmp and /dev/shm, the only places outside /kit it may write: sized, since
        // a tmpfs is memory (bubblewrap's /dev is a tmpfs too: made read-only below).
        args.extend([
            "--size".into(),
            LIMITS.shm.to_string(),
            "--tmpfs".into(),
            "/dev/shm".into(),
        ]);
        args.extend([
            "--size".into(),
            LIMITS.tmp.to_string(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        if let Some(size) = kit_tmpfs {
            args.extend([
                "--size".into(),
                size.to_string(),
                "--tmpfs".into(),
                KIT.into(),
            ]);
        }
        // /bin, /lib, … are links into /usr on current systems, folders on older ones.
        for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let path = Path::new("/").join(top);
            if let Ok(target) = std::fs::read_link(&path) {
                args.extend(["--symlink".into(), path_str(&target), path_str(&path)]);
            } else if path.is_dir() {
                args.extend(["--ro-bind".into(), path_str(&path), path_str(&path)]);
            }
        }
        for (source, dest, writable) in &binds {
            let how = if *writable { "--bind" } else { "--ro-bind" };
            args.extend([how.into(), path_str(source), dest.clone()]);
        }
        let path = format!("{}/bin:/usr/bin:/bin", self.sysroot.display());
        let home = "/tmp";
        let cargo_home = path_str(&self.cargo_home);
        let jobs = self.cores.ceil().to_string();
        for (name, value) in [
            ("PATH", path.as_str()),
            ("HOME", home),
            ("USER", "student"),
            ("LANG", "C.UTF-8"),
            ("CARGO_HOME", cargo_home.as_str()),
            // Everything cargo needs is on this machine already; the sandbox has no network.
            ("CARGO_NET_OFFLINE", "true"),
            // No debug info and no incremental cache: a submission links in a third of the time.
            ("CARGO_PROFILE_DEV_DEBUG", "0"),
            ("CARGO_INCREMENTAL", "0"),
            ("CARGO_TERM_COLOR", "never"),
            // As many compiler processes as the sandbox has cores.
            ("CARGO_BUILD_JOBS", jobs.as_str()),
        ] {
            args.extend(["--setenv".into(), name.into(), value.into()]);
        }
        // The root bubblewrap built (a tmpfs too) becomes read-only; /kit and /tmp stay writable.
        args.extend(["--remount-ro".into(), "/".into()]);
        args.extend(["--remount-ro".into(), "/dev".into()]);
        args.extend(["--chdir".into(), KIT.into(), "--".into()]);
        args.extend(argv.iter().cloned());

        // Its control group, entered by bubblewrap's process before it starts anything.
        let group = match &self.cgroups {
            Some(cgroups) => {
                let memory = self.group_memory + kit_tmpfs.unwrap_or(0) + LIMITS.tmp + LIMITS.shm;
                let limits = GroupLimits {
                    cores: self.cores,
                    memory,
                    pids: LIMITS.processes + 64,
                };
                Some(cgroups.make(&unique().to_string(), limits)?)
            }
            None => None,
        };
        let enter_group = group.as_ref().map(|g| g.enter_paths()).unwrap_or_default();

        let (read_end, write_end) = pipe()?;
        let write_fd = write_end.as_raw_fd();
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let as_root = self.as_root;
        // SAFETY: only async-signal-safe calls (dup2, unshare, mount, setgroups, setgid,
        // setuid) on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(write_fd, RESULTS_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if !cgroup::enter(&enter_group) {
                    return Err(std::io::Error::last_os_error());
                }
                if as_root {
                    let ok = libc::unshare(libc::CLONE_NEWNS) == 0
                        && libc::mount(
                            std::ptr::null(),
                            c"/".as_ptr(),
                            std::ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            std::ptr::null(),
                        ) == 0
                        && staged.iter().all(|(from, to)| {
                            libc::mount(
                                from.as_ptr(),
                                to.as_ptr(),
                                std::ptr::null(),
                                libc::MS_BIND | libc::MS_REC,
                                std::ptr::null(),
                            ) == 0
                        })
                        && libc::setgroups(0, std::ptr::null()) == 0
                        && libc::setgid(NOBODY) == 0
                        && libc::setuid(NOBODY) == 0;
                    if !ok {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let spawned = cmd.spawn();
        drop(write_end);
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&stage);
                return Err(format!("could not start bubblewrap: {e}"));
            }
        };
        let results = thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = File::from(read_end)
                .take(MAX_RESULTS as u64)
                .read_to_end(&mut bytes);
            bytes
        });
        let out = child.stdout.take().map(keep_start);
        let err = child.stderr.take().map(keep_start);
        let mut stopped = None;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {
                    if started.elapsed() >= limit {
                        stopped = Some(format!(
                            "stopped after {} s, the time limit for a submission",
                            limit.as_secs()
                        ));
                    }
                    if stopped.is_some() {
                        // bubblewrap's death takes every process of the sandbox with it.
                        let _ = child.kill();
                        break child.wait().ok();
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                Err(_) => break None,
            }
        };
        let text = [out, err]
            .into_iter()
            .flatten()
            .map(|t| t.join().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("");
        let _ = std::fs::write(log, text);
        let results = results.join().unwrap_or_default();
        let _ = std::fs::remove_dir_all(&stage);
        if group.as_ref().is_some_and(|g| g.oom_killed()) && stopped.is_none() && results.is_empty()
        {
            stopped = Some(format!(
                "its sandbox ran out of memory ({} MiB with its files, the limit) and the kernel \
                 killed processes in it",
                (self.group_memory + kit_tmpfs.unwrap_or(0)) >> 20
            ));
        }
        drop(group);
        Ok(Ran {
            results,
            code: status.and_then(|s| s.code()),
            stopped,
        })
    }

    /// The command line that runs the grader inside on the kit copy.
    pub fn grader_argv(&self, args: &[String]) -> Vec<String> {
        let mut argv = vec![
            GRADER.to_string(),
            "grade".into(),
            "--in-sandbox".into(),
            KIT.into(),
        ];
        argv.extend(args.iter().cloned());
        argv
    }
}

/// Reads a pipe to its end in a thread, keeping the first [`MAX_LOG`] bytes as text.
fn keep_start(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MAX_LOG.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The cores this process may use.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// The bytes of the files under `dir` (links not followed), in whole pages: the room the
/// shared build takes in a tmpfs.
fn tree_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            // Whole pages, as a tmpfs holds them.
            _ => e.metadata().map_or(0, |m| m.len().div_ceil(4096) * 4096),
        })
        .sum()
}

/// Gives every file and folder under `dir` to `uid`.
fn chown_tree(dir: &Path, uid: u32) -> Result<(), String> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            chown_tree(&entry.path(), uid)?;
        } else {
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(uid))
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// `name` on PATH. Looked up here, not by the spawn: run as root, the spawn would search PATH as
/// `nobody`, who may not enter some of its folders.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn cstring(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: NUL in path", p.display()))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
