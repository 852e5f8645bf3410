//! `chatclient`'s command line, given: the options, their defaults and the usage text.

use socklab::cli::{self, Args, Options};
use socklab::wire::Wire;
use std::io::{self, BufRead};
use std::net::IpAddr;

const USAGE: &str = "Usage: chatclient [--server HOST] [--port P] [--bind IP] [--udp-port U]
                  [--name NAME] [--password PW [--signup]] [--wire lines|seed]

Joins the chat room at HOST. Type a line to send it to everyone, `@NAME: text` to send it to
NAME only (over UDP), `#ls` to list the active users; Ctrl-D leaves.
--wire seed speaks the course's bytes (no newlines), for the course's Python server.";

/// Account settings: with a password, the client logs in (or signs up) instead of sending a name.
pub struct Login {
    pub password: Option<String>,
    pub signup: bool,
}

/// Where the server is and how to talk to it.
pub struct Link {
    pub host: String,
    pub port: u16,
    pub bind: Option<IpAddr>,
    pub udp_port: u16,
    pub wire: Wire,
}

/// Reads the command line (a mistake prints one `error:` line and the usage, and exits 2):
/// where the server is, the name to register if given, and the account settings.
pub fn parse(default_port: u16) -> (Link, Option<String>, Login) {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "server",
        "the chat server's name or address (default localhost)",
        "HOST",
    );
    opts.optopt("", "port", "the server's TCP port (default 5000)", "P");
    opts.optopt(
        "",
        "bind",
        "use this local IP for TCP and UDP (for example 127.0.0.2)",
        "IP",
    );
    opts.optopt(
        "",
        "udp-port",
        "the UDP port every client listens on (default 5000)",
        "U",
    );
    opts.optopt("", "name", "register this name instead of asking", "NAME");
    opts.optopt(
        "",
        "password",
        "log in with this password (- reads it from the first input line)",
        "PW",
    );
    opts.optflag("", "signup", "create the account instead of logging in");
    socklab::wire::option(&mut opts);
    let args: Args = cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("chatclient takes no positional arguments");
    }
    let host: String = args.get("server", "localhost".to_string());
    let port: u16 = args.get("port", default_port);
    let udp_port: u16 = args.get("udp-port", default_port);
    let bind: Option<IpAddr> = args.opt("bind");
    let name: Option<String> = args.opt("name");
    let mut password: Option<String> = args.opt("password");
    let signup = args.flag("signup");
    let wire: Wire = args.get("wire", Wire::Lines);
    if signup && password.is_none() {
        args.fail("--signup needs --password");
    }
    if password.as_deref() == Some("-") {
        // Keeps the password out of the process list (`ps` shows command lines).
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line).is_err() {
            args.fail("--password -: could not read the password");
        }
        password = Some(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let login = Login { password, signup };
    let link = Link {
        host,
        port,
        bind,
        udp_port,
        wire,
    };
    (link, name, login)
}
