//! The lab types: a [`Lab`] (its programs, checks and capture questions) and a [`Check`] (a
//! milestone, points, a hint, a time limit and the test), with the builders the lab registry in
//! `tests/checks/` is written with.

use super::Ctx;
use crate::answers::QuestionSet;
use std::sync::Arc;
use std::time::Duration;

/// The test of a check: `Err` is the reason a student reads.
pub type Run = Arc<dyn Fn(&Ctx) -> Result<(), String> + Send + Sync>;

/// One check: a milestone, points, a hint for a failure, a time limit and the test itself.
#[derive(Clone)]
pub struct Check {
    pub milestone: &'static str,
    pub name: &'static str,
    pub points: u32,
    pub hint: &'static str,
    pub limit: Duration,
    pub run: Run,
    /// Why the check runs on loopback even when grading across netlab's hosts (`--net`);
    /// `None` when it runs across them.
    pub loopback: Option<&'static str>,
    /// Checks of the same lab this one builds on: when one of them fails too, the reason says
    /// "fails because … fails; fix that first" instead of this check's own hint.
    pub needs: &'static [&'static str],
    /// Graded only by the instructor's kit, and hidden in results.json until published: a
    /// capture question with a fixed answer ([`crate::student_kit::Answers`]).
    pub instructor_only: bool,
}

/// Why a check runs on loopback under `grade --net`, unless it says otherwise.
pub const NOT_ADAPTED: &str =
    "not adapted to netlab yet: the check picks its own 127.0.0.x addresses";

impl Check {
    /// A check with the default 10 s time limit.
    pub fn new(
        milestone: &'static str,
        name: &'static str,
        points: u32,
        hint: &'static str,
        run: impl Fn(&Ctx) -> Result<(), String> + Send + Sync + 'static,
    ) -> Check {
        Check {
            milestone,
            name,
            points,
            hint,
            limit: Duration::from_secs(10),
            run: Arc::new(run),
            loopback: Some(NOT_ADAPTED),
            needs: &[],
            instructor_only: false,
        }
    }

    /// The same check, graded only by the instructor's kit (see [`Check::instructor_only`]).
    pub fn instructor_only(mut self) -> Check {
        self.instructor_only = true;
        self
    }

    /// The same check, built on the checks named `names` (of the same lab): when this one fails
    /// and one of those failed too, the student is sent to that one first.
    pub fn needs(mut self, names: &'static [&'static str]) -> Check {
        self.needs = names;
        self
    }

    /// The same check, able to run across netlab's hosts: it takes every address from
    /// [`Ctx::ip`] and starts the student's programs with [`Ctx::spawn`] or
    /// [`Ctx::start_server`] (see [`crate::grader::hosts`]).
    pub fn across_hosts(mut self) -> Check {
        self.loopback = None;
        self
    }

    /// The same check, kept on loopback under `grade --net` for the reason `why`.
    pub fn loopback_only(mut self, why: &'static str) -> Check {
        self.loopback = Some(why);
        self
    }

    /// The same check with another time limit.
    pub fn limit(mut self, seconds: u64) -> Check {
        self.limit = Duration::from_secs(seconds);
        self
    }
}

/// A lab: its folder name under `labs/` and `solutions/`, its binaries, its checks and its
/// questions on captures. The list of labs in `src/bin/socklab/labs.rs` is the kit's one registry:
/// it drives grading, captures, `make check-labs` and the command-line tests.
#[derive(Clone)]
pub struct Lab {
    pub name: &'static str,
    pub title: &'static str,
    pub bins: &'static [&'static str],
    pub checks: Vec<Check>,
    pub questions: Option<&'static QuestionSet>,
    /// Questions this copy of the kit cannot grade (the students' copy has no fixed answers):
    /// their titles, which the table names as graded by the instructor.
    pub not_graded_here: Vec<&'static str>,
}

impl Lab {
    /// A lab with no checks yet.
    pub fn new(name: &'static str, title: &'static str, bins: &'static [&'static str]) -> Lab {
        Lab {
            name,
            title,
            bins,
            checks: Vec::new(),
            questions: None,
            not_graded_here: Vec::new(),
        }
    }

    /// Adds checks, after those already there (the table keeps this order).
    pub fn checks(mut self, checks: Vec<Check>) -> Lab {
        self.checks.extend(checks);
        self
    }

    /// The lab's questions on captures: one check per question, added here in the order.
    pub fn questions(mut self, set: &'static QuestionSet) -> Lab {
        self.checks.extend(crate::answers::checks(set, self.name));
        self.not_graded_here = crate::answers::not_graded_here(set);
        self.questions = Some(set);
        self
    }
}
