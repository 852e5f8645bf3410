//! socklab's support library: the small pieces the lab programs, the lab generator and the
//! grader share. The lessons themselves (socket calls, framing, protocol logic) live in the
//! lab files under `solutions/` and `labs/`, not here.
//!
//! - [`cli`]: command-line options on getopts, with the seeds' single-dash long options.
//! - [`commands`]: the `socklab` command line, one file per subcommand (`grade`, `capture`,
//!   `labs`, `check-labs`, `mutants`, `bugs`, `reverts`, `student-kit`, `gradescope`).
//! - [`logging`]: one-line `env_logger` setup (`RUST_LOG` works).
//! - [`blanks`]: the blank markers: finds the marked regions of a solution file (also for
//!   `make mutants`) and turns them into the student's stubs.
//! - [`gradescope`]: the autograder zip for Gradescope (`make gradescope`).
//! - [`lab_files`]: the files the lab registry implies (each program's `src/bin` file, the
//!   benchmarks' dispatcher), written by `make labs`.
//! - [`grader`]: the lab types, and the runner that builds a lab's programs, runs its black-box
//!   checks and reports the score; with the harness the checks are written with.
//! - [`capture`]: reads pcap/pcapng captures into a packet list, and finds handshakes and byte
//!   streams in it (the Wireshark questions, checks, `flow`).
//! - [`sniff`]: tcpdump to record captures, tshark to read them as a reference.
//! - [`answers`]: questions on captures and the answers file: their checks, the scenario that
//!   records the captures, the solutions' answers, and `socklab capture`.
//! - [`flow`]: a capture as a sequence diagram, in text and SVG (the `flow` tool).
//! - [`mutants`]: how well the checks catch wrong programs: mutants of the solutions' blanks
//!   (`make mutants`) and the corpus of student bugs (`make bugs`).
//! - [`new_lab`]: `socklab new-lab NAME`, a new lab that works from the start.
//! - [`netlab`]: the course's multi-host network in network namespaces (the `netlab` command).
//! - [`password`]: salted PBKDF2-HMAC-SHA256 password hashes (lab `chat`'s accounts).
//! - [`student_kit`]: the students' copy of the kit (`make student-kit OUT=DIR`).
//! - [`tls`]: rustls configurations and self-signed certificates (labs `netcat` and `http`).
//! - [`wire`]: the `--wire lines|seed` switch of the chat-room and chat programs.

pub mod answers;
pub mod blanks;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod flow;
pub mod grader;
pub mod gradescope;
pub mod lab_files;
pub mod logging;
pub mod mutants;
pub mod netlab;
pub mod new_lab;
pub mod password;
pub mod sniff;
pub mod student_kit;
pub mod tls;
pub mod wire;

/// A random number in `[0, 1)`, for a server that drops or garbles replies on purpose.
/// It comes from std's randomly keyed hasher: good enough for simulating loss, not for secrets.
pub fn chance() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The body of a lab program's binary (`src/bin/NAME.rs`): builds the student's file from
/// `labs/` by default and the solution with `--features solutions`; both define `pub fn main`.
///
/// ```text
/// socklab::lab_program!("../../labs/udp-time/udp_time.rs", "../../solutions/udp-time/udp_time.rs");
/// ```
#[macro_export]
macro_rules! lab_program {
    ($lab:literal, $solution:literal) => {
        // A skeleton stops at each blank's stub, so the code after it is unreachable until filled in.
        // rustfmt does not look inside this macro: `make fmt` formats solutions/ explicitly.
        #[cfg(not(feature = "solutions"))]
        #[allow(
            unreachable_code,
            unused_variables,
            unused_imports,
            unused_mut,
            dead_code,
            clippy::diverging_sub_expression
        )]
        #[path = $lab]
        mod lab;
        #[cfg(feature = "solutions")]
        #[path = $solution]
        mod lab;

        fn main() -> std::process::ExitCode {
            lab::main()
        }
    };
}

/// The benchmarks' dispatcher (`benches/labs.rs`, written by `make labs`): each lab's
/// `tests/<lab>/bench.rs` as a module, run by [`lab_files::bench_main`].
///
/// ```text
/// socklab::lab_benches! {
///     udp_time = "udp-time" in "../tests/udp-time/bench.rs",
/// }
/// ```
#[macro_export]
macro_rules! lab_benches {
    ($($module:ident = $lab:literal in $path:literal,)*) => {
        $(
            #[path = $path]
            mod $module;
        )*

        fn main() {
            $crate::lab_files::bench_main(&[$(($lab, $module::main as fn())),*]);
        }
    };
}
