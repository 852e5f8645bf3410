//! Building the lab programs: the `cargo` command the kit's own programs start, and [`Build`]
//! (which tree, which target dir, how long a compile may take).

use super::Lab;
use crossbeam_channel::{bounded, RecvTimeoutError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

/// A `cargo` command for building labs from inside the kit's own programs (see
/// [`without_cargo_run_vars`]).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    without_cargo_run_vars(&mut cmd);
    cmd
}

/// Takes out of `cmd`'s environment what `cargo run` and `cargo test` tell the program they
/// run about itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_…`). A cargo started below with them sees
/// them as changed since the last build and rebuilds the dependencies whose build scripts watch
/// them (ring: a minute each time).
pub fn without_cargo_run_vars(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let about_us = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
            || name == "CARGO_PRIMARY_PACKAGE";
        if about_us {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// Where and how to build: the kit's root, which version (labs or solutions), which target dir,
/// and how long one lab's compile may take (a const or macro that never ends stops there).
pub struct Build {
    pub root: PathBuf,
    pub solutions: bool,
    pub target_dir: PathBuf,
    pub compile_limit: Option<Duration>,
    /// Run the checks of a lab whose files are still as handed out (`--expect` runs, mutants).
    /// Otherwise such a lab is neither built nor run: each check fails "not started".
    pub grade_untouched: bool,
}

impl Build {
    /// The kit's own build at `root`: labs/ (or solutions/ with the `solutions` feature), into
    /// `root/target`, the cache students' `cargo run` uses too. Cargo keeps both variants of each
    /// program side by side and relinks the one asked for, so nothing is compiled twice.
    pub fn kit(root: &Path, solutions: bool) -> Build {
        Build {
            root: root.to_path_buf(),
            solutions,
            target_dir: root.join("target"),
            compile_limit: None,
            grade_untouched: false,
        }
    }

    /// `Some("not started: first blank at labs/<lab>/<file>:<line>")` when the lab is graded from
    /// labs/ and its files are still exactly as generated ([`crate::blanks::untouched`]):
    /// every check would only meet the first `todo!`, so none is run.
    pub fn not_started(&self, lab: &Lab) -> Option<String> {
        let labs = self.root.join("labs");
        if self.solutions || self.grade_untouched || !crate::blanks::untouched(&labs, lab.name) {
            return None;
        }
        let first = lab.bins.iter().find_map(|bin| {
            let text =
                std::fs::read_to_string(labs.join(lab.name).join(format!("{bin}.rs"))).ok()?;
            let line = text.lines().position(|l| l.contains("todo!(\"fill in"))?;
            Some(format!("labs/{}/{bin}.rs:{}", lab.name, line + 1))
        })?;
        Some(format!("{}{first}", super::NOT_STARTED))
    }

    /// Builds the lab's binaries; `Err` carries the compiler's first error line. Cargo's
    /// `Compiling …` lines are passed on to stderr as they come: a first build compiles every
    /// dependency, which takes a minute or two, and nobody should face a silent terminal.
    pub fn lab(&self, lab: &Lab) -> Result<BTreeMap<String, PathBuf>, String> {
        let mut cmd = cargo();
        cmd.current_dir(&self.root)
            .args(["build", "--message-format", "short", "--target-dir"])
            .arg(&self.target_dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if self.solutions {
            cmd.args(["--features", "solutions"]);
        }
        for bin in lab.bins {
            cmd.args(["--bin", bin]);
        }
        if !self.target_dir.join("debug").is_dir() {
            eprintln!(
                "building {} for the first time in {}: cargo compiles every dependency once, \
                 which takes a minute or two",
                lab.name,
                self.target_dir.display()
            );
        }
        if self.compile_limit.is_some() {
            // Its own process group: cargo and the rustc processes it starts stop together.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        let (compiling, done) = bounded::<()>(0);
        let watchdog = self.compile_limit.map(|limit| {
            let group = child.id() as i32;
            thread::spawn(move || {
                let late = done.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
                if late {
                    // SAFETY: kill with a process group id and a signal number only.
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                }
                late
            })
        });
        let mut first_error = None;
        // Piped just above.
        let stderr = child.stderr.take().expect("stderr is piped");
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling ") {
                eprintln!("{line}");
            }
            if first_error.is_none() && (line.contains(": error") || line.starts_with("error")) {
                first_error = Some(line.trim().replace("src/bin/../../", ""));
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        drop(compiling);
        if watchdog.is_some_and(|w| w.join().unwrap_or(false)) {
            let limit = self.compile_limit.unwrap_or_default().as_secs();
            return Err(format!(
                "{} does not compile: the compile took longer than {limit} s, the limit (a const \
                 or a macro that never ends?)",
                lab.name
            ));
        }
        if !status.success() {
            let first = first_error.unwrap_or_else(|| "cargo build failed".into());
            return Err(format!("{} does not compile: {first}", lab.name));
        }
        Ok(lab
            .bins
            .iter()
            .map(|b| (b.to_string(), self.target_dir.join("debug").join(b)))
            .collect())
    }

    /// Where the lab's answers file and captures are: `labs/<lab>/` of the tree being graded;
    /// for the solutions, `target/solutions/answers/<lab>/`, which `make capture SOLUTIONS=1` fills.
    pub fn lab_files(&self, lab: &str) -> PathBuf {
        if self.solutions {
            self.root.join("target/solutions/answers").join(lab)
        } else {
            self.root.join("labs").join(lab)
        }
    }
}
