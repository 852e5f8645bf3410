//! The corpus of realistic student bugs: `tests/<lab>/bugs/<name>.bug`, each a mistake students
//! make, written as exact-text replacements in a solution file, with the check that must catch it.
//!
//! A bug file:
//!
//! ```text
//! # Comment lines start with '#'.
//! mistake: no thread per client: the accept loop serves one client to its end
//! check: serves several clients at once
//! replace in chatroom_server.rs:
//!         let room = Arc::clone(&room);
//! with:
//!         handle_client(stream, addr, Arc::clone(&room));
//! end
//! ```
//!
//! `check:` names a check of the lab (it may be repeated: one of them must fail). Between
//! `replace in FILE:` and `with:` are whole lines of the solution file, verbatim, found exactly
//! once; between `with:` and `end` what they become. A bug today's checks do not catch says
//! `expect: survives` and `note: …`; it then must pass every check, so that the corpus says when
//! a new check starts catching it.

use super::{graded_checks, solution_files, Kit};
use crate::grader::{secs, Check, Lab};
use std::fs;
use std::path::Path;
use std::time::Instant;

/// One bug of the corpus.
#[derive(Debug, PartialEq)]
pub struct Bug {
    /// The file's name without `.bug`.
    pub name: String,
    pub mistake: String,
    /// The checks that should catch it (one failing is enough).
    pub checks: Vec<String>,
    /// `Some(note)` for a bug today's checks let through (`expect: survives`).
    pub survives: Option<String>,
    pub edits: Vec<Replace>,
}

/// Replace `before` (whole lines) with `after` in solution file `file`.
#[derive(Debug, PartialEq)]
pub struct Replace {
    pub file: String,
    pub before: String,
    pub after: String,
}

impl Bug {
    /// Reads the text of a bug file named `name`.
    pub fn parse(name: &str, text: &str) -> Result<Bug, String> {
        enum State {
            Header,
            Before(String, Vec<String>),
            After(String, String, Vec<String>),
        }
        let mut bug = Bug {
            name: name.to_string(),
            mistake: String::new(),
            checks: Vec::new(),
            survives: None,
            edits: Vec::new(),
        };
        let (mut expect_survives, mut note) = (false, None);
        let mut state = State::Header;
        for (n, line) in text.lines().enumerate() {
            let at = n + 1;
            state = match state {
                State::Header => {
                    let trimmed = line.trim();
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        State::Header
                    } else if let Some(file) = line
                        .strip_prefix("replace in ")
                        .and_then(|f| f.strip_suffix(':'))
                    {
                        State::Before(file.trim().to_string(), Vec::new())
                    } else {
                        let (key, value) = line
                            .split_once(':')
                            .map(|(k, v)| (k.trim(), v.trim().to_string()))
                            .ok_or_else(|| {
                                format!("line {at}: expected `key: value` or `replace in FILE:`")
                            })?;
                        match key {
                            "mistake" if bug.mistake.is_empty() => bug.mistake = value,
                            "check" => bug.checks.push(value),
                            "expect" if value == "survives" => expect_survives = true,
                            "expect" if value == "loses points" => {}
                            "note" => note = Some(value),
                            _ => return Err(format!("line {at}: unexpected `{key}:` (mistake, check, expect: survives|loses points, note)")),
                        }
                        State::Header
                    }
                }
                State::Before(file, lines) if line == "with:" => {
                    State::After(file, lines.join("\n"), Vec::new())
                }
                State::Before(file, mut lines) => {
                    lines.push(line.to_string());
                    State::Before(file, lines)
                }
                State::After(file, before, lines) if line == "end" => {
                    if before.trim().is_empty() {
                        return Err(format!("line {at}: nothing to replace in {file}"));
                    }
                    let after = lines.iter().map(|l| format!("{l}\n")).collect();
                    bug.edits.push(Replace {
                        file,
                        before: format!("{before}\n"),
                        after,
                    });
                    State::Header
                }
                State::After(file, before, mut lines) => {
                    lines.push(line.to_string());
                    State::After(file, before, lines)
                }
            };
        }
        if !matches!(state, State::Header) {
            return Err("a `replace in` block has no `with:` or no `end`".into());
        }
        if bug.mistake.is_empty() || bug.checks.is_empty() || bug.edits.is_empty() {
            return Err(
                "a bug needs `mistake:`, at least one `check:` and a `replace in` block".into(),
            );
        }
        match (expect_survives, note) {
            (true, Some(note)) if !note.is_empty() => bug.survives = Some(note),
            (true, _) => return Err("`expect: survives` needs a `note:` saying why".into()),
            (false, _) => {}
        }
        Ok(bug)
    }

    /// The solution files this bug changes, changed: (file, new text).
    pub fn apply(&self, files: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
        let mut changed: Vec<(String, String)> = Vec::new();
        for edit in &self.edits {
            let text = match changed.iter().find(|(f, _)| *f == edit.file) {
                Some((_, t)) => t.clone(),
                None => files
                    .iter()
                    .find(|(f, _)| *f == edit.file)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| format!("no solution file {}", edit.file))?,
            };
            // Whole lines only: a match must start the file or follow a newline.
            let starts: Vec<usize> = text
                .match_indices(&edit.before)
                .map(|(i, _)| i)
                .filter(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
                .collect();
            let first_line = edit.before.lines().next().unwrap_or("").trim();
            let at = match starts.as_slice() {
                [one] => *one,
                [] => return Err(format!("{}: the lines to replace are not there any more (from `{first_line}`)", edit.file)),
                _ => return Err(format!("{}: the lines to replace occur {} times (from `{first_line}`); take more lines", edit.file, starts.len())),
            };
            let new = format!(
                "{}{}{}",
                &text[..at],
                edit.after,
                &text[at + edit.before.len()..]
            );
            changed.retain(|(f, _)| *f != edit.file);
            changed.push((edit.file.clone(), new));
        }
        Ok(changed)
    }
}

/// The bugs of `tests/<lab>/bugs/`, sorted by name.
pub fn read_bugs(dir: &Path) -> Result<Vec<Bug>, String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut bugs = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|e| e != "bug") {
            continue;
        }
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        bugs.push(Bug::parse(&name, &text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    bugs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(bugs)
}

/// What became of a bug: it lost points on the check it names, it passes every check as its
/// file says it should, or neither.
pub(crate) enum Verdict {
    Caught,
    Survives,
    Wrong,
}

/// Grades every bug of one lab; the solutions must first pass the checks the bugs name.
pub(crate) fn run_lab(
    root: &Path,
    kit: &Kit,
    lab: &Lab,
    bugs: &[Bug],
    jobs: usize,
) -> Result<Vec<(String, Verdict)>, String> {
    let files = solution_files(root, lab.name)?;
    let checks = graded_checks(lab);
    let named = |bug: &Bug| -> Result<Vec<Check>, String> {
        bug.checks
            .iter()
            .map(|want| {
                checks
                    .iter()
                    .find(|c| c.name == want.as_str())
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "{}.bug: no check named \"{want}\" in lab {}",
                            bug.name, lab.name
                        )
                    })
            })
            .collect()
    };
    let mut baseline: Vec<Check> = Vec::new();
    for bug in bugs {
        for c in named(bug)? {
            if !baseline.iter().any(|b| b.name == c.name) {
                baseline.push(c);
            }
        }
    }
    kit.restore(lab.name, &files)?;
    kit.compile(lab)
        .map_err(|e| format!("the solutions do not compile: {e}"))?;
    let failed = kit.failures(lab, &baseline, jobs);
    if let Some((name, why)) = failed.first() {
        return Err(format!(
            "the solutions as they are fail \"{name}\" ({}), so bugs cannot be measured",
            super::short(why)
        ));
    }
    let points = |failed: &[(&str, String)]| -> u32 {
        failed
            .iter()
            .filter_map(|(n, _)| checks.iter().find(|c| c.name == *n))
            .map(|c| c.points)
            .sum()
    };
    let mut results = Vec::new();
    for bug in bugs {
        let begun = Instant::now();
        let label = format!("{}/{}", lab.name, bug.name);
        let changed = bug
            .apply(&files)
            .map_err(|e| format!("{}.bug: {e}", bug.name))?;
        for (file, text) in &changed {
            kit.write(lab.name, file, text)?;
        }
        let mine = named(bug)?;
        let compiled = kit.compile(lab);
        let (verdict, failed, line) = match compiled {
            Err(e) => (Verdict::Wrong, Vec::new(), format!("does not compile: {e}")),
            Ok(()) if bug.survives.is_some() => {
                let failed = kit.failures(lab, &checks, jobs);
                if failed.is_empty() {
                    let note = bug.survives.as_deref().unwrap_or("");
                    (
                        Verdict::Survives,
                        failed,
                        format!("survives, as noted: {note}"),
                    )
                } else {
                    let line = format!(
                        "marked `expect: survives` but loses {} pt now: take the mark out",
                        points(&failed)
                    );
                    (Verdict::Wrong, failed, line)
                }
            }
            Ok(()) => {
                let failed = kit.failures(lab, &mine, jobs);
                if failed.is_empty() {
                    let others: Vec<Check> = checks
                        .iter()
                        .filter(|c| !mine.iter().any(|m| m.name == c.name))
                        .cloned()
                        .collect();
                    let failed = kit.failures(lab, &others, jobs);
                    let line = if failed.is_empty() {
                        "loses no points".to_string()
                    } else {
                        format!(
                            "passes the check it names; loses {} pt on others",
                            points(&failed)
                        )
                    };
                    (Verdict::Wrong, failed, line)
                } else if let Some((name, _)) = failed
                    .iter()
                    .find(|(_, why)| crate::grader::rust_words(why))
                {
                    let line = format!(
                        "caught, but the reason of \"{name}\" shows Rust's spelling of a value \
                         (Some(…), None, Err(…)) instead of words"
                    );
                    (Verdict::Wrong, failed, line)
                } else {
                    let line = format!("loses {} pt on the checks it names", points(&failed));
                    (Verdict::Caught, failed, line)
                }
            }
        };
        kit.restore(lab.name, &files)?;
        let mark = match verdict {
            Verdict::Caught => "ok  ",
            Verdict::Survives => "ok  ",
            Verdict::Wrong => "FAIL",
        };
        // One print per bug: the labs graded at once interleave whole entries, not lines.
        let mut entry = format!("{mark} {label} ({}): {line}\n", secs(begun.elapsed()));
        entry += &format!("       mistake: {}\n", bug.mistake);
        for (name, why) in &failed {
            entry += &format!("       failed \"{name}\": {}\n", super::short(why));
        }
        print!("{entry}");
        results.push((bug.name.clone(), verdict));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::root;

    const BUG: &str = "# a comment\nmistake: forgot the thread\ncheck: serves several clients at once\n\nreplace in s.rs:\n    spawn(move || serve(c));\nwith:\n    serve(c);\nend\n";

    #[test]
    fn a_bug_file_reads_and_applies_to_whole_lines() {
        let bug = Bug::parse("no-thread", BUG).unwrap();
        assert_eq!(bug.checks, vec!["serves several clients at once"]);
        assert_eq!(bug.survives, None);
        let files = vec![(
            "s.rs".to_string(),
            "loop {\n    spawn(move || serve(c));\n}\n".to_string(),
        )];
        let changed = bug.apply(&files).unwrap();
        assert_eq!(
            changed,
            vec![("s.rs".to_string(), "loop {\n    serve(c);\n}\n".to_string())]
        );
    }

    #[test]
    fn missing_twice_found_or_unmarked_bugs_are_errors() {
        let bug = Bug::parse("b", BUG).unwrap();
        let twice = vec![(
            "s.rs".to_string(),
            "    spawn(move || serve(c));\n    spawn(move || serve(c));\n".to_string(),
        )];
        assert!(bug.apply(&twice).unwrap_err().contains("2 times"));
        let inside = vec![(
            "s.rs".to_string(),
            "x    spawn(move || serve(c));\n".to_string(),
        )];
        assert!(bug.apply(&inside).unwrap_err().contains("not there"));
        assert!(Bug::parse("b", "mistake: m\nreplace in s.rs:\nx\nwith:\ny\nend\n").is_err());
        assert!(Bug::parse("b", &BUG.replace("end\n", "")).is_err());
        assert!(Bug::parse("b", &format!("expect: survives\n{BUG}")).is_err());
        let noted = Bug::parse(
            "b",
            &format!("expect: survives\nnote: no check waits for it\n{BUG}"),
        )
        .unwrap();
        assert_eq!(noted.survives.as_deref(), Some("no check waits for it"));
    }

    /// Every bug of the corpus reads, names checks of its lab and applies to today's solutions.
    #[test]
    fn the_corpus_applies_to_the_solutions() {
        let root = root();
        let folders = super::super::bug_folders(&root);
        assert!(!folders.is_empty(), "no tests/<lab>/bugs/ found");
        for (name, dir) in folders {
            let files = solution_files(&root, &name).unwrap();
            for bug in read_bugs(&dir).unwrap() {
                let changed = bug
                    .apply(&files)
                    .unwrap_or_else(|e| panic!("{name}/{}: {e}", bug.name));
                assert!(!changed.is_empty());
            }
        }
    }
}
