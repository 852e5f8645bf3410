//! `socklab reverts` (`make reverts LAB=…`): each blank reverted to its `todo!` in turn, the
//! rest solved; every check must fail with one of them ([`crate::mutants::revert_lab`]).

use super::{chosen_labs, failed, kits_option, lab_options, parse, root};
use crate::grader::{secs, Lab};
use crate::mutants::{in_kits, revert_lab};
use std::process::ExitCode;
use std::time::Instant;

const BRIEF: &str = "Usage: socklab reverts [--lab LAB]... [--jobs N] [--kits N] [--quick]

Reverts each blank of the solutions to its todo! in turn, the rest solved, and grades the lab's
checks (not the capture questions): every check must fail with one of its blanks reverted, or it
gives points for given code. Also names the checks that only a whole-program blank (a socket's
bind, an accept loop) makes fail. Exits 1 when a check passes with every blank reverted in turn.";

pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = lab_options("checks run at once (default 6)");
    kits_option(&mut opts);
    opts.optflag(
        "",
        "quick",
        "grade a check only until one reverted blank fails it (make test): finds the checks that \
         grade given code, without the notes on whole-program blanks",
    );
    let args = parse(opts, BRIEF, args);
    let labs = chosen_labs(labs(), &args);
    let jobs: usize = args.get("jobs", 6usize).max(1);
    let quick = args.flag("quick");
    let root = root();
    let started = Instant::now();
    let results = in_kits(&root, &labs, args.get("kits", 2usize), |kit, lab| {
        let (findings, said) = revert_lab(&root, kit, lab, jobs, quick)?;
        // One print per lab: labs reverted at once interleave whole blocks, not lines.
        print!("{said}");
        Ok((lab.name, findings))
    });
    let mut given = Vec::new();
    let mut noted = 0;
    for result in results {
        let (lab, findings) = match result {
            Ok(done) => done,
            Err(e) => return failed("reverts", e),
        };
        given.extend(findings.given.iter().map(|c| format!("{lab}: \"{c}\"")));
        noted += findings.whole_program_only.len();
    }
    println!(
        "reverts: {} check(s) grade given code, {noted} fail only without a whole-program blank ({})",
        given.len(),
        secs(started.elapsed())
    );
    match given.is_empty() {
        true => ExitCode::SUCCESS,
        false => failed(
            "reverts",
            format!(
                "checks that give points for given code: {}",
                given.join(", ")
            ),
        ),
    }
}
