//! Measuring the checks themselves: do they fail a program that is almost right?
//!
//! The commands that run these are in `src/commands/` (`mutants.rs`, `bugs.rs`, `reverts.rs`).
//!
//! - `socklab mutants` (`make mutants`): every small change the generator (`generate.rs`) makes
//!   inside the blanks of a lab's solutions is graded as a submission; a mutant is killed when a
//!   check fails. The score per lab is killed / (compiling − accepted); survivors are listed,
//!   and those accepted in `tests/bugs/<lab>/accepted.txt` (each with its reason) are set aside.
//! - `socklab bugs` (`make bugs`, part of `make test`): the corpus of realistic student mistakes
//!   in `tests/bugs/<lab>/*.bug` (`bugs.rs`); each must lose points on the check it names.
//! - `socklab reverts` (`make reverts`, part of `make test`): each blank reverted to its `todo!`
//!   in turn, the rest solved; every check must fail with one of them (`reverts.rs`).
//!
//! All three grade in a scratch copy of the kit, `target/mutants/kit`, whose `labs/` holds the
//! solutions, built into `target/mutants/target` (seeded with the kit's compiled dependencies):
//! a mutant or a bug overwrites one file, so only that program recompiles (about a second), and
//! the file is restored afterwards.

mod bugs;
mod generate;
mod reverts;

pub use bugs::Bug;
pub(crate) use bugs::{read_bugs, run_lab, Verdict};
pub use generate::{code_mask, mutants, Mutant};
pub(crate) use reverts::revert_lab;

use crate::grader::{grade, secs, Build, Check, Lab};
use std::cmp::Reverse;
use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The share of mutants (accepted survivors set aside) a lab's checks must kill.
pub const TARGET: f64 = 0.90;

/// The kit's folder.
#[cfg(test)]
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The checks a mutant or a bug is graded with: all but the capture questions, which are about
/// a capture the student makes, not about the programs.
pub fn graded_checks(lab: &Lab) -> Vec<Check> {
    let questions = lab.questions.map(|q| q.milestone);
    lab.checks
        .iter()
        .filter(|c| Some(c.milestone) != questions)
        .cloned()
        .collect()
}

/// Runs `job` on each of `labs`, `kits` labs at once, each worker in its own scratch kit (most of
/// the time goes to waiting for checks' deadlines, not to computing, so labs share the machine
/// well). A worker stops at its first error. Results come in no particular order.
pub(crate) fn in_kits<T: Send>(
    root: &Path,
    labs: &[Lab],
    kits: usize,
    job: impl Fn(&Kit, &Lab) -> Result<T, String> + Sync,
) -> Vec<Result<T, String>> {
    let (todo_tx, todo_rx) = crossbeam_channel::unbounded();
    labs.iter()
        .for_each(|lab| todo_tx.send(lab).expect("queue is open"));
    drop(todo_tx);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..kits.clamp(1, labs.len().max(1)))
            .map(|slot| {
                let (todo_rx, job) = (todo_rx.clone(), &job);
                s.spawn(move || -> Vec<Result<T, String>> {
                    let kit = match Kit::prepare(root, slot) {
                        Ok(kit) => kit,
                        Err(e) => return vec![Err(e)],
                    };
                    let mut done = Vec::new();
                    for lab in todo_rx {
                        let result = job(&kit, lab).map_err(|e| format!("{}: {e}", lab.name));
                        let failed = result.is_err();
                        done.push(result);
                        if failed {
                            break;
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![Err("a worker panicked".into())])
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The scratch kit.

/// The scratch copy of the kit that mutants and bugs are graded in, held by one run at a time.
pub struct Kit {
    pub dir: PathBuf,
    pub build: Build,
    lock: PathBuf,
}

impl Kit {
    /// Brings `target/mutants/kit` up to date with the kit at `root`, its `labs/` holding
    /// `solutions/`. Files whose content has not changed keep their time stamps, so a second
    /// run rebuilds nothing. Fails if another run holds the scratch kit. Slots above 0 are
    /// further scratch kits (`kit-1`, …), for grading several labs at once.
    pub fn prepare(root: &Path, slot: usize) -> Result<Kit, String> {
        let base = root.join("target/mutants");
        fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let name = |what: &str| match slot {
            0 => base.join(what),
            n => base.join(format!("{what}-{n}")),
        };
        let lock = name("lock");
        take_lock(&lock)?;
        let kit = Kit {
            dir: name("kit"),
            build: Build {
                root: name("kit"),
                solutions: false,
                target_dir: name("target"),
                compile_limit: None,
            },
            lock,
        };
        crate::grader::seed_target(
            &root.join("Cargo.lock"),
            &root.join("target"),
            &kit.build.target_dir,
        )?;
        crate::grader::copy_tree(root, &kit.dir, &["labs", "solutions", "target", ".git"])?;
        crate::grader::copy_tree(
            &root.join("solutions"),
            &kit.dir.join("labs"),
            &["target", ".git"],
        )?;
        Ok(kit)
    }

    /// Writes `text` as `labs/<lab>/<file>` of the scratch kit (only if it differs).
    pub fn write(&self, lab: &str, file: &str, text: &str) -> Result<(), String> {
        write_if_changed(&self.dir.join("labs").join(lab).join(file), text.as_bytes())
    }

    /// Puts every file of `originals` back as it is in the solutions.
    pub fn restore(&self, lab: &str, originals: &[(String, String)]) -> Result<(), String> {
        originals
            .iter()
            .try_for_each(|(file, text)| self.write(lab, file, text))
    }

    /// Builds the lab's programs quietly (the grader then finds them up to date); `Err` has the
    /// compiler's first error line.
    pub fn compile(&self, lab: &Lab) -> Result<(), String> {
        let mut cmd = crate::grader::cargo();
        cmd.current_dir(&self.build.root)
            .args(["build", "--message-format", "short", "--target-dir"])
            .arg(&self.build.target_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for bin in lab.bins {
            cmd.args(["--bin", bin]);
        }
        if !self.build.target_dir.join("debug").is_dir() {
            eprintln!(
                "building the scratch kit for the first time in {}: cargo compiles every \
                 dependency once, which takes a few minutes",
                self.build.target_dir.display()
            );
        }
        let output = cmd
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let first = output
            .stderr
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains(": error") || l.starts_with("error"))
            .unwrap_or_else(|| "cargo build failed".into());
        Err(first.trim().replace("src/bin/../../", ""))
    }

    /// Grades `checks` of `lab`, `jobs` at a time: the failed ones, with their reasons.
    pub fn failures(
        &self,
        lab: &Lab,
        checks: &[Check],
        jobs: usize,
    ) -> Vec<(&'static str, String)> {
        let subset = Lab {
            name: lab.name,
            title: lab.title,
            bins: lab.bins,
            checks: checks.to_vec(),
            questions: None,
            not_graded_here: Vec::new(),
        };
        grade(&[subset], &self.build, jobs)
            .outcomes
            .into_iter()
            .filter_map(|(_, o)| o.failure.map(|why| (o.name, why)))
            .collect()
    }
}

impl Drop for Kit {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
    }
}

/// Takes the scratch kit's lock file, unless a live process holds it.
fn take_lock(lock: &Path) -> Result<(), String> {
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut file) => {
                use std::io::Write;
                return write!(file, "{}", std::process::id()).map_err(|e| e.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pid = fs::read_to_string(lock).unwrap_or_default();
                let pid = pid.trim();
                if !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(format!(
                        "another socklab mutants or bugs (pid {pid}) is using {}; wait for it to end",
                        lock.parent().unwrap_or(lock).display()
                    ));
                }
                // Left behind by a run that was stopped.
                let _ = fs::remove_file(lock);
            }
            Err(e) => return Err(format!("{}: {e}", lock.display())),
        }
    }
    Err(format!("could not take {}", lock.display()))
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).is_ok_and(|have| have == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The Rust files of `solutions/<lab>/`: (file name, text), sorted by name.
pub fn solution_files(root: &Path, lab: &str) -> Result<Vec<(String, String)>, String> {
    let dir = root.join("solutions").join(lab);
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.push((name, text));
        }
    }
    files.sort();
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// Accepted survivors.

/// One entry of `tests/bugs/<lab>/accepted.txt`: a mutant allowed to survive, and why.
#[derive(Debug, PartialEq)]
pub struct Accepted {
    pub file: String,
    pub kind: String,
    /// The mutated line as it reads in the solution, trimmed.
    pub line: String,
    pub why: String,
}

impl Accepted {
    pub fn matches(&self, m: &Mutant) -> bool {
        self.file == m.file && self.kind == m.kind && self.line == m.before
    }
}

/// How an accepted mutant's reason starts: kinds a reviewer can check again.
pub const REASONS: [&str; 4] = ["logging only", "equivalent", "needs ", "test: "];

/// Reads an accepted list: entries `FILE: KIND: LINE` each followed by an indented
/// `why: REASON` line; `#` starts a comment line. A missing file is an empty list.
pub fn read_accepted(path: &Path) -> Result<Vec<Accepted>, String> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    parse_accepted(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_accepted(text: &str) -> Result<Vec<Accepted>, String> {
    let mut entries: Vec<Accepted> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let why = line.trim().strip_prefix("why:").map(str::trim);
            match (entries.last_mut(), why) {
                (Some(entry), Some(why)) if entry.why.is_empty() && !why.is_empty() => {
                    if !REASONS.iter().any(|r| why.starts_with(r)) {
                        return Err(format!(
                            "line {at}: a reason starts with one of {REASONS:?}: one a reviewer \
                             can check again (stderr is not graded; the argument why the mutant \
                             behaves the same; what no check can provoke; the test that shows it)"
                        ));
                    }
                    entry.why = why.to_string()
                }
                _ => {
                    return Err(format!(
                        "line {at}: expected one `    why: REASON` after an entry"
                    ))
                }
            }
            continue;
        }
        if let Some(e) = entries.last().filter(|e| e.why.is_empty()) {
            return Err(format!(
                "line {at}: the entry before ({}) has no `why:` line",
                e.line
            ));
        }
        let parts = line
            .split_once(": ")
            .and_then(|(file, rest)| rest.split_once(": ").map(|(kind, l)| (file, kind, l)));
        let Some((file, kind, l)) = parts else {
            return Err(format!("line {at}: expected `FILE: KIND: LINE`"));
        };
        entries.push(Accepted {
            file: file.trim().into(),
            kind: kind.trim().into(),
            line: l.trim().into(),
            why: String::new(),
        });
    }
    match entries.last() {
        Some(e) if e.why.is_empty() => {
            Err(format!("the last entry ({}) has no `why:` line", e.line))
        }
        _ => Ok(entries),
    }
}

// ---------------------------------------------------------------------------------------------
// Mutants of a lab, graded (`socklab mutants`, src/commands/mutants.rs).

/// What became of a lab's mutants.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) generated: usize,
    pub(crate) not_compiling: usize,
    pub(crate) killed: usize,
    pub(crate) accepted: usize,
    /// Of the accepted, those whose reason is "logging only" (stderr is not graded).
    pub(crate) accepted_logging: usize,
    pub(crate) survivors: Vec<Mutant>,
    /// Accepted entries that a check killed after all, or that match no mutant any more.
    pub(crate) notes: Vec<String>,
    pub(crate) elapsed: Duration,
}

impl Tally {
    pub(crate) fn score(&self) -> f64 {
        let graded = self.killed + self.survivors.len();
        if graded == 0 {
            1.0
        } else {
            self.killed as f64 / graded as f64
        }
    }

    /// The score if nothing were accepted, and if only logging-only lines were: the figures
    /// that say how much the accepted list hides.
    fn without_list(&self) -> (f64, f64) {
        let share = |killed: usize, graded: usize| {
            if graded == 0 {
                1.0
            } else {
                killed as f64 / graded as f64
            }
        };
        let graded = self.killed + self.survivors.len();
        (
            share(self.killed, graded + self.accepted),
            share(self.killed, graded + self.accepted - self.accepted_logging),
        )
    }

    pub(crate) fn summary(&self, lab: &str) -> String {
        let graded = self.killed + self.survivors.len();
        let (bare, logging_aside) = self.without_list();
        format!(
            "{lab}: {} mutants, {} not compiling, {} killed, {} survived, {} accepted ({} logging only); \
             score {}/{} = {:.2} (target {TARGET:.2}); without the accepted list {:.2}, \
             with only its logging-only lines {:.2}; {}",
            self.generated,
            self.not_compiling,
            self.killed,
            self.survivors.len() + self.accepted,
            self.accepted,
            self.accepted_logging,
            self.killed,
            graded,
            self.score(),
            bare,
            logging_aside,
            minutes(self.elapsed)
        )
    }
}

/// The first line of a check's failure, cut at 200 characters.
fn short(why: &str) -> String {
    let line = why.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        secs(d)
    }
}

/// Grades the solutions of `lab` as they are (every check must pass), then each mutant.
pub(crate) fn mutate_lab(root: &Path, kit: &Kit, lab: &Lab, jobs: usize) -> Result<Tally, String> {
    let started = Instant::now();
    let accepted = read_accepted(&root.join("tests/bugs").join(lab.name).join("accepted.txt"))?;
    let files = solution_files(root, lab.name)?;
    let checks = graded_checks(lab);
    kit.restore(lab.name, &files)?;
    println!(
        "{}: grading the solutions as they are ({} checks; capture questions left out)",
        lab.name,
        checks.len()
    );
    kit.compile(lab)
        .map_err(|e| format!("the solutions do not compile: {e}"))?;
    let failed = kit.failures(lab, &checks, jobs);
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|(name, why)| format!("\"{name}\": {}", short(why)))
            .collect();
        return Err(format!(
            "the solutions as they are fail {} check(s), so mutants cannot be measured: {}",
            failed.len(),
            list.join("; ")
        ));
    }
    let mut all = Vec::new();
    for (file, text) in &files {
        all.extend(mutants(file, text)?);
    }
    let mut tally = Tally {
        generated: all.len(),
        ..Tally::default()
    };
    // Checks that killed many mutants go first: most mutants then die in the first batch.
    let mut kills = vec![0usize; checks.len()];
    let mut used = vec![false; accepted.len()];
    for (i, m) in all.iter().enumerate() {
        let begun = Instant::now();
        kit.write(lab.name, &m.file, &m.source)?;
        let verdict = match kit.compile(lab) {
            Err(_) => {
                tally.not_compiling += 1;
                "does not compile".to_string()
            }
            Ok(()) => {
                let entry = accepted.iter().position(|a| a.matches(m));
                if let Some(e) = entry {
                    used[e] = true;
                }
                match first_failure(kit, lab, &checks, &mut kills, jobs) {
                    Some(check) => {
                        tally.killed += 1;
                        if entry.is_some() {
                            tally.notes.push(format!(
                                "accepted, yet killed by \"{check}\": {}",
                                m.describe()
                            ));
                        }
                        "killed".to_string()
                    }
                    None if entry.is_some() => {
                        tally.accepted += 1;
                        if entry.is_some_and(|e| accepted[e].why.starts_with("logging only")) {
                            tally.accepted_logging += 1;
                        }
                        "survived (accepted)".to_string()
                    }
                    None => {
                        tally.survivors.push(m.clone());
                        "SURVIVED".to_string()
                    }
                }
            }
        };
        let original = &files
            .iter()
            .find(|(f, _)| *f == m.file)
            .expect("a solution file")
            .1;
        kit.write(lab.name, &m.file, original)?;
        println!(
            "[{}/{}] {}:{} {}: {verdict} ({})",
            i + 1,
            all.len(),
            m.file,
            m.line,
            m.kind,
            secs(begun.elapsed())
        );
    }
    for (entry, used) in accepted.iter().zip(&used) {
        if !*used {
            tally.notes.push(format!(
                "accepted.txt entry matches no mutant any more: {}: {}: {}",
                entry.file, entry.kind, entry.line
            ));
        }
    }
    tally.elapsed = started.elapsed();
    Ok(tally)
}

/// Grades `checks` in batches of `jobs`, the best killers first, until one fails: its name.
fn first_failure(
    kit: &Kit,
    lab: &Lab,
    checks: &[Check],
    kills: &mut [usize],
    jobs: usize,
) -> Option<&'static str> {
    let mut order: Vec<usize> = (0..checks.len()).collect();
    order.sort_by_key(|&i| Reverse(kills[i]));
    for batch in order.chunks(jobs) {
        let subset: Vec<Check> = batch.iter().map(|&i| checks[i].clone()).collect();
        let failed = kit.failures(lab, &subset, jobs);
        for (name, _) in &failed {
            if let Some(&i) = batch.iter().find(|&&i| checks[i].name == *name) {
                kills[i] += 1;
            }
        }
        if let Some((name, _)) = failed.first() {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_entries_need_a_reason() {
        let text = "# comment\nserver.rs: delete statement: log::warn!(\"{who}: {e}\");\n    why: logging only\n\nserver.rs: constant 50 → 51: sleep(50);\n    why: equivalent: a pause, not a protocol value\n";
        let entries = parse_accepted(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, "log::warn!(\"{who}: {e}\");");
        assert_eq!(entries[1].kind, "constant 50 → 51");
        assert_eq!(entries[1].why, "equivalent: a pause, not a protocol value");
        // A reason a reviewer cannot check again is refused.
        assert!(parse_accepted("a.rs: delete statement: x;\n    why: seems fine\n").is_err());
        assert!(parse_accepted("a.rs: delete statement: x;\n").is_err());
        assert!(
            parse_accepted("a.rs: delete statement: x;\nb.rs: drop ?: y?;\n    why: z\n").is_err()
        );
        assert!(parse_accepted("a.rs delete statement\n    why: z\n").is_err());
    }

    #[test]
    fn an_entry_matches_by_file_kind_and_line_text_not_number() {
        let src = "fn f() {\n    // BEGIN BLANK: x\n    log::info!(\"hi\");\n    // END BLANK\n}\n";
        let m = &mutants("s.rs", src).unwrap()[0];
        let entry =
            &parse_accepted("s.rs: delete statement: log::info!(\"hi\");\n    why: logging only\n")
                .unwrap()[0];
        assert!(entry.matches(m));
        let moved = mutants("s.rs", &format!("\n\n{src}")).unwrap();
        assert!(entry.matches(&moved[0]));
    }

    /// Every accepted list reads, and each of its entries is a mutant of today's solutions.
    #[test]
    fn the_accepted_lists_match_mutants_of_the_solutions() {
        let root = root();
        let labs = fs::read_dir(root.join("tests/bugs")).expect("tests/bugs/ is part of the kit");
        for lab in labs {
            let dir = lab.unwrap().path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let all: Vec<Mutant> = solution_files(&root, &name)
                .unwrap()
                .iter()
                .flat_map(|(file, text)| mutants(file, text).unwrap())
                .collect();
            for entry in read_accepted(&dir.join("accepted.txt")).unwrap() {
                assert!(
                    all.iter().any(|m| entry.matches(m)),
                    "{name}/accepted.txt: no mutant {}: {}: {}",
                    entry.file,
                    entry.kind,
                    entry.line
                );
            }
        }
    }
}
