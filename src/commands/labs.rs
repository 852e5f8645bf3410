//! `socklab labs` (`make labs`): writes labs/ from solutions/, each blank turned into its stub
//! ([`crate::blanks::generate`]), then the files the lab registry implies
//! ([`crate::lab_files`]).

use super::{parse, root};
use crate::blanks;
use crate::cli::Options;
use crate::grader::Lab;
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab labs [--force]

Writes labs/ from solutions/: each blank becomes its todo! stub. A lab file someone changed by
hand is left alone (and named) unless --force.";

pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = Options::new();
    opts.optflag(
        "",
        "force",
        "overwrite lab files even where someone changed them",
    );
    let args = parse(opts, BRIEF, args);
    let root = root();
    match blanks::generate(
        &root.join("solutions"),
        &root.join("labs"),
        args.flag("force"),
    ) {
        Ok(done) => {
            for line in &done {
                println!("{line}");
            }
            println!("labs/ is up to date ({} file(s) written)", done.len());
            // The files the registry implies: each program's src/bin file, the benches' list.
            crate::lab_files::write_main(&root, &labs());
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            ExitCode::FAILURE
        }
    }
}
