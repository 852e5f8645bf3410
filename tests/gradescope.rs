//! Gradescope's autograder (`make gradescope`): the zip holds `setup.sh` and `run_autograder` at
//! its root and the students' copy of the kit, with no line a student must write; both scripts
//! parse; and `run_autograder`, on a fake `/autograder` tree (`AUTOGRADER_ROOT`), writes a
//! results.json in Gradescope's format for an empty submission and for a kit that does not build
//! (score 0 and why), for the untouched skeletons (0 points, each check waiting for the student)
//! and for the solutions (every check passes but the capture questions, which need a capture).
//! Needs `zip`, `unzip`, `bash` and `timeout` (.ci/run installs them).

use serde_json::Value;
use socklab::grader::without_cargo_run_vars;
use socklab::student_kit;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The lab the skeletons and the solutions are graded on: one proves the mechanism.
const LAB: &str = "udp-time";

fn run(program: &Path, args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(program);
    // Without cargo test's variables, the kit's cargo reuses the dependencies copied in.
    without_cargo_run_vars(&mut cmd).args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {}: {text}",
        program.display(),
        args.join(" ")
    );
    text
}

/// A folder under the system's temporary one, removed at the end whatever happens.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fake `/autograder` at `root`: `source/` as Gradescope unpacks the zip, `run_autograder`
/// copied beside it, and empty `submission/` and `results/`.
fn fake_tree(zip: &Path, root: &Path) {
    fs::create_dir_all(root.join("results")).unwrap();
    fs::create_dir_all(root.join("submission")).unwrap();
    let source = root.join("source");
    run(
        Path::new("unzip"),
        &["-q", zip.to_str().unwrap(), "-d", source.to_str().unwrap()],
        &[],
    );
    fs::copy(source.join("run_autograder"), root.join("run_autograder")).unwrap();
}

/// Runs the tree's `run_autograder` (extra arguments go to `socklab grade`) on what is in its
/// `submission/`, and returns results.json, checked against Gradescope's format.
fn grade(root: &Path, args: &[&str]) -> Value {
    let results = root.join("results/results.json");
    let _ = fs::remove_file(&results);
    let log = run(
        &root.join("run_autograder"),
        args,
        &[("AUTOGRADER_ROOT", root)],
    );
    let text = fs::read_to_string(&results)
        .unwrap_or_else(|e| panic!("no results.json ({e}); run_autograder said:\n{log}"));
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("results.json is not JSON ({e}):\n{text}"));
    let number = |v: &Value, key: &str| {
        v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
    };
    assert!(number(&json, "execution_time") >= 0.0, "{text}");
    assert!(json["output"].is_string(), "no `output`: {text}");
    let tests = json["tests"].as_array().expect("a `tests` array");
    let mut sum = 0.0;
    for t in tests {
        assert!(t["name"].is_string() && t["output"].is_string(), "{t}");
        let (score, max) = (number(t, "score"), number(t, "max_score"));
        assert!((0.0..=max).contains(&score) && max > 0.0, "{t}");
        let status = t["status"].as_str().expect("a status");
        assert_eq!(status == "passed", score == max, "{t}");
        sum += score;
    }
    assert_eq!(
        number(&json, "score"),
        sum,
        "score is not the tests' sum: {text}"
    );
    json
}

/// Replaces the tree's submission with the files of `from`.
fn submit(root: &Path, from: &Path) {
    let submission = root.join("submission");
    let _ = fs::remove_dir_all(&submission);
    fs::create_dir_all(&submission).unwrap();
    let from = format!("{}/.", from.display());
    run(
        Path::new("cp"),
        &["-a", &from, submission.to_str().unwrap()],
        &[],
    );
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Copies the dependencies the kit's own `cargo build` compiled (target/debug) into `target`,
/// so that the unpacked kit compiles only itself: what setup.sh does once on Gradescope.
/// `cp -a` keeps the files' times, which cargo compares.
fn seed(root: &Path, target: &Path) {
    let from = root.join("target/debug");
    let Ok(entries) = fs::read_dir(from.join("deps")) else {
        return; // Then everything is compiled: slow, and still right.
    };
    // Libraries of the dependencies; the kit's crate and programs are compiled again anyway.
    let mut copied: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("lib") && !name.starts_with("libsocklab")
        })
        .map(|p| p.display().to_string())
        .collect();
    let deps = target.join("debug/deps");
    fs::create_dir_all(&deps).unwrap();
    copied.extend(["-t".into(), deps.display().to_string()]);
    let mut args = vec!["-a"];
    args.extend(copied.iter().map(String::as_str));
    run(Path::new("cp"), &args, &[]);
    let (build, fingerprint) = (from.join("build"), from.join(".fingerprint"));
    let debug = target.join("debug");
    let args = [
        build.to_str().unwrap(),
        fingerprint.to_str().unwrap(),
        debug.to_str().unwrap(),
    ];
    run(Path::new("cp"), &[&["-a"], &args[..]].concat(), &[]);
}

#[test]
fn the_autograder_zip_grades_a_fake_gradescope_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch =
        Scratch(std::env::temp_dir().join(format!("socklab-gradescope-{}", std::process::id())));
    let _ = fs::remove_dir_all(&scratch.0);
    let out = scratch.0.join("out");
    fs::create_dir_all(&out).unwrap();
    let said = run(
        Path::new(env!("CARGO_BIN_EXE_socklab")),
        &["gradescope", "--out", out.to_str().unwrap()],
        &[],
    );
    let zip = out.join("autograder.zip");
    assert!(zip.is_file(), "{said}");

    // Gradescope's two scripts at the zip's root, the kit beside them, and no answer anywhere.
    let tree = scratch.0.join("autograder");
    fake_tree(&zip, &tree);
    let source = tree.join("source");
    for script in ["setup.sh", "run_autograder"] {
        run(
            Path::new("bash"),
            &["-n", source.join(script).to_str().unwrap()],
            &[],
        );
    }
    assert!(source.join("Cargo.toml").is_file() && source.join(format!("labs/{LAB}")).is_dir());
    assert!(
        !source.join("solutions").exists(),
        "solutions/ is in the zip"
    );
    let secret = student_kit::secret_lines(root).unwrap();
    let mut all = Vec::new();
    files(&source, &mut all);
    for file in &all {
        let text = String::from_utf8_lossy(&fs::read(file).unwrap()).into_owned();
        if let Some(line) = secret.iter().find(|s| text.contains(s.as_str())) {
            panic!("{} holds a solution line: {line}", file.display());
        }
    }

    // Nothing to grade: score 0, and the reason for the student.
    let empty = grade(&tree, &[]);
    assert_eq!(empty["score"], 0, "{empty}");
    assert!(
        empty["output"].as_str().unwrap().contains("empty"),
        "{empty}"
    );

    // An autograder that does not build: the same, with cargo's last words.
    let broken = scratch.0.join("broken");
    fs::create_dir_all(broken.join("source")).unwrap();
    fs::create_dir_all(broken.join("results")).unwrap();
    fs::copy(source.join("run_autograder"), broken.join("run_autograder")).unwrap();
    submit(&broken, &root.join("labs"));
    let failed = grade(&broken, &[]);
    let why = failed["output"].as_str().unwrap();
    assert!(
        failed["score"] == 0 && why.contains("did not build") && why.contains("Cargo.toml"),
        "{failed}"
    );

    // The students' skeletons: 0 points, each check waiting for the student (a lab left as
    // handed out is not even run: "not started").
    seed(root, &source.join("target"));
    seed(root, &source.join("target/submissions"));
    submit(&tree, &source.join("labs"));
    let skeleton = grade(&tree, &["--lab", LAB]);
    let tests = skeleton["tests"].as_array().unwrap();
    assert!(skeleton["score"] == 0 && tests.len() > 10, "{skeleton}");
    // The zip holds the fixed answers (Gradescope grades them), hidden until published.
    let hidden: Vec<&Value> = tests
        .iter()
        .filter(|t| t["visibility"] == "after_published")
        .collect();
    assert!(
        !hidden.is_empty()
            && hidden
                .iter()
                .all(|t| t["name"].as_str().unwrap().contains("capture questions")),
        "{skeleton}"
    );
    for t in tests {
        let why = t["output"].as_str().unwrap();
        assert!(
            why.contains("not started: first blank at labs/")
                || why.contains("fill in")
                || why.contains("no capture yet"),
            "{t}"
        );
    }

    // The solutions handed in as labs: everything but the capture questions.
    submit(&tree, &root.join("solutions"));
    let solved = grade(&tree, &["--lab", LAB]);
    for t in solved["tests"].as_array().unwrap() {
        let question = t["name"].as_str().unwrap().contains("capture questions");
        assert_eq!(t["status"] == "passed", !question, "{t}");
    }
    assert!(solved["score"].as_f64().unwrap() > 20.0, "{solved}");
}
