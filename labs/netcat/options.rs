//! Given code of netcat (no blanks): the command line, as Ncat's options, into a [`Config`].

use super::tls_plumbing::{tls_side, TlsSide};
use super::{Mode, NAME};
use socklab::cli::{self, Args, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Everything the command line says.
pub(super) struct Config {
    pub(super) listen: bool,
    pub(super) keep_open: bool,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) udp: bool,
    pub(super) verbose: bool,
    pub(super) crlf: bool,
    pub(super) mode: Mode,
    pub(super) local: Local,
    pub(super) tls: Option<TlsOptions>,
}

pub(super) struct TlsOptions {
    pub(super) cert: Option<(PathBuf, PathBuf)>,
    pub(super) verify: bool,
    pub(super) trustfile: Option<PathBuf>,
}

/// The local side of a session: stdin/stdout, or a command run for this connection.
pub(super) enum Local {
    Std,
    Command(String, bool),
}

/// Reads the command line (a mistake exits 2 with usage) and makes the TLS configuration it
/// asks for (a failure there is said in one line, exit 1).
pub(super) fn from_command_line() -> Result<(Config, Option<TlsSide>), ExitCode> {
    if std::env::var_os("RUST_LOG").is_none() {
        // rustls logs at `warn` what is only unusual (Ncat sends an IP address as the server
        // name): keep stderr for netcat's own lines unless asked.
        std::env::set_var("RUST_LOG", "info,rustls=error");
    }
    socklab::logging::init();
    let args = cli::parse_args(options(), USAGE, expand_clusters(std::env::args().skip(1)));
    let cfg = config(&args);
    match cfg.tls.as_ref().map(|t| tls_side(&cfg, t)).transpose() {
        Ok(side) => Ok((cfg, side)),
        Err(e) => {
            eprintln!("{NAME}: {e}.");
            Err(ExitCode::FAILURE)
        }
    }
}

const USAGE: &str = "Usage: netcat [options] HOST PORT
       netcat -l [options] [HOST] [PORT]

Connects to HOST PORT, or listens (-l), and copies stdin to the connection and the connection to
stdout. Options as Ncat's. With -v, `Listening on ADDR` gives the real address (also for port 0).";

/// Single-letter flags that may be written together (`-lvk`); `p` may end such a group.
const CLUSTER: &str = "lkuvCh";

/// `-lvp 8000` → `-l -v -p 8000`, as getopts does not group short options here.
fn expand_clusters(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let body = arg.strip_prefix('-').filter(|b| !b.starts_with('-'));
        match body {
            Some(b)
                if b.len() > 1
                    && b.char_indices()
                        .all(|(i, c)| CLUSTER.contains(c) || (c == 'p' && i == b.len() - 1)) =>
            {
                out.extend(b.chars().map(|c| format!("-{c}")));
            }
            _ => out.push(arg),
        }
    }
    out
}

fn options() -> Options {
    let mut opts = Options::new();
    opts.optflag(
        "l",
        "listen",
        "listen for connections instead of connecting",
    );
    opts.optopt(
        "p",
        "source-port",
        "with -l: the port to listen on (0: any)",
        "PORT",
    );
    opts.optflag(
        "k",
        "keep-open",
        "with -l: accept more connections, each in a thread",
    );
    opts.optflag("u", "udp", "UDP instead of TCP");
    opts.optflag("v", "verbose", "say what happens on stderr");
    opts.optflag("C", "crlf", "send line ends as CRLF");
    opts.optflag("", "send-only", "only send; what arrives is thrown away");
    opts.optflag("", "recv-only", "only receive; stdin is not read");
    opts.optopt(
        "c",
        "sh-exec",
        "run CMD with /bin/sh per connection, on the socket",
        "CMD",
    );
    opts.optopt(
        "e",
        "exec",
        "run CMD (no shell) per connection, on the socket",
        "CMD",
    );
    opts.optflag("", "ssl", "TLS on the connection");
    opts.optopt(
        "",
        "ssl-cert",
        "with -l --ssl: the certificate (PEM)",
        "FILE",
    );
    opts.optopt(
        "",
        "ssl-key",
        "with -l --ssl: its private key (PEM)",
        "FILE",
    );
    opts.optflag("", "ssl-verify", "check the server's certificate");
    opts.optopt(
        "",
        "ssl-trustfile",
        "trust the certificates in FILE (PEM); implies --ssl-verify",
        "FILE",
    );
    opts
}

/// Reads the command line; a mistake exits 2 with usage.
fn config(args: &Args) -> Config {
    let listen = args.flag("listen");
    let free = args.free();
    let port_opt: Option<u16> = args.opt("source-port");
    let port_of = |text: &str| -> u16 { args.value("PORT", text) };
    let (host, port) = if listen {
        match (free, port_opt) {
            ([], Some(p)) => ("0.0.0.0".to_string(), p),
            ([h], Some(p)) => (h.clone(), p),
            ([p], None) if p.parse::<u16>().is_ok() => ("0.0.0.0".to_string(), port_of(p)),
            ([h, p], None) => (h.clone(), port_of(p)),
            ([], None) | ([_], None) => args.fail("-l needs a PORT (or -p PORT)"),
            _ => args.fail("-l takes at most HOST and PORT"),
        }
    } else {
        match free {
            [h, p] if port_opt.is_none() => (h.clone(), port_of(p)),
            [_, _] => args.fail("-p is only for -l"),
            _ => args.fail("connecting needs HOST and PORT"),
        }
    };
    let keep_open = args.flag("keep-open");
    if keep_open && !listen {
        args.fail("-k is only for -l");
    }
    let (send_only, recv_only) = (args.flag("send-only"), args.flag("recv-only"));
    if send_only && recv_only {
        args.fail("--send-only and --recv-only exclude each other");
    }
    let local = match (
        args.matches.opt_str("sh-exec"),
        args.matches.opt_str("exec"),
    ) {
        (Some(_), Some(_)) => args.fail("give --sh-exec or -e, not both"),
        (Some(cmd), None) => Local::Command(cmd, true),
        (None, Some(cmd)) => Local::Command(cmd, false),
        (None, None) => Local::Std,
    };
    let cert: Option<PathBuf> = args.opt("ssl-cert");
    let key: Option<PathBuf> = args.opt("ssl-key");
    let trustfile: Option<PathBuf> = args.opt("ssl-trustfile");
    let verify = args.flag("ssl-verify") || trustfile.is_some();
    let cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => args.fail("--ssl-cert and --ssl-key go together"),
    };
    let ssl = args.flag("ssl") || cert.is_some() || verify;
    let udp = args.flag("udp");
    if udp && (ssl || keep_open || matches!(local, Local::Command(..))) {
        args.fail("-u works without --ssl, -k and commands");
    }
    let mode = if send_only {
        Mode::SendOnly
    } else if recv_only {
        Mode::RecvOnly
    } else {
        Mode::Both
    };
    Config {
        listen,
        keep_open,
        host,
        port,
        udp,
        verbose: args.flag("verbose"),
        crlf: args.flag("crlf"),
        mode,
        local,
        tls: ssl.then_some(TlsOptions {
            cert,
            verify,
            trustfile,
        }),
    }
}
