//! The mutation generator: small, text-level changes to the code inside a solution file's blanks
//! (what a student writes), one change per mutant. Nothing outside the blanks is ever touched.
//!
//! The kinds: delete a single-line statement; delete an early `return …;`; drop a `?`
//! (`foo()?;` becomes `let _ = foo();`); negate an `if`/`while` condition or a match guard;
//! `break` ↔ `continue`; an integer literal plus or minus one. Strings, characters and comments
//! are never mutated: a small lexer marks which bytes are code.

use crate::blanks::blank_regions;
use std::ops::Range;

/// One mutant of a solution file.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutant {
    /// The file's name, as in `solutions/<lab>/` (`chatroom_server.rs`).
    pub file: String,
    /// The mutated line, counted from 1 (for people: entries never use it, it drifts).
    pub line: usize,
    /// What was done: `delete statement`, `negate condition`, `constant 50 → 51`, …
    pub kind: String,
    /// The mutated line before and after, trimmed; `after` is empty when the line is deleted.
    pub before: String,
    pub after: String,
    /// The whole file with the mutation.
    pub source: String,
}

impl Mutant {
    /// `file:line: kind (before → after)`, as the report lists survivors.
    pub fn describe(&self) -> String {
        let after = if self.after.is_empty() {
            "(nothing)"
        } else {
            &self.after
        };
        format!(
            "{}:{}: {} ({} → {})",
            self.file, self.line, self.kind, self.before, after
        )
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// For every byte of `source`: is it code (not inside a comment, a string or a character
/// literal)? Quotes and comment markers count as not code.
pub fn code_mask(source: &str) -> Vec<bool> {
    let s = source.as_bytes();
    let mut code = vec![true; s.len()];
    let mut i = 0;
    let prefix_ok = |i: usize| i == 0 || !is_ident(s[i - 1]);
    while i < s.len() {
        let start = i;
        if s[i..].starts_with(b"//") {
            while i < s.len() && s[i] != b'\n' {
                i += 1;
            }
        } else if s[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < s.len() {
                if s[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if s[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(s, i).filter(|_| prefix_ok(i)) {
            // r"…", r#"…"#, br"…": no escapes; ends at a quote followed by as many #.
            i = s[i..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(s.len(), |q| i + q + 1);
            let closing: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i = s[i..]
                .windows(closing.len())
                .position(|w| w == closing.as_slice())
                .map_or(s.len(), |p| i + p + closing.len());
        } else if s[i] == b'"' || (s[i..].starts_with(b"b\"") && prefix_ok(i)) {
            i = s[i..]
                .iter()
                .position(|&b| b == b'"')
                .map_or(s.len(), |q| i + q + 1);
            while i < s.len() && s[i] != b'"' {
                i += if s[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(s.len());
        } else if s[i] == b'\'' {
            // A character literal ('a', '\n', 'é') or a lifetime/label ('a, 'outer: code).
            let after = &source[i + 1..];
            let mut chars = after.chars();
            match (chars.next(), chars.next()) {
                (Some('\\'), _) => {
                    // The quote, the backslash and the escaped character, then up to the quote.
                    i += 3;
                    while i < s.len() && s[i] != b'\'' {
                        i += if s[i] == b'\\' { 2 } else { 1 };
                    }
                    i = (i + 1).min(s.len());
                }
                (Some(c), Some('\'')) => i += 1 + c.len_utf8() + 1,
                _ => i += 1,
            }
            if i == start + 1 {
                continue;
            }
        } else {
            i += 1;
            continue;
        }
        code[start..i.min(s.len())].fill(false);
    }
    code
}

/// At `i`, the start of a raw string (`r"`, `r#"`, `br"`…)? The number of `#` if so.
fn raw_string_start(s: &[u8], i: usize) -> Option<usize> {
    let j = if s[i..].starts_with(b"br") {
        i + 2
    } else if s[i] == b'r' {
        i + 1
    } else {
        return None;
    };
    let hashes = s[j..].iter().take_while(|&&b| b == b'#').count();
    (s.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// One line of the source as the generator sees it.
struct Line<'a> {
    number: usize,
    /// Byte range of the line without its `\n`.
    span: Range<usize>,
    text: &'a str,
}

/// A change: replace `span` of the source with `with`.
struct Edit {
    span: Range<usize>,
    with: String,
    kind: String,
}

/// Every mutant of `source` (a solution file called `file`), in the order of the lines.
pub fn mutants(file: &str, source: &str) -> Result<Vec<Mutant>, String> {
    let regions = blank_regions(source).map_err(|e| format!("{file}: {e}"))?;
    let code = code_mask(source);
    let mut lines = Vec::new();
    let mut offset = 0;
    for (n, raw) in source.split_inclusive('\n').enumerate() {
        let text = raw.strip_suffix('\n').unwrap_or(raw);
        let text = text.strip_suffix('\r').unwrap_or(text);
        lines.push(Line {
            number: n + 1,
            span: offset..offset + text.len(),
            text,
        });
        offset += raw.len();
    }
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        for region in &regions {
            let part = line.span.start.max(region.start)..line.span.end.min(region.end);
            if part.start >= part.end || source[part.clone()].trim().is_empty() {
                continue;
            }
            let mut edits = Vec::new();
            let whole = part == line.span;
            if whole && starts_statement(&lines[..index], &regions, source, &code) {
                statement_edits(source, &code, line, &mut edits);
            }
            condition_edits(source, &code, part.clone(), &mut edits);
            jump_edits(source, &code, part.clone(), &mut edits);
            constant_edits(source, &code, part.clone(), &mut edits);
            for edit in edits {
                let mutated = format!(
                    "{}{}{}",
                    &source[..edit.span.start],
                    edit.with,
                    &source[edit.span.end..]
                );
                // The line as it reads after the edit (empty when it is gone).
                let (start, end) = (line.span.start, line.span.end);
                let after = if edit.span.end > end {
                    String::new()
                } else {
                    format!(
                        "{}{}{}",
                        &source[start..edit.span.start],
                        edit.with,
                        &source[edit.span.end..end]
                    )
                };
                out.push(Mutant {
                    file: file.to_string(),
                    line: line.number,
                    kind: edit.kind,
                    before: line.text.trim().to_string(),
                    after: after.trim().to_string(),
                    source: mutated,
                });
            }
        }
    }
    Ok(out)
}

/// The code bytes of `span`, other bytes blanked out, trimmed at the end.
fn code_text(source: &str, code: &[bool], span: Range<usize>) -> String {
    source[span.clone()]
        .char_indices()
        .map(|(i, c)| if code[span.start + i] { c } else { ' ' })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Do brackets balance in `text`, never going below zero?
fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// Does the line after `before` start a statement: is the last line with code before it, inside
/// the same blank, the end of a statement or of a block (`;`, `{`, `}`)? A blank's first line
/// starts one too.
fn starts_statement(
    before: &[Line],
    regions: &[Range<usize>],
    source: &str,
    code: &[bool],
) -> bool {
    for line in before.iter().rev() {
        if !regions.iter().any(|r| r.contains(&line.span.start)) {
            return true;
        }
        let text = code_text(source, code, line.span.clone());
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        return text.ends_with([';', '{', '}']);
    }
    true
}

/// Deleting a one-line statement (an early return has its own kind), and dropping its `?`.
fn statement_edits(source: &str, code: &[bool], line: &Line, edits: &mut Vec<Edit>) {
    let text = code_text(source, code, line.span.clone());
    let text = text.trim();
    let first = text.chars().next().unwrap_or(' ');
    if !text.ends_with(';')
        || !balanced(text)
        || !(first.is_alphabetic() || first == '_' || first == '*')
    {
        return;
    }
    let is_return = text.starts_with("return ") || text == "return;";
    let delete_to = (line.span.end + 1).min(source.len());
    edits.push(Edit {
        span: line.span.start..delete_to,
        with: String::new(),
        kind: if is_return {
            "delete return"
        } else {
            "delete statement"
        }
        .into(),
    });
    let statement = line.text.trim();
    if let Some(expr) = statement.strip_suffix("?;") {
        if !is_return && !text.starts_with("let ") && text.ends_with("?;") {
            let indent = &line.text[..line.text.len() - line.text.trim_start().len()];
            edits.push(Edit {
                span: line.span.clone(),
                with: format!("{indent}let _ = {expr};"),
                kind: "drop ?".into(),
            });
        }
    }
}

/// Occurrences of the keyword `word` among the code bytes of `span`.
fn keyword_at(source: &str, code: &[bool], span: &Range<usize>, word: &str) -> Vec<usize> {
    let s = source.as_bytes();
    let mut found = Vec::new();
    let mut from = span.start;
    while let Some(i) = source[from..span.end].find(word).map(|i| from + i) {
        let end = i + word.len();
        let bounded = (i == 0 || !is_ident(s[i - 1])) && (end >= s.len() || !is_ident(s[end]));
        if bounded && code[i] {
            found.push(i);
        }
        from = end;
    }
    found
}

/// Negating the condition of an `if` or `while` whose condition ends on the same line at its
/// `{`, or of a match guard (`pattern if cond =>`). `if let` and `while let` are left alone.
fn condition_edits(source: &str, code: &[bool], span: Range<usize>, edits: &mut Vec<Edit>) {
    let s = source.as_bytes();
    let last_code = (span.start..span.end)
        .rev()
        .find(|&i| code[i] && !s[i].is_ascii_whitespace());
    for word in ["if", "while"] {
        for at in keyword_at(source, code, &span, word) {
            let start = at + word.len();
            if !source[start..].starts_with(' ') || source[start..].trim_start().starts_with("let ")
            {
                continue;
            }
            let mut depth = 0i32;
            let mut end = None;
            for i in start..span.end {
                if !code[i] {
                    continue;
                }
                match s[i] {
                    b'(' | b'[' => depth += 1,
                    b')' | b']' => depth -= 1,
                    b'{' if depth == 0 => {
                        if Some(i) == last_code {
                            end = Some(i);
                        }
                        break;
                    }
                    b'=' if depth == 0 && s.get(i + 1) == Some(&b'>') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
                if depth < 0 {
                    break;
                }
            }
            let Some(end) = end else { continue };
            let cond = source[start..end].trim();
            if cond.is_empty() {
                continue;
            }
            edits.push(Edit {
                span: start..end,
                with: format!(" !({cond}) "),
                kind: "negate condition".into(),
            });
        }
    }
}

/// `break` ↔ `continue`.
fn jump_edits(source: &str, code: &[bool], span: Range<usize>, edits: &mut Vec<Edit>) {
    for (word, other) in [("break", "continue"), ("continue", "break")] {
        for at in keyword_at(source, code, &span, word) {
            edits.push(Edit {
                span: at..at + word.len(),
                with: other.into(),
                kind: format!("{word} → {other}"),
            });
        }
    }
}

const INT_SUFFIXES: &[&str] = &[
    "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Every decimal integer literal plus and minus one (not below zero). Floats, tuple fields
/// (`pair.0`) and hex, octal or binary literals are left alone.
fn constant_edits(source: &str, code: &[bool], span: Range<usize>, edits: &mut Vec<Edit>) {
    let s = source.as_bytes();
    let mut i = span.start;
    while i < span.end {
        let starts = code[i]
            && s[i].is_ascii_digit()
            && (i == 0 || !(is_ident(s[i - 1]) || s[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < span.end && (s[j].is_ascii_digit() || s[j] == b'_') {
            j += 1;
        }
        let digits_end = j;
        while j < span.end && is_ident(s[j]) {
            j += 1;
        }
        let suffix = &source[digits_end..j];
        let float = s.get(j) == Some(&b'.') && s.get(j + 1).is_some_and(|b| b.is_ascii_digit());
        let value: Option<u128> = source[i..digits_end].replace('_', "").parse().ok();
        if let (Some(value), true, false) = (value, INT_SUFFIXES.contains(&suffix), float) {
            let literal = &source[i..j];
            let mut changed = vec![value.checked_add(1)];
            if value > 0 {
                changed.push(Some(value - 1));
            }
            for new in changed.into_iter().flatten() {
                edits.push(Edit {
                    span: i..j,
                    with: format!("{new}{suffix}"),
                    kind: format!("constant {literal} → {new}{suffix}"),
                });
            }
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blanks::blank_out;

    fn kinds(src: &str) -> Vec<(String, String, String)> {
        mutants("f.rs", src)
            .unwrap()
            .into_iter()
            .map(|m| (m.kind, m.before, m.after))
            .collect()
    }

    fn block(body: &str) -> String {
        format!("fn f() {{\n    outside(1);\n    // BEGIN BLANK: do it\n{body}    // END BLANK\n    after(2);\n}}\n")
    }

    #[test]
    fn a_statement_is_deleted_and_its_question_mark_dropped() {
        let m = kinds(&block("    sock.send(&buf)?;\n"));
        assert_eq!(
            m,
            vec![
                (
                    "delete statement".into(),
                    "sock.send(&buf)?;".into(),
                    "".into()
                ),
                (
                    "drop ?".into(),
                    "sock.send(&buf)?;".into(),
                    "let _ = sock.send(&buf);".into()
                ),
            ]
        );
        let all = mutants("f.rs", &block("    sock.send(&buf)?;\n")).unwrap();
        assert_eq!(all[0].source, block(""));
        assert_eq!(all[1].source, block("    let _ = sock.send(&buf);\n"));
        assert_eq!(all[0].line, 4);
    }

    #[test]
    fn an_early_return_is_deleted_as_such() {
        let m = kinds(&block("    if done {\n        return Ok(());\n    }\n"));
        assert!(
            m.contains(&("delete return".into(), "return Ok(());".into(), "".into())),
            "{m:?}"
        );
    }

    #[test]
    fn conditions_and_guards_are_negated_but_not_if_let() {
        let m = kinds(&block(
            "    if a == b(c) {\n    }\n    while !done {\n    }\n    if let Some(x) = y {\n    }\n    match e {\n        Err(e) if e.kind() == K => {}\n    }\n",
        ));
        let negated: Vec<_> = m
            .iter()
            .filter(|k| k.0 == "negate condition")
            .map(|k| k.2.as_str())
            .collect();
        assert_eq!(
            negated,
            vec![
                "if !(a == b(c)) {",
                "while !(!done) {",
                "Err(e) if !(e.kind() == K) => {}"
            ]
        );
    }

    #[test]
    fn break_and_continue_swap() {
        let m = kinds(&block(
            "    loop {\n        match r {\n            Ok(None) => break,\n            _ => {}\n        }\n        continue;\n    }\n",
        ));
        assert!(m.contains(&(
            "break → continue".into(),
            "Ok(None) => break,".into(),
            "Ok(None) => continue,".into()
        )));
        assert!(m.contains(&(
            "continue → break".into(),
            "continue;".into(),
            "break;".into()
        )));
        // `continue;` is a statement too.
        assert!(m.contains(&("delete statement".into(), "continue;".into(), "".into())));
    }

    #[test]
    fn integer_constants_move_by_one_but_not_floats_fields_or_strings() {
        let m = kinds(&block(
            "    let b = [0u8; 1_024];\n    x(pair.0, 1.5, \"7\", 'x', 0x10);\n",
        ));
        let constants: Vec<_> = m
            .iter()
            .filter(|k| k.0.starts_with("constant"))
            .map(|k| k.0.as_str())
            .collect();
        assert_eq!(
            constants,
            vec![
                "constant 0u8 → 1u8",
                "constant 1_024 → 1025",
                "constant 1_024 → 1023"
            ]
        );
    }

    #[test]
    fn continuation_lines_and_unbalanced_lines_are_not_statements() {
        let m = kinds(&block(
            "    let x = a\n        .b(c);\n    f(g(\n        h));\n    let t = s.trim();\n",
        ));
        let deleted: Vec<_> = m
            .iter()
            .filter(|k| k.0 == "delete statement")
            .map(|k| k.1.as_str())
            .collect();
        assert_eq!(deleted, vec!["let t = s.trim();"]);
    }

    #[test]
    fn inline_blanks_mutate_only_between_their_markers() {
        let src = "let n: u8 = /* BLANK: two */ 2 /* END */ + 5;\nlet s: S = /* BLANK: bind */ bind(3)? /* END */;\n";
        let m = kinds(src);
        let constants: Vec<_> = m.iter().map(|k| k.0.as_str()).collect();
        assert_eq!(
            constants,
            vec![
                "constant 2 → 3",
                "constant 2 → 1",
                "constant 3 → 4",
                "constant 3 → 2"
            ]
        );
    }

    #[test]
    fn nothing_outside_blanks_or_in_strings_and_comments_is_touched() {
        let src = "fn f() {\n    if a { return 1; }\n    // BEGIN BLANK: x\n    // if a { break; } 3\n    log(\"if a { continue; } 4\");\n    // END BLANK\n}\n";
        let m = kinds(src);
        assert_eq!(
            m,
            vec![(
                "delete statement".into(),
                "log(\"if a { continue; } 4\");".into(),
                "".into()
            )]
        );
    }

    #[test]
    fn lexer_knows_raw_strings_chars_and_lifetimes() {
        let src = "a r#\"x\"y\"# 'b' '\\n' '\\'' 'c: f<'d>() \"\\\"\" z";
        let mask = code_mask(src);
        let code: String = src
            .char_indices()
            .filter(|(i, _)| mask[*i])
            .map(|(_, c)| c)
            .collect();
        assert_eq!(code, "a     'c: f<'d>()  z");
    }

    /// Every mutant of every solution file differs from the solution only inside blanks: the
    /// student's skeleton (`blank_out`) is the same for both.
    #[test]
    fn mutants_of_the_solutions_change_only_what_students_write() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("solutions");
        let mut count = 0;
        for lab in std::fs::read_dir(&root).unwrap() {
            for file in std::fs::read_dir(lab.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap();
                let skeleton = blank_out(&source).unwrap();
                for m in mutants("x.rs", &source).unwrap() {
                    assert_ne!(m.source, source, "{}", m.describe());
                    assert_eq!(
                        blank_out(&m.source).unwrap(),
                        skeleton,
                        "{} changed code outside the blanks",
                        m.describe()
                    );
                    count += 1;
                }
            }
        }
        assert!(count > 100, "only {count} mutants");
    }
}
