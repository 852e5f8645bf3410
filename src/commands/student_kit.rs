//! `socklab student-kit --out DIR` (`make student-kit OUT=DIR`): the students' copy of the kit
//! ([`crate::student_kit`]).

use super::{failed, parse, root};
use crate::cli::Options;
use crate::grader::Lab;
use std::path::PathBuf;
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab student-kit --out DIR

Writes the repository students receive: the kit without solutions/, the bug corpus,
the kit's own tests, benches and CI; with the students' Makefile and a GitHub
Classroom workflow.";

pub fn run(_labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = Options::new();
    opts.optopt("", "out", "the new folder to write it into", "DIR");
    let args = parse(opts, BRIEF, args);
    let Some(out) = args.opt::<PathBuf>("out") else {
        args.fail("--out DIR is needed");
    };
    match crate::student_kit::write(&root(), &out) {
        Ok(n) => {
            println!(
                "{}: the students' copy, {n} files (cd there, git init, push it as the assignment's template)",
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("student-kit", e),
    }
}
