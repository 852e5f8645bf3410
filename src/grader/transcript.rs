//! What a check saw: the lines its peers sent and received and what the student's programs
//! printed, kept while the check runs and shown under its failure as a short transcript, so a
//! student reads the exchange and not only the verdict.
//!
//! The runner gives each check's thread a [`Transcript`]; [`note`] adds a step to the one of the
//! current thread (nothing happens on a thread without one, as in the kit's own tests). A thread
//! that a check starts takes its transcript along with [`Transcript::current`] and
//! [`Transcript::enter`] ([`super::StandIn`] does).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// How many steps a failure shows: the last ones, where it went wrong.
const SHOWN: usize = 12;
/// How many characters of one step are shown.
const WIDTH: usize = 160;

/// The steps of one check, shared by the threads it started.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<Steps>>);

#[derive(Default)]
struct Steps {
    total: usize,
    last: std::collections::VecDeque<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Transcript>> = const { RefCell::new(None) };
}

impl Transcript {
    /// The transcript of the check running on this thread, if any.
    pub fn current() -> Option<Transcript> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Makes this the current thread's transcript.
    pub fn enter(&self) {
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
    }

    fn add(&self, step: String) {
        let mut steps = self.0.lock().unwrap_or_else(|p| p.into_inner());
        steps.total += 1;
        if steps.last.len() == SHOWN {
            steps.last.pop_front();
        }
        steps.last.push_back(step);
    }

    /// The steps as a student reads them under a failure; empty when there were none.
    pub fn shown(&self) -> String {
        let steps = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if steps.total == 0 {
            return String::new();
        }
        let heading = if steps.total > steps.last.len() {
            format!(
                "What the grader saw (the last {} of {} steps):",
                steps.last.len(),
                steps.total
            )
        } else {
            "What the grader saw:".to_string()
        };
        let mut out = heading;
        for step in &steps.last {
            out.push_str("\n  ");
            out.push_str(step);
        }
        out
    }
}

/// Adds a step to the current check's transcript: `who` did `what` (`sent`, `received`,
/// `printed`, …), with `text` quoted and cut to a readable width.
pub fn note(who: &str, what: &str, text: &str) {
    if let Some(t) = Transcript::current() {
        t.add(format!("{who} {what} {}", quoted(text)));
    }
}

/// Adds an event without a text ("alice: the connection was closed").
pub fn event(text: &str) {
    if let Some(t) = Transcript::current() {
        t.add(text.to_string());
    }
}

/// `text` in quotes with escapes, cut to [`WIDTH`] characters.
fn quoted(text: &str) -> String {
    let escaped = format!("{text:?}");
    if escaped.chars().count() > WIDTH {
        let cut: String = escaped.chars().take(WIDTH).collect();
        format!("{cut}… ({} bytes)", text.len())
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_per_check_and_shown_last_first_cut() {
        note("nobody", "sent", "lost: no transcript on this thread");
        let t = Transcript::default();
        t.enter();
        for i in 0..20 {
            note("alice", "sent", &format!("line {i}"));
        }
        let other = Transcript::current().expect("entered above");
        std::thread::spawn(move || {
            other.enter();
            event("the test server: the connection was closed");
        })
        .join()
        .unwrap();
        note("server", "printed", &"x".repeat(500));
        let shown = t.shown();
        assert!(shown.starts_with("What the grader saw (the last 12 of 22 steps):"));
        assert!(shown.contains("the test server: the connection was closed"));
        assert!(shown.contains("… (500 bytes)"), "{shown}");
        assert!(!shown.contains("lost") && !shown.contains("line 9\""));
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}
