//! `socklab student-kit` (`make student-kit OUT=DIR`): the repository students receive.
//!
//! It is the kit as git knows it, without what holds a blank's answer or serves only the kit's
//! maintainers: `solutions/`, and of each lab's home `tests/<lab>/` all but the autograder's
//! checks (`checks/`): the bug corpus and accepted mutants (`bugs/`, whose lines are the
//! solutions'), the interop test and its peers, the benchmark; the kit's own integration tests,
//! the benchmarks' dispatcher, CI and the developers' guide (its examples quote solutions).
//! `Cargo.toml` loses the benches and dev-dependencies, the Makefile is the students' (grade,
//! watch, capture, netlab, and a `make test` that proves the copy builds and every check fails
//! for want of the student's code), and a GitHub Classroom workflow grades each push.
//! [`secret_lines`] lists the solution lines that must not appear in the copy; the kit's test
//! (tests/student_kit.rs) looks for each of them in every file of a fresh copy.

use crate::blanks;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths left out of the students' copy (a folder ends with `/`). `labs/.generated` stays: the
/// grader reads it to tell a lab nobody has started (one line, nothing compiled).
const LEFT_OUT: [&str; 5] = [
    "solutions/",
    "docs/developing.md",
    "benches/",
    ".ci/",
    ".github/",
];

/// Whether `path` (relative, with `/`) goes into the students' copy.
pub fn kept(path: &str) -> bool {
    // Of tests/, only the autograder (tests/<lab>/checks/) stays: the rest is the kit's own.
    let kit_test = path.starts_with("tests/") && !is_checks(path);
    !kit_test && !LEFT_OUT.iter().any(|out| path.starts_with(out))
}

/// Whether `path` (relative, with `/`) is in a lab's checks, `tests/<lab>/checks/`.
pub fn is_checks(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some("tests") && parts.next().is_some() && parts.next() == Some("checks")
}

/// The students' Makefile: the kit's student targets, and a self-test of the copy.
pub const MAKEFILE: &str = r#"# Your copy of socklab. Every target is a thin wrapper around cargo (README.md).
#   make grade [LAB=udp-time] [JSON=file] [VERBOSE=1]   build your labs and grade them
#   make watch LAB=udp-time                  grade again on every save
#   make capture LAB=udp-time [NET=1]        record your programs for the capture questions
#   sudo make netlab | sudo make netlab-down the course's hosts on this machine (docs/netlab.md)
#   make test [LAB=udp-time]                 the copy builds, and every check fails before you start

CARGO ?= cargo
KIT = $(CARGO) run --bin socklab --
GRADE_ARGS = $(if $(LAB),--lab $(LAB)) $(if $(JSON),--json $(JSON)) $(if $(VERBOSE),--verbose)

.PHONY: grade watch capture netlab netlab-down test

grade:
	@test -d target/debug || echo "socklab: first build: compiling the grader and its dependencies (a minute or two; cargo shows its progress)"
	$(KIT) grade $(GRADE_ARGS)

watch:
	$(KIT) grade --watch $(GRADE_ARGS)

capture:
	$(KIT) capture $(if $(LAB),--lab $(LAB)) $(if $(NET),--net)

netlab:
	$(CARGO) run --bin netlab -- up $(if $(CLOSED),--closed)

netlab-down:
	$(CARGO) run --bin netlab -- down

# Meant for the untouched copy: each check must fail, waiting for your code ("fill in") or
# your capture, never for another reason.
test:
	$(KIT) grade --expect skeleton --json target/grade/skeletons.json $(if $(LAB),--lab $(LAB))
"#;

/// GitHub Classroom: grade every push; the points are the autograder's own (results.json).
const WORKFLOW: &str = r#"# Grades every push with the kit's autograder. GitHub Classroom reads the points from the
# step named "Autograding Reporter" (the classroom-resources/autograding-grading-reporter form).
name: Autograding Tests
on: [push, workflow_dispatch]
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  grade:
    # The reporter puts the points on the check run of this name.
    name: Autograding Tests
    if: github.actor != 'github-classroom[bot]'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - name: Tools for the capture questions
        run: sudo apt-get update && sudo apt-get install -y --no-install-recommends tcpdump tshark
      - name: Autograder
        id: autograder
        run: |
          make grade JSON=target/grade/results.json || true
          python3 - <<'PY' >> "$GITHUB_OUTPUT"
          import base64, json
          r = json.load(open("target/grade/results.json"))
          tests = [{"name": t["name"], "status": "pass" if t["status"] == "passed" else "fail",
                    "message": t.get("output", ""), "score": t["score"], "max_score": t["max_score"]}
                   for t in r["tests"]]
          result = {"version": 1, "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
                    "max_score": sum(t["max_score"] for t in tests), "tests": tests}
          print("result=" + base64.b64encode(json.dumps(result).encode()).decode())
          PY
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          AUTOGRADER_RESULTS: "${{ steps.autograder.outputs.result }}"
        with:
          runners: autograder
"#;

/// Writes the students' copy of the kit at `root` into `out` (which must not exist, or be
/// empty), without the hashes of the fixed answers ([`Answers::Hidden`]). Returns how many
/// files it wrote.
pub fn write(root: &Path, out: &Path) -> Result<usize, String> {
    write_with(root, out, Answers::Hidden)
}

/// Whether a copy of the kit holds the hashes of the fixed answers to the capture questions.
#[derive(Clone, Copy, PartialEq)]
pub enum Answers {
    /// The students' copy: a fixed answer (a yes/no, a small number) is found from its hash in
    /// seconds by trying them all, so the copy has none and those questions are graded only by
    /// the instructor's kit.
    Hidden,
    /// A copy the instructor grades with (the sandbox's base, Gradescope's autograder): the
    /// questions are graded, and results.json hides them until the grades are published.
    Kept,
}

/// [`write`], with or without the fixed answers' hashes.
pub fn write_with(root: &Path, out: &Path, answers: Answers) -> Result<usize, String> {
    if out.exists() && fs::read_dir(out).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!(
            "{} exists and is not empty: choose a new folder",
            out.display()
        ));
    }
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !listed.status.success() {
        return Err("the students' copy is made from a git checkout of the kit".into());
    }
    let mut written = 0;
    for path in listed.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        if !kept(&path) || !root.join(&path).is_file() {
            continue;
        }
        let to = out.join(&path);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let text = match path.as_str() {
            "Cargo.toml" => Some(cargo_toml(&read(&root.join(&path))?)),
            "Makefile" => Some(MAKEFILE.to_string()),
            p if answers == Answers::Hidden && is_checks(p) => {
                Some(without_hashes(&read(&root.join(&path))?))
            }
            _ => None,
        };
        match text {
            Some(text) => fs::write(&to, text),
            None => fs::copy(root.join(&path), &to).map(|_| ()),
        }
        .map_err(|e| format!("{}: {e}", to.display()))?;
        written += 1;
    }
    // The copy's Cargo.toml has fewer dependencies than the kit's: bring Cargo.lock in line now,
    // so that a student's first build does not change a tracked file.
    let locked = crate::grader::cargo()
        // `update --workspace` re-resolves only the copy's own package: it drops what the copy no
        // longer needs without upgrading anything or downloading a crate (`metadata` would).
        .args(["update", "--workspace", "--offline", "--manifest-path"])
        .arg(out.join("Cargo.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !locked.is_ok_and(|s| s.success()) {
        eprintln!(
            "student-kit: could not bring Cargo.lock in line with the copy's Cargo.toml offline; \
             the students' first build will update it"
        );
    }
    let workflow = out.join(".github/workflows/classroom.yml");
    fs::create_dir_all(workflow.parent().expect("a file in a folder"))
        .and_then(|()| fs::write(&workflow, WORKFLOW))
        .map_err(|e| format!("{}: {e}", workflow.display()))?;
    Ok(written + 1)
}

/// `text` with every string literal of 64 hex digits (a SHA-256: the fixed answers and their
/// near misses) emptied: `hash: ""` is a question only the instructor's kit grades.
pub fn without_hashes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at + 66 <= bytes.len() {
        let quoted = bytes[at] == b'"' && bytes[at + 65] == b'"';
        if quoted && bytes[at + 1..at + 65].iter().all(u8::is_ascii_hexdigit) {
            out.push_str(&text[copied..=at]);
            copied = at + 65;
            at += 66;
        } else {
            at += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The kit's Cargo.toml without `[[bench]]` tables and dev-dependencies (only the kit's own
/// tests and benches use them).
fn cargo_toml(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skipping = line == "[[bench]]" || line == "[dev-dependencies]";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    // Comments written just above a dropped table stay behind it: harmless, but tidy them.
    out.replace("\n\n\n", "\n\n")
}

/// The lines students must write themselves: every line of a blank region of `solutions/`,
/// trimmed, that is long enough to be particular (16 characters or more) and is not a comment,
/// unless the kit gives it to students anyway: it occurs in `labs/` (the given code of every
/// lab: a line one lab asks for may be given in another), in the library `src/`, or in the
/// autograder `tests/<lab>/checks/`, which students receive to grade themselves and which speaks the
/// same protocols (`Connection: close\r\n` is everyone's).
pub fn secret_lines(root: &Path) -> Result<Vec<String>, String> {
    let mut given = String::new();
    let mut dirs = vec![root.join("labs"), root.join("src")];
    for home in fs::read_dir(root.join("tests"))
        .map_err(|e| format!("{}: {e}", root.join("tests").display()))?
        .flatten()
    {
        dirs.push(home.path().join("checks"));
    }
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let mut files = Vec::new();
        source_files(&dir, &mut files)?;
        for file in files {
            given.push_str(&read(&file)?);
        }
    }
    let mut secret = Vec::new();
    let mut solutions = Vec::new();
    source_files(&root.join("solutions"), &mut solutions)?;
    for file in solutions {
        let text = read(&file)?;
        let regions =
            blanks::blank_regions(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for region in regions {
            for line in text[region].lines().map(str::trim) {
                let particular = line.len() >= 16 && !line.starts_with("//");
                if particular && !given.contains(line) {
                    secret.push(line.to_string());
                }
            }
        }
    }
    secret.sort();
    secret.dedup();
    Ok(secret)
}

/// Every `.rs` file under `dir`.
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    for entry in fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_stays_and_what_goes() {
        for path in [
            "labs/udp-time/udp_time.rs",
            "tests/udp-time/checks/mod.rs",
            "tests/chat/checks/seed.rs",
            "src/bin/socklab/labs.rs",
            "src/lib.rs",
            "README.md",
            "docs/netlab.md",
        ] {
            assert!(kept(path), "{path}");
        }
        for path in [
            "solutions/udp-time/udp_time.rs",
            "tests/chat/bugs/accepted.txt",
            "tests/chat/main.rs",
            "tests/http/bench.rs",
            "tests/chat/seed.py",
            "tests/checks.rs",
            "tests/cli.rs",
            "benches/http.rs",
            ".ci/run",
            "tests/x/peers/x.py",
        ] {
            assert!(!kept(path), "{path}");
        }
    }

    #[test]
    fn benches_and_dev_dependencies_leave_cargo_toml() {
        let toml = "[package]\nname = \"x\"\n\n[dependencies]\na = \"1\"\n\n[dev-dependencies]\nb = \"1\"\n\n[[bench]]\nname = \"y\"\nharness = false\n\n[profile.dev]\nopt-level = 0\n";
        let out = cargo_toml(toml);
        assert!(
            out.contains("a = \"1\"") && out.contains("[profile.dev]"),
            "{out}"
        );
        assert!(
            !out.contains("b = ") && !out.contains("bench") && !out.contains("name = \"y\""),
            "{out}"
        );
    }

    #[test]
    fn hashes_are_emptied_and_other_strings_kept() {
        let hash = "ab".repeat(32);
        let text = format!("hash: \"{hash}\", near: &[(\"{hash}\", \"why\")], x: \"deadbeef\"");
        let out = without_hashes(&text);
        assert!(out.starts_with("hash: \"\", near: &[(\"\", "), "{out}");
        assert!(out.contains("\"deadbeef\""), "{out}");
    }
}
