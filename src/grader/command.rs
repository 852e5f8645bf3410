//! The `grade` command line (what `make grade`, `make watch` and `make test` call).

use super::{fingerprint, grade, prepare_submission, Build, Lab};
use crate::cli::{self, Options};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

const BRIEF: &str = "Usage: grade [options]

Builds the lab programs, runs the autograder's checks against them and prints a score table.
Without options it grades the student versions of every lab (labs/).";

/// Runs the grader for the labs that `all_labs` lists. Exits 0 when grading ran, whatever the
/// score; 1 when it could not grade or an `--expect` did not hold; 2 on a command-line mistake.
pub fn main(all_labs: fn() -> Vec<Lab>) {
    let mut opts = Options::new();
    opts.optmulti("", "lab", "grade only this lab (repeatable)", "NAME");
    opts.optflag("", "solutions", "grade solutions/ instead of labs/");
    opts.optopt(
        "",
        "submission",
        "grade this copy of a student's labs/ folder",
        "DIR",
    );
    opts.optopt(
        "",
        "json",
        "where to write results (default target/grade/results.json)",
        "FILE",
    );
    opts.optflag(
        "",
        "watch",
        "grade again whenever a lab file changes (Ctrl-C stops)",
    );
    opts.optopt("", "jobs", "checks run at once (default 4)", "N");
    opts.optopt(
        "",
        "expect",
        "exit 1 unless every check passes (full) or none does (zero)",
        "full|zero",
    );
    opts.optflag("", "list", "list the labs and their checks, then exit");
    let args = cli::parse(opts, BRIEF);

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut labs = all_labs();
    let wanted: Vec<String> = args.matches.opt_strs("lab");
    if let Some(bad) = wanted
        .iter()
        .find(|w| !labs.iter().any(|l| l.name == w.as_str()))
    {
        let names: Vec<_> = labs.iter().map(|l| l.name).collect();
        args.fail(&format!(
            "no lab named '{bad}' (labs: {})",
            names.join(", ")
        ));
    }
    if !wanted.is_empty() {
        labs.retain(|l| wanted.iter().any(|w| w == l.name));
    }
    if args.flag("list") {
        for lab in &labs {
            println!("{}: {}", lab.name, lab.title);
            for c in &lab.checks {
                println!(
                    "  [{}] {} ({} pt, {} s)",
                    c.milestone,
                    c.name,
                    c.points,
                    c.limit.as_secs()
                );
            }
        }
        return;
    }
    let expect: Option<String> = args.opt("expect");
    if let Some(e) = expect.as_deref().filter(|e| *e != "full" && *e != "zero") {
        args.fail(&format!("--expect takes full or zero, not '{e}'"));
    }
    let jobs = args.get("jobs", 4usize);
    let json_path = args
        .opt::<PathBuf>("json")
        .unwrap_or_else(|| root.join("target/grade/results.json"));

    let solutions = args.flag("solutions");
    let (build, watched, what) = match args.opt::<PathBuf>("submission") {
        Some(dir) => {
            let scratch = root.join("target/grade/submission");
            if let Err(e) = prepare_submission(&root, &dir, &scratch) {
                eprintln!("grade: could not grade {}: {e}", dir.display());
                exit(1);
            }
            let build = Build {
                root: scratch,
                solutions: false,
                target_dir: root.join("target/submissions"),
            };
            (
                build,
                vec![dir.clone()],
                format!("submission {}", dir.display()),
            )
        }
        None if solutions => {
            let build = Build {
                root: root.clone(),
                solutions: true,
                target_dir: root.join("target/solutions"),
            };
            (
                build,
                vec![root.join("solutions")],
                "solutions/".to_string(),
            )
        }
        None => {
            // Students' `cargo run --bin …` builds into target/ too, so the two share a cache.
            let build = Build {
                root: root.clone(),
                solutions: false,
                target_dir: root.join("target"),
            };
            (
                build,
                vec![root.join("labs")],
                "labs/ (student versions)".to_string(),
            )
        }
    };
    let watched: Vec<PathBuf> = watched
        .iter()
        .flat_map(|d| labs.iter().map(move |l| d.join(l.name)))
        .collect();

    loop {
        println!("Grading {what}\n");
        let report = grade(&labs, &build, jobs);
        print!("{}", report.table());
        let written = json_path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&json_path, format!("{:#}\n", report.json())));
        match written {
            Ok(()) => println!("results: {}", json_path.display()),
            Err(e) => {
                eprintln!("grade: could not write {}: {e}", json_path.display());
                exit(1);
            }
        }
        let failed = report.outcomes.iter().filter(|(_, o)| !o.passed()).count();
        let passed = report.outcomes.len() - failed;
        // The plain closing line that CI systems and scripts read.
        println!("checks: {passed} passed, {failed} failed");
        if !args.flag("watch") {
            match expect.as_deref() {
                Some("full") if failed > 0 => {
                    eprintln!("grade: expected every check to pass; {failed} failed");
                    exit(1);
                }
                Some("zero") if passed > 0 => {
                    eprintln!("grade: expected every check to fail on the skeletons; {passed} passed (a check that passes vacuously)");
                    exit(1);
                }
                _ => return,
            }
        }
        println!("\nwatching {} for changes (Ctrl-C stops)", what);
        let before = fingerprint(&watched);
        while fingerprint(&watched) == before {
            std::thread::sleep(Duration::from_millis(500));
        }
        println!("\n--- a file changed; grading again ---\n");
    }
}
