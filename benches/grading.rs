//! `make bench` (no LAB): how long one student's whole submission takes to grade in the sandbox,
//! as an instructor grades a class (`make grade SUBMISSIONS=…`): the solutions, copied as a
//! student's `labs/`, graded by the debug `socklab` the Makefile runs. A first run builds the
//! sandbox's base kit (once per class); the second is timed, by the grader's own line for the
//! student. Prints it and the slowest checks (each check's seconds come from the student's
//! results JSON) and exits 1 above the target, 10 s on 2 cores. Needs root and bubblewrap.

use std::path::Path;
use std::process::{exit, Command, Stdio};

const TARGET_SECS: f64 = 10.0;

fn main() {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = kit.join("target/bench/grading");
    let class = work.join("class");
    let out = work.join("out");
    let _ = std::fs::remove_dir_all(&work);
    let copied = std::fs::create_dir_all(class.join("student")).is_ok()
        && Command::new("cp")
            .arg("-a")
            .arg(kit.join("solutions"))
            .arg(class.join("student/labs"))
            .status()
            .is_ok_and(|s| s.success());
    if !copied {
        eprintln!(
            "grading bench: cannot copy solutions/ into {}",
            work.display()
        );
        exit(1);
    }
    // The grader prints `[  1/1] student  … (12.3 s)` when the student is graded.
    let grade = || -> Option<f64> {
        let output = Command::new(env!("CARGO"))
            .current_dir(kit)
            .args([
                "run", "--quiet", "--bin", "socklab", "--", "grade", "--force",
            ])
            .arg("--submissions")
            .arg(&class)
            .arg("--out")
            .arg(&out)
            .stderr(Stdio::inherit())
            .output()
            .ok()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().find(|l| l.contains("] student "))?;
        let took = line.rsplit_once('(')?.1.strip_suffix(" s)")?;
        took.parse().ok()
    };
    println!("grading benchmark: the solutions as one sandboxed submission (second of two runs)");
    let (Some(first), Some(secs)) = (grade(), grade()) else {
        eprintln!(
            "grading bench: `socklab grade --submissions` failed (root and bubblewrap needed)"
        );
        exit(1);
    };
    let results: serde_json::Value = std::fs::read_to_string(out.join("students/student.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut checks: Vec<(f64, &str)> = results["tests"]
        .as_array()
        .map(|tests| {
            tests
                .iter()
                .map(|t| {
                    let secs = t["extra_data"]["seconds"].as_f64().unwrap_or(0.0);
                    (secs, t["name"].as_str().unwrap_or("?"))
                })
                .collect()
        })
        .unwrap_or_default();
    checks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let sum: f64 = checks.iter().map(|c| c.0).sum();
    println!(
        "first run {first:.1} s; timed run {secs:.1} s, {} checks, \
         {sum:.1} s of checks in all; slowest:",
        checks.len()
    );
    for (secs, name) in checks.iter().take(5) {
        println!("  {secs:5.2} s  {name}");
    }
    let verdict = if secs <= TARGET_SECS { "met" } else { "MISSED" };
    println!("one submission in {secs:.1} s (target <= {TARGET_SECS} s): {verdict}");
    if secs > TARGET_SECS {
        exit(1);
    }
}
