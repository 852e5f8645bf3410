//! `netlab`: the course's multi-host lab network on this machine (src/netlab.rs does the work).
use socklab::cli::{self, Options};
use socklab::netlab::{self, Setup};
use std::process::ExitCode;

const USAGE: &str = "Usage: netlab up [--subnet A.B.C.0/24] [--closed] [--delay 40ms] [--loss 2%]
       netlab down | netlab status
       netlab exec HOST COMMAND [ARG...]
       netlab allow HOST tcp|udp PORT[-PORT] FROM CIDR

The course's lab network in network namespaces: dnsserver .2 (DNS for ttm4200.com), webserver .3
(also ttm4200.com and www.ttm4200.com), client1 .11 and client2 .12 on 10.20.30.0/24. Nothing
leaves the machine. `exec` runs a command on a host, under its name; `allow` opens a port of a
host that `up --closed` closed, as a cloud's inbound rule. Needs root.";

fn main() -> ExitCode {
    socklab::logging::init();
    let all: Vec<String> = std::env::args().skip(1).collect();
    // `exec` passes its command on untouched: its options are the command's, not netlab's.
    if all.first().map(String::as_str) == Some("exec") && all.len() > 1 && !all[1].starts_with('-')
    {
        return match netlab::exec(&all[1], &all[2..]) {
            Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
            Err(e) => fail(&e),
        };
    }
    let mut opts = Options::new();
    opts.optopt(
        "",
        "subnet",
        "the hosts' network (default 10.20.30.0/24)",
        "NET",
    );
    opts.optflag("", "closed", "servers' hosts let in only what is allowed");
    opts.optopt(
        "",
        "delay",
        "netem delay on every link, where the kernel has netem",
        "TIME",
    );
    opts.optopt(
        "",
        "loss",
        "netem loss on every link, where the kernel has netem",
        "PERCENT",
    );
    let args = cli::parse_args(opts, USAGE, all);
    let free = args.free();
    let result = match free.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["up"] => {
            let subnet = match args.opt::<String>("subnet") {
                None => Setup::default().subnet,
                Some(text) => netlab::parse_subnet(&text).unwrap_or_else(|e| args.fail(&e)),
            };
            let setup = Setup {
                subnet,
                closed: args.flag("closed"),
                delay: args.opt("delay"),
                loss: args.opt("loss"),
            };
            netlab::up(&setup).map(|said| said.join("\n"))
        }
        ["down"] => netlab::down().map(|()| "netlab is down".to_string()),
        ["status"] => netlab::status().map(|s| s.trim_end().to_string()),
        ["allow", host, proto, ports, from] => netlab::allow(host, proto, ports, from),
        ["exec"] | ["exec", ..] => args.fail("exec needs a host and a command"),
        ["allow", ..] => args.fail("allow takes HOST tcp|udp PORT[-PORT] FROM CIDR"),
        [] => args.fail("say up, down, status, exec or allow"),
        [other, ..] => args.fail(&format!("unknown command {other:?}")),
    };
    match result {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("netlab: {why}");
    ExitCode::FAILURE
}
