//! The runner: builds each lab, runs its checks `jobs` at a time, each in its own thread with its
//! time limit, kills what a check started when it ends, and gathers the outcomes into a
//! [`Report`].

use super::{hosts, secs, transcript, Build, Check, Ctx, Hosts, Lab, Outcome, Report};
use crossbeam_channel::{bounded, unbounded};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How the failure of every check of a lab nobody has started begins.
pub const NOT_STARTED: &str = "not started: first blank at ";
const NOT_STARTED_HINT: &str =
    "start with the handout's first milestone: the grader runs this lab's checks once one of its files changes";

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
        let built = match build.not_started(lab) {
            Some(why) => Err(why),
            None => build.lab(lab).map(Arc::new),
        };
        for check in &lab.checks {
            let files = build.lab_files(lab.name);
            work.push((lab.name, check.clone(), built.clone(), files));
        }
    }
    // Checks allowed longest go first: they are the ones that wait (timeouts, retries), and
    // starting them last leaves one worker waiting alone at the end. Outcomes keep their order.
    let mut work: Vec<_> = work.into_iter().enumerate().collect();
    work.sort_by_key(|(_, (_, check, _, _))| std::cmp::Reverse(check.limit));
    let (todo_tx, todo_rx) = unbounded();
    for (i, item) in work {
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
                            let hint = if why.starts_with(NOT_STARTED) {
                                NOT_STARTED_HINT
                            } else {
                                COMPILE_HINT
                            };
                            let mut outcome = Outcome::new(&check, Err(why), Duration::ZERO);
                            outcome.hint = hint;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
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
