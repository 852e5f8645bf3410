//! Questions on packet captures, answered in a file the student edits and checked by the grader.
//!
//! A lab with questions has a [`QuestionSet`] (in its `tests/checks/<lab>.rs`) and an answers file
//! `answers.txt` beside its code: one commented entry per question, `key = answer`. Each question
//! is one check ([`checks`]). A question is about one of the lab's captures, which must exist and
//! hold the traffic the questions need (else the check says how to make it):
//!
//! - a **fixed** question (the UDP header's field count) is compared with a salted SHA-256 of the
//!   right answer, so the answer is not in the kit's sources in plain text;
//! - a **capture** question (the raw sequence number of a SYN, a round-trip time, the Base64
//!   token of a request) is compared with what [`crate::capture`] reads from the student's own
//!   capture file.
//!
//! An answer is a number ([`Form::Integer`], [`Form::Decimal`]), a text copied from the capture
//! ([`Form::Text`]) or one word of a closed list ([`Form::Choice`], "yes"/"no").
//!
//! [`record`] runs a lab's scenario (its programs on loopback) under tcpdump and saves the
//! captures where the answers file expects them (`make capture LAB=…`). For the solutions it also
//! writes a complete answers file: the capture answers from **tshark's** reading of the capture
//! just made, the fixed answers recovered from their hashes ([`solution_answers`]).
//! Grading the solutions thus checks the kit's reader against Wireshark's on every run.

use crate::capture::{self, Packet};
use crate::grader::{Check, Ctx, Program};
use crate::sniff::{self, Tcpdump};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// What a running scenario can do: start the lab's programs and start captures.
pub struct Recorder {
    ctx: Ctx,
    dir: PathBuf,
    dumps: Vec<Tcpdump>,
}

impl Recorder {
    /// Starts a lab program (killed when recording ends).
    pub fn spawn(&self, bin: &str, args: &[&str]) -> Result<Program, String> {
        self.ctx.spawn(bin, args)
    }

    /// Starts capturing into capture `name` on the loopback with a tcpdump `filter`
    /// ("udp port 40123"); returns once tcpdump is listening.
    pub fn capture(&mut self, name: &str, filter: &str) -> Result<(), String> {
        let file = self.dir.join(format!("{name}.pcap"));
        self.dumps.push(Tcpdump::start("lo", &file, &[], filter)?);
        Ok(())
    }
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
fn canonical(form: Form, given: &Given) -> String {
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

/// A path as the student sees it: relative to the kit's folder when inside it.
fn shown(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let submission = root.join("target/grade/submission");
    // A submission is graded in a scratch copy: name the file as it is in the student's folder.
    path.strip_prefix(&submission)
        .or_else(|_| path.strip_prefix(root))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads capture `name` of `set` from `dir` and checks it holds what it should.
fn load_capture(
    set: &QuestionSet,
    lab: &str,
    dir: &Path,
    name: &str,
) -> Result<Vec<Packet>, String> {
    let spec = set
        .captures
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("the question set has no capture named {name}"))?;
    let Some(path) = capture_path(dir, name) else {
        // The solutions' captures are made in target/solutions by `make capture SOLUTIONS=1`.
        let solutions =
            if dir.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/solutions")) {
                " SOLUTIONS=1"
            } else {
                ""
            };
        return Err(format!(
            "no capture yet: `make capture LAB={}{solutions}` records your programs into {}/{name}.pcap, \
             which should hold {}; or {} (FILE = {name}.pcap or {name}.pcapng in that folder)",
            lab,
            shown(dir),
            spec.holds,
            sniff::BY_HAND
        ));
    };
    let cap = capture::read(&path)?;
    (spec.check)(&cap.packets).map_err(|e| {
        format!(
            "{} should hold {}, but {e}; make it again with `make capture LAB={}`",
            shown(&path),
            spec.holds,
            lab
        )
    })?;
    Ok(cap.packets)
}

/// The check of question `index` of `set`, against the answers file and captures of the lab
/// being graded (`ctx.lab_files()`).
pub fn check(set: &QuestionSet, lab: &str, index: usize, ctx: &Ctx) -> Result<(), String> {
    let q = &set.questions[index];
    let dir = ctx.lab_files();
    let packets = load_capture(set, lab, dir, q.capture)?;
    let path = dir.join(FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", shown(&path)))?;
    let answers = parse_file(&text)?;
    let given = answers.get(q.key).map(String::as_str).unwrap_or("");
    if given.is_empty() {
        return Err(format!(
            "not answered yet ({FILE}, `{} =`): {}",
            q.key, q.text
        ));
    }
    let value = parse_value(q.form, given).map_err(|e| format!("{}: {e}", q.key))?;
    let mismatch = |how: String| {
        Err(format!(
            "{} = {given} does not match your capture: {how}",
            q.key
        ))
    };
    match (&q.answer, &value) {
        (Answer::Fixed { hash: want, near }, _) => {
            let h = hash(set.salt, q.key, &canonical(q.form, &value));
            if h == *want {
                return Ok(());
            }
            match near.iter().find(|(n, _)| *n == h) {
                Some((_, why)) => Err(format!(
                    "{} = {given}: not the answer asked for: {why}",
                    q.key
                )),
                None => Err(format!("{} = {given} is not right", q.key)),
            }
        }
        (Answer::Capture(read), Given::Number(value)) => {
            let want = read(&packets)?;
            match q.form {
                Form::Decimal { tolerance } if (value - want).abs() > tolerance => mismatch(
                    format!("a right answer is within ±{tolerance} of the value in it"),
                ),
                Form::Decimal { .. } => Ok(()),
                _ if *value == want => Ok(()),
                _ => mismatch("read it again, as a raw number".into()),
            }
        }
        (Answer::CaptureText(read), Given::Text(_)) => {
            let want = Given::Text(read(&packets)?);
            if canonical(q.form, &value) == canonical(q.form, &want) {
                Ok(())
            } else {
                mismatch(match q.form {
                    Form::Choice(_) => "look again at what it shows".into(),
                    Form::Text { ignore_case: true } => {
                        "every character counts (case does not), without quotes".into()
                    }
                    _ => "every character counts, and so does case; no quotes".into(),
                })
            }
        }
        _ => Err(format!(
            "{}: the kit's question is inconsistent (its answer does not fit its form)",
            q.key
        )),
    }
}

/// One check per question of `set` (the questions of lab `lab`), in its order.
pub fn checks(set: &'static QuestionSet, lab: &'static str) -> Vec<Check> {
    for q in set.questions {
        assert!(
            q.answer.fits(q.form),
            "{} question {}: a capture answer's kind (Capture for numbers, CaptureText for \
             texts) must fit its form {:?}",
            lab,
            q.key,
            q.form
        );
    }
    set.questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            Check::new(set.milestone, q.title, 1, q.hint, move |ctx| {
                check(set, lab, i, ctx)
            })
        })
        .collect()
}

/// Runs `set`'s scenario under tcpdump with the built programs `bins`, saving the captures in
/// `dir`; returns a line per capture saying what it holds.
pub fn record(
    set: &QuestionSet,
    lab: &str,
    bins: BTreeMap<String, PathBuf>,
    dir: &Path,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = std::env::temp_dir().join(format!("socklab-capture-{}", std::process::id()));
    let ctx = Ctx::new(Arc::new(bins), scratch.clone(), dir.to_path_buf());
    let kill = ctx.killer();
    let mut rec = Recorder {
        ctx,
        dir: dir.to_path_buf(),
        dumps: Vec::new(),
    };
    let outcome = (set.scenario)(&mut rec);
    let stopped: Result<Vec<String>, String> = rec.dumps.drain(..).map(Tcpdump::stop).collect();
    kill();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome?;
    stopped?;
    let mut report = Vec::new();
    for spec in set.captures {
        let path = dir.join(format!("{}.pcap", spec.name));
        let cap = capture::read(&path)?;
        (spec.check)(&cap.packets).map_err(|e| {
            format!(
                "{} should hold {}, but {e}: do your programs work? (make grade LAB={})",
                path.display(),
                spec.holds,
                lab
            )
        })?;
        report.push(format!(
            "{}: {} TCP/UDP packets ({} link)",
            path.display(),
            cap.packets.len(),
            cap.link
        ));
    }
    Ok(report)
}

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

/// The `capture` command (`make capture LAB=… [SOLUTIONS=1]`): builds the lab, records its
/// scenario, and for the solutions writes their answers file. `--hash KEY=ANSWER` prints the
/// hash an instructor stores for a fixed answer.
pub fn capture_main(labs: fn() -> Vec<crate::grader::Lab>, args: Vec<String>) {
    use crate::cli::{self, Options};
    use std::process::exit;
    let mut opts = Options::new();
    opts.optopt(
        "",
        "lab",
        "the lab to capture (default: every lab with questions)",
        "NAME",
    );
    opts.optflag(
        "",
        "solutions",
        "run the solutions and write their answers file",
    );
    opts.optopt(
        "",
        "hash",
        "print the stored hash of a fixed answer of --lab",
        "KEY=ANSWER",
    );
    let args = cli::parse_args(
        opts,
        "Usage: socklab capture [--lab NAME] [--solutions] [--hash KEY=ANSWER]\n\n\
         Runs a lab's programs on loopback under tcpdump and saves the captures its questions are\n\
         about, beside its answers file (labs/<lab>/, or target/solutions/answers/<lab>/).",
        args,
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut all = labs();
    all.retain(|l| l.questions.is_some());
    let wanted: Vec<&crate::grader::Lab> = match args.opt::<String>("lab") {
        None => all.iter().collect(),
        Some(name) => match all.iter().find(|l| l.name == name) {
            Some(lab) => vec![lab],
            None => args.fail(&format!(
                "lab '{name}' has no questions on captures (labs with questions: {})",
                all.iter().map(|l| l.name).collect::<Vec<_>>().join(", ")
            )),
        },
    };
    if let Some(pair) = args.opt::<String>("hash") {
        let (key, answer) = pair
            .split_once('=')
            .unwrap_or_else(|| args.fail("--hash takes KEY=ANSWER"));
        let (lab, set) = match wanted.as_slice() {
            [one] if args.opt::<String>("lab").is_some() => {
                (one.name, one.questions.expect("kept above"))
            }
            _ => args.fail("--hash needs --lab"),
        };
        let q = set
            .questions
            .iter()
            .find(|q| q.key == key.trim())
            .unwrap_or_else(|| args.fail(&format!("{lab} has no question {key}")));
        match parse_value(q.form, answer) {
            Ok(v) => println!("{}", hash(set.salt, q.key, &canonical(q.form, &v))),
            Err(e) => args.fail(&e),
        }
        return;
    }
    let solutions = args.flag("solutions");
    let build = crate::grader::Build {
        root: root.clone(),
        solutions,
        target_dir: root.join(if solutions {
            "target/solutions"
        } else {
            "target"
        }),
    };
    let mut failed = false;
    for lab in wanted {
        // Kept above: only labs with questions are left.
        let set = lab.questions.expect("a lab with questions");
        let dir = build.lab_files(lab.name);
        let done = build
            .lab(lab)
            .and_then(|bins| record(set, lab.name, bins, &dir))
            .and_then(|report| {
                if solutions {
                    let source = root.join("solutions").join(lab.name).join(FILE);
                    let text = std::fs::read_to_string(&source)
                        .map_err(|e| format!("{}: {e}", source.display()))?;
                    let filled = solution_answers(set, &text, &dir)?;
                    let out = dir.join(FILE);
                    std::fs::write(&out, filled).map_err(|e| format!("{}: {e}", out.display()))?;
                }
                Ok(report)
            });
        match done {
            Ok(report) => {
                for line in report {
                    println!("{line}");
                }
                if solutions {
                    println!(
                        "{}: the solutions' answers (capture answers read by tshark)",
                        dir.join(FILE).display()
                    );
                } else {
                    println!(
                        "Open it in Wireshark (or `cargo run --bin flow -- FILE`), answer the questions in \
                         labs/{}/{FILE}, then `make grade LAB={}`.",
                        lab.name, lab.name
                    );
                }
            }
            Err(e) => {
                eprintln!("capture {}: {e}", lab.name);
                failed = true;
            }
        }
    }
    if failed {
        exit(1);
    }
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

    /// A capture of one UDP datagram from 10.0.0.1:4000 to 10.0.0.2:53 (raw IP link type).
    fn one_datagram() -> Vec<u8> {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(4000, 53)
            .write(&mut frame, b"hello")
            .expect("writing to a Vec");
        // Link type 101: raw IP.
        crate::capture::tests::pcap(101, &[(1, 0, frame)])
    }

    static SET: QuestionSet = QuestionSet {
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

    fn run(dir: &Path, index: usize) -> Result<(), String> {
        let ctx = Ctx::new(Arc::default(), dir.join("scratch"), dir.to_path_buf());
        check(&SET, "demo", index, &ctx)
    }

    #[test]
    fn checks_say_what_is_missing_and_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("socklab-answers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let err = run(&dir, 0).unwrap_err();
        assert!(
            err.contains("no capture yet") && err.contains("make capture LAB=demo"),
            "{err}"
        );

        std::fs::write(dir.join("demo.pcap"), &one_datagram()[..40]).unwrap();
        assert!(run(&dir, 0).unwrap_err().contains("truncated"));
        std::fs::write(dir.join("demo.pcap"), one_datagram()).unwrap();
        std::fs::write(dir.join(FILE), "# Q1\nport =\nproto =\n").unwrap();
        let err = run(&dir, 0).unwrap_err();
        assert!(
            err.contains("not answered yet") && err.contains("Which port sent"),
            "{err}"
        );

        std::fs::write(dir.join(FILE), "port = 4001\nproto = 6\n").unwrap();
        assert!(run(&dir, 0)
            .unwrap_err()
            .contains("does not match your capture"));
        assert!(run(&dir, 1).unwrap_err().contains("6 is TCP"));
        std::fs::write(dir.join(FILE), "port = 4000\nproto = 8\n").unwrap();
        assert!(run(&dir, 1).unwrap_err().contains("is not right"));

        std::fs::write(dir.join(FILE), "port = 4000\nproto = 17\n").unwrap();
        run(&dir, 0).unwrap();
        run(&dir, 1).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn text_and_choice_answers_are_checked() {
        let dir = std::env::temp_dir().join(format!("socklab-texts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("demo.pcap"), one_datagram()).unwrap();

        let answer = |text: &str, index: usize| {
            std::fs::write(dir.join(FILE), text).unwrap();
            run(&dir, index)
        };
        // A text read from the capture: trimmed, then exact or any case as the form says.
        answer("payload =  hello \n", 2).unwrap();
        let err = answer("payload = Hello\n", 2).unwrap_err();
        assert!(err.contains("does not match your capture"), "{err}");
        assert!(err.contains("case"), "{err}");
        assert!(answer("payload = hello!\n", 2).is_err());
        answer("shout = HeLLo\n", 3).unwrap();
        assert!(answer("shout = hell\n", 3).is_err());
        // A choice read from the capture (the function's case does not matter).
        answer("sender = First\n", 4).unwrap();
        let err = answer("sender = second\n", 4).unwrap_err();
        assert!(err.contains("does not match your capture"), "{err}");
        let err = answer("sender = 10.0.0.1\n", 4).unwrap_err();
        assert!(err.contains("one of first, second"), "{err}");
        // A fixed choice, hashed: any case, a near miss has its message.
        answer("transport = UDP\n", 5).unwrap();
        assert!(answer("transport = tcp\n", 5)
            .unwrap_err()
            .contains("there is no handshake"));
        let err = answer("transport = quic\n", 5).unwrap_err();
        assert!(err.contains("one of tcp, udp"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

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

    #[test]
    #[should_panic(expected = "must fit its form")]
    fn a_capture_answer_must_fit_its_form() {
        static WRONG: [Question; 1] = [Question {
            key: "port",
            capture: "demo",
            title: "",
            text: "",
            form: Form::Text { ignore_case: false },
            answer: Answer::Capture(|_| Ok(1.0)),
            hint: "",
        }];
        static BAD: QuestionSet = QuestionSet {
            milestone: "9 questions",
            salt: "test",
            captures: &[],
            questions: &WRONG,
            scenario: |_| Ok(()),
        };
        checks(&BAD, "demo");
    }

    #[test]
    fn hashes_are_salted_by_lab_and_key() {
        let a = hash("s1", "proto", "17");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash("s2", "proto", "17"));
        assert_ne!(a, hash("s1", "port", "17"));
        assert_eq!(a, hash("s1", "proto", "17"));
    }
}
