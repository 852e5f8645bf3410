//! Logging setup for the lab programs.
//!
//! Programs print their protocol output (what a user or a grader reads) on stdout with
//! `println!`, and diagnostics (bad datagrams, dropped clients) on stderr through the `log`
//! macros. `RUST_LOG=debug` shows more, `RUST_LOG=off` silences them.

use std::io::Write;

/// Starts `env_logger` once, at `info` unless `RUST_LOG` says otherwise. Calling it twice is harmless.
/// Each line reads `[2026-12-04T18:38:09.123Z INFO  udp_time] message` (UTC, milliseconds).
pub fn init() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            let level = buf.default_level_style(record.level());
            writeln!(
                buf,
                "[{} {level}{:<5}{level:#} {}] {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.target(),
                record.args()
            )
        })
        .try_init();
}
