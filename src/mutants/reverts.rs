//! Reverting blanks (`socklab reverts`, `make reverts`, part of `make test`): no check gives
//! points for given code.
//!
//! Each blank of a lab's solutions is put back to its `todo!` in turn, everything else solved,
//! and the lab's checks (not the capture questions) are graded. Every check must fail with at
//! least one blank reverted; a check that passes whatever single blank is missing grades code
//! the student is given. A blank whose reversion also breaks code that uses what it defines is
//! reverted together with the blanks after it in its file, until the file compiles.
//!
//! A check that only a program's *whole-program* blank fails (one without which none of that
//! program's checks can pass, such as binding its socket or its accept loop) passes as soon as
//! the student has written that blank: it is reported, since it most likely grades given code.
//! Only checks that start the reverted file's program are graded again (the programs each check
//! starts are recorded while the solutions are graded first), which halves the run.

use super::{graded_checks, solution_files, Kit};
use crate::blanks::{self, Marked};
use crate::grader::{grade, secs, Check, Lab};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// One blank reverted: where, and which checks failed.
struct Reverted {
    file: String,
    blank: Marked,
    failed: BTreeSet<&'static str>,
}

/// What a lab's reverts found.
pub(crate) struct Findings {
    /// Checks that passed with every blank reverted in turn.
    pub(crate) given: Vec<&'static str>,
    /// Checks that only whole-program blanks made fail, with those blanks' lines.
    pub(crate) whole_program_only: Vec<(&'static str, Vec<String>)>,
}

/// Reverts each blank of `lab` in turn: what was found, and the lines to print.
pub(crate) fn revert_lab(
    root: &std::path::Path,
    kit: &Kit,
    lab: &Lab,
    jobs: usize,
    quick: bool,
) -> Result<(Findings, String), String> {
    use std::fmt::Write as _;
    let started = Instant::now();
    let mut said = String::new();
    let files = solution_files(root, lab.name)?;
    let checks = graded_checks(lab);
    kit.restore(lab.name, &files)?;
    kit.compile(lab)
        .map_err(|e| format!("the solutions do not compile: {e}"))?;
    // The solutions first: every check passes, and each says which programs it starts.
    let baseline = grade(&[subset(lab, &checks)], &kit.build, jobs);
    let failed: Vec<String> = baseline
        .outcomes
        .iter()
        .filter_map(|(_, o)| {
            o.failure
                .as_ref()
                .map(|why| format!("\"{}\": {}", o.name, super::short(why)))
        })
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "the solutions as they are fail, so reverts cannot be measured: {}",
            failed.join("; ")
        ));
    }
    let programs: BTreeMap<&str, Vec<String>> = baseline
        .outcomes
        .iter()
        .map(|(_, o)| (o.name, o.programs.clone()))
        .collect();
    let _ = writeln!(
        said,
        "{}: {} checks pass on the solutions; reverting each blank in turn",
        lab.name,
        checks.len()
    );
    let mut reverts = Vec::new();
    // Checks some reverted blank failed already: --quick grades them no more.
    let mut proven: BTreeSet<&'static str> = BTreeSet::new();
    let mut total = 0;
    for (file, text) in &files {
        let marks = blanks::marked(text)?;
        total += marks.len();
        let stem = file.trim_end_matches(".rs");
        // A lab file that is not a program of its own (message.rs) is in all of them.
        let affected: Vec<&str> = if lab.bins.contains(&stem) {
            vec![stem]
        } else {
            lab.bins.to_vec()
        };
        let concerned: Vec<Check> = checks
            .iter()
            .filter(|c| {
                programs
                    .get(c.name)
                    .is_some_and(|p| p.iter().any(|b| affected.contains(&b.as_str())))
            })
            .cloned()
            .collect();
        for i in 0..marks.len() {
            let begun = Instant::now();
            let graded: Vec<Check> = concerned
                .iter()
                .filter(|c| !(quick && proven.contains(c.name)))
                .cloned()
                .collect();
            if graded.is_empty() {
                continue;
            }
            let mut which = vec![i];
            loop {
                kit.write(lab.name, file, &blanks::revert(text, &marks, &which))?;
                if kit.compile(lab).is_ok() {
                    break;
                }
                let next = which.len() + i;
                if next >= marks.len() {
                    return Err(format!(
                        "{file}:{}: no reverted version compiles, even with every blank after it",
                        marks[i].line
                    ));
                }
                which.push(next);
            }
            let failed: BTreeSet<&'static str> = kit
                .failures(lab, &graded, jobs)
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            proven.extend(&failed);
            let with: Vec<usize> = which[1..].iter().map(|&j| marks[j].line).collect();
            let also = if with.is_empty() {
                String::new()
            } else {
                format!(" (with the blanks at lines {with:?}, which use what it defines)")
            };
            let _ = writeln!(
                said,
                "  {file}:{} {:?}{also}: {} of {} checks fail ({})",
                marks[i].line,
                cut(&marks[i].instruction),
                failed.len(),
                graded.len(),
                secs(begun.elapsed())
            );
            reverts.push(Reverted {
                file: file.clone(),
                blank: marks[i].clone(),
                failed,
            });
        }
        kit.write(lab.name, file, text)?;
    }
    kit.restore(lab.name, &files)?;
    let mut findings = analyse(&checks, &reverts);
    if quick {
        // The failed sets are partial: whole-program blanks cannot be told.
        findings.whole_program_only.clear();
    }
    for name in &findings.given {
        println!(
            "  GIVEN \"{name}\": passes with every blank reverted in turn, so it grades given code"
        );
    }
    for (name, blanks) in &findings.whole_program_only {
        let _ = writeln!(
            said,
            "  note: \"{name}\" fails only without a whole-program blank ({}): it may grade given code",
            blanks.join(", ")
        );
    }
    let _ = writeln!(
        said,
        "{}: {} of {total} blanks reverted, {} checks; {} grade given code, {} fail only without a \
         whole-program blank; {}\n",
        lab.name,
        reverts.len(),
        checks.len(),
        findings.given.len(),
        findings.whole_program_only.len(),
        secs(started.elapsed())
    );
    Ok((findings, said))
}

/// Which checks no single blank fails, and which only whole-program blanks fail. A blank is
/// whole-program when every other blank that fails one of its checks fails only checks it
/// fails too, and one of them fails fewer.
fn analyse(checks: &[Check], reverts: &[Reverted]) -> Findings {
    let whole: Vec<bool> = reverts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let others = || reverts.iter().enumerate().filter(move |(j, _)| *j != i);
            let covers = others()
                .all(|(_, o)| o.failed.is_disjoint(&r.failed) || o.failed.is_subset(&r.failed));
            // Some other blank of the same program fails fewer of its checks; where every blank
            // fails all of them, each check needs every blank, which is no sign of given code.
            let finer = others()
                .any(|(_, o)| !o.failed.is_disjoint(&r.failed) && o.failed.len() < r.failed.len());
            covers && finer
        })
        .collect();
    let mut findings = Findings {
        given: Vec::new(),
        whole_program_only: Vec::new(),
    };
    for check in checks {
        let mine: Vec<usize> = (0..reverts.len())
            .filter(|&i| reverts[i].failed.contains(check.name))
            .collect();
        if mine.is_empty() {
            findings.given.push(check.name);
        } else if mine.iter().all(|&i| whole[i]) {
            let places = mine
                .iter()
                .map(|&i| format!("{}:{}", reverts[i].file, reverts[i].blank.line))
                .collect();
            findings.whole_program_only.push((check.name, places));
        }
    }
    findings
}

fn subset(lab: &Lab, checks: &[Check]) -> Lab {
    let mut only = Lab::new(lab.name, lab.title, lab.bins);
    only.checks = checks.to_vec();
    only
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reverted(line: usize, failed: &[&'static str]) -> Reverted {
        Reverted {
            file: "s.rs".into(),
            blank: Marked {
                span: 0..0,
                line,
                instruction: String::new(),
                stub: String::new(),
            },
            failed: failed.iter().copied().collect(),
        }
    }

    #[test]
    fn given_code_and_whole_program_blanks_are_told_apart() {
        let checks: Vec<Check> = [
            "serves",
            "echoes",
            "idles",
            "untouched",
            "connects",
            "prints",
        ]
        .into_iter()
        .map(|n| Check::new("1", n, 1, "h", |_| Ok(())))
        .collect();
        let reverts = [
            // The accept loop: every server check fails without it.
            reverted(10, &["serves", "echoes", "idles"]),
            reverted(20, &["echoes"]),
            reverted(30, &["serves", "echoes"]),
            // A client whose every blank fails its every check: nothing to say.
            reverted(40, &["connects", "prints"]),
            reverted(50, &["connects", "prints"]),
        ];
        let found = analyse(&checks, &reverts);
        assert_eq!(found.given, vec!["untouched"]);
        assert_eq!(
            found.whole_program_only,
            vec![("idles", vec!["s.rs:10".to_string()])]
        );
    }
}
