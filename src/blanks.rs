//! Blanks: how `labs/` is generated from `solutions/`.
//!
//! `solutions/` is the single source. A solution file marks what the student writes:
//!
//! - a block: the lines from `// BEGIN BLANK: <instruction>` to `// END BLANK` (both included)
//!   become one line `todo!("fill in: <instruction>");` at the BEGIN line's indentation;
//! - an expression: `/* BLANK: <instruction> */ expr /* END */` (it may span lines) becomes
//!   `todo!("fill in: <instruction>")`.
//!
//! Everything outside the marked regions is copied byte for byte. Other files (handouts, a lab's
//! answers file, whose answers are empty in solutions/ too) are copied as they are; capture files
//! that students make in `labs/` (`.pcap`, `.pcapng`) are theirs and not compared.
//! `labs/.generated` records a SHA-256 of every file as it was last generated, so that
//! regenerating never overwrites a file a student has changed unless forced.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

const BEGIN: &str = "// BEGIN BLANK:";
const END: &str = "// END BLANK";
const INLINE: &str = "/* BLANK:";
const INLINE_END: &str = "/* END */";
/// The manifest of generated files, inside the labs folder.
pub const MANIFEST: &str = ".generated";

/// The stub that replaces a blank: a `todo!` whose message is the instruction.
fn stub(instruction: &str) -> String {
    let text = instruction
        .trim()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('{', "{{")
        .replace('}', "}}");
    format!("todo!(\"fill in: {text}\")")
}

/// Replaces every marked region of a solution's Rust source with its stub.
/// Errors name the line of an unterminated or nested marker.
pub fn blank_out(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut in_block: Option<usize> = None;
    for (n, line) in source.split_inclusive('\n').enumerate() {
        let lineno = n + 1;
        let trimmed = line.trim_start();
        if let Some(instruction) = trimmed.strip_prefix(BEGIN) {
            if let Some(start) = in_block {
                return Err(format!(
                    "line {lineno}: BEGIN BLANK inside the blank opened on line {start}"
                ));
            }
            in_block = Some(lineno);
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}{};\n", stub(instruction)));
        } else if trimmed.starts_with(END) {
            if in_block.take().is_none() {
                return Err(format!("line {lineno}: END BLANK without a BEGIN BLANK"));
            }
        } else if in_block.is_none() {
            out.push_str(line);
        }
    }
    if let Some(start) = in_block {
        return Err(format!(
            "line {start}: BEGIN BLANK is never closed by // END BLANK"
        ));
    }
    blank_inline(&out)
}

fn blank_inline(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(INLINE) {
        let line_of = |s: &str| source[..source.len() - s.len()].lines().count() + 1;
        out.push_str(&rest[..start]);
        let after = &rest[start + INLINE.len()..];
        let close = after
            .find("*/")
            .ok_or_else(|| format!("line {}: /* BLANK: comment is not closed", line_of(rest)))?;
        let instruction = &after[..close];
        let body = &after[close + 2..];
        let end = body
            .find(INLINE_END)
            .ok_or_else(|| format!("line {}: /* BLANK: has no /* END */", line_of(after)))?;
        if body[..end].contains(INLINE) {
            return Err(format!("line {}: nested /* BLANK: */", line_of(after)));
        }
        out.push_str(&stub(instruction));
        rest = &body[end + INLINE_END.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What the student version of a solution file is: blanked `.rs`, anything else as is.
pub fn generate_file(path: &Path, contents: &[u8]) -> Result<Vec<u8>, String> {
    if path.extension().is_some_and(|e| e == "rs") {
        let text =
            std::str::from_utf8(contents).map_err(|_| format!("{}: not UTF-8", path.display()))?;
        blank_out(text)
            .map(String::into_bytes)
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Ok(contents.to_vec())
    }
}

/// A capture a student made with `make capture` (not generated, not compared).
fn is_capture(rel: &Path) -> bool {
    rel.extension()
        .is_some_and(|e| e == "pcap" || e == "pcapng")
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file below `dir`, as paths relative to it, sorted.
fn files_below(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                found.push(rel.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The whole `labs/` tree as the generator makes it from `solutions/`: relative path → bytes.
pub fn generate_tree(solutions: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let files = files_below(solutions).map_err(|e| format!("{}: {e}", solutions.display()))?;
    let mut tree = BTreeMap::new();
    for rel in files {
        let path = solutions.join(&rel);
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        tree.insert(rel.clone(), generate_file(&path, &bytes)?);
    }
    Ok(tree)
}

/// Whether `labs/<lab>/` is still exactly as `make labs` generated it: every file the manifest
/// lists for the lab has its recorded hash (a lab nobody has started). False for a lab the
/// manifest does not list.
pub fn untouched(labs: &Path, lab: &str) -> bool {
    let manifest = read_manifest(labs);
    let mut mine = manifest
        .iter()
        .filter(|(p, _)| p.starts_with(lab))
        .peekable();
    mine.peek().is_some()
        && mine.all(|(p, hash)| fs::read(labs.join(p)).is_ok_and(|b| sha256_hex(&b) == *hash))
}

fn read_manifest(labs: &Path) -> BTreeMap<PathBuf, String> {
    let text = fs::read_to_string(labs.join(MANIFEST)).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(hash, path)| (PathBuf::from(path), hash.to_string()))
        .collect()
}

/// Differences between `labs/` and what the generator makes: one line per file.
pub fn check(solutions: &Path, labs: &Path) -> Result<Vec<String>, String> {
    let tree = generate_tree(solutions)?;
    let mut problems = Vec::new();
    for (rel, want) in &tree {
        match fs::read(labs.join(rel)) {
            Ok(have) if &have == want => {}
            Ok(_) => problems.push(format!(
                "labs/{} differs from what solutions/ generates",
                rel.display()
            )),
            Err(_) => problems.push(format!("labs/{} is missing", rel.display())),
        }
    }
    if labs.is_dir() {
        for rel in files_below(labs).map_err(|e| e.to_string())? {
            if rel != Path::new(MANIFEST) && !tree.contains_key(&rel) && !is_capture(&rel) {
                problems.push(format!(
                    "labs/{} has no source in solutions/",
                    rel.display()
                ));
            }
        }
    }
    Ok(problems)
}

/// Writes `labs/` from `solutions/`. A lab file that differs both from the new output and from
/// what was last generated holds someone's work: it is kept (and reported) unless `force`.
/// Returns the messages to print; `Err` when files were kept back.
pub fn generate(solutions: &Path, labs: &Path, force: bool) -> Result<Vec<String>, Vec<String>> {
    let tree = generate_tree(solutions).map_err(|e| vec![e])?;
    let manifest = read_manifest(labs);
    let (mut done, mut kept) = (Vec::new(), Vec::new());
    let mut new_manifest = String::new();
    for (rel, want) in &tree {
        let target = labs.join(rel);
        let current = fs::read(&target).ok();
        let untouched = match &current {
            None => true,
            Some(have) => have == want || manifest.get(rel) == Some(&sha256_hex(have)),
        };
        if untouched || force {
            if current.as_ref() != Some(want) {
                let written = target
                    .parent()
                    .map_or(Ok(()), fs::create_dir_all)
                    .and_then(|_| fs::write(&target, want));
                if let Err(e) = written {
                    return Err(vec![format!("{}: {e}", target.display())]);
                }
                done.push(format!("wrote labs/{}", rel.display()));
            }
            new_manifest.push_str(&format!("{}  {}\n", sha256_hex(want), rel.display()));
        } else {
            kept.push(format!(
                "labs/{} has changes made after it was generated; kept it (FORCE=1 overwrites)",
                rel.display()
            ));
            if let Some(hash) = manifest.get(rel) {
                new_manifest.push_str(&format!("{hash}  {}\n", rel.display()));
            }
        }
    }
    fs::write(labs.join(MANIFEST), new_manifest).map_err(|e| vec![e.to_string()])?;
    if kept.is_empty() {
        Ok(done)
    } else {
        Err(kept)
    }
}

/// One marked blank of a solution file, markers included.
#[derive(Clone, Debug, PartialEq)]
pub struct Marked {
    /// The bytes from the first marker to the end of the last (a block: whole lines).
    pub span: Range<usize>,
    /// Its line in the solution file (1-based).
    pub line: usize,
    pub instruction: String,
    /// What the span becomes in the skeleton.
    pub stub: String,
}

/// Every blank of a solution's source in order, with what it becomes in the skeleton.
pub fn marked(source: &str) -> Result<Vec<Marked>, String> {
    let mut found = Vec::new();
    let mut open: Option<(usize, usize, String, String)> = None;
    let mut offset = 0;
    for (n, line) in source.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if let Some(instruction) = trimmed.strip_prefix(BEGIN) {
            let indent = &line[..line.len() - trimmed.len()];
            open = Some((
                offset,
                n + 1,
                instruction.trim().to_string(),
                indent.to_string(),
            ));
        } else if trimmed.starts_with(END) {
            let (start, line_no, instruction, indent) = open
                .take()
                .ok_or_else(|| format!("line {}: END BLANK without BEGIN BLANK", n + 1))?;
            found.push(Marked {
                span: start..offset + line.len(),
                line: line_no,
                stub: format!("{indent}{};\n", stub(&instruction)),
                instruction,
            });
        }
        offset += line.len();
    }
    let mut from = 0;
    while let Some(at) = source[from..].find(INLINE).map(|i| from + i) {
        let close = source[at..]
            .find("*/")
            .map(|i| at + i)
            .ok_or("a /* BLANK: comment is not closed")?;
        let end = source[close..]
            .find(INLINE_END)
            .map(|i| close + i + INLINE_END.len())
            .ok_or("a /* BLANK: has no /* END */")?;
        let instruction = source[at + INLINE.len()..close].trim().to_string();
        found.push(Marked {
            span: at..end,
            line: source[..at].lines().count().max(1) + usize::from(source[..at].ends_with('\n')),
            stub: stub(&instruction),
            instruction,
        });
        from = end;
    }
    found.sort_by_key(|m| m.span.start);
    Ok(found)
}

/// `source` with only the blanks numbered `which` (indices into [`marked`]) replaced by their
/// stubs: the rest of the solution stays solved.
pub fn revert(source: &str, blanks: &[Marked], which: &[usize]) -> String {
    let mut out = source.to_string();
    let mut chosen: Vec<&Marked> = which.iter().map(|&i| &blanks[i]).collect();
    chosen.sort_by_key(|m| std::cmp::Reverse(m.span.start));
    for m in chosen {
        out.replace_range(m.span.clone(), &m.stub);
    }
    out
}

/// Byte ranges students write: the lines between `// BEGIN BLANK:` and `// END BLANK`, and the
/// text between `/* BLANK: … */` and `/* END */`. Sorted; an unbalanced marker is an error.
pub fn blank_regions(source: &str) -> Result<Vec<Range<usize>>, String> {
    let mut regions = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let mut offset = 0;
    for (n, line) in source.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(BEGIN) {
            if open.is_some() {
                return Err(format!("line {}: BEGIN BLANK inside a blank", n + 1));
            }
            open = Some((n + 1, offset + line.len()));
        } else if trimmed.starts_with(END) {
            let (_, start) = open
                .take()
                .ok_or_else(|| format!("line {}: END BLANK without BEGIN BLANK", n + 1))?;
            regions.push(start..offset);
        }
        offset += line.len();
    }
    if let Some((line, _)) = open {
        return Err(format!("line {line}: BEGIN BLANK is never closed"));
    }
    let mut from = 0;
    while let Some(found) = source[from..].find(INLINE) {
        let at = from + found;
        let close = source[at..]
            .find("*/")
            .map(|i| at + i + 2)
            .ok_or("a /* BLANK: comment is not closed")?;
        let end = source[close..]
            .find(INLINE_END)
            .map(|i| close + i)
            .ok_or("a /* BLANK: has no /* END */")?;
        regions.push(close..end);
        from = end + INLINE_END.len();
    }
    regions.sort_by_key(|r| r.start);
    Ok(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_blank_becomes_one_stub_at_its_indentation() {
        let src = "fn main() {\n    let a = 1;\n    // BEGIN BLANK: bind the socket\n    let s = bind();\n    use_it(s);\n    // END BLANK\n    done();\n}\n";
        let want = "fn main() {\n    let a = 1;\n    todo!(\"fill in: bind the socket\");\n    done();\n}\n";
        assert_eq!(blank_out(src).unwrap(), want);
    }

    #[test]
    fn inline_blank_may_span_lines_and_escapes_format_braces() {
        let src = "let s: T = /* BLANK: call {it} \"now\" */ make(\n    1,\n) /* END */;\nrest\n";
        let want = "let s: T = todo!(\"fill in: call {{it}} \\\"now\\\"\");\nrest\n";
        assert_eq!(blank_out(src).unwrap(), want);
    }

    #[test]
    fn text_outside_blanks_is_untouched() {
        let src = "a\r\n  b // not a marker\n\tc";
        assert_eq!(blank_out(src).unwrap(), src);
    }

    #[test]
    fn unbalanced_markers_are_errors_with_line_numbers() {
        assert!(blank_out("// BEGIN BLANK: x\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(blank_out("x\n// END BLANK\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(blank_out("// BEGIN BLANK: a\n// BEGIN BLANK: b\n// END BLANK\n").is_err());
        assert!(blank_out("let x = /* BLANK: a */ 1;\n").is_err());
    }

    #[test]
    fn generate_keeps_student_work_unless_forced() {
        let root = std::env::temp_dir().join(format!("socklab-blanks-{}", std::process::id()));
        let (sol, labs) = (root.join("solutions"), root.join("labs"));
        fs::create_dir_all(sol.join("lab")).unwrap();
        fs::write(
            sol.join("lab/a.rs"),
            "x\n// BEGIN BLANK: do\ny\n// END BLANK\n",
        )
        .unwrap();
        fs::write(sol.join("lab/README.md"), "handout\n").unwrap();

        generate(&sol, &labs, false).unwrap();
        assert!(check(&sol, &labs).unwrap().is_empty());
        assert_eq!(
            fs::read_to_string(labs.join("lab/a.rs")).unwrap(),
            "x\ntodo!(\"fill in: do\");\n"
        );

        // The solution changes: an untouched lab file follows it.
        fs::write(sol.join("lab/a.rs"), "x2\n").unwrap();
        assert_eq!(check(&sol, &labs).unwrap().len(), 1);
        generate(&sol, &labs, false).unwrap();
        assert_eq!(fs::read_to_string(labs.join("lab/a.rs")).unwrap(), "x2\n");

        // A student edits it: regenerating keeps the edit, forcing replaces it.
        fs::write(labs.join("lab/a.rs"), "my work\n").unwrap();
        fs::write(sol.join("lab/a.rs"), "x3\n").unwrap();
        assert!(generate(&sol, &labs, false).is_err());
        assert_eq!(
            fs::read_to_string(labs.join("lab/a.rs")).unwrap(),
            "my work\n"
        );
        assert!(
            generate(&sol, &labs, false).is_err(),
            "still refused the second time"
        );
        generate(&sol, &labs, true).unwrap();
        assert_eq!(fs::read_to_string(labs.join("lab/a.rs")).unwrap(), "x3\n");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn one_blank_reverts_while_the_others_stay_solved() {
        let src = "fn f() {\n    // BEGIN BLANK: bind\n    let s = bind();\n    // END BLANK\n    let t: T = /* BLANK: wrap */ wrap(s) /* END */;\n}\n";
        let found = marked(src).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].line, found[1].line), (2, 5));
        let first = revert(src, &found, &[0]);
        assert!(first
            .contains("    todo!(\"fill in: bind\");\n    let t: T = /* BLANK: wrap */ wrap(s)"));
        let second = revert(src, &found, &[1]);
        assert!(
            second.contains("let s = bind();")
                && second.contains("let t: T = todo!(\"fill in: wrap\");")
        );
        // Both reverted is the skeleton.
        assert_eq!(revert(src, &found, &[0, 1]), blank_out(src).unwrap());
    }
}
