//! `socklab check-labs` (`make check-labs`): labs/ must be what solutions/ generates
//! ([`crate::blanks::check`]), and the lab registry must match the files
//! ([`crate::grader::registry`]).

use super::{failed, parse, root};
use crate::blanks;
use crate::cli::Options;
use crate::grader::{registry, Lab};
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab check-labs

Checks that labs/ is what `socklab labs` writes from solutions/, and that the lab registry
(src/bin/socklab/labs.rs) matches the files. Exits 1 with one line per problem.";

pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    parse(Options::new(), BRIEF, args);
    let root = root();
    match blanks::check(&root.join("solutions"), &root.join("labs")) {
        Ok(problems) if problems.is_empty() => println!("labs/ matches solutions/"),
        Ok(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            eprintln!("run `make labs` to regenerate labs/ from solutions/");
            return ExitCode::FAILURE;
        }
        Err(e) => return failed("check-labs", e),
    }
    let problems = registry::problems(&root, &labs());
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        return failed(
            "check-labs",
            format!("{} problem(s) in the lab registry", problems.len()),
        );
    }
    println!("the lab registry matches the files");
    ExitCode::SUCCESS
}
