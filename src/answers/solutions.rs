//! The solutions' answers file, made without keeping any answer in plain text: capture answers
//! are read by tshark from the captures just made, fixed answers are recovered from their hashes.

use super::{capture_path, hash, Answer, Form, QuestionSet};
use crate::capture::Packet;
use crate::sniff;
use std::collections::BTreeMap;
use std::path::Path;

/// The largest whole number [`solution_answers`] tries against a fixed answer's hash.
const FIXED_SEARCH: i64 = 1 << 20;

/// The solutions' complete answers file: `template` (the answers file, answers left empty) with
/// each capture answer filled in from tshark's reading of the captures in `dir`, independent of
/// the kit's own reader, and each fixed answer recovered from its stored hash (the whole numbers
/// up to 2^20 are tried, or the words of a [`Form::Choice`]), so that no answer is kept in plain
/// text anywhere in the kit. A fixed [`Form::Text`] answer cannot be recovered: an error.
pub fn solution_answers(set: &QuestionSet, template: &str, dir: &Path) -> Result<String, String> {
    let mut derived = BTreeMap::new();
    let mut tshark: BTreeMap<&str, Vec<Packet>> = BTreeMap::new();
    for q in set.questions {
        // tshark reads each capture once, for the first capture answer about it.
        if !matches!(q.answer, Answer::Fixed { .. }) && !tshark.contains_key(q.capture) {
            let path = capture_path(dir, q.capture)
                .ok_or_else(|| format!("no capture {} in {}", q.capture, dir.display()))?;
            tshark.insert(q.capture, sniff::tshark_packets(&path)?);
        }
        let packets = tshark.get(q.capture).map(Vec::as_slice).unwrap_or(&[]);
        let text = match &q.answer {
            Answer::Capture(read) => {
                let v = read(packets).map_err(|e| format!("{}: {e}", q.key))?;
                match q.form {
                    Form::Decimal { .. } => format!("{v:.3}"),
                    _ => format!("{}", v as i64),
                }
            }
            Answer::CaptureText(read) => read(packets)
                .map_err(|e| format!("{}: {e}", q.key))?
                .trim()
                .to_string(),
            Answer::Fixed { hash: want, .. } => {
                let mut tried: Box<dyn Iterator<Item = String>> = match q.form {
                    Form::Choice(words) => Box::new(words.iter().map(|w| w.to_string())),
                    Form::Text { .. } => {
                        return Err(format!(
                            "{}: a fixed text answer cannot be recovered from its hash; \
                             make it a Form::Choice or a number",
                            q.key
                        ))
                    }
                    Form::Integer | Form::Decimal { .. } => {
                        Box::new((0..=FIXED_SEARCH).map(|n| n.to_string()))
                    }
                };
                tried
                    .find(|n| hash(set.salt, q.key, n) == *want)
                    .ok_or_else(|| match q.form {
                        Form::Choice(words) => format!(
                            "{}: none of the choices {} has the stored hash",
                            q.key,
                            words.join(", ")
                        ),
                        _ => format!(
                            "{}: no whole number up to {FIXED_SEARCH} has the stored hash",
                            q.key
                        ),
                    })?
            }
        };
        derived.insert(q.key, text);
    }
    Ok(template
        .split_inclusive('\n')
        .map(|line| {
            let t = line.trim();
            match t.split_once('=') {
                Some((k, v)) if !t.starts_with('#') && v.trim().is_empty() => {
                    match derived.get(k.trim()) {
                        Some(val) => format!("{} = {val}\n", k.trim()),
                        None => line.to_string(),
                    }
                }
                _ => line.to_string(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::tests::SET;
    use crate::answers::Question;

    /// A set with fixed answers only: [`solution_answers`] needs no capture (nor tshark) for it.
    fn fixed_only(questions: &'static [Question]) -> QuestionSet {
        QuestionSet {
            milestone: "9 questions",
            salt: "test",
            captures: SET.captures,
            questions,
            scenario: |_| Ok(()),
        }
    }

    #[test]
    fn solution_answers_recover_numbers_and_choices_but_not_texts() {
        let dir = std::env::temp_dir();
        let set = fixed_only(&SET.questions[1..2]);
        let filled = solution_answers(&set, "# Q\nproto =\nother =\n", &dir).unwrap();
        assert_eq!(filled, "# Q\nproto = 17\nother =\n");
        let set = fixed_only(&SET.questions[5..6]);
        let filled = solution_answers(&set, "transport =\n", &dir).unwrap();
        assert_eq!(filled, "transport = udp\n");

        static TEXT: [Question; 1] = [Question {
            key: "secret",
            capture: "demo",
            title: "",
            text: "",
            form: Form::Text { ignore_case: false },
            // hash("test", "secret", "hello"): checkable, but not recoverable.
            answer: Answer::Fixed {
                hash: "bad6291c9b84e3093c46184e56f4e3e027224ccbab5f9e8ae067e935e198c0f0",
                near: &[],
            },
            hint: "",
        }];
        let err = solution_answers(&fixed_only(&TEXT), "secret =\n", &dir).unwrap_err();
        assert!(err.contains("cannot be recovered"), "{err}");
    }
}
