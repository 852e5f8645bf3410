//! Questions on packet captures, answered in a file the student edits and checked by the grader.
//!
//! A lab with questions has a [`QuestionSet`] (in its checks, `tests/<lab>/checks/`) and an answers file
//! `answers.txt` beside its code: one commented entry per question, `key = answer`. Each question
//! is one check ([`checks`]). A question is about one of the lab's captures, which must exist and
//! hold the traffic the questions need (else the check says how to make it):
//!
//! - a **fixed** question (the UDP header's field count) is compared with a salted SHA-256 of the
//!   right answer, so the answer is not in the kit's sources in plain text; the students' copy
//!   has no hashes at all (a small answer space is searched in seconds), so only the
//!   instructor's kit grades these ([`not_graded_here`]);
//! - a **capture** question (the raw sequence number of a SYN, a round-trip time, the Base64
//!   token of a request) is compared with what [`crate::capture`] reads from the student's own
//!   capture file.
//!
//! An answer is a number ([`Form::Integer`], [`Form::Decimal`]), a text copied from the capture
//! ([`Form::Text`]) or one word of a closed list ([`Form::Choice`], "yes"/"no").
//!
//! [`record`](fn@record) runs a lab's scenario (its programs on loopback) under tcpdump and saves
//! the captures where the answers file expects them (`make capture LAB=…`). For the solutions it
//! also writes a complete answers file: the capture answers from **tshark's** reading of the
//! capture just made, the fixed answers recovered from their hashes ([`solution_answers`]).
//! Grading the solutions thus checks the kit's reader against Wireshark's on every run.
//!
//! One file per job: this one holds the model (questions, their forms and answers, the answers
//! file, hashes); `grading.rs` checks a student's answers, `record.rs` runs a scenario under
//! tcpdump, and `solutions.rs` fills in the solutions' answers file. The `socklab capture` command
//! that drives them is in `src/commands/capture.rs`.

mod grading;
mod record;
mod solutions;

pub use grading::{check, checks, not_graded_here};
pub use record::{record, Recorder};
pub use solutions::solution_answers;

use crate::capture::Packet;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The answers file's name, in the lab's folder.
pub const FILE: &str = "answers.txt";

/// The form an answer takes; it says how the answer is written and compared.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    /// A whole number, compared exactly.
    Integer,
    /// A decimal number, right when within `tolerance` of the expected value.
    Decimal { tolerance: f64 },
    /// A text (a Base64 token, a password), compared after trimming spaces at both ends: exactly,
    /// or regardless of case when `ignore_case` (the question's text says which). A fixed
    /// answer in this form cannot be recovered for the solutions' answers file (see
    /// [`solution_answers`]): use it for capture answers, and [`Form::Choice`] for fixed ones.
    Text { ignore_case: bool },
    /// One of these words, written in lower case here (`&["yes", "no"]`), in any case by the
    /// student; anything else is refused with the list. Canonical form: lower case.
    Choice(&'static [&'static str]),
}

/// An answer parsed in its [`Form`].
#[derive(Clone, Debug, PartialEq)]
pub enum Given {
    Number(f64),
    Text(String),
}

/// Where the right answer comes from.
pub enum Answer {
    /// Always the same: `hash` is [`hash`] of the right answer. `near` lists hashes of tempting
    /// wrong answers with what to tell a student who gives one.
    Fixed {
        hash: &'static str,
        near: &'static [(&'static str, &'static str)],
    },
    /// Read from the capture by this function (forms [`Form::Integer`], [`Form::Decimal`]).
    Capture(fn(&[Packet]) -> Result<f64, String>),
    /// A text read from the capture by this function (forms [`Form::Text`], [`Form::Choice`]).
    CaptureText(fn(&[Packet]) -> Result<String, String>),
}

impl Answer {
    /// Whether this kind of answer goes with `form` (a number with a number form, a text with a
    /// text form; a fixed answer with any). [`checks`] refuses a question where it does not.
    fn fits(&self, form: Form) -> bool {
        let numeric = matches!(form, Form::Integer | Form::Decimal { .. });
        match self {
            Answer::Fixed { .. } => true,
            Answer::Capture(_) => numeric,
            Answer::CaptureText(_) => !numeric,
        }
    }
}

/// One question.
pub struct Question {
    /// The key in the answers file.
    pub key: &'static str,
    /// The capture (a name in [`QuestionSet::captures`]) the question is about.
    pub capture: &'static str,
    /// The check's name in the grade table.
    pub title: &'static str,
    /// The question as the answers file asks it.
    pub text: &'static str,
    pub form: Form,
    pub answer: Answer,
    pub hint: &'static str,
}

/// A capture file a lab's questions are about.
pub struct CaptureFile {
    /// The file name without extension: `NAME.pcap` or `NAME.pcapng`.
    pub name: &'static str,
    /// What it should hold, for messages ("one request and its reply between …").
    pub holds: &'static str,
    /// Checks that the packets hold what the questions need.
    pub check: fn(&[Packet]) -> Result<(), String>,
}

/// A lab's questions, its captures and the scenario that makes them.
pub struct QuestionSet {
    /// The milestone the question checks are listed under.
    pub milestone: &'static str,
    /// Mixed into every hash, so that equal answers of different labs hash differently.
    pub salt: &'static str,
    pub captures: &'static [CaptureFile],
    pub questions: &'static [Question],
    /// Runs the lab's programs on loopback while capturing (see [`Recorder`]).
    pub scenario: fn(&mut Recorder) -> Result<(), String>,
}

/// The salted hash of an answer, as [`Answer::Fixed`] stores it: hex SHA-256 of
/// `salt:key:answer`, the answer in its canonical form (a whole number without sign or zeros; a
/// choice in lower case; a text trimmed, and lower-cased if its case does not matter).
pub fn hash(salt: &str, key: &str, canonical: &str) -> String {
    Sha256::digest(format!("{salt}:{key}:{canonical}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses an answer written by a student in the question's form.
pub fn parse_value(form: Form, text: &str) -> Result<Given, String> {
    let t = text.trim();
    match form {
        Form::Integer => t
            .replace('_', "")
            .parse::<i64>()
            .map(|v| Given::Number(v as f64))
            .map_err(|_| format!("`{text}` is not a whole number (write only digits, e.g. 1234)")),
        Form::Decimal { .. } => {
            let t = t.replace('_', "");
            let t = t.trim_end_matches("ms").trim();
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Given::Number)
                .ok_or_else(|| format!("`{text}` is not a number (e.g. 0.125)"))
        }
        Form::Text { .. } if t.is_empty() => Err("the answer is empty".into()),
        Form::Text { .. } => Ok(Given::Text(t.to_string())),
        Form::Choice(words) => {
            let word = t.to_lowercase();
            if words.contains(&word.as_str()) {
                Ok(Given::Text(word))
            } else {
                Err(format!(
                    "`{text}` is not one of the choices: write one of {}",
                    words.join(", ")
                ))
            }
        }
    }
}

/// The form in which an answer is hashed and compared (see [`hash`]).
pub fn canonical(form: Form, given: &Given) -> String {
    match (form, given) {
        (Form::Integer, Given::Number(v)) => format!("{}", *v as i64),
        (_, Given::Number(v)) => format!("{v}"),
        (Form::Text { ignore_case: true } | Form::Choice(_), Given::Text(t)) => {
            t.trim().to_lowercase()
        }
        (_, Given::Text(t)) => t.trim().to_string(),
    }
}

/// `key = answer` lines of an answers file (comments and blank lines skipped); an empty answer
/// is kept as "". A line that is neither is an error that names it.
pub fn parse_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (key, value) = t.split_once('=').ok_or_else(|| {
            format!(
                "{FILE} line {}: `{t}` is neither a comment (#) nor `key = answer`",
                n + 1
            )
        })?;
        out.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(out)
}

/// The capture file of `name` in `dir`: `NAME.pcap` or `NAME.pcapng`, whichever exists.
pub fn capture_path(dir: &Path, name: &str) -> Option<PathBuf> {
    ["pcap", "pcapng"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_files_parse() {
        let text = "# Q1. How many?\n#   a whole number\nfields = 4\n\nport =\nrtt = 0.5 ms\n";
        let a = parse_file(text).unwrap();
        assert_eq!(a["fields"], "4");
        assert_eq!(a["port"], "");
        assert_eq!(a["rtt"], "0.5 ms");
        assert!(parse_file("fields 4\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn values_parse_in_their_form() {
        let n = |v: f64| Given::Number(v);
        assert_eq!(parse_value(Form::Integer, " 65_527 ").unwrap(), n(65527.0));
        assert!(parse_value(Form::Integer, "4.5").is_err());
        assert!(parse_value(Form::Integer, "four").is_err());
        let d = Form::Decimal { tolerance: 0.01 };
        assert_eq!(parse_value(d, "0.125 ms").unwrap(), n(0.125));
        assert!(parse_value(d, "NaN").is_err());
        assert_eq!(canonical(Form::Integer, &n(17.0)), "17");
    }

    #[test]
    fn texts_and_choices_parse_in_their_form() {
        let t = |s: &str| Given::Text(s.into());
        let exact = Form::Text { ignore_case: false };
        let loose = Form::Text { ignore_case: true };
        // Trimmed, nothing else: underscores and case are part of a text.
        assert_eq!(
            parse_value(exact, "  dXNl_cjpw \t").unwrap(),
            t("dXNl_cjpw")
        );
        assert!(parse_value(exact, "   ").is_err());
        assert_eq!(canonical(exact, &t(" dXNl ")), "dXNl");
        assert_eq!(canonical(loose, &t(" dXNl ")), "dxnl");

        let yes_no = Form::Choice(&["yes", "no"]);
        assert_eq!(parse_value(yes_no, " YES ").unwrap(), t("yes"));
        let err = parse_value(yes_no, "maybe").unwrap_err();
        assert!(err.contains("one of yes, no"), "{err}");
        assert!(parse_value(yes_no, "y").is_err());
        assert_eq!(canonical(yes_no, &t("No")), "no");
        // The hash of a choice is the hash of its lower-case word, whatever the student wrote.
        let given = parse_value(yes_no, "Yes").unwrap();
        assert_eq!(
            hash("s", "k", &canonical(yes_no, &given)),
            hash("s", "k", "yes")
        );
    }

    /// A question set about one UDP datagram from 10.0.0.1:4000 to 10.0.0.2:53 carrying
    /// "hello", with a question of every kind; the checks' and the solutions' tests use it.
    pub(super) static SET: QuestionSet = QuestionSet {
        milestone: "9 questions",
        salt: "test",
        captures: &[CaptureFile {
            name: "demo",
            holds: "a UDP datagram",
            check: |p| {
                if p.iter().any(|p| p.is_udp()) {
                    Ok(())
                } else {
                    Err("it holds no UDP".into())
                }
            },
        }],
        questions: &[
            Question {
                key: "port",
                capture: "demo",
                title: "the source port",
                text: "Which port sent the datagram?",
                form: Form::Integer,
                answer: Answer::Capture(|p| Ok(f64::from(p[0].src.port()))),
                hint: "",
            },
            Question {
                key: "proto",
                capture: "demo",
                title: "UDP's protocol number",
                text: "What is UDP's protocol number?",
                form: Form::Integer,
                // hash("test", "proto", "17"); 6 is a near miss with a message.
                answer: Answer::Fixed {
                    hash: "dddaa4c42620dd379e7bd34a0b1b911ef308ef56567d9106e763c5da053d0df4",
                    near: &[(
                        "f346590bbaba95a47a9cddd072474c756f32651c9ad2018a2e4a7044a061aa03",
                        "6 is TCP",
                    )],
                },
                hint: "",
            },
            Question {
                key: "payload",
                capture: "demo",
                title: "the payload as text",
                text: "What text does the datagram carry? (case counts)",
                form: Form::Text { ignore_case: false },
                answer: Answer::CaptureText(|p| {
                    Ok(String::from_utf8_lossy(&p[0].payload).to_string())
                }),
                hint: "",
            },
            Question {
                key: "shout",
                capture: "demo",
                title: "the payload, any case",
                text: "What text does the datagram carry? (any case)",
                form: Form::Text { ignore_case: true },
                answer: Answer::CaptureText(|p| {
                    Ok(String::from_utf8_lossy(&p[0].payload).to_string())
                }),
                hint: "",
            },
            Question {
                key: "sender",
                capture: "demo",
                title: "which host sent it",
                text: "Which host sent the datagram? (first or second)",
                form: Form::Choice(&["first", "second"]),
                answer: Answer::CaptureText(|p| {
                    Ok(if p[0].src.ip() < p[0].dst.ip() {
                        "FIRST"
                    } else {
                        "second"
                    }
                    .into())
                }),
                hint: "",
            },
            Question {
                key: "transport",
                capture: "demo",
                title: "TCP or UDP",
                text: "Is it TCP or UDP? (tcp or udp)",
                form: Form::Choice(&["tcp", "udp"]),
                // hash("test", "transport", "udp"); "tcp" is a near miss with a message.
                answer: Answer::Fixed {
                    hash: "caf02abea79236aae51e11cf121a1e001b420573a19fa37e982cc7a4213542d9",
                    near: &[(
                        "901f53aab0ebe581782021af771b5f331bbf6418a07cd772dd7c05f8883ad742",
                        "there is no handshake",
                    )],
                },
                hint: "",
            },
        ],
        scenario: |_| Ok(()),
    };

    #[test]
    fn hashes_are_salted_by_lab_and_key() {
        let a = hash("s1", "proto", "17");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash("s2", "proto", "17"));
        assert_ne!(a, hash("s1", "port", "17"));
        assert_eq!(a, hash("s1", "proto", "17"));
    }
}
