//! `socklab mutants` (`make mutants LAB=…`): grades every mutant of the solutions' blanks
//! ([`crate::mutants`]) and prints per lab the share the checks kill.

use super::{chosen_labs, failed, lab_options, parse, root};
use crate::grader::Lab;
use crate::mutants::{mutants, mutate_lab, solution_files, Kit, Tally, TARGET};
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab mutants [--lab LAB]... [--jobs N] [--list]

Grades every mutant of the code inside the blanks of the solutions (a statement deleted, a
condition negated, break and continue swapped, a ? dropped, an early return deleted, an integer
off by one) against the lab's checks (not the capture questions), and prints per lab the share
killed. Survivors listed in tests/<lab>/bugs/accepted.txt are set aside. Exits 1 when a lab
scores below 0.90.";

/// Exits 1 when a lab scores below [`TARGET`] or cannot be measured.
pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = lab_options("checks run at once for each mutant (default 4)");
    opts.optflag("", "list", "list the mutants without grading them");
    let args = parse(opts, BRIEF, args);
    let labs = chosen_labs(labs(), &args);
    let jobs: usize = args.get("jobs", 4usize).max(1);
    match measure(&labs, jobs, args.flag("list")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed("mutants", e),
    }
}

/// Lists the mutants of `labs`, or grades them: `Err` when a lab cannot be measured or scores
/// too low.
fn measure(labs: &[Lab], jobs: usize, list: bool) -> Result<(), String> {
    let root = root();
    if list {
        for lab in labs {
            for (file, text) in solution_files(&root, lab.name)? {
                for m in mutants(&file, &text)? {
                    println!("{}: {}", lab.name, m.describe());
                }
            }
        }
        return Ok(());
    }
    let kit = Kit::prepare(&root, 0)?;
    let mut results = Vec::new();
    for lab in labs {
        let tally = mutate_lab(&root, &kit, lab, jobs).map_err(|e| format!("{}: {e}", lab.name))?;
        print_tally(lab.name, &tally);
        results.push((lab.name, tally));
    }
    if results.len() > 1 {
        println!();
        for (name, tally) in &results {
            println!("{}", tally.summary(name));
        }
    }
    let low: Vec<_> = results
        .iter()
        .filter(|(_, t)| t.score() < TARGET)
        .map(|(n, _)| *n)
        .collect();
    match low.is_empty() {
        true => Ok(()),
        false => Err(format!("below {TARGET:.2}: {}", low.join(", "))),
    }
}

fn print_tally(lab: &str, tally: &Tally) {
    println!("\n{}", tally.summary(lab));
    if !tally.survivors.is_empty() {
        println!("survivors (not accepted):");
        for m in &tally.survivors {
            println!("  {}", m.describe());
        }
    }
    for note in &tally.notes {
        println!("note: {note}");
    }
    println!();
}
