//! Measuring the checks themselves: do they fail a program that is almost right?
//!
//! One file per job: `generate.rs` makes the mutants, `accepted.rs` reads the accepted survivors,
//! `bugs.rs` the corpus of bugs, `reverts.rs` reverts blanks, `kit.rs` holds the scratch kits
//! they are graded in, and this file grades a lab's mutants. The commands that run them are in
//! `src/commands/` (`mutants.rs`, `bugs.rs`, `reverts.rs`).
//!
//! - `socklab mutants` (`make mutants`): every small change the generator (`generate.rs`) makes
//!   inside the blanks of a lab's solutions is graded as a submission; a mutant is killed when a
//!   check fails. The score per lab is killed / (compiling − accepted); survivors are listed,
//!   and those accepted in `tests/<lab>/bugs/accepted.txt` (each with its reason) are set aside.
//! - `socklab bugs` (`make bugs`, part of `make test`): the corpus of realistic student mistakes
//!   in `tests/<lab>/bugs/*.bug` (`bugs.rs`); each must lose points on the check it names.
//! - `socklab reverts` (`make reverts`, part of `make test`): each blank reverted to its `todo!`
//!   in turn, the rest solved; every check must fail with one of them (`reverts.rs`).
//!
//! All three grade in a scratch copy of the kit, `target/mutants/kit`, whose `labs/` holds the
//! solutions, built into `target/mutants/target` (seeded with the kit's compiled dependencies):
//! a mutant or a bug overwrites one file, so only that program recompiles (about a second), and
//! the file is restored afterwards.

mod accepted;
mod bugs;
mod generate;
mod kit;
mod reverts;

pub use accepted::{parse_accepted, read_accepted, Accepted, REASONS};
pub use bugs::Bug;
pub(crate) use bugs::{read_bugs, run_lab, Verdict};
pub use generate::{code_mask, mutants, Mutant};
pub(crate) use kit::in_kits;
pub use kit::{solution_files, Kit};
pub(crate) use reverts::revert_lab;

use crate::grader::{secs, Check, Lab};
use std::cmp::Reverse;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The share of mutants (accepted survivors set aside) a lab's checks must kill.
pub const TARGET: f64 = 0.90;

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

/// Each lab's bug folder under `root`, `tests/<lab>/bugs/`, with the lab's name.
pub fn bug_folders(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = fs::read_dir(root.join("tests"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|home| (home.file_name().to_string_lossy().into_owned(), home.path()))
        .map(|(name, home)| (name, home.join("bugs")))
        .filter(|(_, bugs)| bugs.is_dir())
        .collect();
    found.sort();
    found
}

/// Grades the solutions of `lab` as they are (every check must pass), then each mutant.
pub(crate) fn mutate_lab(root: &Path, kit: &Kit, lab: &Lab, jobs: usize) -> Result<Tally, String> {
    let started = Instant::now();
    let accepted = read_accepted(&root.join("tests").join(lab.name).join("bugs/accepted.txt"))?;
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

/// The kit's folder.
#[cfg(test)]
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
