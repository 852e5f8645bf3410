//! Every lab program handles command-line mistakes the kit's way: one `error:` line and the
//! usage on stderr, exit code 2, never a panic; `-h` prints the usage and exits 0. The programs
//! come from the lab registry (src/bin/socklab/labs.rs), so a new lab's programs are tested here
//! without an edit; the table below adds mistakes particular to one program.

#[path = "../src/bin/socklab/labs.rs"]
mod checks;

use std::path::PathBuf;
use std::process::Command;

/// The built program `bin`, beside the `socklab` binary cargo built for this test.
fn program(bin: &str) -> PathBuf {
    let socklab = PathBuf::from(env!("CARGO_BIN_EXE_socklab"));
    socklab.with_file_name(bin)
}

/// Every program of every lab.
fn programs() -> Vec<&'static str> {
    checks::labs()
        .iter()
        .flat_map(|l| l.bins.iter().copied())
        .collect()
}

fn assert_mistake(bin: &str, args: &[&str]) {
    assert_mistake_of(&program(bin).to_string_lossy(), args);
}

/// `program args` exits 2 with one `error:` line and the usage, and no panic.
fn assert_mistake_of(bin: &str, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{bin} runs: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{bin} {args:?}: {err}");
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        err.starts_with("error: ") && err.contains("Usage:"),
        "{shown}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{shown}"
    );
    assert!(!err.contains("panicked"), "{shown}");
}

#[test]
fn every_program_refuses_an_unknown_option_with_exit_2() {
    for bin in programs() {
        assert_mistake(bin, &["--no-such-option"]);
    }
}

#[test]
fn every_program_prints_its_usage_for_h_and_exits_0() {
    for bin in programs() {
        let out = Command::new(program(bin)).arg("-h").output().expect("runs");
        let usage = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{bin} -h");
        assert!(usage.contains("Usage:"), "{bin} -h: {usage}");
    }
}

#[test]
fn mistakes_particular_to_a_program_exit_2_with_one_line_and_usage() {
    for (bin, args) in [
        ("udp_time", &["server", "127.0.0.1"][..]),
        ("udp_time", &["client", "h", "notaport"]),
        ("udp_time", &["server", "h", "1", "-bogus"]),
        ("udp_time", &["ping", "h", "1"]),
        ("xmlrpc_server", &["--port", "notaport"]),
        ("xmlrpc_server", &["extra"]),
        ("xmlrpc_server", &["--username", "a:b"]),
        ("xmlrpc_server", &["--allow", "10.0.0.0/33"]),
        ("xmlrpc_server", &["--allow", "not-a-network"]),
        ("xmlrpc_server", &["--idle", "0"]),
        ("xmlrpc_client", &["--port"]),
        ("chatroom_server", &["--port", "notaport"]),
        ("chatroom_server", &["extra"]),
        ("chatroom_client", &["--port", "70000"]),
        ("chatroom_client", &["somewhere"]),
        ("chatserver", &["--port", "notaport"]),
        ("chatclient", &["--udp-port", "70000"]),
        ("chatclient", &["--bind", "not-an-ip"]),
        ("chatroom_server", &["--wire", "newlines"]),
        ("chatroom_client", &["--wire", "Seed"]),
        ("chatserver", &["--wire", ""]),
        ("chatclient", &["--wire", "raw"]),
        ("webapp", &["--idle", "0"]),
        ("webapp", &["extra"]),
        ("http_get", &[]),
        ("http_get", &["ftp://example.com/"]),
        ("http_get", &["http://127.0.0.1:99999/"]),
        ("http_get", &["http://a/", "http://b/"]),
        ("revproc", &[]),
        ("revproc", &["-port", "notaport"]),
        ("rp_server", &["-id", "1", "-pp", "PP_1", "-listen", "0"]),
        (
            "rp_server",
            &[
                "-id", "one", "-pp", "PP_1", "-listen", "0", "-revproc", "5000",
            ],
        ),
        ("rp_client", &["-revproc", "5000"]),
        (
            "rp_client",
            &["-revproc", "5000", "-pkt", "/nonexistent/1327.PP_2"],
        ),
        ("netcat", &["-l"]),
        ("netcat", &["127.0.0.1"]),
        ("netcat", &["127.0.0.1", "notaport"]),
        ("netcat", &["--send-only", "--recv-only", "h", "1"]),
        ("netcat", &["-u", "--ssl", "h", "1"]),
        ("netcat", &["--ssl-cert", "c.pem", "-l", "1"]),
        ("netcat", &["-k", "h", "1"]),
        ("silly_server", &["--port", "notaport"]),
        ("silly_server", &["extra"]),
        ("pipes", &["--mib", "0"]),
    ] {
        assert!(programs().contains(&bin), "{bin} is no lab's program");
        assert_mistake(bin, args);
    }
}

#[test]
fn help_names_the_programs_own_options() {
    for (bin, mentions) in [
        ("udp_time", "-measure_delay"),
        ("xmlrpc_server", "--password"),
        ("xmlrpc_client", "--message"),
        ("chatroom_server", "--port"),
        ("chatroom_client", "--nickname"),
        ("chatserver", "--users"),
        ("chatclient", "--udp-port"),
        ("webapp", "--tls"),
        ("http_get", "--cacert"),
        ("netcat", "--sh-exec"),
        ("silly_server", "--port"),
        ("pipes", "--mib"),
    ] {
        let out = Command::new(program(bin)).arg("-h").output().expect("runs");
        let usage = String::from_utf8_lossy(&out.stdout);
        assert!(
            usage.contains(mentions),
            "{bin} -h does not mention {mentions}: {usage}"
        );
    }
}

#[test]
fn the_socklab_command_refuses_an_unknown_subcommand_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .arg("grate")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: ") && err.contains("grade"), "{err}");
}

/// The subcommands `socklab --help` lists.
fn subcommands() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .arg("--help")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let usage = String::from_utf8_lossy(&out.stdout).into_owned();
    let listed: Vec<String> = usage
        .split_once("Commands:")
        .expect("socklab --help lists its commands")
        .1
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(listed.len() >= 9, "{usage}");
    listed
}

#[test]
fn every_socklab_subcommand_handles_mistakes_and_help_the_same_way() {
    let socklab = env!("CARGO_BIN_EXE_socklab");
    for command in subcommands() {
        // new-lab takes one NAME: its stray word is a second one (one alone would write a lab).
        let stray: &[&str] = match command.as_str() {
            "new-lab" => &["stray", "word"],
            _ => &["stray-word"],
        };
        for mistake in [&["--no-such-option"][..], stray, &["--lab"]] {
            let mut args = vec![command.as_str()];
            args.extend(mistake);
            // --lab is an option of some subcommands only: a missing value or an unknown
            // option, a mistake either way.
            assert_mistake_of(socklab, &args);
        }
        let out = Command::new(socklab)
            .args([command.as_str(), "-h"])
            .output()
            .expect("runs");
        let usage = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "socklab {command} -h");
        assert!(
            usage.starts_with(&format!("Usage: socklab {command}")),
            "socklab {command} -h: {usage}"
        );
    }
}
