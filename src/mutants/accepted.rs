//! `tests/<lab>/bugs/accepted.txt`: the mutants allowed to survive, each by file, kind and the
//! mutated line's text, with a reason a reviewer can check again.

use super::Mutant;
use std::fs;
use std::path::Path;

/// One entry of `tests/<lab>/bugs/accepted.txt`: a mutant allowed to survive, and why.
#[derive(Debug, PartialEq)]
pub struct Accepted {
    pub file: String,
    pub kind: String,
    /// The mutated line as it reads in the solution, trimmed.
    pub line: String,
    pub why: String,
}

impl Accepted {
    pub fn matches(&self, m: &Mutant) -> bool {
        self.file == m.file && self.kind == m.kind && self.line == m.before
    }
}

/// How an accepted mutant's reason starts: kinds a reviewer can check again.
pub const REASONS: [&str; 4] = ["logging only", "equivalent", "needs ", "test: "];

/// Reads an accepted list: entries `FILE: KIND: LINE` each followed by an indented
/// `why: REASON` line; `#` starts a comment line. A missing file is an empty list.
pub fn read_accepted(path: &Path) -> Result<Vec<Accepted>, String> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    parse_accepted(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_accepted(text: &str) -> Result<Vec<Accepted>, String> {
    let mut entries: Vec<Accepted> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let why = line.trim().strip_prefix("why:").map(str::trim);
            match (entries.last_mut(), why) {
                (Some(entry), Some(why)) if entry.why.is_empty() && !why.is_empty() => {
                    if !REASONS.iter().any(|r| why.starts_with(r)) {
                        return Err(format!(
                            "line {at}: a reason starts with one of {REASONS:?}: one a reviewer \
                             can check again (stderr is not graded; the argument why the mutant \
                             behaves the same; what no check can provoke; the test that shows it)"
                        ));
                    }
                    entry.why = why.to_string()
                }
                _ => {
                    return Err(format!(
                        "line {at}: expected one `    why: REASON` after an entry"
                    ))
                }
            }
            continue;
        }
        if let Some(e) = entries.last().filter(|e| e.why.is_empty()) {
            return Err(format!(
                "line {at}: the entry before ({}) has no `why:` line",
                e.line
            ));
        }
        let parts = line
            .split_once(": ")
            .and_then(|(file, rest)| rest.split_once(": ").map(|(kind, l)| (file, kind, l)));
        let Some((file, kind, l)) = parts else {
            return Err(format!("line {at}: expected `FILE: KIND: LINE`"));
        };
        entries.push(Accepted {
            file: file.trim().into(),
            kind: kind.trim().into(),
            line: l.trim().into(),
            why: String::new(),
        });
    }
    match entries.last() {
        Some(e) if e.why.is_empty() => {
            Err(format!("the last entry ({}) has no `why:` line", e.line))
        }
        _ => Ok(entries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutants::{mutants, root, solution_files};

    #[test]
    fn accepted_entries_need_a_reason() {
        let text = "# comment\nserver.rs: delete statement: log::warn!(\"{who}: {e}\");\n    why: logging only\n\nserver.rs: constant 50 → 51: sleep(50);\n    why: equivalent: a pause, not a protocol value\n";
        let entries = parse_accepted(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].line, "log::warn!(\"{who}: {e}\");");
        assert_eq!(entries[1].kind, "constant 50 → 51");
        assert_eq!(entries[1].why, "equivalent: a pause, not a protocol value");
        // A reason a reviewer cannot check again is refused.
        assert!(parse_accepted("a.rs: delete statement: x;\n    why: seems fine\n").is_err());
        assert!(parse_accepted("a.rs: delete statement: x;\n").is_err());
        assert!(
            parse_accepted("a.rs: delete statement: x;\nb.rs: drop ?: y?;\n    why: z\n").is_err()
        );
        assert!(parse_accepted("a.rs delete statement\n    why: z\n").is_err());
    }

    #[test]
    fn an_entry_matches_by_file_kind_and_line_text_not_number() {
        let src = "fn f() {\n    // BEGIN BLANK: x\n    log::info!(\"hi\");\n    // END BLANK\n}\n";
        let m = &mutants("s.rs", src).unwrap()[0];
        let entry =
            &parse_accepted("s.rs: delete statement: log::info!(\"hi\");\n    why: logging only\n")
                .unwrap()[0];
        assert!(entry.matches(m));
        let moved = mutants("s.rs", &format!("\n\n{src}")).unwrap();
        assert!(entry.matches(&moved[0]));
    }

    /// Every accepted list reads, and each of its entries is a mutant of today's solutions.
    #[test]
    fn the_accepted_lists_match_mutants_of_the_solutions() {
        let root = root();
        for (name, dir) in super::super::bug_folders(&root) {
            let all: Vec<Mutant> = solution_files(&root, &name)
                .unwrap()
                .iter()
                .flat_map(|(file, text)| mutants(file, text).unwrap())
                .collect();
            for entry in read_accepted(&dir.join("accepted.txt")).unwrap() {
                assert!(
                    all.iter().any(|m| entry.matches(m)),
                    "{name}/accepted.txt: no mutant {}: {}: {}",
                    entry.file,
                    entry.kind,
                    entry.line
                );
            }
        }
    }
}
