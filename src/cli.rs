//! Command-line options for every socklab program, on getopts.
//!
//! The seeds' Python programs take single-dash long options (`-measure_delay 5`), while Rust
//! users expect `--measure-delay 5`. Both work: before parsing, a token such as `-measure_delay`
//! or `--measure_delay` becomes `--measure-delay`. Options are declared with hyphens.
//!
//! Conventions shared by all programs: `-h`/`--help` prints usage and exits 0; a mistake prints
//! one `error:` line and the usage on stderr and exits 2 (never a panic).

use std::fmt::Display;
use std::process;
use std::str::FromStr;

pub use getopts::Options;

/// Parsed command line: the getopts matches plus the usage text for error messages.
pub struct Args {
    pub matches: getopts::Matches,
    usage: String,
}

/// Why parsing stopped without a result: help was asked for, or the command line is wrong.
#[derive(Debug, PartialEq)]
pub enum Stop {
    Help(String),
    Error(String, String),
}

/// Rewrites `-long_name` and `--long_name[=v]` to `--long-name[=v]`; leaves `-h`, values such as
/// `-1`, and everything after `--` alone.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        if rest || arg == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        let long_name = body.filter(|b| {
            let name = b.split('=').next().unwrap_or("");
            name.len() > 1 && name.starts_with(|c: char| c.is_ascii_alphabetic())
        });
        match long_name {
            Some(body) => {
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                let mut token = format!("--{}", name.replace('_', "-"));
                if let Some(v) = value {
                    token.push('=');
                    token.push_str(v);
                }
                out.push(token);
            }
            None => out.push(arg),
        }
    }
    out
}

/// Parses `args` (without the program name). Adds `-h/--help` to `opts`.
pub fn parse_from(
    mut opts: Options,
    brief: &str,
    args: impl IntoIterator<Item = String>,
) -> Result<Args, Stop> {
    opts.optflag("h", "help", "print this help and exit");
    let usage = opts.usage(brief);
    match opts.parse(normalize(args)) {
        Ok(m) if m.opt_present("help") => Err(Stop::Help(usage)),
        Ok(matches) => Ok(Args { matches, usage }),
        Err(e) => Err(Stop::Error(e.to_string(), usage)),
    }
}

/// Parses the process's own arguments; prints help (exit 0) or an error and usage (exit 2).
pub fn parse(opts: Options, brief: &str) -> Args {
    parse_args(opts, brief, std::env::args().skip(1))
}

/// The same for `args` (a subcommand's arguments, say): help exits 0, a mistake exits 2.
pub fn parse_args(opts: Options, brief: &str, args: impl IntoIterator<Item = String>) -> Args {
    match parse_from(opts, brief, args) {
        Ok(args) => args,
        Err(Stop::Help(usage)) => {
            print!("{usage}");
            process::exit(0);
        }
        Err(Stop::Error(msg, usage)) => exit_usage(&msg, &usage),
    }
}

fn exit_usage(msg: &str, usage: &str) -> ! {
    eprintln!("error: {msg}\n\n{usage}");
    process::exit(2);
}

impl Args {
    /// The positional arguments, in order.
    pub fn free(&self) -> &[String] {
        &self.matches.free
    }

    /// Whether a flag such as `-faulty` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.matches.opt_present(name)
    }

    /// The value of option `name`, or `default` when absent; a value that does not parse exits 2.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T
    where
        T::Err: Display,
    {
        match self.matches.opt_str(name) {
            None => default,
            Some(text) => self.value(&format!("--{name}"), &text),
        }
    }

    /// The value of option `name`, if given (exits 2 if it does not parse).
    pub fn opt<T: FromStr>(&self, name: &str) -> Option<T>
    where
        T::Err: Display,
    {
        let text = self.matches.opt_str(name)?;
        Some(self.value(&format!("--{name}"), &text))
    }

    /// Parses `text`, the value of `what` (an option or a positional name such as `PORT`).
    pub fn value<T: FromStr>(&self, what: &str, text: &str) -> T
    where
        T::Err: Display,
    {
        text.parse()
            .unwrap_or_else(|e| self.fail(&format!("{what}: '{text}' is not valid ({e})")))
    }

    /// Prints `error: msg` and the usage, then exits 2.
    pub fn fail(&self, msg: &str) -> ! {
        exit_usage(msg, &self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_dash_and_underscores_become_long_options() {
        let got = normalize(strings(&[
            "client",
            "-measure_delay",
            "5",
            "--log_file=x",
            "-h",
            "-1",
            "--",
            "-keep_me",
        ]));
        assert_eq!(
            got,
            strings(&[
                "client",
                "--measure-delay",
                "5",
                "--log-file=x",
                "-h",
                "-1",
                "--",
                "-keep_me"
            ])
        );
    }

    fn opts() -> Options {
        let mut o = Options::new();
        o.optopt("", "measure-delay", "requests to time", "N");
        o.optflag("", "faulty", "lie sometimes");
        o
    }

    #[test]
    fn both_spellings_parse() {
        for spelling in ["-measure_delay", "--measure-delay", "--measure_delay"] {
            let args = parse_from(opts(), "usage", strings(&[spelling, "7", "-faulty"])).unwrap();
            assert_eq!(args.get("measure-delay", 0u32), 7);
            assert!(args.flag("faulty"));
        }
    }

    #[test]
    fn help_and_errors_are_reported_not_panicked() {
        assert!(matches!(
            parse_from(opts(), "usage", strings(&["-h"])),
            Err(Stop::Help(_))
        ));
        match parse_from(opts(), "usage", strings(&["-bogus"])) {
            Err(Stop::Error(msg, usage)) => {
                assert!(msg.contains("bogus"), "{msg}");
                assert!(usage.contains("--measure-delay"), "{usage}");
            }
            _ => panic!("an unknown option must be an error"),
        }
    }
}
