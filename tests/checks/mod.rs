//! The autograder's checks: one module per lab, each with a `lab()` that lists the lab's
//! binaries and checks. They are compiled into the `grade` binary (src/bin/grade.rs), so the
//! checks a submission is graded with are always the kit's own.

use socklab::grader::Lab;

mod chat;
mod udp_time;

/// Every lab, in the order the grader reports them.
pub fn labs() -> Vec<Lab> {
    vec![udp_time::lab(), chat::lab()]
}
