//! The `socklab` command line: one file per subcommand, and this dispatcher.
//!
//! Every subcommand has the same shape: `pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>)
//! -> ExitCode`, with `labs` the lab registry (`src/bin/socklab/labs.rs`) and `args` what follows
//! the subcommand's name. It declares its options on getopts and parses them with `parse`:
//! `-h` prints its usage and exits 0; a mistake (an unknown option, a value that does not parse,
//! a word where none is taken) prints one `error:` line and the usage on stderr and exits 2. A
//! run that could not do its job says why in one line `COMMAND: why` (`failed`) and exits 1.

mod bugs;
mod capture;
mod check_labs;
mod grade;
mod gradescope;
mod labs;
mod mutants;
mod reverts;
mod student_kit;

use crate::cli::{self, Args, Options};
use crate::grader::Lab;
use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

/// A subcommand: the lab registry and its arguments in, the exit code out.
type Run = fn(fn() -> Vec<Lab>, Vec<String>) -> ExitCode;

/// The subcommands, in the order `socklab --help` lists them: name, what it does, and the code.
const COMMANDS: &[(&str, &str, Run)] = &[
    (
        "grade",
        "build the labs and grade them with the autograder's checks (make grade)",
        grade::run,
    ),
    (
        "capture",
        "record a lab's programs under tcpdump for its capture questions (make capture)",
        capture::run,
    ),
    ("labs", "write labs/ from solutions/ (make labs)", labs::run),
    (
        "check-labs",
        "check that labs/ matches solutions/ and the lab registry matches the files",
        check_labs::run,
    ),
    (
        "mutants",
        "grade mutants of the solutions' blanks: the share the checks catch (make mutants)",
        mutants::run,
    ),
    (
        "bugs",
        "grade the corpus of student bugs, tests/<lab>/bugs/ (make bugs)",
        bugs::run,
    ),
    (
        "reverts",
        "revert each blank in turn: every check must fail with one of them (make reverts)",
        reverts::run,
    ),
    (
        "student-kit",
        "write the students' copy of the kit into a new folder (make student-kit OUT=DIR)",
        student_kit::run,
    ),
    (
        "gradescope",
        "write DIR/autograder.zip, Gradescope's autograder (make gradescope)",
        gradescope::run,
    ),
    (
        "new-lab",
        "write a new one-program lab that works, to make into yours (make new-lab NAME=…)",
        new_lab,
    ),
];

/// `socklab new-lab` ([`crate::new_lab`], which exits itself on a mistake or a failure).
fn new_lab(_labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    crate::new_lab::main(args);
    ExitCode::SUCCESS
}

/// The usage of `socklab` itself, its subcommands listed from [`COMMANDS`].
fn usage() -> String {
    let mut text =
        String::from("Usage: socklab COMMAND [options]   (socklab COMMAND --help for its options)\n\nCommands:\n");
    for (name, what, _) in COMMANDS {
        text += &format!("  {name:<12} {what}\n");
    }
    text
}

/// The `socklab` program: runs the subcommand named by the first argument over `labs`.
pub fn main(labs: fn() -> Vec<Lab>) -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let mistake = |what: String| {
        eprintln!("error: {what}\n\n{}", usage());
        ExitCode::from(2)
    };
    match command.as_deref() {
        Some("-h" | "--help") => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Some(name) => match COMMANDS.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, run)) => run(labs, rest),
            None => mistake(format!("no command '{name}'")),
        },
        None => mistake("a command is needed".into()),
    }
}

/// Parses a subcommand's `args` against `opts` ([`cli::parse_args`]: `-h` exits 0, a mistake
/// exits 2); a subcommand takes options only, so a stray word is a mistake too.
fn parse(opts: Options, brief: &str, args: Vec<String>) -> Args {
    let args = cli::parse_args(opts, brief, args);
    if let Some(word) = args.free().first() {
        args.fail(&format!("'{word}' is no option (options start with --)"));
    }
    args
}

/// The options of a command over the labs: `--lab NAME` (repeatable) and `--jobs N`, the checks
/// run at once (`jobs` says so, with its default).
fn lab_options(jobs: &str) -> Options {
    let mut opts = Options::new();
    opts.optmulti(
        "",
        "lab",
        "only this lab (repeatable; default: every lab)",
        "NAME",
    );
    opts.optopt("", "jobs", jobs, "N");
    opts
}

/// `--kits N` for a command that grades labs side by side, each in its own scratch kit.
fn kits_option(opts: &mut Options) {
    opts.optopt(
        "",
        "kits",
        "labs graded at once, each in its own scratch kit (default 2)",
        "N",
    );
}

/// The labs named with `--lab` (all when none is); a name the registry does not know is a
/// command-line mistake.
fn chosen_labs(all: Vec<Lab>, args: &Args) -> Vec<Lab> {
    let wanted = args.matches.opt_strs("lab");
    if let Some(bad) = wanted
        .iter()
        .find(|w| !all.iter().any(|l| l.name == w.as_str()))
    {
        let names: Vec<_> = all.iter().map(|l| l.name).collect();
        args.fail(&format!(
            "no lab named '{bad}' (labs: {})",
            names.join(", ")
        ));
    }
    all.into_iter()
        .filter(|l| wanted.is_empty() || wanted.iter().any(|w| w == l.name))
        .collect()
}

/// Says why `command` could not do its job, on one line of stderr: exit code 1.
fn failed(command: &str, why: impl Display) -> ExitCode {
    eprintln!("{command}: {why}");
    ExitCode::FAILURE
}

/// The kit's folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
