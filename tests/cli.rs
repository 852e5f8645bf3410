//! Every lab program handles command-line mistakes the kit's way: one `error:` line and the
//! usage on stderr, exit code 2, never a panic; `-h` prints the usage and exits 0.

use std::process::Command;

const UDP_TIME: &str = env!("CARGO_BIN_EXE_udp_time");
const XMLRPC_SERVER: &str = env!("CARGO_BIN_EXE_xmlrpc_server");
const XMLRPC_CLIENT: &str = env!("CARGO_BIN_EXE_xmlrpc_client");
const CHATROOM_SERVER: &str = env!("CARGO_BIN_EXE_chatroom_server");
const CHATROOM_CLIENT: &str = env!("CARGO_BIN_EXE_chatroom_client");
const CHATSERVER: &str = env!("CARGO_BIN_EXE_chatserver");
const CHATCLIENT: &str = env!("CARGO_BIN_EXE_chatclient");

#[test]
fn mistakes_exit_2_with_one_line_and_usage() {
    for (bin, args) in [
        (UDP_TIME, &["server", "127.0.0.1"][..]),
        (UDP_TIME, &["client", "h", "notaport"]),
        (UDP_TIME, &["server", "h", "1", "-bogus"]),
        (UDP_TIME, &["ping", "h", "1"]),
        (XMLRPC_SERVER, &["--port", "notaport"]),
        (XMLRPC_SERVER, &["extra"]),
        (XMLRPC_SERVER, &["--username", "a:b"]),
        (XMLRPC_SERVER, &["--allow", "10.0.0.0/33"]),
        (XMLRPC_SERVER, &["--allow", "not-a-network"]),
        (XMLRPC_CLIENT, &["--bogus"]),
        (XMLRPC_CLIENT, &["--port"]),
        (CHATROOM_SERVER, &["--port", "notaport"]),
        (CHATROOM_SERVER, &["extra"]),
        (CHATROOM_SERVER, &["--bogus"]),
        (CHATROOM_CLIENT, &["--port", "70000"]),
        (CHATROOM_CLIENT, &["somewhere"]),
        (CHATSERVER, &["--port", "notaport"]),
        (CHATSERVER, &["--bogus"]),
        (CHATCLIENT, &["--udp-port", "70000"]),
        (CHATCLIENT, &["--bind", "not-an-ip"]),
    ] {
        let out = Command::new(bin).args(args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        let shown = format!("{bin} {args:?}: {err}");
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(
            err.starts_with("error: ") && err.contains("Usage:"),
            "{shown}"
        );
        assert!(!err.contains("panicked"), "{shown}");
    }
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    for (bin, mentions) in [
        (UDP_TIME, "-measure_delay"),
        (XMLRPC_SERVER, "--password"),
        (XMLRPC_CLIENT, "--message"),
        (CHATROOM_SERVER, "--port"),
        (CHATROOM_CLIENT, "--nickname"),
        (CHATSERVER, "--users"),
        (CHATCLIENT, "--udp-port"),
    ] {
        let out = Command::new(bin).arg("-h").output().expect("runs");
        let usage = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{bin} -h");
        assert!(
            usage.contains(mentions),
            "{bin} -h does not mention {mentions}: {usage}"
        );
    }
}
