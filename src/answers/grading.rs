//! Grading the answers: one check per question, which reads the student's answers file and the
//! capture the question is about, and compares the answer with the stored hash or with what the
//! kit reads from that capture.

use super::{
    canonical, capture_path, hash, parse_file, parse_value, Answer, Form, Given, QuestionSet, FILE,
};
use crate::capture::{self, Packet};
use crate::grader::{Check, Ctx};
use crate::sniff;
use std::path::Path;

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
        .filter(|(_, q)| !hidden_here(q))
        .map(|(i, q)| {
            let check = Check::new(set.milestone, q.title, 1, q.hint, move |ctx| {
                check(set, lab, i, ctx)
            })
            .loopback_only("questions on your capture, which open no socket");
            match q.answer {
                Answer::Fixed { .. } => check.instructor_only(),
                _ => check,
            }
        })
        .collect()
}

/// A fixed question whose hash this copy does not have (the students' copy).
fn hidden_here(q: &super::Question) -> bool {
    matches!(q.answer, Answer::Fixed { hash, .. } if hash.is_empty())
}

/// The titles of the questions [`checks`] leaves out in this copy of the kit.
pub fn not_graded_here(set: &QuestionSet) -> Vec<&'static str> {
    set.questions
        .iter()
        .filter(|q| hidden_here(q))
        .map(|q| q.title)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::tests::SET;
    use crate::answers::Question;
    use std::sync::Arc;

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
}
