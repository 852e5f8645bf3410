//! `socklab bugs` (`make bugs LAB=…`): grades the corpus of student bugs in tests/<lab>/bugs/
//! ([`crate::mutants::Bug`]); each must lose points on the check it names.

use super::{chosen_labs, failed, kits_option, lab_options, parse, root};
use crate::grader::{secs, Lab};
use crate::mutants::{in_kits, read_bugs, run_lab, Verdict};
use std::process::ExitCode;
use std::time::Instant;

const BRIEF: &str = "Usage: socklab bugs [--lab LAB]... [--jobs N] [--kits N]

Applies each bug of tests/<lab>/bugs/*.bug to the solutions, grades it and passes when every bug
loses points on the check it names (or, marked `expect: survives`, passes every check).";

/// Exits 1 unless every bug of the corpus behaves as its file says.
pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = lab_options("checks run at once (default 4)");
    kits_option(&mut opts);
    let args = parse(opts, BRIEF, args);
    let labs = chosen_labs(labs(), &args);
    let jobs: usize = args.get("jobs", 4usize).max(1);
    let kits: usize = args.get("kits", 2usize);
    let root = root();
    let started = Instant::now();
    let outcomes = in_kits(&root, &labs, kits, |kit, lab| {
        let bugs = read_bugs(&root.join("tests").join(lab.name).join("bugs"))?;
        let verdicts = match bugs.is_empty() {
            true => Vec::new(),
            false => run_lab(&root, kit, lab, &bugs, jobs)?,
        };
        Ok((lab.name, verdicts))
    });
    let (mut caught, mut survive, mut wrong) = (0, 0, Vec::new());
    for outcome in outcomes {
        let (lab, verdicts) = match outcome {
            Ok(done) => done,
            Err(e) => return failed("bugs", e),
        };
        for (name, verdict) in verdicts {
            match verdict {
                Verdict::Caught => caught += 1,
                Verdict::Survives => survive += 1,
                Verdict::Wrong => wrong.push(format!("{lab}/{name}")),
            }
        }
    }
    println!(
        "\nbugs: {caught} caught by the check they name, {survive} survive as noted, {} wrong ({})",
        wrong.len(),
        secs(started.elapsed())
    );
    match wrong.is_empty() {
        true => ExitCode::SUCCESS,
        false => failed(
            "bugs",
            format!("not as their files say: {}", wrong.join(", ")),
        ),
    }
}
