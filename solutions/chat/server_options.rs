//! `chatserver`'s command line, given: the options, their defaults and the usage text.

use socklab::cli::{self, Args, Options};
use socklab::wire::Wire;
use std::path::PathBuf;

const USAGE: &str = "Usage: chatserver [--host H] [--port P] [--users FILE] [--wire lines|seed]

A chat room over TCP: relays each line to every other client and keeps everyone's list of
active users. With --users FILE, clients sign up or log in first (accounts kept in FILE).
--wire seed speaks the seed's bytes (no newlines), for the course's Python client.";

/// What the command line asks for.
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// `--users FILE`: accounts are required, and kept in FILE.
    pub users: Option<PathBuf>,
    pub wire: Wire,
}

/// Reads the command line (a mistake prints one `error:` line and the usage, and exits 2).
pub fn parse(default_port: u16) -> Settings {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "host",
        "address to listen on (default 0.0.0.0: every interface)",
        "H",
    );
    opts.optopt(
        "",
        "port",
        "TCP port (default 5000; 0 picks a free one)",
        "P",
    );
    opts.optopt(
        "",
        "users",
        "require sign-up/login; keep the accounts in FILE",
        "FILE",
    );
    socklab::wire::option(&mut opts);
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("chatserver takes no positional arguments");
    }
    Settings {
        host: args.get("host", "0.0.0.0".to_string()),
        port: args.get("port", default_port),
        users: args.opt::<PathBuf>("users"),
        wire: args.get("wire", Wire::Lines),
    }
}
