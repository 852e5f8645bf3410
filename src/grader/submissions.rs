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

use super::sandbox::{Ran, Sandbox};
use super::{copy_tree, grade, secs, Build, Lab, Report};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest file taken from a submission (captures included).
pub const MAX_FILE: u64 = 20 << 20;
/// The largest a `.zip` may unpack to.
const MAX_UNZIPPED: u64 = 200 << 20;

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
        copy_tree(&fresh, &base, &[])?;
        let _ = fs::remove_dir_all(&fresh);
        // Third-party crates come from the kit's own build when it has one (same profile).
        super::seed_target(
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
                sandbox.run(&base, &argv, Duration::from_secs(1800), &log)?
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
            unzip(submission, &scratch.join("unzipped"))?
        } else {
            submission.to_path_buf()
        };
        let kit = scratch.join("kit");
        let base = self.base();
        let files = locate(&folder, &self.labs, &base.join("labs"))?;
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&base)
            .arg(&kit)
            .status()
            .map_err(|e| format!("could not run cp: {e}"))?;
        if !copied.success() {
            return Err(format!("could not copy {}", base.display()));
        }
        for (from, to) in &files {
            fs::copy(from, kit.join(to)).map_err(|e| format!("{}: {e}", from.display()))?;
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
            let build = Build {
                root: kit.clone(),
                solutions: false,
                target_dir: kit.join("target"),
                compile_limit: Some(self.compile_limit),
            };
            return Ok(grade(&self.labs, &build, self.jobs));
        };
        let ran = sandbox.run(&kit, &sandbox.grader_argv(&args), self.time_limit, log)?;
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
        let before = read_gradebook(&book, &self.labs);
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
                        let kept = before
                            .iter()
                            .find(|r| r.student == student && r.status == "graded")
                            .filter(|_| {
                                !force && results.join(format!("{student}.json")).is_file()
                            });
                        let (row, took) = match kept {
                            Some(row) => (row.clone(), "kept; --force grades again".to_string()),
                            None => {
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
                        let _ = write_gradebook(book, &self.labs, &rows);
                    }
                });
            }
        });
        let mut rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
        rows.sort_by(|a, b| a.student.cmp(&b.student));
        write_gradebook(&book, &self.labs, &rows)?;
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

/// One line of the gradebook.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub student: String,
    /// Points per lab, in the order of the labs graded.
    pub points: Vec<u32>,
    pub status: String,
}

impl Row {
    fn summary(&self) -> String {
        match self.status.as_str() {
            "graded" => format!("{} points", self.points.iter().sum::<u32>()),
            other => other.to_string(),
        }
    }
}

/// The submissions under `dir`: each folder and each `.zip`, named by its file name.
fn submissions(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if name.starts_with('.') {
            continue;
        }
        if meta.is_dir() {
            found.push((name, path));
        } else if meta.is_file() && name.ends_with(".zip") {
            found.push((name.trim_end_matches(".zip").to_string(), path));
        }
    }
    found.sort();
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

/// Unpacks `zip` into `to` with `unzip`, after checking what it would unpack to.
fn unzip(zip: &Path, to: &Path) -> Result<PathBuf, String> {
    let listed = Command::new("unzip")
        .arg("-Zt")
        .arg(zip)
        .output()
        .map_err(|e| format!("could not run unzip (apt-get install unzip): {e}"))?;
    // "3 files, 12345 bytes uncompressed, 6789 bytes compressed:  45.0%"
    let summary = String::from_utf8_lossy(&listed.stdout).into_owned();
    let size: Option<u64> = summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" bytes uncompressed"))
        .and_then(|n| n.trim().parse().ok());
    match size {
        None => {
            return Err(format!(
                "{} is not a zip file unzip can read",
                zip.display()
            ))
        }
        Some(n) if n > MAX_UNZIPPED => {
            return Err(format!(
                "{} unpacks to {n} bytes, more than the limit",
                zip.display()
            ))
        }
        Some(_) => {}
    }
    let status = Command::new("unzip")
        .args(["-qq", "-o"])
        .arg(zip)
        .arg("-d")
        .arg(to)
        .status()
        .map_err(|e| format!("could not run unzip: {e}"))?;
    if !status.success() {
        return Err(format!("unzip could not unpack {}", zip.display()));
    }
    Ok(to.to_path_buf())
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

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_gradebook(path: &Path, labs: &[Lab], rows: &[Row]) -> Result<(), String> {
    let mut text = String::from("student");
    for lab in labs {
        let _ = write!(text, ",{}", lab.name);
    }
    text.push_str(",total,status\n");
    for row in rows {
        let _ = write!(text, "{}", csv_field(&row.student));
        for p in &row.points {
            let _ = write!(text, ",{p}");
        }
        let total: u32 = row.points.iter().sum();
        let _ = writeln!(text, ",{total},{}", csv_field(&row.status));
    }
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The rows of an earlier gradebook of the same labs (for skipping students already graded);
/// none when it graded other labs.
fn read_gradebook(path: &Path, labs: &[Lab]) -> Vec<Row> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let names: Vec<&str> = labs.iter().map(|l| l.name).collect();
    let header = format!("student,{},total,status", names.join(","));
    if lines.next() != Some(header.as_str()) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let fields = split_csv(line);
            let (student, rest) = fields.split_first()?;
            let (status, numbers) = rest.split_last()?;
            let (_total, points) = numbers.split_last()?;
            Some(Row {
                student: student.clone(),
                points: points.iter().map(|p| p.parse().unwrap_or(0)).collect(),
                status: status.clone(),
            })
        })
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradebook_rows_survive_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("socklab-book-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let rows = vec![
            Row {
                student: "ann, \"the\" first".into(),
                points: vec![3, 0],
                status: "graded".into(),
            },
            Row {
                student: "bob".into(),
                points: vec![0, 0],
                status: "not graded: no labs/ folder, or \"x\"".into(),
            },
        ];
        let labs = [Lab::new("a", "A", &[]), Lab::new("b", "B", &[])];
        write_gradebook(&dir.join("g.csv"), &labs, &rows).unwrap();
        assert_eq!(read_gradebook(&dir.join("g.csv"), &labs), rows);
        assert_eq!(read_gradebook(&dir.join("g.csv"), &labs[..1]), vec![]);
        let _ = fs::remove_dir_all(&dir);
    }
}
