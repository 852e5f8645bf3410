//! `socklab grade` (`make grade`): builds the lab programs and grades them with the checks, in
//! one of six modes: the kit's labs/ or solutions/, once or again on every change (`--watch`),
//! one student's submission with or without a sandbox (`--submission`), a whole class
//! (`--submissions`), or inside a submission's sandbox (`--in-sandbox`, the grader's own).

use super::{chosen_labs, failed, lab_options, parse, root};
use crate::cli::{Args, Options};
use crate::grader::sandbox::{self, Sandbox};
use crate::grader::{grade, hosts, prepare_submission, rust_words, Build, Grading, Lab, Report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const BRIEF: &str = "Usage: socklab grade [options]

Builds the lab programs, runs the autograder's checks against them and prints a score table.
Without options it grades the student versions of every lab (labs/).";

/// Exits 0 when grading ran, whatever the score; 1 when it could not grade or an `--expect` did
/// not hold; 2 on a command-line mistake.
pub fn run(labs: fn() -> Vec<Lab>, args: Vec<String>) -> ExitCode {
    let args = parse(options(), BRIEF, args);
    let labs = chosen_labs(labs(), &args);
    if args.flag("list") {
        return list(&labs);
    }
    let root = root();
    let output = Output::asked(&args, &root);
    // --net: the checks that can run with the student's programs on webserver and the grader's
    // peers on client1 and client2 (grader/hosts.rs); the rest run on loopback as ever.
    if args.flag("net") {
        match hosts::start() {
            Ok(line) => println!("Grading {line}"),
            Err(e) => return failed("grade", e),
        }
    }
    let jobs = args.get("jobs", 4usize);
    let compile_limit = Duration::from_secs(args.get("compile-limit", 120u64));
    match mode(&args) {
        Mode::InSandbox(kit) => inside_sandbox(&labs, kit, jobs, compile_limit),
        Mode::Kit(tree) => {
            let mut build = match tree.build(&root, &labs, compile_limit) {
                Ok(build) => build,
                Err(e) => return failed("grade", e),
            };
            // `--expect` proves what the checks do on the skeletons: they run even on untouched labs.
            build.grade_untouched = output.expect.is_some();
            in_kit(
                &root,
                &labs,
                &tree,
                build,
                jobs,
                args.flag("watch"),
                &output,
            )
        }
        Mode::Class(dir) => {
            let students = args.get("students", 1usize);
            let out = args
                .opt::<PathBuf>("out")
                .unwrap_or_else(|| root.join("target/grade"));
            let grading = submissions(&args, &root, &labs, students, jobs, compile_limit);
            match grading.and_then(|g| g.class(&dir, &out, students, args.flag("force"))) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => failed("grade", e),
            }
        }
        Mode::Submission(dir) => {
            println!("Grading submission {} in a sandbox\n", dir.display());
            let scratch = root.join("target/grade/scratch/single");
            let log = root.join("target/grade/submission.log");
            let grading = submissions(&args, &root, &labs, 1, jobs, compile_limit);
            let graded = grading.and_then(|g| {
                g.prepare()
                    .and_then(|()| g.one(&dir, &scratch, &log))
                    .map_err(|e| format!("could not grade {}: {e}", dir.display()))
            });
            match graded {
                Ok(report) => output.finish(&report),
                Err(e) => failed("grade", e),
            }
        }
    }
}

/// What `grade` was asked to grade, and how.
enum Mode {
    /// A tree without a sandbox, once or on every change.
    Kit(Tree),
    /// One submission in a sandbox (`--submission`).
    Submission(PathBuf),
    /// Every submission under a folder, each in a sandbox (`--submissions`).
    Class(PathBuf),
    /// The grader inside a submission's sandbox (`--in-sandbox`).
    InSandbox(PathBuf),
}

/// The mode the options name.
fn mode(args: &Args) -> Mode {
    let no_sandbox = args.flag("no-sandbox");
    if let Some(kit) = args.opt::<PathBuf>("in-sandbox") {
        return Mode::InSandbox(kit);
    }
    match (
        args.opt::<PathBuf>("submissions"),
        args.opt::<PathBuf>("submission"),
    ) {
        (Some(class), _) => Mode::Class(class),
        (None, Some(dir)) if no_sandbox => Mode::Kit(Tree::Submission(dir)),
        (None, Some(dir)) => Mode::Submission(dir),
        (None, None) if args.flag("solutions") => Mode::Kit(Tree::Solutions),
        (None, None) => Mode::Kit(Tree::Labs),
    }
}

/// How submissions are graded: each in a sandbox, `students` of them at once, or in none with
/// `--no-sandbox`.
fn submissions(
    args: &Args,
    root: &Path,
    labs: &[Lab],
    students: usize,
    jobs: usize,
    compile_limit: Duration,
) -> Result<Grading, String> {
    let sandbox = match args.flag("no-sandbox") {
        true => None,
        false => {
            let mut sandbox = Sandbox::find().map_err(|why| {
                format!(
                    "cannot grade in a sandbox: {why}.\nGrading without one runs the submission's \
                     code with your privileges; pass --no-sandbox to do so anyway."
                )
            })?;
            sandbox.share(students);
            sandbox.disk = args.get("disk-limit", sandbox.disk >> 20) << 20;
            sandbox.group_memory = args.get("memory-limit", sandbox.group_memory >> 20) << 20;
            eprintln!("grade: sandboxes with {}", sandbox.describe());
            Some(sandbox)
        }
    };
    Ok(Grading {
        root: root.to_path_buf(),
        labs: labs.to_vec(),
        sandbox,
        jobs,
        compile_limit,
        time_limit: Duration::from_secs(args.get("time-limit", 900u64)),
    })
}

/// The options of `socklab grade`.
fn options() -> Options {
    let mut opts = lab_options("checks run at once (default 4)");
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
    opts
}

/// `--list`: the labs and their checks.
fn list(labs: &[Lab]) -> ExitCode {
    let mut text = String::new();
    for lab in labs {
        text += &format!("{}: {}\n", lab.name, lab.title);
        for c in &lab.checks {
            let (m, n, p, s) = (c.milestone, c.name, c.points, c.limit.as_secs());
            text += &format!("  [{m}] {n} ({p} pt, {s} s)\n");
        }
    }
    // Not println!: `socklab grade --list | head` closes the pipe early, which is no error.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    ExitCode::SUCCESS
}

/// What is graded without a sandbox.
enum Tree {
    /// labs/, the student versions.
    Labs,
    /// solutions/.
    Solutions,
    /// A submission's files in a copy of the kit (`--submission DIR --no-sandbox`).
    Submission(PathBuf),
}

impl Tree {
    /// How to build it; a submission's copy of the kit is made here.
    fn build(&self, root: &Path, labs: &[Lab], compile_limit: Duration) -> Result<Build, String> {
        match self {
            Tree::Labs => Ok(Build::kit(root, false)),
            Tree::Solutions => Ok(Build::kit(root, true)),
            Tree::Submission(dir) => {
                let scratch = root.join("target/grade/submission");
                prepare_submission(root, dir, &scratch, labs)
                    .map_err(|e| format!("could not grade {}: {e}", dir.display()))?;
                Ok(Build {
                    root: scratch,
                    solutions: false,
                    target_dir: root.join("target/submissions"),
                    compile_limit: Some(compile_limit),
                    grade_untouched: false,
                })
            }
        }
    }

    /// The folder whose labs `--watch` watches.
    fn folder(&self, root: &Path) -> PathBuf {
        match self {
            Tree::Labs => root.join("labs"),
            Tree::Solutions => root.join("solutions"),
            Tree::Submission(dir) => dir.clone(),
        }
    }

    /// What the table is about.
    fn describe(&self) -> String {
        match self {
            Tree::Labs => "labs/ (student versions)".into(),
            Tree::Solutions => "solutions/".into(),
            Tree::Submission(dir) => format!("submission {} (no sandbox)", dir.display()),
        }
    }
}

/// Grades `tree` without a sandbox, once or (`--watch`) again on every change of its files.
fn in_kit(
    root: &Path,
    labs: &[Lab],
    tree: &Tree,
    build: Build,
    jobs: usize,
    watch: bool,
    output: &Output,
) -> ExitCode {
    let what = tree.describe();
    let folder = tree.folder(root);
    let watched: Vec<PathBuf> = labs.iter().map(|l| folder.join(l.name)).collect();
    loop {
        println!("Grading {what}\n");
        let report = grade(labs, &build, jobs);
        if !watch {
            return output.finish(&report);
        }
        print!("{}", report.table_with(output.verbose));
        if let Err(e) = output.write_results(&report) {
            return failed("grade", e);
        }
        println!("\nwatching {what} for changes (Ctrl-C stops)");
        let before = fingerprint(&watched);
        while fingerprint(&watched) == before {
            std::thread::sleep(Duration::from_millis(500));
        }
        println!("\n--- a file changed; grading again ---\n");
    }
}

/// Where and how a report is given: the results file, the `--expect` to hold, `--verbose`.
struct Output {
    json: PathBuf,
    expect: Option<String>,
    verbose: bool,
}

impl Output {
    /// What the options ask for (`--expect` must be one of its three words).
    fn asked(args: &Args, root: &Path) -> Output {
        let expect: Option<String> = args.opt("expect");
        if let Some(e) = expect
            .as_deref()
            .filter(|e| !["full", "zero", "skeleton"].contains(e))
        {
            args.fail(&format!("--expect takes full, zero or skeleton, not '{e}'"));
        }
        Output {
            json: args
                .opt::<PathBuf>("json")
                .unwrap_or_else(|| root.join("target/grade/results.json")),
            expect,
            verbose: args.flag("verbose"),
        }
    }

    /// Prints the table and the closing line and writes the results; exit code 1 when an
    /// `--expect` does not hold.
    fn finish(&self, report: &Report) -> ExitCode {
        print!("{}", report.table_with(self.verbose));
        if let Err(e) = self.write_results(report) {
            return failed("grade", e);
        }
        let failed_checks = report.outcomes.iter().filter(|(_, o)| !o.passed()).count();
        let passed = report.outcomes.len() - failed_checks;
        // The plain closing line that CI systems and scripts read.
        println!("checks: {passed} passed, {failed_checks} failed");
        match self.broken_expectation(report, passed, failed_checks) {
            Some(why) => failed("grade", why),
            None => ExitCode::SUCCESS,
        }
    }

    /// Why the report does not hold what `--expect` asked for, if it does not.
    fn broken_expectation(&self, report: &Report, passed: usize, failed: usize) -> Option<String> {
        let expect = self.expect.as_deref()?;
        let names = |keep: &dyn Fn(&str) -> bool| -> Vec<&str> {
            report
                .outcomes
                .iter()
                .filter(|(_, o)| o.failure.as_deref().is_some_and(keep))
                .map(|(_, o)| o.name)
                .collect()
        };
        // A reason must be words: a Debug print of a value (`Some("x")`) is a defect of the check.
        let leaks = names(&rust_words);
        if !leaks.is_empty() {
            return Some(format!(
                "the reasons of {} check(s) show Rust's spelling of a value (Some(…), None, Err(…)): {}",
                leaks.len(),
                leaks.join("; ")
            ));
        }
        match expect {
            "full" if failed > 0 => Some(format!(
                "expected every check to pass; {failed} failed"
            )),
            "zero" | "skeleton" if passed > 0 => Some(format!(
                "expected every check to fail on the skeletons; {passed} passed (a check that passes vacuously)"
            )),
            "skeleton" => {
                // An untouched copy fails for want of the student's code or capture only.
                let other =
                    names(&|why| !why.contains("fill in") && !why.contains("no capture yet"));
                (!other.is_empty()).then(|| {
                    format!(
                        "{} check(s) failed for another reason than a blank to fill in: {}",
                        other.len(),
                        other.join("; ")
                    )
                })
            }
            _ => None,
        }
    }

    /// Writes the report's results.json.
    fn write_results(&self, report: &Report) -> Result<(), String> {
        let path = &self.json;
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(path, format!("{:#}\n", report.json())))
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        println!("results: {}", path.display());
        Ok(())
    }
}

/// The grader inside a submission's sandbox: limits first, then build and grade the kit copy
/// at `kit`; the table goes to the log, the results to the pipe only this process holds.
fn inside_sandbox(labs: &[Lab], kit: PathBuf, jobs: usize, compile_limit: Duration) -> ExitCode {
    use std::io::Write;
    let mut results = match sandbox::enter() {
        Ok(pipe) => pipe,
        Err(e) => return failed("grade", e),
    };
    let build = Build {
        root: kit.clone(),
        solutions: false,
        target_dir: kit.join("target"),
        compile_limit: Some(compile_limit),
        grade_untouched: false,
    };
    let report = grade(labs, &build, jobs);
    print!("{}", report.table());
    match results.write_all(format!("{}\n", report.json()).as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed("grade", format!("could not report: {e}")),
    }
}

/// A fingerprint of the files under `dirs` (paths, sizes, modification times), for watching.
pub fn fingerprint(dirs: &[PathBuf]) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) => out.push((path, m.len(), m.modified().ok())),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}
