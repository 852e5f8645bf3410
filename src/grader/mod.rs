//! The autograder: a lab's types, the runner that builds its programs and runs its black-box
//! checks with time limits, and the report (a score table and a Gradescope-style
//! `results.json`). The `socklab` command line that drives it is [`crate::commands`].
//!
//! A lab's checks are plain functions `fn(&Ctx) -> Result<(), String>` listed in
//! `tests/<lab>/checks/`; an `Err` is the reason a student reads. The runner gives every check its own
//! thread and time limit, kills every process the check started when it ends, and scores a
//! panic, a hang or a program that does not compile as a failure with its reason.
//!
//! One file per job:
//! - `lab.rs`: [`Lab`] and [`Check`], what the registry is written with;
//! - `build.rs`: [`Build`] and [`cargo`], building a lab's programs;
//! - `runner.rs`: [`grade`], running the checks into a [`Report`] (`report.rs`);
//! - `scratch.rs`: `copy_tree` and [`seed_target`], scratch copies of the kit that compile in
//!   seconds;
//! - `submissions.rs`: grading students' submissions ([`Grading`], [`prepare_submission`]), in a
//!   [`sandbox`] (`cgroup.rs`, `unzip.rs` and `gradebook.rs` serve it);
//! - `registry.rs`: the lab registry against the files (`socklab check-labs`);
//! - the harness below.
//!
//! The harness checks are written with, one name per role:
//! - [`Ctx::spawn`] / [`Ctx::start_server`] run a lab program ([`Program`]); [`start_server`]
//!   does the same outside a check (the kit's tests, benches);
//! - [`Program::finish`], [`Program::run_to_end`] and [`Program::explain`] say how a program
//!   ended, with its panic;
//! - [`LinePeer`]: the test side of a line protocol over TCP;
//! - [`StandIn`]: a server written in the check, for testing a student's client;
//! - [`Context`]: errors that name the step that failed;
//! - [`transcript`]: what a failed check saw, shown after its reason;
//! - [`hosts`]: grading across netlab's hosts (`grade --net`), for checks that say they can.

mod build;
pub mod cgroup;
mod context;
mod gradebook;
pub mod hosts;
pub mod http;
mod lab;
mod peer;
mod program;
pub mod registry;
mod report;
mod runner;
pub mod sandbox;
mod scratch;
pub mod seed_peer;
mod stand_in;
mod submissions;
pub mod transcript;
mod unzip;

pub use build::{cargo, without_cargo_run_vars, Build};
pub use context::Context;
pub use gradebook::Row;
pub use lab::{Check, Lab, Run, NOT_ADAPTED};
pub use peer::{data_segments_in, peer_closed, shown, tcp_from, tcp_info, Found, LinePeer};
pub use program::{memory_kib, secs, start_server, Ctx, Program};
pub use report::{rust_words, Hosts, Outcome, Report};
pub use runner::{grade, NOT_STARTED};
pub use scratch::seed_target;
pub(crate) use scratch::{copy_tree, mirror_tree};
pub use stand_in::StandIn;
pub use submissions::{prepare_submission, Grading};

use std::time::Duration;

/// How long a check waits for something that should come promptly (a line, a connection).
pub const WAIT: Duration = Duration::from_secs(3);
/// How long a check listens to make sure something does *not* come.
pub const QUIET: Duration = Duration::from_millis(300);
