//! The `socklab` command line: one command over the lab registry, with a subcommand per job
//! (`make grade`, `make capture`, `make labs`, `make check-labs` call it).

use super::sandbox::{self, Sandbox};
use super::{fingerprint, grade, prepare_submission, registry, Build, Grading, Lab, Report};
use crate::blanks;
use crate::cli::{self, Options};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

const USAGE: &str = "Usage: socklab COMMAND [options]   (socklab COMMAND --help for its options)

Commands:
  grade        build the labs and grade them with the autograder's checks (make grade)
  capture      record a lab's programs under tcpdump for its capture questions (make capture)
  labs         write labs/ from solutions/ (make labs)
  check-labs   check that labs/ matches solutions/ and the lab registry matches the files
  mutants      grade mutants of the solutions' blanks: the share the checks catch (make mutants)
  bugs         grade the corpus of student bugs, tests/<lab>/bugs/ (make bugs)
  reverts      revert each blank in turn: every check must fail with one of them (make reverts)
  student-kit  write the students' copy of the kit into a new folder (make student-kit OUT=DIR)
  gradescope   write DIR/autograder.zip, Gradescope's autograder (make gradescope)
  new-lab      write a new one-program lab that works, to make into yours (make new-lab NAME=…)";

/// The `socklab` program: runs the subcommand named by the first argument over `labs`.
pub fn main(labs: fn() -> Vec<Lab>) {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    match command.as_deref() {
        Some("grade") => grade_main(labs, rest),
        Some("capture") => crate::answers::capture_main(labs, rest),
        Some("labs") => {
            labs_main(rest, false);
            crate::lab_files::write_main(&root(), &labs());
        }
        Some("check-labs") => {
            labs_main(rest, true);
            let problems = registry::problems(&root(), &labs());
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "check-labs: {} problem(s) in the lab registry",
                    problems.len()
                );
                exit(1);
            }
            println!("the lab registry matches the files");
        }
        Some("mutants") => crate::mutants::mutants_main(labs, rest),
        Some("bugs") => crate::mutants::bugs_main(labs, rest),
        Some("reverts") => crate::mutants::reverts_main(labs, rest),
        Some("student-kit") => student_kit_main(rest),
        Some("gradescope") => crate::gradescope::gradescope_main(rest),
        Some("new-lab") => crate::new_lab::main(rest),
        Some("-h" | "--help") => println!("{USAGE}"),
        Some(other) => {
            eprintln!("error: no command '{other}'\n\n{USAGE}");
            exit(2);
        }
        None => {
            eprintln!("error: a command is needed\n\n{USAGE}");
            exit(2);
        }
    }
}

/// The kit's folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `student-kit --out DIR`: the students' copy (src/student_kit.rs).
fn student_kit_main(args: Vec<String>) {
    let mut opts = Options::new();
    opts.optopt("", "out", "the new folder to write it into", "DIR");
    let brief = "Usage: socklab student-kit --out DIR\n\n\
                 Writes the repository students receive: the kit without solutions/, the bug corpus,\n\
                 the kit's own tests, benches and CI; with the students' Makefile and a GitHub\n\
                 Classroom workflow.";
    let args = cli::parse_args(opts, brief, args);
    let Some(out) = args.opt::<PathBuf>("out") else {
        args.fail("--out DIR is needed");
    };
    match crate::student_kit::write(&root(), &out) {
        Ok(n) => println!(
            "{}: the students' copy, {n} files (cd there, git init, push it as the assignment's template)",
            out.display()
        ),
        Err(e) => {
            eprintln!("student-kit: {e}");
            exit(1);
        }
    }
}

/// `labs` writes labs/ from solutions/; `check-labs` only reports where they differ.
fn labs_main(args: Vec<String>, check: bool) {
    let mut opts = Options::new();
    if !check {
        opts.optflag(
            "",
            "force",
            "overwrite lab files even where someone changed them",
        );
    }
    let brief = if check {
        "Usage: socklab check-labs"
    } else {
        "Usage: socklab labs [--force]"
    };
    let args = cli::parse_args(opts, brief, args);
    let root = root();
    let (solutions, labs) = (root.join("solutions"), root.join("labs"));
    if check {
        match blanks::check(&solutions, &labs) {
            Ok(problems) if problems.is_empty() => println!("labs/ matches solutions/"),
            Ok(problems) => {
                for p in problems {
                    eprintln!("{p}");
                }
                eprintln!("run `make labs` to regenerate labs/ from solutions/");
                exit(1);
            }
            Err(e) => {
                eprintln!("check-labs: {e}");
                exit(1);
            }
        }
        return;
    }
    match blanks::generate(&solutions, &labs, args.flag("force")) {
        Ok(done) => {
            for line in &done {
                println!("{line}");
            }
            println!("labs/ is up to date ({} file(s) written)", done.len());
        }
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            exit(1);
        }
    }
}

const BRIEF: &str = "Usage: socklab grade [options]

Builds the lab programs, runs the autograder's checks against them and prints a score table.
Without options it grades the student versions of every lab (labs/).";

/// Runs the grader for the labs that `all_labs` lists. Exits 0 when grading ran, whatever the
/// score; 1 when it could not grade or an `--expect` did not hold; 2 on a command-line mistake.
fn grade_main(all_labs: fn() -> Vec<Lab>, args: Vec<String>) {
    let mut opts = Options::new();
    opts.optmulti("", "lab", "grade only this lab (repeatable)", "NAME");
    opts.optflag("", "solutions", "grade solutions/ instead of labs/");
    opts.optopt(
        "",
        "submission",
        "grade one student's submission (a folder holding labs/, or being one, or a .zip), in a \
         sandbox",
        "DIR",
    );
    opts.optopt(
        "",
        "submissions",
        "grade every submission under DIR, each in a sandbox, into target/grade/gradebook.csv",
        "DIR",
    );
    opts.optopt(
        "",
        "students",
        "submissions graded at once (default 1)",
        "N",
    );
    opts.optopt(
        "",
        "out",
        "where --submissions writes gradebook.csv and students/ (default target/grade)",
        "DIR",
    );
    opts.optflag(
        "",
        "force",
        "grade again the students the gradebook lists as graded",
    );
    opts.optflag(
        "",
        "no-sandbox",
        "run submissions without a sandbox, with your privileges (Gradescope's container, or \
         your own code)",
    );
    opts.optopt(
        "",
        "compile-limit",
        "seconds one lab's compile may take in a submission (default 120)",
        "S",
    );
    opts.optopt(
        "",
        "time-limit",
        "seconds one submission may take, compile and checks (default 900)",
        "S",
    );
    opts.optopt(
        "",
        "disk-limit",
        "MiB a submission may write into its kit copy (default 2048)",
        "MIB",
    );
    opts.optopt(
        "",
        "memory-limit",
        "MiB of memory a submission's sandbox may use beyond its files (default 3072)",
        "MIB",
    );
    opts.optopt(
        "",
        "in-sandbox",
        "(the sandbox's own) grade the kit copy at DIR, results on fd 3",
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
        "exit 1 unless every check passes (full), none does (zero), or none does and each \
         waits for the student's code or capture (skeleton)",
        "full|zero|skeleton",
    );
    opts.optflag("", "list", "list the labs and their checks, then exit");
    opts.optflag(
        "",
        "verbose",
        "show each failure's whole reason and all it saw",
    );
    opts.optflag(
        "",
        "net",
        "run the checks that can across netlab's hosts (root; docs/netlab.md)",
    );
    let args = cli::parse_args(opts, BRIEF, args);

    let root = root();
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
        let mut text = String::new();
        for lab in &labs {
            text += &format!("{}: {}\n", lab.name, lab.title);
            for c in &lab.checks {
                let (m, n, p, s) = (c.milestone, c.name, c.points, c.limit.as_secs());
                text += &format!("  [{m}] {n} ({p} pt, {s} s)\n");
            }
        }
        // Not println!: `socklab grade --list | head` closes the pipe early, which is no error.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
        return;
    }
    // --net: the checks that can run with the student's programs on webserver and the grader's
    // peers on client1 and client2 (grader/hosts.rs); the rest run on loopback as ever.
    if args.flag("net") {
        match super::hosts::start() {
            Ok(line) => println!("Grading {line}"),
            Err(e) => {
                eprintln!("grade: {e}");
                exit(1);
            }
        }
    }
    let expect: Option<String> = args.opt("expect");
    if let Some(e) = expect
        .as_deref()
        .filter(|e| !["full", "zero", "skeleton"].contains(e))
    {
        args.fail(&format!("--expect takes full, zero or skeleton, not '{e}'"));
    }
    let jobs = args.get("jobs", 4usize);
    let json_path = args
        .opt::<PathBuf>("json")
        .unwrap_or_else(|| root.join("target/grade/results.json"));

    let compile_limit = Duration::from_secs(args.get("compile-limit", 120u64));
    let time_limit = Duration::from_secs(args.get("time-limit", 900u64));
    if let Some(kit) = args.opt::<PathBuf>("in-sandbox") {
        return grade_inside(&labs, kit, jobs, compile_limit);
    }
    let submission: Option<PathBuf> = args.opt("submission");
    let class: Option<PathBuf> = args.opt("submissions");
    let sandboxed = (submission.is_some() || class.is_some()) && !args.flag("no-sandbox");
    let grading = Grading {
        root: root.clone(),
        labs: labs.clone(),
        sandbox: if sandboxed {
            let mut sandbox = Sandbox::find().unwrap_or_else(|why| {
                eprintln!(
                    "grade: cannot grade in a sandbox: {why}.\nGrading without one runs the \
                     submission's code with your privileges; pass --no-sandbox to do so anyway."
                );
                exit(1)
            });
            sandbox.share(if class.is_some() {
                args.get("students", 1usize)
            } else {
                1
            });
            sandbox.disk = args.get("disk-limit", sandbox.disk >> 20) << 20;
            sandbox.group_memory = args.get("memory-limit", sandbox.group_memory >> 20) << 20;
            eprintln!("grade: sandboxes with {}", sandbox.describe());
            Some(sandbox)
        } else {
            None
        },
        jobs,
        compile_limit,
        time_limit,
    };
    if let Some(dir) = class {
        let out = args
            .opt::<PathBuf>("out")
            .unwrap_or_else(|| root.join("target/grade"));
        match grading.class(&dir, &out, args.get("students", 1usize), args.flag("force")) {
            Ok(_) => return,
            Err(e) => {
                eprintln!("grade: {e}");
                exit(1);
            }
        }
    }
    if let (Some(dir), true) = (&submission, sandboxed) {
        println!("Grading submission {} in a sandbox\n", dir.display());
        let scratch = root.join("target/grade/scratch/single");
        let log = root.join("target/grade/submission.log");
        let report = grading
            .prepare()
            .and_then(|()| grading.one(dir, &scratch, &log))
            .unwrap_or_else(|e| {
                eprintln!("grade: could not grade {}: {e}", dir.display());
                exit(1)
            });
        finish(&report, &json_path, expect.as_deref(), args.flag("verbose"));
        return;
    }
    let solutions = args.flag("solutions");
    let (mut build, watched, what) = match submission {
        Some(dir) => {
            let scratch = root.join("target/grade/submission");
            if let Err(e) = prepare_submission(&root, &dir, &scratch, &labs) {
                eprintln!("grade: could not grade {}: {e}", dir.display());
                exit(1);
            }
            let build = Build {
                root: scratch,
                solutions: false,
                target_dir: root.join("target/submissions"),
                compile_limit: Some(compile_limit),
                grade_untouched: false,
            };
            (
                build,
                vec![dir.clone()],
                format!("submission {} (no sandbox)", dir.display()),
            )
        }
        None if solutions => (
            Build::kit(&root, true),
            vec![root.join("solutions")],
            "solutions/".to_string(),
        ),
        None => (
            Build::kit(&root, false),
            vec![root.join("labs")],
            "labs/ (student versions)".to_string(),
        ),
    };
    // `--expect` proves what the checks do on the skeletons: they run even on untouched labs.
    build.grade_untouched = expect.is_some();
    let watched: Vec<PathBuf> = watched
        .iter()
        .flat_map(|d| labs.iter().map(move |l| d.join(l.name)))
        .collect();

    loop {
        println!("Grading {what}\n");
        let report = grade(&labs, &build, jobs);
        if !args.flag("watch") {
            finish(&report, &json_path, expect.as_deref(), args.flag("verbose"));
            return;
        }
        print!("{}", report.table_with(args.flag("verbose")));
        write_results(&report, &json_path);
        println!("\nwatching {} for changes (Ctrl-C stops)", what);
        let before = fingerprint(&watched);
        while fingerprint(&watched) == before {
            std::thread::sleep(Duration::from_millis(500));
        }
        println!("\n--- a file changed; grading again ---\n");
    }
}

/// Prints the table and the closing line, writes the results, and exits 1 when an `--expect`
/// does not hold.
fn finish(report: &Report, json_path: &std::path::Path, expect: Option<&str>, verbose: bool) {
    print!("{}", report.table_with(verbose));
    write_results(report, json_path);
    let failed = report.outcomes.iter().filter(|(_, o)| !o.passed()).count();
    let passed = report.outcomes.len() - failed;
    // The plain closing line that CI systems and scripts read.
    println!("checks: {passed} passed, {failed} failed");
    // A reason must be words: a Debug print of a value (`Some("x")`) is a defect of the check.
    let leaks: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|(_, o)| o.failure.as_deref().is_some_and(super::rust_words))
        .map(|(_, o)| o.name)
        .collect();
    if expect.is_some() && !leaks.is_empty() {
        eprintln!(
            "grade: the reasons of {} check(s) show Rust's spelling of a value (Some(…), None, Err(…)): {}",
            leaks.len(),
            leaks.join("; ")
        );
        exit(1);
    }
    match expect {
        Some("full") if failed > 0 => {
            eprintln!("grade: expected every check to pass; {failed} failed");
            exit(1);
        }
        Some("zero" | "skeleton") if passed > 0 => {
            eprintln!("grade: expected every check to fail on the skeletons; {passed} passed (a check that passes vacuously)");
            exit(1);
        }
        Some("skeleton") => {
            // An untouched copy fails for want of the student's code or capture only.
            let other: Vec<&str> = report
                .outcomes
                .iter()
                .filter(|(_, o)| {
                    o.failure.as_deref().is_some_and(|why| {
                        !why.contains("fill in") && !why.contains("no capture yet")
                    })
                })
                .map(|(_, o)| o.name)
                .collect();
            if !other.is_empty() {
                eprintln!(
                    "grade: {} check(s) failed for another reason than a blank to fill in: {}",
                    other.len(),
                    other.join("; ")
                );
                exit(1);
            }
        }
        _ => {}
    }
}

fn write_results(report: &Report, json_path: &std::path::Path) {
    let written = json_path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| std::fs::write(json_path, format!("{:#}\n", report.json())));
    match written {
        Ok(()) => println!("results: {}", json_path.display()),
        Err(e) => {
            eprintln!("grade: could not write {}: {e}", json_path.display());
            exit(1);
        }
    }
}

/// The grader inside a submission's sandbox: limits first, then build and grade the kit copy
/// at `kit`; the table goes to the log, the results to the pipe only this process holds.
fn grade_inside(labs: &[Lab], kit: PathBuf, jobs: usize, compile_limit: Duration) {
    use std::io::Write;
    let mut results = sandbox::enter().unwrap_or_else(|e| {
        eprintln!("grade: {e}");
        exit(1)
    });
    let build = Build {
        root: kit.clone(),
        solutions: false,
        target_dir: kit.join("target"),
        compile_limit: Some(compile_limit),
        grade_untouched: false,
    };
    let report = grade(labs, &build, jobs);
    print!("{}", report.table());
    if let Err(e) = results.write_all(format!("{}\n", report.json()).as_bytes()) {
        eprintln!("grade: could not report: {e}");
        exit(1);
    }
}
