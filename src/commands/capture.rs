//! `socklab capture` (`make capture LAB=… [SOLUTIONS=1]`): records a lab's captures, writes the
//! solutions' answers file, and prints the hash an instructor stores for a fixed answer.

use super::{failed, parse, root};
use crate::answers::{canonical, hash, parse_value, record, solution_answers, FILE};
use crate::cli::Options;
use crate::grader::{Build, Lab};
use std::process::ExitCode;

const BRIEF: &str = "Usage: socklab capture [--lab NAME] [--solutions] [--net] [--hash KEY=ANSWER]

Runs a lab's programs under tcpdump, on loopback or with --net across netlab's hosts,
and saves the captures its questions are about, beside its answers file
(labs/<lab>/, or target/solutions/answers/<lab>/).";

/// Builds each lab asked for, records its scenario, and for the solutions writes their answers
/// file; `--hash KEY=ANSWER` prints the hash an instructor stores for a fixed answer instead.
pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "lab",
        "the lab to capture (default: every lab with questions)",
        "NAME",
    );
    opts.optflag(
        "",
        "solutions",
        "run the solutions and write their answers file",
    );
    opts.optflag(
        "",
        "net",
        "run the scenario across netlab's hosts (netlab up first)",
    );
    opts.optopt(
        "",
        "hash",
        "print the stored hash of a fixed answer of --lab",
        "KEY=ANSWER",
    );
    let args = parse(opts, BRIEF, args);
    let root = root();
    let mut all = labs();
    all.retain(|l| l.questions.is_some());
    let wanted: Vec<&Lab> = match args.opt::<String>("lab") {
        None => all.iter().collect(),
        Some(name) => match all.iter().find(|l| l.name == name) {
            Some(lab) => vec![lab],
            None => args.fail(&format!(
                "lab '{name}' has no questions on captures (labs with questions: {})",
                all.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
            )),
        },
    };
    if let Some(pair) = args.opt::<String>("hash") {
        let (key, answer) = pair
            .split_once('=')
            .unwrap_or_else(|| args.fail("--hash takes KEY=ANSWER"));
        let (lab, set) = match wanted.as_slice() {
            [one] if args.opt::<String>("lab").is_some() => {
                (one.name, one.questions.expect("kept above"))
            }
            _ => args.fail("--hash needs --lab"),
        };
        let q = set
            .questions
            .iter()
            .find(|q| q.key == key.trim())
            .unwrap_or_else(|| args.fail(&format!("{lab} has no question {key}")));
        match parse_value(q.form, answer) {
            Ok(v) => println!("{}", hash(set.salt, q.key, &canonical(q.form, &v))),
            Err(e) => args.fail(&e),
        }
        return ExitCode::SUCCESS;
    }
    let solutions = args.flag("solutions");
    let build = Build::kit(&root, solutions);
    let mut failures = 0;
    for lab in wanted {
        // Kept above: only labs with questions are left.
        let set = lab.questions.expect("a lab with questions");
        let dir = build.lab_files(lab.name);
        let done = build
            .lab(lab)
            .and_then(|bins| record(set, lab.name, bins, &dir, args.flag("net")))
            .and_then(|report| {
                if solutions {
                    let source = root.join("solutions").join(lab.name).join(FILE);
                    let text = std::fs::read_to_string(&source)
                        .map_err(|e| format!("{}: {e}", source.display()))?;
                    let filled = solution_answers(set, &text, &dir)?;
                    let out = dir.join(FILE);
                    std::fs::write(&out, filled).map_err(|e| format!("{}: {e}", out.display()))?;
                }
                Ok(report)
            });
        match done {
            Ok(report) => {
                for line in report {
                    println!("{line}");
                }
                if solutions {
                    println!(
                        "{}: the solutions' answers (capture answers read by tshark)",
                        dir.join(FILE).display()
                    );
                } else {
                    println!(
                        "Open it in Wireshark (or `cargo run --bin flow -- FILE`), answer the questions in \
                         labs/{}/{FILE}, then `make grade LAB={}`.",
                        lab.name, lab.name
                    );
                }
            }
            Err(e) => {
                failures += 1;
                failed(&format!("capture {}", lab.name), e);
            }
        }
    }
    match failures {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
