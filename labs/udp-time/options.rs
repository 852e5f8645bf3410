//! The command line of udp_time (given: not part of the lesson).
//!
//!     udp_time server HOST PORT [-faulty] [-drop P]
//!     udp_time client HOST PORT [-measure_delay N] [-timeout SECS] [-retries N] [-log FILE]

use socklab::cli::{self, Args, Options};
use std::fs::File;
use std::time::Duration;

/// Client settings from the command line.
pub struct ClientOptions {
    /// `-measure_delay N`: send N requests and print statistics instead of one request.
    pub measure: Option<u32>,
    /// `-timeout SECS`: how long each try waits for its reply.
    pub timeout: Duration,
    /// `-retries N`: how many times a timed-out request is sent again.
    pub retries: u32,
    /// `-log FILE`: one CSV row per request.
    pub log: Option<File>,
}

/// What the command line asks for.
pub enum Role {
    Server {
        host: String,
        port: u16,
        faulty: bool,
        /// The share of requests to drop, in [0, 1].
        drop: f64,
    },
    Client {
        host: String,
        port: u16,
        opts: ClientOptions,
    },
}

const USAGE: &str = "Usage: udp_time server HOST PORT [-faulty] [-drop P]
       udp_time client HOST PORT [-measure_delay N] [-timeout SECS] [-retries N] [-log FILE]

Sends the time over UDP. Options may also be written with two dashes (--measure-delay).";

/// Reads the command line; a mistake prints one `error:` line and the usage, and exits 2.
pub fn parse() -> Role {
    let mut opts = Options::new();
    opts.optflag(
        "",
        "faulty",
        "server: reply with a wrong ID about half the time",
    );
    opts.optopt(
        "",
        "drop",
        "server: silently drop this share of requests (0 to 1)",
        "P",
    );
    opts.optopt(
        "",
        "measure-delay",
        "client: send N requests and print delay statistics",
        "N",
    );
    opts.optopt(
        "",
        "timeout",
        "client: seconds to wait for each reply (default 1)",
        "SECS",
    );
    opts.optopt(
        "",
        "retries",
        "client: times to resend after a timeout (default 2)",
        "N",
    );
    opts.optopt(
        "",
        "log",
        "client: write one CSV row per request to FILE",
        "FILE",
    );
    let args: Args = cli::parse(opts, USAGE);
    let [role, host, port] = args.free() else {
        args.fail("expected a role (server or client), a HOST and a PORT");
    };
    let port: u16 = args.value("PORT", port);
    let host = host.clone();
    match role.as_str() {
        "server" => {
            let drop: f64 = args.get("drop", 0.0);
            if !(0.0..=1.0).contains(&drop) {
                args.fail("-drop takes a share between 0 and 1");
            }
            Role::Server {
                host,
                port,
                faulty: args.flag("faulty"),
                drop,
            }
        }
        "client" => {
            let timeout: f64 = args.get("timeout", 1.0);
            if !(timeout > 0.0 && timeout < 1e6) {
                args.fail("-timeout takes a positive number of seconds");
            }
            let log = args.opt::<String>("log").map(|path| {
                File::create(&path).unwrap_or_else(|e| args.fail(&format!("-log {path}: {e}")))
            });
            let measure: Option<u32> = args.opt("measure-delay");
            if measure == Some(0) {
                args.fail("-measure_delay takes a number of requests, at least 1");
            }
            let opts = ClientOptions {
                measure,
                timeout: Duration::from_secs_f64(timeout),
                retries: args.get("retries", 2),
                log,
            };
            Role::Client { host, port, opts }
        }
        other => args.fail(&format!("unknown role '{other}': use server or client")),
    }
}
