//! `socklab new-lab NAME` writes a lab that works: in a scratch copy of the kit (never in the
//! repository), the new lab passes `check-labs`, its files are formatted as `make fmt` would
//! have them, its solution scores full and its skeleton zero, and a second `new-lab` of the same
//! name, or a name that is no lab name, is a command-line mistake (exit 2).

use socklab::grader::without_cargo_run_vars;
use std::path::Path;
use std::process::{Command, Output};

/// Copies the kit at `from` to `to`, without its build and its git history.
fn copy_kit(from: &Path, to: &Path, top: bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if top && (name == "target" || name == ".git") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_kit(&src, &dst, false);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// `program args` in `dir`, with cargo's variables for this test taken out (the copy's cargo
/// then reuses the dependencies seeded into its target/).
fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    without_cargo_run_vars(&mut Command::new(program))
        .env_remove("CARGO_TARGET_DIR")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn socklab(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", "-q", "--bin", "socklab", "--"];
    all.extend_from_slice(args);
    run(dir, "cargo", &all)
}

fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = socklab(dir, args);
    let shown = text(&out);
    assert!(out.status.success(), "socklab {}: {shown}", args.join(" "));
    shown
}

#[test]
fn a_new_lab_passes_check_labs_and_grades_full_and_zero() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::env::temp_dir().join(format!("socklab-new-lab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_kit(root, &copy, true);
    socklab::grader::seed_target(
        &root.join("Cargo.lock"),
        &root.join("target"),
        &copy.join("target"),
    )
    .unwrap();

    let made = succeeds(&copy, &["new-lab", "line-echo", "--title", "Echo over TCP"]);
    for file in [
        "solutions/line-echo/line_echo.rs",
        "solutions/line-echo/README.md",
        "tests/line-echo/checks/mod.rs",
        "tests/line-echo/bugs/one-line-only.bug",
        "tests/line-echo/bugs/accepted.txt",
        "src/bin/line_echo.rs",
        "labs/line-echo/line_echo.rs",
        "labs/line-echo/README.md",
    ] {
        assert!(copy.join(file).is_file(), "no {file}: {made}");
    }
    // Nothing of it in the repository itself.
    assert!(!root.join("solutions/line-echo").exists());

    succeeds(&copy, &["check-labs"]);
    for file in [
        "solutions/line-echo/line_echo.rs",
        "tests/line-echo/checks/mod.rs",
        "src/bin/line_echo.rs",
        "src/bin/socklab/labs.rs",
    ] {
        let out = run(&copy, "rustfmt", &["--edition", "2021", "--check", file]);
        assert!(
            out.status.success(),
            "{file} is not formatted: {}",
            text(&out)
        );
    }
    let full = succeeds(
        &copy,
        &[
            "grade",
            "--lab",
            "line-echo",
            "--solutions",
            "--expect",
            "full",
        ],
    );
    assert!(full.contains("TOTAL 1/1 points"), "{full}");
    let zero = succeeds(
        &copy,
        &["grade", "--lab", "line-echo", "--expect", "skeleton"],
    );
    assert!(zero.contains("TOTAL 0/1 points"), "{zero}");

    // Once is enough; and a name is a lab's folder name.
    for args in [
        &["new-lab", "line-echo"][..],
        &["new-lab", "Line Echo"],
        &["new-lab", "match"],
        &["new-lab", "flow"],
        &["new-lab"],
    ] {
        let out = socklab(&copy, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("Usage:"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&copy).unwrap();
}
