//! Logging setup for the lab programs.
//!
//! Programs print their protocol output (what a user or a grader reads) on stdout with
//! `println!`, and diagnostics (bad datagrams, dropped clients) on stderr through the `log`
//! macros. `RUST_LOG=debug` shows more, `RUST_LOG=off` silences them.

/// Starts `env_logger` once, at `info` unless `RUST_LOG` says otherwise. Calling it twice is harmless.
pub fn init() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .try_init();
}
