//! Given parts of `http_get.rs` that are not this lab's lesson: the URL type, where a redirect
//! leads, TLS plumbing and the command line. Read it; you need not change it.

use socklab::cli::{self, Args, Options};
use socklab::tls::{self, rustls, Trust};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

/// What a URL says about where to connect and what to ask for.
#[derive(Clone, Debug)]
pub struct Url {
    pub https: bool,
    /// A host name or an IP address (an IPv6 address without its brackets).
    pub host: String,
    pub port: u16,
    /// The request target: path and query, `/data?format=csv`; at least `/`.
    pub target: String,
}

impl Url {
    /// The `Host` header's value: the host, and the port unless it is the scheme's default.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default_port(self.https) {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn show(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.target)
    }
}

pub fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

/// Where a redirect's `Location` leads, from `base`: an absolute URL, `//host/path` (same
/// scheme), `/path` (same server) or a path relative to the base's folder.
pub fn resolve(base: &Url, location: &str) -> Result<Url, String> {
    let location = location.trim();
    if location.contains("://") {
        return super::parse_url(location);
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = if base.https { "https" } else { "http" };
        return super::parse_url(&format!("{scheme}://{rest}"));
    }
    let target = if location.starts_with('/') {
        location.to_string()
    } else {
        let path = base.target.split('?').next().unwrap_or("/");
        let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{folder}{location}")
    };
    Ok(Url {
        target: super::encode_target(target.split('#').next().unwrap_or("/")),
        ..base.clone()
    })
}

/// A byte stream both ways: a `TcpStream`, or TLS around one.
pub trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// Wraps a connection in TLS, trusting `cacert` or else the built-in web roots (the lesson is
/// that the HTTP bytes inside are the same).
pub fn wrap_tls(
    tcp: TcpStream,
    host: &str,
    cacert: Option<&Path>,
) -> Result<Box<dyn Stream>, String> {
    let trust = match cacert {
        Some(file) => Trust::File(file),
        None => Trust::WebRoots,
    };
    let config = tls::client_config(trust)?;
    let conn = rustls::ClientConnection::new(config, tls::server_name(host)?)
        .map_err(|e| format!("TLS setup: {e}"))?;
    // The handshake (and the certificate check) happens on the first write.
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

/// What the command line asks for.
pub struct Get {
    /// `-i`: print each status line and headers too.
    pub include: bool,
    /// `-L`: follow redirects.
    pub follow: bool,
    pub cacert: Option<PathBuf>,
}

const USAGE: &str = "Usage: http_get [-i] [-L] [--cacert FILE] URL

Fetches URL (http:// or https://) with one HTTP/1.1 GET and prints the body. Exits 0 for a
2xx or 3xx status, 1 otherwise; a failure is explained in one line on stderr.";

/// Parses the command line into the URL (with `parse_url`, yours) and what to do with it; a mistake
/// prints one `error:` line and the usage, and exits.
pub fn command_line() -> (Url, Get) {
    let mut opts = Options::new();
    opts.optflag("i", "include", "print the status line and headers too");
    opts.optflag("L", "location", "follow redirects (at most 5)");
    opts.optopt(
        "",
        "cacert",
        "trust the certificates in this PEM file (default: the built-in web roots)",
        "FILE",
    );
    let args: Args = cli::parse(opts, USAGE);
    let [text] = args.free() else {
        args.fail("give one URL");
    };
    let url = super::parse_url(text).unwrap_or_else(|e| args.fail(&e));
    let cacert: Option<String> = args.opt("cacert");
    let get = Get {
        include: args.flag("include"),
        follow: args.flag("location"),
        cacert: cacert.map(PathBuf::from),
    };
    (url, get)
}
