//! `socklab gradescope --out DIR` (`make gradescope`): Gradescope's autograder zip
//! ([`crate::gradescope`]).

use super::{failed, parse, root};
use crate::cli::Options;
use crate::grader::Lab;
use std::path::PathBuf;
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab gradescope --out DIR

Writes DIR/autograder.zip for a Gradescope programming assignment: setup.sh,
run_autograder and the students' copy of the kit (no solutions/).";

pub fn run(_labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = Options::new();
    opts.optopt("", "out", "the folder to write autograder.zip into", "DIR");
    let args = parse(opts, BRIEF, args);
    let Some(out) = args.opt::<PathBuf>("out") else {
        args.fail("--out DIR is needed");
    };
    let written = std::fs::create_dir_all(&out)
        .map_err(|e| format!("{}: {e}", out.display()))
        .and_then(|()| crate::gradescope::write(&root(), &out));
    match written {
        Ok(zip) => {
            println!(
                "{}: upload it as the autograder of a Gradescope programming assignment",
                zip.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("gradescope", e),
    }
}
