//! The autograder: builds a lab's programs, runs its black-box checks with time limits, and
//! reports a score table and a Gradescope-style `results.json`.
//!
//! A lab's checks are plain functions `fn(&Ctx) -> Result<(), String>` listed in
//! `tests/checks/`; an `Err` is the reason a student reads. The runner gives every check its own
//! thread and time limit, kills every process the check started when it ends, and scores a
//! panic, a hang or a program that does not compile as a failure with its reason.
//!
//! The harness checks are written with, one name per role:
//! - [`Ctx::spawn`] / [`Ctx::start_server`] run a lab program ([`Program`]); [`start_server`]
//!   does the same outside a check (the kit's tests, benches);
//! - [`Program::finish`], [`Program::run_to_end`] and [`Program::explain`] say how a program
//!   ended, with its panic;
//! - [`LinePeer`]: the test side of a line protocol over TCP;
//! - [`StandIn`]: a server written in the check, for testing a student's client;
//! - [`Context`]: errors that name the step that failed;
//! - [`hosts`]: grading across netlab's hosts (`grade --net`), for checks that say they can.

pub mod cgroup;
mod command;
mod context;
mod gradebook;
pub mod hosts;
mod peer;
mod program;
mod registry;
mod report;
pub mod sandbox;
pub mod seed_peer;
mod stand_in;
mod submissions;
pub mod transcript;
mod unzip;

pub use command::main;
pub use context::Context;
pub use gradebook::Row;
pub use peer::{data_segments_in, peer_closed, shown, tcp_from, Found, LinePeer};
pub use program::{memory_kib, secs, start_server, Ctx, Program};
pub use report::{rust_words, Hosts, Outcome, Report};
pub use stand_in::StandIn;
pub use submissions::Grading;

use crate::answers::QuestionSet;
use crossbeam_channel::{bounded, unbounded, RecvTimeoutError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a check waits for something that should come promptly (a line, a connection).
pub const WAIT: Duration = Duration::from_secs(3);
/// How long a check listens to make sure something does *not* come.
pub const QUIET: Duration = Duration::from_millis(300);

/// The test of a check: `Err` is the reason a student reads.
pub type Run = Arc<dyn Fn(&Ctx) -> Result<(), String> + Send + Sync>;

/// One check: a milestone, points, a hint for a failure, a time limit and the test itself.
#[derive(Clone)]
pub struct Check {
    pub milestone: &'static str,
    pub name: &'static str,
    pub points: u32,
    pub hint: &'static str,
    pub limit: Duration,
    pub run: Run,
    /// Why the check runs on loopback even when grading across netlab's hosts (`--net`);
    /// `None` when it runs across them.
    pub loopback: Option<&'static str>,
    /// Checks of the same lab this one builds on: when one of them fails too, the reason says
    /// "fails because … fails; fix that first" instead of this check's own hint.
    pub needs: &'static [&'static str],
    /// Graded only by the instructor's kit, and hidden in results.json until published: a
    /// capture question with a fixed answer ([`crate::student_kit::Answers`]).
    pub instructor_only: bool,
}

/// Why a check runs on loopback under `grade --net`, unless it says otherwise.
pub const NOT_ADAPTED: &str =
    "not adapted to netlab yet: the check picks its own 127.0.0.x addresses";

impl Check {
    /// A check with the default 10 s time limit.
    pub fn new(
        milestone: &'static str,
        name: &'static str,
        points: u32,
        hint: &'static str,
        run: impl Fn(&Ctx) -> Result<(), String> + Send + Sync + 'static,
    ) -> Check {
        Check {
            milestone,
            name,
            points,
            hint,
            limit: Duration::from_secs(10),
            run: Arc::new(run),
            loopback: Some(NOT_ADAPTED),
            needs: &[],
            instructor_only: false,
        }
    }

    /// The same check, graded only by the instructor's kit (see [`Check::instructor_only`]).
    pub fn instructor_only(mut self) -> Check {
        self.instructor_only = true;
        self
    }

    /// The same check, built on the checks named `names` (of the same lab): when this one fails
    /// and one of those failed too, the student is sent to that one first.
    pub fn needs(mut self, names: &'static [&'static str]) -> Check {
        self.needs = names;
        self
    }

    /// The same check, able to run across netlab's hosts: it takes every address from
    /// [`Ctx::ip`] and starts the student's programs with [`Ctx::spawn`] or
    /// [`Ctx::start_server`] (see [`hosts`]).
    pub fn across_hosts(mut self) -> Check {
        self.loopback = None;
        self
    }

    /// The same check, kept on loopback under `grade --net` for the reason `why`.
    pub fn loopback_only(mut self, why: &'static str) -> Check {
        self.loopback = Some(why);
        self
    }

    /// The same check with another time limit.
    pub fn limit(mut self, seconds: u64) -> Check {
        self.limit = Duration::from_secs(seconds);
        self
    }
}

/// A lab: its folder name under `labs/` and `solutions/`, its binaries, its checks and its
/// questions on captures. The list of labs in `tests/checks/mod.rs` is the kit's one registry:
/// it drives grading, captures, `make check-labs` and the command-line tests.
#[derive(Clone)]
pub struct Lab {
    pub name: &'static str,
    pub title: &'static str,
    pub bins: &'static [&'static str],
    pub checks: Vec<Check>,
    pub questions: Option<&'static QuestionSet>,
    /// Questions this copy of the kit cannot grade (the students' copy has no fixed answers):
    /// their titles, which the table names as graded by the instructor.
    pub not_graded_here: Vec<&'static str>,
}

impl Lab {
    /// A lab with no checks yet.
    pub fn new(name: &'static str, title: &'static str, bins: &'static [&'static str]) -> Lab {
        Lab {
            name,
            title,
            bins,
            checks: Vec::new(),
            questions: None,
            not_graded_here: Vec::new(),
        }
    }

    /// Adds checks, after those already there (the table keeps this order).
    pub fn checks(mut self, checks: Vec<Check>) -> Lab {
        self.checks.extend(checks);
        self
    }

    /// The lab's questions on captures: one check per question, added here in the order.
    pub fn questions(mut self, set: &'static QuestionSet) -> Lab {
        self.checks.extend(crate::answers::checks(set, self.name));
        self.not_graded_here = crate::answers::not_graded_here(set);
        self.questions = Some(set);
        self
    }
}

/// A `cargo` command for building labs from inside the kit's own programs (see
/// [`without_cargo_run_vars`]).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    without_cargo_run_vars(&mut cmd);
    cmd
}

/// Takes out of `cmd`'s environment what `cargo run` and `cargo test` tell the program they
/// run about itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_…`). A cargo started below with them sees
/// them as changed since the last build and rebuilds the dependencies whose build scripts watch
/// them (ring: a minute each time).
pub fn without_cargo_run_vars(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_us = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
            || name == "CARGO_PRIMARY_PACKAGE";
        if about_us {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// Where and how to build: the kit's root, which version (labs or solutions), which target dir,
/// and how long one lab's compile may take (a const or macro that never ends stops there).
pub struct Build {
    pub root: PathBuf,
    pub solutions: bool,
    pub target_dir: PathBuf,
    pub compile_limit: Option<Duration>,
}

impl Build {
    /// The kit's own build at `root`: labs/ (or solutions/ with the `solutions` feature), into
    /// `root/target`, the cache students' `cargo run` uses too. Cargo keeps both variants of each
    /// program side by side and relinks the one asked for, so nothing is compiled twice.
    pub fn kit(root: &Path, solutions: bool) -> Build {
        Build {
            root: root.to_path_buf(),
            solutions,
            target_dir: root.join("target"),
            compile_limit: None,
        }
    }

    /// Builds the lab's binaries; `Err` carries the compiler's first error line. Cargo's
    /// `Compiling …` lines are passed on to stderr as they come: a first build compiles every
    /// dependency, which takes a minute or two, and nobody should face a silent terminal.
    pub fn lab(&self, lab: &Lab) -> Result<BTreeMap<String, PathBuf>, String> {
        let mut cmd = cargo();
        cmd.current_dir(&self.root)
            .args(["build", "--message-format", "short", "--target-dir"])
            .arg(&self.target_dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if self.solutions {
            cmd.args(["--features", "solutions"]);
        }
        for bin in lab.bins {
            cmd.args(["--bin", bin]);
        }
        if !self.target_dir.join("debug").is_dir() {
            eprintln!(
                "building {} for the first time in {}: cargo compiles every dependency once, \
                 which takes a minute or two",
                lab.name,
                self.target_dir.display()
            );
        }
        if self.compile_limit.is_some() {
            // Its own process group: cargo and the rustc processes it starts stop together.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let (compiling, done) = bounded::<()>(0);
        let watchdog = self.compile_limit.map(|limit| {
            let group = child.id() as i32;
            thread::spawn(move || {
                let late = done.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
                if late {
                    // SAFETY: kill with a process group id and a signal number only.
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                }
                late
            })
        });
        let mut first_error = None;
        // Piped just above.
        let stderr = child.stderr.take().expect("stderr is piped");
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling ") {
                eprintln!("{line}");
            }
            if first_error.is_none() && (line.contains(": error") || line.starts_with("error")) {
                first_error = Some(line.trim().replace("src/bin/../../", ""));
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        drop(compiling);
        if watchdog.is_some_and(|w| w.join().unwrap_or(false)) {
            let limit = self.compile_limit.unwrap_or_default().as_secs();
            return Err(format!(
                "{} does not compile: the compile took longer than {limit} s, the limit (a const \
                 or a macro that never ends?)",
                lab.name
            ));
        }
        if !status.success() {
            let first = first_error.unwrap_or_else(|| "cargo build failed".into());
            return Err(format!("{} does not compile: {first}", lab.name));
        }
        Ok(lab
            .bins
            .iter()
            .map(|b| (b.to_string(), self.target_dir.join("debug").join(b)))
            .collect())
    }

    /// Where the lab's answers file and captures are: `labs/<lab>/` of the tree being graded;
    /// for the solutions, `target/solutions/answers/<lab>/`, which `make capture SOLUTIONS=1` fills.
    pub fn lab_files(&self, lab: &str) -> PathBuf {
        if self.solutions {
            self.root.join("target/solutions/answers").join(lab)
        } else {
            self.root.join("labs").join(lab)
        }
    }
}

const COMPILE_HINT: &str =
    "fix the compile error first: `cargo build --bin NAME` lists them all, the first one matters most";

/// Runs one check in its own thread; a timeout or a panic becomes a failure with a reason.
fn run_one(
    check: &Check,
    bins: Arc<BTreeMap<String, PathBuf>>,
    scratch: PathBuf,
    files: PathBuf,
) -> Outcome {
    let started = Instant::now();
    let net = hosts::subnet().filter(|_| check.loopback.is_none());
    let ctx = Ctx::new(bins, scratch.clone(), files).across(net);
    let kill = ctx.killer();
    let started_programs = ctx.started();
    let (tx, rx) = bounded(1);
    let run = Arc::clone(&check.run);
    let transcript = transcript::Transcript::default();
    let seen = transcript.clone();
    thread::spawn(move || {
        seen.enter();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if net.is_some() {
                hosts::enter(hosts::GRADER)?;
            }
            run(&ctx)
        }));
        let _ = tx.send(result);
    });
    let result = match rx.recv_timeout(check.limit) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!(
                "the check itself crashed (please report this): {msg}"
            ))
        }
        Err(_) => Err(format!(
            "timed out after {} (the check's time limit)",
            secs(check.limit)
        )),
    };
    kill();
    let _ = std::fs::remove_dir_all(&scratch);
    // The exchange behind a failure, on the lines after its reason.
    let result = result.map_err(|why| match transcript.shown() {
        steps if steps.is_empty() => why,
        steps => format!("{why}\n{steps}"),
    });
    let mut outcome = Outcome::new(check, result, started.elapsed());
    outcome.programs = started_programs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect();
    if hosts::subnet().is_some() {
        outcome.hosts = Some(match check.loopback {
            None => Hosts::Across,
            Some(why) => Hosts::Loopback(why),
        });
    }
    outcome
}

/// Grades `labs`: builds each, then runs all checks, `jobs` at a time. Outcomes keep the
/// order of the checks.
pub fn grade(labs: &[Lab], build: &Build, jobs: usize) -> Report {
    let started = Instant::now();
    let scratch_root = build.target_dir.join("grade-scratch");
    let mut work = Vec::new();
    for lab in labs {
        let built = build.lab(lab).map(Arc::new);
        for check in &lab.checks {
            let files = build.lab_files(lab.name);
            work.push((lab.name, check.clone(), built.clone(), files));
        }
    }
    let (todo_tx, todo_rx) = unbounded();
    for (i, item) in work.into_iter().enumerate() {
        // The receiver is alive until the workers below finish.
        todo_tx.send((i, item)).expect("queue is open");
    }
    drop(todo_tx);
    let (done_tx, done_rx) = unbounded();
    let workers: Vec<_> = (0..jobs.max(1))
        .map(|_| {
            let (todo_rx, done_tx, scratch_root) =
                (todo_rx.clone(), done_tx.clone(), scratch_root.clone());
            thread::spawn(move || {
                for (i, (lab, check, built, files)) in todo_rx {
                    let outcome = match built {
                        Ok(bins) => {
                            let scratch = scratch_root.join(format!("check-{i}"));
                            run_one(&check, bins, scratch, files)
                        }
                        Err(why) => {
                            let mut outcome = Outcome::new(&check, Err(why), Duration::ZERO);
                            outcome.hint = COMPILE_HINT;
                            outcome
                        }
                    };
                    let _ = done_tx.send((i, lab, outcome));
                }
            })
        })
        .collect();
    drop(done_tx);
    let mut results: Vec<(usize, &'static str, Outcome)> = done_rx.iter().collect();
    for w in workers {
        let _ = w.join();
    }
    results.sort_by_key(|(i, _, _)| *i);
    blame_prerequisites(labs, &mut results);
    let titles = labs.iter().map(|l| (l.name, l.title)).collect();
    let mut report = Report::new(
        titles,
        results.into_iter().map(|(_, lab, o)| (lab, o)).collect(),
        started.elapsed(),
    );
    for lab in labs.iter().filter(|l| !l.not_graded_here.is_empty()) {
        report.notes.push((
            lab.name,
            format!(
                "graded by your instructor, not here: {} (fixed answers are not in your copy)",
                lab.not_graded_here.join("; ")
            ),
        ));
    }
    report
}

/// A failed check whose prerequisite ([`Check::needs`]) failed too is reported as failing
/// because of it: its own reason stays behind, and the hint points at the prerequisite.
fn blame_prerequisites(labs: &[Lab], results: &mut [(usize, &'static str, Outcome)]) {
    let failed: std::collections::HashSet<(&str, &str)> = results
        .iter()
        .filter(|(_, _, o)| !o.passed())
        .map(|(_, lab, o)| (*lab, o.name))
        .collect();
    for (_, lab, outcome) in results.iter_mut() {
        let Some(why) = outcome.failure.as_mut() else {
            continue;
        };
        let needs = labs
            .iter()
            .filter(|l| l.name == *lab)
            .flat_map(|l| &l.checks)
            .find(|c| c.name == outcome.name)
            .map_or(&[][..], |c| c.needs);
        if let Some(first) = needs.iter().find(|n| failed.contains(&(*lab, **n))) {
            *why = format!("fails because \"{first}\" fails; fix that first (here: {why})");
            outcome.hint = "the check it builds on fails too: its reason and hint come first";
        }
    }
}

/// Copies the kit at `root` to `scratch` with `labs/` taken from the skeletons and overwritten
/// by the lab files found in `submission` ([`submissions::locate`]): an unsandboxed
/// `socklab grade --submission DIR --no-sandbox` grades there.
pub fn prepare_submission(
    root: &Path,
    submission: &Path,
    scratch: &Path,
    labs: &[Lab],
) -> Result<(), String> {
    if !submission.is_dir() {
        return Err(format!("{} is not a folder", submission.display()));
    }
    let files = submissions::locate(submission, labs, &root.join("labs"))?;
    // The compiled dependencies of the kit's own build, so that only the kit compiles here.
    seed_target(
        &root.join("Cargo.lock"),
        &root.join("target"),
        &root.join("target/submissions"),
    )?;
    // Only labs/ is emptied: the rest keeps its time stamps, so cargo finds the kit fresh.
    let _ = std::fs::remove_dir_all(scratch.join("labs"));
    copy_tree(root, scratch, &["solutions", "target", ".git"])?;
    for (from, to) in files {
        std::fs::copy(&from, scratch.join(to)).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    Ok(())
}

/// Copies the files below `from` to `to`, skipping the names in `skip` at the top. A file whose
/// content is already there is left alone, so its modification time (and cargo's build) stays.
pub(crate) fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(to).map_err(|e| err(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| err(from, e))? {
        let entry = entry.map_err(|e| err(from, e))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().map_err(|e| err(&src, e))?;
        if kind.is_dir() {
            copy_tree(&src, &dst, &[])?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&src).map_err(|e| err(&src, e))?;
            if std::fs::read(&dst).is_ok_and(|have| have == bytes) {
                continue;
            }
            std::fs::write(&dst, bytes).map_err(|e| err(&dst, e))?;
        }
    }
    Ok(())
}

/// Gives the empty cargo target dir `to` the compiled third-party crates of the target dir
/// `from` (the crates `Cargo.lock` lists, never the kit's own), time stamps kept, so that a
/// scratch copy of the kit compiles only its own crate: seconds instead of minutes. Both must use
/// the same profile. Does nothing when `to` has a build already or `from` has none.
pub fn seed_target(lock_file: &Path, from: &Path, to: &Path) -> Result<(), String> {
    let (from, to) = (from.join("debug"), to.join("debug"));
    if to.exists() || !from.join("deps").is_dir() {
        return Ok(());
    }
    let lock =
        std::fs::read_to_string(lock_file).map_err(|e| format!("{}: {e}", lock_file.display()))?;
    let crates: std::collections::HashSet<String> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').replace('-', "_"))
        .filter(|n| n != env!("CARGO_PKG_NAME"))
        .collect();
    // deps/lib<crate>-<hash>.rlib, deps/<crate>-<hash>.d, build/<package>-<hash>/, …
    let third_party = |file: &str| {
        let stem = file.split('.').next().unwrap_or(file);
        let name = stem
            .rsplit_once('-')
            .map_or(stem, |(n, _)| n)
            .replace('-', "_");
        crates.contains(&name) || name.strip_prefix("lib").is_some_and(|n| crates.contains(n))
    };
    for sub in ["deps", "build", ".fingerprint"] {
        let (src, dst) = (from.join(sub), to.join(sub));
        std::fs::create_dir_all(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        let Ok(entries) = std::fs::read_dir(&src) else {
            continue;
        };
        let chosen: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| third_party(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let status = Command::new("cp")
            .arg("-a")
            .args(&chosen)
            .arg(&dst)
            .status()
            .map_err(|e| format!("could not run cp: {e}"))?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&to);
            return Err(format!(
                "copying {} to {} failed",
                src.display(),
                dst.display()
            ));
        }
    }
    Ok(())
}

/// A fingerprint of the files under `dirs` (paths, sizes, modification times), for watching.
pub fn fingerprint(dirs: &[PathBuf]) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) => out.push((path, m.len(), m.modified().ok())),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn bins() -> Arc<BTreeMap<String, PathBuf>> {
        let bins = [("sleep", "sleep"), ("yes", "yes")];
        Arc::new(
            bins.iter()
                .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
                .collect(),
        )
    }

    fn check(run: fn(&Ctx) -> Result<(), String>) -> Check {
        let mut c = Check::new("m", "n", 1, "h", run);
        c.limit = Duration::from_millis(500);
        c
    }

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("socklab-grader-test-{}", std::process::id()))
    }

    #[test]
    fn a_hung_check_fails_within_its_limit_and_its_children_are_killed() {
        static PID: AtomicU32 = AtomicU32::new(0);
        let started = Instant::now();
        let outcome = run_one(
            &check(|ctx| {
                let p = ctx.spawn("sleep", &["30"])?;
                PID.store(p.pid(), Ordering::SeqCst);
                let _ = p.line(Duration::from_secs(30));
                Ok(())
            }),
            bins(),
            scratch(),
            scratch(),
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        let why = outcome.failure.expect("a hang is a failure");
        assert!(why.contains("timed out after 0.5 s"), "{why}");
        let pid = PID.load(Ordering::SeqCst);
        assert!(
            pid > 0 && !Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} still alive"
        );
    }

    #[test]
    fn a_program_printing_without_end_is_held_back_and_killed() {
        static PID: AtomicU32 = AtomicU32::new(0);
        let outcome = run_one(
            &check(|ctx| {
                let p = ctx.spawn("yes", &[])?;
                PID.store(p.pid(), Ordering::SeqCst);
                p.line(Duration::from_secs(1))?;
                thread::sleep(Duration::from_millis(200));
                Ok(())
            }),
            bins(),
            scratch(),
            scratch(),
        );
        assert!(outcome.passed(), "{:?}", outcome.failure);
        let pid = PID.load(Ordering::SeqCst);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "yes ({pid}) still alive"
        );
    }

    #[test]
    fn a_panicking_check_fails_with_its_message() {
        let outcome = run_one(&check(|_| panic!("boom")), bins(), scratch(), scratch());
        assert!(outcome
            .failure
            .expect("a panic is a failure")
            .contains("boom"));
        assert_eq!(outcome.points, 0);
    }

    #[test]
    fn a_program_that_exits_is_reported_with_its_exit_code() {
        let outcome = run_one(
            &check(|ctx| {
                ctx.spawn("sleep", &["0"])?
                    .line(Duration::from_secs(2))
                    .map(|_| ())
            }),
            bins(),
            scratch(),
            scratch(),
        );
        let why = outcome.failure.expect("no output is a failure");
        assert!(why.contains("sleep 0 exited with code 0"), "{why}");
    }

    #[test]
    fn a_passing_check_scores_its_points() {
        let outcome = run_one(&check(|_| Ok(())), bins(), scratch(), scratch());
        assert!(outcome.passed());
        assert_eq!(outcome.points, 1);
    }
}
