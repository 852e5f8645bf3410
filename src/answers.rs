//! Questions on packet captures, answered in a file the student edits and checked by the grader.
//!
//! A lab with questions has a [`QuestionSet`] (in its `tests/checks/<lab>.rs`) and an answers file
//! `answers.txt` beside its code: one commented entry per question, `key = answer`. Each question
//! is one check ([`checks`]). A question is about one of the lab's captures, which must exist and
//! hold the traffic the questions need (else the check says how to make it):
//!
//! - a **fixed** question (the UDP header's field count) is compared with a salted SHA-256 of the
//!   right answer, so the answer is not in the kit's sources in plain text;
//! - a **capture** question (the raw sequence number of a SYN, a round-trip time) is compared
//!   with what [`crate::capture`] reads from the student's own capture file.
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
}

/// Where the right answer comes from.
pub enum Answer {
    /// Always the same: `hash` is [`hash`] of the right answer. `near` lists hashes of tempting
    /// wrong answers with what to tell a student who gives one.
    Fixed {
        hash: &'static str,
        near: &'static [(&'static str, &'static str)],
    },
    /// Read from the capture by this function.
    Capture(fn(&[Packet]) -> Result<f64, String>),
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
    pub lab: &'static str,
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
/// `salt:key:answer`, the answer in its canonical form (a whole number without sign or zeros).
pub fn hash(salt: &str, key: &str, canonical: &str) -> String {
    Sha256::digest(format!("{salt}:{key}:{canonical}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Parses an answer written by a student in the question's form.
pub fn parse_value(form: Form, text: &str) -> Result<f64, String> {
    let t = text.trim().replace('_', "");
    match form {
        Form::Integer => t
            .parse::<i64>()
            .map(|v| v as f64)
            .map_err(|_| format!("`{text}` is not a whole number (write only digits, e.g. 1234)")),
        Form::Decimal { .. } => {
            let t = t.trim_end_matches("ms").trim();
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{text}` is not a number (e.g. 0.125)"))
        }
    }
}

fn canonical(form: Form, v: f64) -> String {
    match form {
        Form::Integer => format!("{}", v as i64),
        Form::Decimal { .. } => format!("{v}"),
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
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads capture `name` of `set` from `dir` and checks it holds what it should.
fn load_capture(set: &QuestionSet, dir: &Path, name: &str) -> Result<Vec<Packet>, String> {
    let spec = set
        .captures
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| format!("the question set has no capture named {name}"))?;
    let Some(path) = capture_path(dir, name) else {
        // The solutions' captures are made in target/ by `make capture SOLUTIONS=1`.
        let solutions = if dir.components().any(|c| c.as_os_str() == "target") {
            " SOLUTIONS=1"
        } else {
            ""
        };
        return Err(format!(
            "no capture yet: `make capture LAB={}{solutions}` records your programs into {}/{name}.pcap, \
             which should hold {}; or {} (FILE = {name}.pcap or {name}.pcapng in that folder)",
            set.lab,
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
            set.lab
        )
    })?;
    Ok(cap.packets)
}

/// The check of question `index` of `set`, against the answers file and captures of the lab
/// being graded (`ctx.lab_files()`).
pub fn check(set: &QuestionSet, index: usize, ctx: &Ctx) -> Result<(), String> {
    let q = &set.questions[index];
    let dir = ctx.lab_files();
    let packets = load_capture(set, dir, q.capture)?;
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
    match &q.answer {
        Answer::Fixed { hash: want, near } => {
            let h = hash(set.salt, q.key, &canonical(q.form, value));
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
        Answer::Capture(read) => {
            let want = read(&packets)?;
            let right = match q.form {
                Form::Integer => value == want,
                Form::Decimal { tolerance } => (value - want).abs() <= tolerance,
            };
            if right {
                Ok(())
            } else {
                Err(format!(
                    "{} = {given} does not match your capture: {}",
                    q.key,
                    match q.form {
                        Form::Integer => "read it again, as a raw number".to_string(),
                        Form::Decimal { tolerance } =>
                            format!("a right answer is within ±{tolerance} of the value in it"),
                    }
                ))
            }
        }
    }
}

/// A check's function, as [`Check`] takes it.
pub type CheckFn = fn(&Ctx) -> Result<(), String>;

/// One check per question of `set`; `runs[i]` must call [`check`] for question `i` (checks are
/// plain `fn`s, so each lab writes `fn question<const N: usize>(ctx) { check(&SET, N, ctx) }`).
pub fn checks(set: &'static QuestionSet, runs: &[CheckFn]) -> Vec<Check> {
    assert_eq!(
        set.questions.len(),
        runs.len(),
        "one check function per question of {}",
        set.lab
    );
    set.questions
        .iter()
        .zip(runs)
        .map(|(q, run)| Check::new(set.milestone, q.title, 1, q.hint, *run))
        .collect()
}

/// Runs `set`'s scenario under tcpdump with the built programs `bins`, saving the captures in
/// `dir`; returns a line per capture saying what it holds.
pub fn record(
    set: &QuestionSet,
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
                set.lab
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
/// up to 2^20 are tried), so that no answer is kept in plain text anywhere in the kit.
pub fn solution_answers(set: &QuestionSet, template: &str, dir: &Path) -> Result<String, String> {
    let mut derived = BTreeMap::new();
    for q in set.questions {
        let text = match &q.answer {
            Answer::Capture(read) => {
                let path = capture_path(dir, q.capture)
                    .ok_or_else(|| format!("no capture {} in {}", q.capture, dir.display()))?;
                let packets = sniff::tshark_packets(&path)?;
                let v = read(&packets).map_err(|e| format!("{}: {e}", q.key))?;
                match q.form {
                    Form::Integer => format!("{}", v as i64),
                    Form::Decimal { .. } => format!("{v:.3}"),
                }
            }
            Answer::Fixed { hash: want, .. } => (0..=FIXED_SEARCH)
                .map(|n| n.to_string())
                .find(|n| hash(set.salt, q.key, n) == *want)
                .ok_or_else(|| {
                    format!(
                        "{}: no whole number up to {FIXED_SEARCH} has the stored hash",
                        q.key
                    )
                })?,
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
pub fn capture_main(
    labs: fn() -> Vec<crate::grader::Lab>,
    sets: fn() -> Vec<&'static QuestionSet>,
) {
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
    let args = cli::parse(
        opts,
        "Usage: capture [--lab NAME] [--solutions] [--hash KEY=ANSWER]\n\n\
         Runs a lab's programs on loopback under tcpdump and saves the captures its questions are\n\
         about, beside its answers file (labs/<lab>/, or target/solutions/answers/<lab>/).",
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let all = sets();
    let wanted: Vec<&QuestionSet> = match args.opt::<String>("lab") {
        None => all,
        Some(name) => match all.into_iter().find(|s| s.lab == name) {
            Some(set) => vec![set],
            None => args.fail(&format!(
                "lab '{name}' has no questions on captures (labs with questions: {})",
                sets().iter().map(|s| s.lab).collect::<Vec<_>>().join(", ")
            )),
        },
    };
    if let Some(pair) = args.opt::<String>("hash") {
        let (key, answer) = pair
            .split_once('=')
            .unwrap_or_else(|| args.fail("--hash takes KEY=ANSWER"));
        let set = match wanted.as_slice() {
            [one] => one,
            _ => args.fail("--hash needs --lab"),
        };
        let q = set
            .questions
            .iter()
            .find(|q| q.key == key.trim())
            .unwrap_or_else(|| args.fail(&format!("{} has no question {key}", set.lab)));
        match parse_value(q.form, answer) {
            Ok(v) => println!("{}", hash(set.salt, q.key, &canonical(q.form, v))),
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
    let all_labs = labs();
    let mut failed = false;
    for set in wanted {
        let Some(lab) = all_labs.iter().find(|l| l.name == set.lab) else {
            eprintln!("capture: no lab named {}", set.lab);
            exit(1);
        };
        let dir = build.lab_files(set.lab);
        let done = build
            .lab(lab)
            .and_then(|bins| record(set, bins, &dir))
            .and_then(|report| {
                if solutions {
                    let source = root.join("solutions").join(set.lab).join(FILE);
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
                        set.lab, set.lab
                    );
                }
            }
            Err(e) => {
                eprintln!("capture {}: {e}", set.lab);
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
        assert_eq!(parse_value(Form::Integer, " 65_527 ").unwrap(), 65527.0);
        assert!(parse_value(Form::Integer, "4.5").is_err());
        assert!(parse_value(Form::Integer, "four").is_err());
        let d = Form::Decimal { tolerance: 0.01 };
        assert_eq!(parse_value(d, "0.125 ms").unwrap(), 0.125);
        assert!(parse_value(d, "NaN").is_err());
        assert_eq!(canonical(Form::Integer, 17.0), "17");
    }

    /// A capture of one UDP datagram from 10.0.0.1:4000 to 10.0.0.2:53 (raw IP link type).
    fn one_datagram() -> Vec<u8> {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(4000, 53)
            .write(&mut frame, b"hello")
            .expect("writing to a Vec");
        let mut out = Vec::new();
        out.extend(0xa1b2_c3d4u32.to_le_bytes());
        out.extend(2u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        out.extend([0u8; 8]);
        out.extend(65535u32.to_le_bytes());
        out.extend(101u32.to_le_bytes());
        for v in [1u32, 0, frame.len() as u32, frame.len() as u32] {
            out.extend(v.to_le_bytes());
        }
        out.extend(frame);
        out
    }

    static SET: QuestionSet = QuestionSet {
        lab: "demo",
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
        ],
        scenario: |_| Ok(()),
    };

    fn run(dir: &Path, index: usize) -> Result<(), String> {
        let ctx = Ctx::new(Arc::default(), dir.join("scratch"), dir.to_path_buf());
        check(&SET, index, &ctx)
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
    fn hashes_are_salted_by_lab_and_key() {
        let a = hash("s1", "proto", "17");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hash("s2", "proto", "17"));
        assert_ne!(a, hash("s1", "port", "17"));
        assert_eq!(a, hash("s1", "proto", "17"));
    }
}
