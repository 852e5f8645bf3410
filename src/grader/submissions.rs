//! Grading students' submissions: one (`socklab grade --submission DIR`) or a whole class
//! (`socklab grade --submissions DIR`, `make grade SUBMISSIONS=DIR`).
//!
//! A submission is a folder or a `.zip` holding the student's `labs/` folder, or being one (lab
//! folders such as `udp-time/` at its top), or loose lab files (`udp_time.rs`). Only regular
//! files are taken (never links), each up to [`MAX_FILE`].
//!
//! Every submission is graded in a fresh copy of one shared build, `target/grade/base/kit`: the
//! students' copy of the kit (no solutions, nothing that holds a blank's answer) with its
//! dependencies and its own library compiled once. The copy gets the student's files and is
//! built and graded inside a [`Sandbox`], so only the lab programs compile (seconds). Without
//! bubblewrap the grader refuses, unless told `--no-sandbox`.
//!
//! A class writes `target/grade/gradebook.csv` (student, points per lab, total, status) and
//! `target/grade/students/<student>.json` (Gradescope's format) with a `.log` beside it. A student
//! whose row says `graded` is skipped on the next run unless `--force`.

use super::gradebook::{self, Row};
use super::sandbox::{KitFrom, Ran, Sandbox};
use super::unzip::{unzip, MAX_UNZIPPED, UNZIP_TIME};
use super::{copy_tree, grade, mirror_tree, secs, seed_target, Build, Lab, Report};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest file taken from a submission (captures included).
pub const MAX_FILE: u64 = 20 << 20;

/// How submissions are graded.
pub struct Grading {
    /// The kit's own folder.
    pub root: PathBuf,
    pub labs: Vec<Lab>,
    /// `None`: graded without a sandbox (`--no-sandbox`).
    pub sandbox: Option<Sandbox>,
    /// Checks run at once within one submission.
    pub jobs: usize,
    pub compile_limit: Duration,
    pub time_limit: Duration,
}

/// One student's result: the report, or why there is none.
pub type Graded = Result<Report, String>;

impl Grading {
    fn base(&self) -> PathBuf {
        self.root.join("target/grade/base/kit")
    }

    /// Brings the shared build up to date: the students' copy of the kit, compiled (in the
    /// sandbox, where every submission's copy will sit at the same path, so cargo finds it
    /// fresh). Files that did not change keep their time stamps, so this takes a second after
    /// the first time.
    pub fn prepare(&self) -> Result<(), String> {
        let base = self.base();
        let fresh = self.root.join("target/grade/base/fresh");
        let _ = fs::remove_dir_all(&fresh);
        crate::student_kit::write_with(&self.root, &fresh, crate::student_kit::Answers::Kept)?;
        // A file the kit moved since the last run must not stay behind (a stale bin breaks the build).
        mirror_tree(&fresh, &base, &["target"])?;
        let _ = fs::remove_dir_all(&fresh);
        // Third-party crates come from the kit's own build when it has one (same profile).
        seed_target(
            &self.root.join("Cargo.lock"),
            &self.root.join("target"),
            &base.join("target"),
        )?;
        let log = self.root.join("target/grade/base/build.log");
        let first = !base.join("target/debug/.fingerprint").is_dir();
        if first {
            eprintln!(
                "grade: compiling the kit once for all submissions (a few minutes the first time)"
            );
        }
        let built = match &self.sandbox {
            Some(sandbox) => {
                let argv = ["cargo", "build", "--lib", "--message-format", "short"]
                    .map(String::from)
                    .to_vec();
                sandbox.run(
                    KitFrom::Folder(&base),
                    &argv,
                    Duration::from_secs(1800),
                    &log,
                )?
            }
            None => {
                let status = super::cargo()
                    .args(["build", "--lib", "--quiet"])
                    .current_dir(&base)
                    .status()
                    .map_err(|e| format!("could not run cargo: {e}"))?;
                Ran {
                    results: Vec::new(),
                    code: status.code(),
                    stopped: None,
                }
            }
        };
        if built.code != Some(0) {
            return Err(format!(
                "the kit itself does not build in the sandbox; see {}",
                log.display()
            ));
        }
        Ok(())
    }

    /// Grades one submission in the scratch folder `scratch` (emptied first, removed after);
    /// the sandbox's output goes to `log`.
    pub fn one(&self, submission: &Path, scratch: &Path, log: &Path) -> Graded {
        let _ = fs::remove_dir_all(scratch);
        fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let graded = self.in_scratch(submission, scratch, log);
        let _ = fs::remove_dir_all(scratch);
        graded
    }

    fn in_scratch(&self, submission: &Path, scratch: &Path, log: &Path) -> Graded {
        let folder = if submission.extension().is_some_and(|e| e == "zip") {
            let to = scratch.join("unzipped");
            unzip(submission, &to, MAX_UNZIPPED, UNZIP_TIME)?;
            to
        } else {
            submission.to_path_buf()
        };
        let base = self.base();
        let files = locate(&folder, &self.labs, &base.join("labs"))?;
        // The student's files, laid out as in the kit: copied over the kit inside the sandbox.
        let submitted = scratch.join("submitted");
        for (from, to) in &files {
            let to = submitted.join(to);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            fs::copy(from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
        }
        let mut args = vec![
            "--jobs".to_string(),
            self.jobs.to_string(),
            "--compile-limit".into(),
            self.compile_limit.as_secs().to_string(),
        ];
        for lab in &self.labs {
            args.extend(["--lab".to_string(), lab.name.to_string()]);
        }
        let Some(sandbox) = &self.sandbox else {
            let kit = scratch.join("kit");
            let copied = Command::new("cp")
                .arg("-a")
                .arg(&base)
                .arg(&kit)
                .status()
                .map_err(|e| format!("could not run cp: {e}"))?;
            if !copied.success() {
                return Err(format!("could not copy {}", base.display()));
            }
            copy_tree(&submitted, &kit, &[])?;
            let build = Build {
                root: kit.clone(),
                solutions: false,
                target_dir: kit.join("target"),
                compile_limit: Some(self.compile_limit),
                grade_untouched: false,
            };
            return Ok(grade(&self.labs, &build, self.jobs));
        };
        let kit = KitFrom::Copy {
            base: &base,
            submitted: &submitted,
        };
        let ran = sandbox.run(kit, &sandbox.grader_argv(&args), self.time_limit, log)?;
        if let Some(why) = ran.stopped {
            return Err(format!("{why} (log: {})", log.display()));
        }
        if ran.results.is_empty() {
            let how = match ran.code {
                Some(code) => format!("exit code {code}"),
                None => "killed by a signal".into(),
            };
            return Err(format!(
                "the grader in the sandbox ended without results ({how}; did the submission \
                 kill it?) (log: {})",
                log.display()
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&ran.results)
            .map_err(|e| format!("the sandbox's results are not JSON: {e}"))?;
        Report::from_json(&self.labs, &json)
    }

    /// Grades every submission under `dir`, `students` at a time, into `out`
    /// (`gradebook.csv`, `students/`). Returns the rows written to the gradebook.
    pub fn class(
        &self,
        dir: &Path,
        out: &Path,
        students: usize,
        force: bool,
    ) -> Result<Vec<Row>, String> {
        let results = out.join("students");
        fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
        let book = out.join("gradebook.csv");
        let before = gradebook::read(&book, &self.labs);
        let entries = submissions(dir)?;
        if entries.is_empty() {
            return Err(format!(
                "{} holds no submission (folders or .zip files)",
                dir.display()
            ));
        }
        self.prepare()?;
        let started = Instant::now();
        let total = entries.len();
        let rows = Mutex::new(Vec::new());
        let (todo_tx, todo_rx) = crossbeam_channel::unbounded();
        for entry in entries {
            todo_tx.send(entry).expect("queue is open");
        }
        drop(todo_tx);
        std::thread::scope(|s| {
            for slot in 0..students.max(1) {
                let (todo_rx, rows, before) = (todo_rx.clone(), &rows, &before);
                let (results, book) = (&results, &book);
                s.spawn(move || {
                    for (student, path) in todo_rx {
                        let kept = before.iter().find(|r| r.student == student).filter(|r| {
                            !force
                                && gradebook::confirmed(
                                    r,
                                    &self.labs,
                                    &results.join(format!("{student}.json")),
                                )
                        });
                        let (row, took) = match (kept, path) {
                            (_, Err(why)) => (
                                Row {
                                    student: student.clone(),
                                    points: vec![0; self.labs.len()],
                                    status: format!("not graded: {why}"),
                                },
                                "refused".to_string(),
                            ),
                            (Some(row), Ok(_)) => {
                                (row.clone(), "kept; --force grades again".to_string())
                            }
                            (None, Ok(path)) => {
                                let begun = Instant::now();
                                let scratch = self
                                    .root
                                    .join("target/grade/scratch")
                                    .join(slot.to_string());
                                let log = results.join(format!("{student}.log"));
                                let graded = self.one(&path, &scratch, &log);
                                let row = self.row(&student, &graded);
                                let json = match &graded {
                                    Ok(report) => report.json(),
                                    Err(why) => not_graded_json(why),
                                };
                                let file = results.join(format!("{student}.json"));
                                let _ = fs::write(&file, format!("{json:#}\n"));
                                (row, secs(begun.elapsed()))
                            }
                        };
                        let mut rows = rows.lock().unwrap_or_else(|p| p.into_inner());
                        rows.push(row.clone());
                        println!(
                            "[{:>3}/{total}] {:<24} {} ({took})",
                            rows.len(),
                            student,
                            row.summary()
                        );
                        let _ = gradebook::write(book, &self.labs, &rows);
                    }
                });
            }
        });
        let mut rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
        rows.sort_by(|a, b| a.student.cmp(&b.student));
        gradebook::write(&book, &self.labs, &rows)?;
        let graded = rows.iter().filter(|r| r.status == "graded").count();
        println!(
            "\n{graded} of {total} submissions graded in {} ({} each on average); gradebook: {}",
            secs(started.elapsed()),
            secs(started.elapsed() / total as u32),
            book.display()
        );
        for row in rows.iter().filter(|r| r.status != "graded") {
            println!("  {}: {}", row.student, row.status);
        }
        Ok(rows)
    }

    fn row(&self, student: &str, graded: &Graded) -> Row {
        let points = self
            .labs
            .iter()
            .map(|lab| match graded {
                Ok(report) => report
                    .outcomes
                    .iter()
                    .filter(|(l, _)| *l == lab.name)
                    .map(|(_, o)| o.points)
                    .sum(),
                Err(_) => 0,
            })
            .collect();
        Row {
            student: student.to_string(),
            points,
            status: match graded {
                Ok(_) => "graded".into(),
                Err(why) => format!("not graded: {why}"),
            },
        }
    }
}

/// A submission's path, or why it is refused.
type Entry = Result<PathBuf, String>;

/// The submissions under `dir`: each folder and each `.zip`, named by its file name (less one
/// `.zip`). A name that cannot be a gradebook row and a file name (control characters), or that
/// two submissions share once read as text (`carol/` and `carol.zip`, or two names that are not
/// UTF-8 and differ only in bytes that are not text), is refused with its reason: its student
/// is then listed under a printable form of the name, and nothing of it is written.
fn submissions(dir: &Path) -> Result<Vec<(String, Entry)>, String> {
    let mut by_name: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let raw = path.file_name().unwrap_or_default();
        let name = raw.to_string_lossy();
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if name.starts_with('.') {
            continue;
        }
        let student = if meta.is_dir() {
            name.to_string()
        } else if meta.is_file() && name.ends_with(".zip") {
            name[..name.len() - ".zip".len()].to_string()
        } else {
            continue;
        };
        by_name.entry(student).or_default().push(path);
    }
    let mut found = Vec::new();
    for (student, paths) in by_name {
        let shown = student.escape_debug().to_string();
        if student.chars().any(char::is_control) {
            for _ in &paths {
                found.push((
                    shown.clone(),
                    Err(
                        "its name holds control characters (a line break, a tab, …); rename it"
                            .to_string(),
                    ),
                ));
            }
            continue;
        }
        if let [path] = &paths[..] {
            found.push((student, Ok(path.clone())));
            continue;
        }
        let names: Vec<String> = paths
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .escape_debug()
                    .to_string()
            })
            .collect();
        for _ in &paths {
            found.push((
                shown.clone(),
                Err(format!(
                    "{} submissions are named {shown} ({}); rename all but one",
                    paths.len(),
                    names.join(", ")
                )),
            ));
        }
    }
    Ok(found)
}

/// The files to copy from a submission folder: (source, path under the kit such as
/// `labs/udp-time/udp_time.rs`). `kit_labs` is the skeletons' `labs/`, which says which loose
/// file belongs to which lab.
pub fn locate(
    dir: &Path,
    labs: &[Lab],
    kit_labs: &Path,
) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let has_labs = |p: &Path| labs.iter().any(|l| is_dir(&p.join(l.name)));
    // labs/ inside, the folder itself, or labs/ a few levels down (a zip of the repository).
    let mut root = None;
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..3 {
        if let Some(found) = level.iter().find_map(|d| {
            let labs_dir = d.join("labs");
            if is_dir(&labs_dir) && has_labs(&labs_dir) {
                Some(labs_dir)
            } else if has_labs(d) {
                Some(d.clone())
            } else {
                None
            }
        }) {
            root = Some(found);
            break;
        }
        level = level
            .iter()
            .flat_map(|d| fs::read_dir(d).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| is_dir(p) && !p.ends_with(".git"))
            .collect();
    }
    let mut files = Vec::new();
    match root {
        Some(root) => {
            for lab in labs {
                for file in regular_files(&root.join(lab.name)) {
                    let name = file.file_name().unwrap_or_default().to_owned();
                    files.push((file, Path::new("labs").join(lab.name).join(name)));
                }
            }
        }
        None => {
            // Loose files: each goes to the one lab whose skeleton has a file of that name.
            for file in regular_files(dir) {
                let name = file.file_name().unwrap_or_default().to_owned();
                let owners: Vec<&Lab> = labs
                    .iter()
                    .filter(|l| kit_labs.join(l.name).join(&name).is_file())
                    .collect();
                if let [lab] = owners[..] {
                    files.push((file, Path::new("labs").join(lab.name).join(name)));
                }
            }
        }
    }
    if files.is_empty() {
        return Err(
            "no labs/ folder, lab folder (such as udp-time/) or lab file (such as \
                    udp_time.rs) in it"
                .into(),
        );
    }
    Ok(files)
}

/// The regular files directly in `dir` (no links, nothing larger than [`MAX_FILE`]).
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_file() && m.len() <= MAX_FILE)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// A Gradescope-format result for a submission that could not be graded.
fn not_graded_json(why: &str) -> serde_json::Value {
    serde_json::json!({
        "score": 0,
        "output": format!("not graded: {why}"),
        "visibility": "visible",
        "tests": [],
    })
}
/// Copies the kit at `root` to `scratch` with `labs/` taken from the skeletons and overwritten
/// by the lab files found in `submission` (`locate`): an unsandboxed
/// `socklab grade --submission DIR --no-sandbox` grades there.
pub fn prepare_submission(
    root: &Path,
    submission: &Path,
    scratch: &Path,
    labs: &[Lab],
) -> Result<(), String> {
    if !submission.is_dir() {
        return Err(format!("{} is not a folder", submission.display()));
    }
    let files = locate(submission, labs, &root.join("labs"))?;
    // The compiled dependencies of the kit's own build, so that only the kit compiles here.
    seed_target(
        &root.join("Cargo.lock"),
        &root.join("target"),
        &root.join("target/submissions"),
    )?;
    // Only labs/ is emptied: the rest keeps its time stamps, so cargo finds the kit fresh.
    let _ = std::fs::remove_dir_all(scratch.join("labs"));
    mirror_tree(root, scratch, &["solutions", "target", ".git"])?;
    for (from, to) in files {
        std::fs::copy(&from, scratch.join(to)).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    Ok(())
}
