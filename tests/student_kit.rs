//! The students' copy (`make student-kit`): it holds no line that students must write, it builds,
//! its own `make test` passes (every check fails, each for want of the student's code or
//! capture), and the GitHub Classroom workflow parses and its command works there: it grades and
//! turns results.json into the reporter's payload. Needs `git`, `make` and `python3` with
//! PyYAML (.ci/run installs them).

use socklab::grader::without_cargo_run_vars;
use socklab::student_kit;
use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    // Without cargo test's variables, the copy's cargo reuses the dependencies copied in.
    let out = without_cargo_run_vars(&mut Command::new(program))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {}: {text}", args.join(" "));
    text
}

#[test]
fn the_students_copy_hides_the_answers_builds_and_grades() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::env::temp_dir().join(format!("socklab-student-kit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let kit = env!("CARGO_BIN_EXE_socklab");
    run(root, kit, &["student-kit", "--out", copy.to_str().unwrap()]);

    // No line a student must write is anywhere in it.
    let secret = student_kit::secret_lines(root).unwrap();
    assert!(
        secret.len() > 100,
        "only {} secret lines found",
        secret.len()
    );
    let mut all = Vec::new();
    files(&copy, &mut all);
    let mut leaks = Vec::new();
    for file in &all {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        for line in secret.iter().filter(|s| text.contains(s.as_str())) {
            leaks.push(format!(
                "{}: {line}",
                file.strip_prefix(&copy).unwrap().display()
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "solution lines in the copy:\n{}",
        leaks.join("\n")
    );
    // Nor a fixed answer's hash: a yes/no or a small number is found from it in seconds.
    let hashes: Vec<String> = all
        .iter()
        .filter(|f| f.starts_with(copy.join("tests")))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text != student_kit::without_hashes(&text)
        })
        .map(|f| f.strip_prefix(&copy).unwrap().display().to_string())
        .collect();
    assert!(
        hashes.is_empty(),
        "fixed answers' hashes in the copy: {hashes:?}"
    );
    for gone in [
        "solutions",
        "tests/chat/bugs",
        "tests/chat/main.rs",
        "tests/http/bench.rs",
        "tests/chat/seed.py",
        "benches",
        ".ci",
    ] {
        assert!(!copy.join(gone).exists(), "{gone} is in the copy");
    }

    // The workflow parses, and names the step the reporter reads.
    let workflow = copy.join(".github/workflows/classroom.yml");
    let parsed = run(
        &copy,
        "python3",
        &[
            "-c",
            "import sys, yaml\n\
             w = yaml.safe_load(open(sys.argv[1]))\n\
             steps = w['jobs']['grade']['steps']\n\
             ids = [s.get('id') for s in steps]\n\
             rep = [s for s in steps if 'grading-reporter' in s.get('uses', '')][0]\n\
             print(ids, rep['with']['runners'])",
            workflow.to_str().unwrap(),
        ],
    );
    assert!(
        parsed.contains("'autograder'") && parsed.trim().ends_with("autograder"),
        "{parsed}"
    );

    // It builds: the kit's compiled dependencies are copied in first (only the kit's own crate
    // is compiled again), then its own `make test` grades the untouched labs.
    socklab::grader::seed_target(
        &root.join("Cargo.lock"),
        &root.join("target"),
        &copy.join("target"),
    )
    .unwrap();
    // One lab is enough to prove the mechanism (the kit's own `make test` grades all skeletons).
    run(&copy, "git", &["init", "-q"]);
    run(&copy, "git", &["add", "-A"]);
    let who = [
        "-c",
        "user.name=socklab",
        "-c",
        "user.email=socklab@example.invalid",
    ];
    run(
        &copy,
        "git",
        &[&who[..], &["commit", "-qm", "the copy"]].concat(),
    );
    let tested = run(&copy, "make", &["test", "LAB=udp-time"]);
    // Building changed no file the students' repository tracks (Cargo.lock included).
    let changed = run(
        &copy,
        "git",
        &["status", "--porcelain", "--untracked-files=no"],
    );
    assert!(
        changed.trim().is_empty(),
        "the first build changed: {changed}"
    );
    assert!(tested.contains("checks: 0 passed"), "{tested}");
    assert!(
        tested.contains("graded by your instructor, not here: "),
        "the fixed questions should be named as graded elsewhere: {tested}"
    );

    // The workflow's command: grade, then turn results.json into the reporter's payload.
    let yml = std::fs::read_to_string(&workflow).unwrap();
    let script: String = yml
        .split("<<'PY' >> \"$GITHUB_OUTPUT\"\n")
        .nth(1)
        .and_then(|rest| rest.split("\n          PY\n").next())
        .expect("the workflow's payload script")
        .lines()
        .map(|l| l.strip_prefix("          ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    run(
        &copy,
        "make",
        &["grade", "LAB=udp-time", "JSON=target/grade/results.json"],
    );
    let payload = run(&copy, "python3", &["-c", &script]);
    let encoded = payload
        .trim()
        .strip_prefix("result=")
        .expect("result=BASE64");
    let decoded = run(
        &copy,
        "python3",
        &[
            "-c",
            "import base64, json, sys\n\
             r = json.loads(base64.b64decode(sys.argv[1]))\n\
             print(r['version'], r['status'], r['max_score'], sum(t['score'] for t in r['tests']), len(r['tests']))",
            encoded,
        ],
    );
    let words: Vec<&str> = decoded.split_whitespace().collect();
    assert_eq!(words[..2], ["1", "fail"], "{decoded}");
    assert!(
        words[2].parse::<u32>().unwrap() > 0 && words[3] == "0",
        "{decoded}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
}
