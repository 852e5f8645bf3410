//! The scratch kits mutants, bugs and reverts are graded in: a copy of the kit whose `labs/`
//! holds the solutions, built into its own target dir seeded with the kit's compiled
//! dependencies, held by one run at a time (a lock file); and [`in_kits`], which grades labs side
//! by side, one scratch kit each.

use crate::grader::{grade, Build, Check, Lab};
use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Runs `job` on each of `labs`, `kits` labs at once, each worker in its own scratch kit (most of
/// the time goes to waiting for checks' deadlines, not to computing, so labs share the machine
/// well). A worker stops at its first error. Results come in no particular order.
pub(crate) fn in_kits<T: Send>(
    root: &Path,
    labs: &[Lab],
    kits: usize,
    job: impl Fn(&Kit, &Lab) -> Result<T, String> + Sync,
) -> Vec<Result<T, String>> {
    let (todo_tx, todo_rx) = crossbeam_channel::unbounded();
    labs.iter()
        .for_each(|lab| todo_tx.send(lab).expect("queue is open"));
    drop(todo_tx);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..kits.clamp(1, labs.len().max(1)))
            .map(|slot| {
                let (todo_rx, job) = (todo_rx.clone(), &job);
                s.spawn(move || -> Vec<Result<T, String>> {
                    let kit = match Kit::prepare(root, slot) {
                        Ok(kit) => kit,
                        Err(e) => return vec![Err(e)],
                    };
                    let mut done = Vec::new();
                    for lab in todo_rx {
                        let result = job(&kit, lab).map_err(|e| format!("{}: {e}", lab.name));
                        let failed = result.is_err();
                        done.push(result);
                        if failed {
                            break;
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![Err("a worker panicked".into())])
            })
            .collect()
    })
}

/// The scratch copy of the kit that mutants and bugs are graded in, held by one run at a time.
pub struct Kit {
    pub dir: PathBuf,
    pub build: Build,
    lock: PathBuf,
}

impl Kit {
    /// Brings `target/mutants/kit` up to date with the kit at `root`, its `labs/` holding
    /// `solutions/`. Files whose content has not changed keep their time stamps, so a second
    /// run rebuilds nothing. Fails if another run holds the scratch kit. Slots above 0 are
    /// further scratch kits (`kit-1`, …), for grading several labs at once.
    pub fn prepare(root: &Path, slot: usize) -> Result<Kit, String> {
        let base = root.join("target/mutants");
        fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let name = |what: &str| match slot {
            0 => base.join(what),
            n => base.join(format!("{what}-{n}")),
        };
        let lock = name("lock");
        take_lock(&lock)?;
        let kit = Kit {
            dir: name("kit"),
            build: Build {
                root: name("kit"),
                solutions: false,
                target_dir: name("target"),
                compile_limit: None,
                grade_untouched: true,
            },
            lock,
        };
        crate::grader::seed_target(
            &root.join("Cargo.lock"),
            &root.join("target"),
            &kit.build.target_dir,
        )?;
        crate::grader::mirror_tree(root, &kit.dir, &["labs", "solutions", "target", ".git"])?;
        crate::grader::mirror_tree(
            &root.join("solutions"),
            &kit.dir.join("labs"),
            &["target", ".git"],
        )?;
        Ok(kit)
    }

    /// Writes `text` as `labs/<lab>/<file>` of the scratch kit (only if it differs).
    pub fn write(&self, lab: &str, file: &str, text: &str) -> Result<(), String> {
        write_if_changed(&self.dir.join("labs").join(lab).join(file), text.as_bytes())
    }

    /// Puts every file of `originals` back as it is in the solutions.
    pub fn restore(&self, lab: &str, originals: &[(String, String)]) -> Result<(), String> {
        originals
            .iter()
            .try_for_each(|(file, text)| self.write(lab, file, text))
    }

    /// Builds the lab's programs quietly (the grader then finds them up to date); `Err` has the
    /// compiler's first error line.
    pub fn compile(&self, lab: &Lab) -> Result<(), String> {
        let mut cmd = crate::grader::cargo();
        cmd.current_dir(&self.build.root)
            .args(["build", "--message-format", "short", "--target-dir"])
            .arg(&self.build.target_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for bin in lab.bins {
            cmd.args(["--bin", bin]);
        }
        if !self.build.target_dir.join("debug").is_dir() {
            eprintln!(
                "building the scratch kit for the first time in {}: cargo compiles every \
                 dependency once, which takes a few minutes",
                self.build.target_dir.display()
            );
        }
        let output = cmd
            .output()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let first = output
            .stderr
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains(": error") || l.starts_with("error"))
            .unwrap_or_else(|| "cargo build failed".into());
        Err(first.trim().replace("src/bin/../../", ""))
    }

    /// Grades `checks` of `lab`, `jobs` at a time: the failed ones, with their reasons.
    pub fn failures(
        &self,
        lab: &Lab,
        checks: &[Check],
        jobs: usize,
    ) -> Vec<(&'static str, String)> {
        let subset = Lab {
            name: lab.name,
            title: lab.title,
            bins: lab.bins,
            checks: checks.to_vec(),
            questions: None,
            not_graded_here: Vec::new(),
        };
        grade(&[subset], &self.build, jobs)
            .outcomes
            .into_iter()
            .filter_map(|(_, o)| o.failure.map(|why| (o.name, why)))
            .collect()
    }
}

impl Drop for Kit {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
    }
}

/// Takes the scratch kit's lock file, unless a live process holds it.
fn take_lock(lock: &Path) -> Result<(), String> {
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut file) => {
                use std::io::Write;
                return write!(file, "{}", std::process::id()).map_err(|e| e.to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let pid = fs::read_to_string(lock).unwrap_or_default();
                let pid = pid.trim();
                if !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(format!(
                        "another socklab mutants or bugs (pid {pid}) is using {}; wait for it to end",
                        lock.parent().unwrap_or(lock).display()
                    ));
                }
                // Left behind by a run that was stopped.
                let _ = fs::remove_file(lock);
            }
            Err(e) => return Err(format!("{}: {e}", lock.display())),
        }
    }
    Err(format!("could not take {}", lock.display()))
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).is_ok_and(|have| have == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The Rust files of `solutions/<lab>/`: (file name, text), sorted by name.
pub fn solution_files(root: &Path, lab: &str) -> Result<Vec<(String, String)>, String> {
    let dir = root.join("solutions").join(lab);
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.push((name, text));
        }
    }
    files.sort();
    Ok(files)
}
