//! Grading results: the score table printed for people and the `results.json` written for
//! Gradescope (`score`, `execution_time`, `output`, `tests[]`).

use super::{Check, Lab};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Where a check ran when grading across netlab's hosts (`grade --net`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hosts {
    /// The student's programs on one host, the grader's peers on others.
    Across,
    /// On this machine's loopback, for this reason.
    Loopback(&'static str),
}

/// The result of one check.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub milestone: &'static str,
    pub name: &'static str,
    pub points: u32,
    pub max_points: u32,
    pub hint: &'static str,
    /// `None` when passed, else the reason.
    pub failure: Option<String>,
    pub elapsed: Duration,
    /// Where it ran, when grading across hosts; `None` in an ordinary run (loopback).
    pub hosts: Option<Hosts>,
    /// Hidden from students in results.json until the grades are published.
    pub instructor_only: bool,
    /// The lab programs the check started.
    pub programs: Vec<String>,
}

impl Outcome {
    pub fn new(check: &Check, result: Result<(), String>, elapsed: Duration) -> Outcome {
        let failure = result.err();
        Outcome {
            milestone: check.milestone,
            name: check.name,
            points: if failure.is_none() { check.points } else { 0 },
            max_points: check.points,
            hint: check.hint,
            failure,
            elapsed,
            hosts: None,
            instructor_only: check.instructor_only,
            programs: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Every outcome of one grading run, grouped by lab in the order graded.
pub struct Report {
    titles: BTreeMap<&'static str, &'static str>,
    pub outcomes: Vec<(&'static str, Outcome)>,
    pub elapsed: Duration,
    /// A line to print under a lab's checks (questions graded elsewhere).
    pub notes: Vec<(&'static str, String)>,
}

/// The first line of `s` in at most about `max` characters. A longer line keeps its start and
/// its end, where a reason says what came instead (`expected …; got …`), and says how much is
/// left out; `--verbose` and results.json have all of it.
fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    let n = line.chars().count();
    if n <= max {
        return line.to_string();
    }
    let (head, tail) = (max * 3 / 5, max * 2 / 5);
    let start: String = line.chars().take(head).collect();
    let end: String = line.chars().skip(n - tail).collect();
    format!(
        "{start} … [{} characters left out: --verbose shows all] … {end}",
        n - head - tail
    )
}

/// Whether a reason shows Rust's own spelling of a value (`Some("x")`, `None`, `Ok(…)`, `Err(…)`)
/// instead of words: a check's text leaked a `Debug` print, which a student cannot read.
pub fn rust_words(why: &str) -> bool {
    // The grader's own words only: a program's panic (a `todo!`'s text, an unwrap's message) and
    // what the transcript quotes are the program's.
    let why = why.split("\nWhat the grader saw").next().unwrap_or("");
    why.lines().any(|line| {
        let line = line.split("panicked").next().unwrap_or("");
        rust_spelling(line)
    })
}

fn rust_spelling(why: &str) -> bool {
    let none = why.match_indices("None").any(|(at, _)| {
        let before = why[..at].chars().next_back();
        let after = why[at + 4..].chars().next();
        !before.is_some_and(char::is_alphanumeric)
            && !after.is_some_and(|c| c.is_alphanumeric() || c == ' ')
    });
    none || ["Some(", "Ok(", "Err("].iter().any(|w| {
        why.match_indices(w)
            .any(|(at, _)| !why[..at].ends_with(char::is_alphanumeric))
    })
}

/// How many transcript steps the table shows under a failure without `--verbose`.
const STEPS_IN_TABLE: usize = 4;

/// The reason's own text and its transcript (the lines after "What the grader saw").
fn split_transcript(why: &str) -> (&str, Vec<&str>) {
    match why.find("\nWhat the grader saw") {
        Some(at) => (&why[..at], why[at + 1..].lines().skip(1).collect()),
        None => (why, Vec::new()),
    }
}

impl Report {
    pub fn new(
        titles: BTreeMap<&'static str, &'static str>,
        outcomes: Vec<(&'static str, Outcome)>,
        elapsed: Duration,
    ) -> Report {
        Report {
            titles,
            outcomes,
            elapsed,
            notes: Vec::new(),
        }
    }

    pub fn score(&self) -> (u32, u32) {
        self.outcomes
            .iter()
            .fold((0, 0), |(s, m), (_, o)| (s + o.points, m + o.max_points))
    }

    /// The table: per lab and milestone, each check with PASS/FAIL and points; for a failure the
    /// first line of why, the hint and the last steps of what the grader saw; then the totals.
    pub fn table(&self) -> String {
        self.table_with(false)
    }

    /// The table; `verbose` shows each failure's whole reason and transcript.
    pub fn table_with(&self, verbose: bool) -> String {
        let mut out = String::new();
        let (mut lab_now, mut milestone_now) = ("", "");
        let (mut lab_score, mut lab_max) = (0, 0);
        let close_lab = |out: &mut String, lab: &str, s: u32, m: u32| {
            if !lab.is_empty() {
                for (_, note) in self.notes.iter().filter(|(l, _)| *l == lab) {
                    let _ = writeln!(out, "  {note}");
                }
                let _ = writeln!(out, "  {lab}: {s}/{m} points\n");
            }
        };
        let mut summarised = "";
        for (lab, o) in &self.outcomes {
            if *lab == summarised {
                continue;
            }
            if *lab != lab_now {
                close_lab(&mut out, lab_now, lab_score, lab_max);
                (lab_score, lab_max) = (0, 0);
                let title = self.titles.get(lab).copied().unwrap_or("");
                let _ = writeln!(out, "{lab}: {title}");
                lab_now = lab;
                milestone_now = "";
                if let Some(line) = self.not_started(lab).filter(|_| !verbose) {
                    let _ = writeln!(out, "  {line}");
                    for (_, note) in self.notes.iter().filter(|(l, _)| l == lab) {
                        let _ = writeln!(out, "  {note}");
                    }
                    out.push('\n');
                    summarised = lab;
                    lab_now = "";
                    continue;
                }
            }
            if o.milestone != milestone_now {
                let _ = writeln!(out, "  milestone {}", o.milestone);
                milestone_now = o.milestone;
            }
            lab_score += o.points;
            lab_max += o.max_points;
            let mark = if o.passed() { "PASS" } else { "FAIL" };
            let hidden = if o.instructor_only {
                " (hidden from students until published)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {mark} {:>2}/{:<2} {}{hidden}",
                o.points, o.max_points, o.name
            );
            if let Some(why) = &o.failure {
                let (own, steps) = split_transcript(why);
                if verbose {
                    for (i, line) in own.lines().enumerate() {
                        let label = if i == 0 { "why: " } else { "     " };
                        let _ = writeln!(out, "               {label} {line}");
                    }
                } else {
                    let _ = writeln!(out, "               why:  {}", first_line(own, 220));
                }
                let _ = writeln!(out, "               hint: {}", o.hint);
                let shown = if verbose {
                    &steps[..]
                } else {
                    &steps[steps.len().saturating_sub(STEPS_IN_TABLE)..]
                };
                for (i, step) in shown.iter().enumerate() {
                    let label = if i == 0 { "saw: " } else { "     " };
                    let _ = writeln!(out, "               {label} {}", step.trim());
                }
            }
        }
        close_lab(&mut out, lab_now, lab_score, lab_max);
        out.push_str(&self.hosts());
        let (score, max) = self.score();
        let passed = self.outcomes.iter().filter(|(_, o)| o.passed()).count();
        let _ = writeln!(
            out,
            "TOTAL {score}/{max} points ({passed} of {} checks passed) in {:.1} s",
            self.outcomes.len(),
            self.elapsed.as_secs_f64()
        );
        out
    }

    /// One line for a lab nobody has started: every check failed waiting for a blank to be
    /// filled in (or for a capture), so listing them all says nothing. `None` for other labs.
    fn not_started(&self, lab: &str) -> Option<String> {
        let mine: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|(l, _)| *l == lab)
            .map(|(_, o)| o)
            .collect();
        let waiting = |o: &&Outcome| {
            o.failure.as_deref().is_some_and(|why| {
                why.contains("fill in")
                    || why.starts_with("no capture yet")
                    || why.contains(super::NOT_STARTED)
            })
        };
        if mine.is_empty() || !mine.iter().all(waiting) {
            return None;
        }
        // `panicked at labs/udp-time/udp_time.rs:47:9: not yet implemented: fill in: …`
        let first = mine.iter().find_map(|o| {
            let why = o.failure.as_deref()?;
            if let Some((_, first)) = why.split_once(super::NOT_STARTED) {
                return Some(first.trim_end_matches(')').to_string());
            }
            let at = why.find("panicked at ")? + "panicked at ".len();
            let place: Vec<&str> = why[at..].splitn(3, ':').take(2).collect();
            Some(place.join(":"))
        })?;
        let max: u32 = mine.iter().map(|o| o.max_points).sum();
        Some(format!(
            "not started: first blank at {first} (0/{max} points, {} checks; --verbose lists them)",
            mine.len()
        ))
    }

    /// Reads back what [`Report::json`] wrote for `labs` (the grader inside a sandbox reports
    /// this way). Each test must name a check of those labs, once, with no more than its
    /// points; the texts that are not in the JSON (titles, hints) come from the registry.
    pub fn from_json(labs: &[Lab], json: &serde_json::Value) -> Result<Report, String> {
        let bad = |why: &str| Err(format!("the sandbox's results are not the grader's: {why}"));
        let Some(tests) = json["tests"].as_array() else {
            return bad("no tests");
        };
        let mut outcomes = Vec::new();
        for test in tests {
            let name = test["name"].as_str().unwrap_or("");
            let mut parts = name.splitn(3, " / ");
            let (lab, milestone, check) = (parts.next(), parts.next(), parts.next());
            let found = labs.iter().find(|l| Some(l.name) == lab).and_then(|l| {
                l.checks
                    .iter()
                    .find(|c| Some(c.milestone) == milestone && Some(c.name) == check)
                    .map(|c| (l.name, c))
            });
            let Some((lab, check)) = found else {
                return bad(&format!("unknown check \"{name}\""));
            };
            if outcomes
                .iter()
                .any(|(l, o): &(&str, Outcome)| *l == lab && o.name == check.name)
            {
                return bad(&format!("\"{name}\" twice"));
            }
            let points = test["score"].as_u64().unwrap_or(u64::MAX);
            let passed = test["status"] == "passed";
            if points != if passed { u64::from(check.points) } else { 0 } {
                return bad(&format!("\"{name}\" with {points} points"));
            }
            let output = test["output"].as_str().unwrap_or("");
            let why = output
                .rsplit_once("\nHint: ")
                .map_or(output, |(why, _)| why);
            let result = if passed { Ok(()) } else { Err(why.to_string()) };
            let secs =
                Duration::try_from_secs_f64(test["extra_data"]["seconds"].as_f64().unwrap_or(0.0));
            outcomes.push((lab, Outcome::new(check, result, secs.unwrap_or_default())));
        }
        let expected: usize = labs.iter().map(|l| l.checks.len()).sum();
        if outcomes.len() != expected {
            return bad(&format!("{} checks instead of {expected}", outcomes.len()));
        }
        // A number the JSON's writer got wrong (negative, too large) must not panic here.
        let elapsed = Duration::try_from_secs_f64(json["execution_time"].as_f64().unwrap_or(0.0));
        Ok(Report::new(
            labs.iter().map(|l| (l.name, l.title)).collect(),
            outcomes,
            elapsed.unwrap_or_default(),
        ))
    }

    /// In a run across netlab's hosts: how many checks ran across them, and which did not and
    /// why, by reason, lab and milestone. Empty in an ordinary run.
    fn hosts(&self) -> String {
        let across = self
            .outcomes
            .iter()
            .filter(|(_, o)| o.hosts == Some(Hosts::Across))
            .count();
        // (reason, lab, milestone) → the checks' names, in the table's order.
        type Group<'a> = ((&'a str, &'a str, &'a str), Vec<&'a str>);
        let mut groups: Vec<Group> = Vec::new();
        for (lab, o) in &self.outcomes {
            let Some(Hosts::Loopback(why)) = o.hosts else {
                continue;
            };
            let key = (why, *lab, o.milestone);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, names)) => names.push(o.name),
                None => groups.push((key, vec![o.name])),
            }
        }
        if across == 0 && groups.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "ACROSS HOSTS: {across} of {} checks ran across netlab's hosts; the others ran as \
             without --net:\n",
            self.outcomes.len()
        );
        let mut reasons: Vec<&str> = Vec::new();
        for ((why, _, _), _) in &groups {
            if !reasons.contains(why) {
                reasons.push(why);
            }
        }
        for why in reasons {
            let _ = writeln!(out, "  {why}:");
            let mut labs: Vec<&str> = Vec::new();
            for ((w, lab, _), _) in &groups {
                if *w == why && !labs.contains(lab) {
                    labs.push(lab);
                }
            }
            for lab in labs {
                let (mut count, mut parts) = (0, Vec::new());
                for ((_, _, milestone), names) in groups
                    .iter()
                    .filter(|((w, l, _), _)| *w == why && *l == lab)
                {
                    count += names.len();
                    let all = self
                        .outcomes
                        .iter()
                        .filter(|(l, o)| *l == lab && o.milestone == *milestone)
                        .count();
                    parts.push(match names.len() == all {
                        true => milestone.to_string(),
                        false => format!("{milestone} (only {})", names.join("; ")),
                    });
                }
                let checks = if count == 1 { "check" } else { "checks" };
                let milestones = if parts.len() == 1 {
                    "milestone"
                } else {
                    "milestones"
                };
                let _ = writeln!(
                    out,
                    "    {lab}, {count} {checks} in {milestones} {}",
                    parts.join(", ")
                );
            }
        }
        out.push('\n');
        out
    }

    /// Gradescope's results format.
    pub fn json(&self) -> serde_json::Value {
        let (score, max) = self.score();
        let tests: Vec<_> = self
            .outcomes
            .iter()
            .map(|(lab, o)| {
                let mut output = match &o.failure {
                    None => "passed".to_string(),
                    Some(why) => format!("{why}\nHint: {}", o.hint),
                };
                match o.hosts {
                    Some(Hosts::Across) => output.push_str("\n(ran across netlab's hosts)"),
                    Some(Hosts::Loopback(why)) => {
                        let _ = write!(output, "\n(not across netlab's hosts: {why})");
                    }
                    None => {}
                }
                json!({
                    "name": format!("{lab} / {} / {}", o.milestone, o.name),
                    "score": o.points,
                    "max_score": o.max_points,
                    "status": if o.passed() { "passed" } else { "failed" },
                    "output": output,
                    // Gradescope's word for hidden until the grades are published.
                    "visibility": if o.instructor_only { "after_published" } else { "visible" },
                    // How long the check ran: Gradescope keeps extra_data; it shows the slow checks.
                    "extra_data": { "seconds": (o.elapsed.as_secs_f64() * 100.0).round() / 100.0 },
                })
            })
            .collect();
        json!({
            "score": score,
            "max_score": max,
            "execution_time": self.elapsed.as_secs_f64(),
            "output": format!("{score}/{max} points"),
            "visibility": "visible",
            "stdout_visibility": "visible",
            "tests": tests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, points: u32) -> Check {
        Check::new("1 server", name, points, "read the handout", |_| Ok(()))
    }

    #[test]
    fn table_and_json_agree_on_scores() {
        let outcomes = vec![
            (
                "udp-time",
                Outcome::new(&check("a", 2), Ok(()), Duration::from_millis(250)),
            ),
            (
                "udp-time",
                Outcome::new(
                    &check("b", 3),
                    Err("timed out after 2 s\nmore".into()),
                    Duration::ZERO,
                ),
            ),
        ];
        let report = Report::new(
            [("udp-time", "UDP time")].into_iter().collect(),
            outcomes,
            Duration::from_secs(1),
        );
        assert_eq!(report.score(), (2, 5));
        let table = report.table();
        assert!(table.contains("PASS  2/2  a"), "{table}");
        assert!(table.contains("FAIL  0/3  b"), "{table}");
        assert!(table.contains("why:  timed out after 2 s\n"), "{table}");
        assert!(table.contains("hint: read the handout"), "{table}");
        assert!(
            table.contains("TOTAL 2/5 points (1 of 2 checks passed)"),
            "{table}"
        );
        let json = report.json();
        assert_eq!(json["score"], 2);
        assert_eq!(json["tests"][1]["status"], "failed");
        assert_eq!(json["tests"][1]["max_score"], 3);
        assert!(json["tests"][1]["output"]
            .as_str()
            .unwrap()
            .contains("Hint: read the handout"));
        assert_eq!(json["tests"][0]["extra_data"]["seconds"], 0.25);
    }

    #[test]
    fn a_run_across_hosts_says_which_checks_did_not_and_why() {
        let ran = |name, hosts| {
            let mut o = Outcome::new(&check(name, 1), Ok(()), Duration::ZERO);
            o.hosts = Some(hosts);
            ("udp-time", o)
        };
        let outcomes = vec![
            ran("a", Hosts::Across),
            ran("b", Hosts::Loopback("no socket")),
            ran("c", Hosts::Loopback("not adapted")),
        ];
        let report = Report::new(BTreeMap::new(), outcomes, Duration::ZERO);
        let table = report.table();
        assert!(
            table.contains("ACROSS HOSTS: 1 of 3 checks ran across netlab's hosts"),
            "{table}"
        );
        assert!(
            table.contains("  no socket:\n    udp-time, 1 check in milestone 1 server (only b)\n"),
            "{table}"
        );
        assert!(table
            .contains("  not adapted:\n    udp-time, 1 check in milestone 1 server (only c)\n"));
        let json = report.json();
        assert!(json["tests"][0]["output"]
            .as_str()
            .unwrap()
            .ends_with("(ran across netlab's hosts)"));
        assert!(json["tests"][2]["output"]
            .as_str()
            .unwrap()
            .ends_with("(not across netlab's hosts: not adapted)"));
        // An ordinary run says nothing about hosts.
        let plain = Report::new(
            BTreeMap::new(),
            vec![(
                "udp-time",
                Outcome::new(&check("a", 1), Ok(()), Duration::ZERO),
            )],
            Duration::ZERO,
        );
        assert!(!plain.table().contains("ACROSS"));
    }

    #[test]
    fn rust_spellings_are_found_and_words_are_not() {
        for leak in [
            "got Some(\"x\")",
            "got None",
            "[None, \"a\"]",
            "Err(Os { code: 9 })",
        ] {
            assert!(rust_words(leak), "{leak}");
        }
        for fine in ["None of the lines came", "got nothing"] {
            assert!(!rust_words(fine), "{fine}");
        }
        assert!(!rust_words("None of them; NoneSuch; handleErr(x)"));
        assert!(!rust_words(
            "x panicked at a.rs:1:2: fill in: Err(sentence) otherwise"
        ));
        assert!(!rust_words(
            "no answer\nWhat the grader saw:\n  server printed \"None\""
        ));
    }

    #[test]
    fn a_long_reason_keeps_its_end_and_the_transcript_shows_in_the_table() {
        let long = format!("expected {} but got THE-END", "x".repeat(400));
        let cut = first_line(&long, 220);
        assert!(
            cut.ends_with("THE-END") && cut.contains("--verbose"),
            "{cut}"
        );
        let why = "no answer\nWhat the grader saw:\n  a sent \"1\"\n  a sent \"2\"\n  a sent \"3\"\n  a sent \"4\"\n  a received \"5\"";
        let mut o = Outcome::new(&check("c", 1), Err(why.to_string()), Duration::ZERO);
        o.hint = "h";
        let report = Report::new(BTreeMap::new(), vec![("lab", o)], Duration::ZERO);
        let table = report.table();
        assert!(
            table.contains("why:  no answer") && table.contains("saw:  a sent \"2\""),
            "{table}"
        );
        assert!(!table.contains("\"1\""), "{table}");
        assert!(report.table_with(true).contains("a sent \"1\""));
    }
}
