//! The autograder's checks: one module per lab, each with a `lab()` that lists the lab's
//! binaries and checks. They are compiled into the `grade` binary (src/bin/grade.rs), so the
//! checks a submission is graded with are always the kit's own.

use socklab::answers::QuestionSet;
use socklab::grader::Lab;

mod chat;
mod chatroom;
mod udp_time;
mod xmlrpc;

/// Every lab, in the order the grader reports them.
pub fn labs() -> Vec<Lab> {
    vec![udp_time::lab(), xmlrpc::lab(), chatroom::lab(), chat::lab()]
}

/// Every lab's questions on captures, for `make capture` (src/bin/capture.rs).
#[allow(dead_code)] // the grade binary reaches them through each lab's checks
pub fn question_sets() -> Vec<&'static QuestionSet> {
    vec![
        &udp_time::QUESTIONS,
        &xmlrpc::QUESTIONS,
        &chatroom::QUESTIONS,
        &chat::QUESTIONS,
    ]
}
