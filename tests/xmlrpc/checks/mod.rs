//! Checks for lab `xmlrpc`: the XML-RPC server with HTTP Basic auth and its client. The server
//! is driven over loopback with raw HTTP written here; the client talks to a stand-in server
//! written here, which reports what it was sent. Across netlab's hosts (`grade --net`) the
//! student's programs run on webserver and the grader's side on client1; the IPv6 check of
//! --allow stays on loopback ([`NO_IPV6_NETWORK`]).
//!
//! This file registers the lab and holds what the milestones share (program names, the default
//! credentials, starting the server). The test side's HTTP is in `http.rs`, its reading of
//! XML-RPC documents in `xml.rs`, and each group of milestones has a file of its own.

mod allow;
mod auth;
mod calls;
mod client;
mod http;
mod questions;
mod server;
mod xml;

use socklab::grader::{Check, Ctx, Lab, Program};
use std::net::SocketAddr;

const SERVER: &str = "xmlrpc_server";
const CLIENT: &str = "xmlrpc_client";
/// The credentials the server is started with unless a check says otherwise.
const USER: &str = "user";
const PASS: &str = "pass";
/// Why the out-of-descriptors check runs on loopback under `grade --net`.
const FD_LIMIT_HERE: &str = "the file descriptor limit is set on a server started on this machine";
/// Why the IPv6 check of --allow runs on loopback under `grade --net`.
const NO_IPV6_NETWORK: &str =
    "netlab's hosts share no IPv6 network: the check's client and the server meet on ::1";

pub fn lab() -> Lab {
    Lab::new(
        "xmlrpc",
        "XML-RPC server with HTTP Basic auth, and its client",
        &[SERVER, CLIENT],
    )
    .checks(vec![
            Check::new("1 HTTP", "prints its real address and accepts TCP connections", 1,
                "Bind a TcpListener, then print listener.local_addr(): with port 0 the OS picks the port.", server::prints_address).across_hosts(),
            Check::new("1 HTTP", "answers a POST with 200, Content-Type and a matching Content-Length", 2,
                "Read the request line, the headers up to the empty line, then exactly Content-Length bytes; write status line, headers, empty line, body.", server::answers_post).across_hosts(),
            Check::new("1 HTTP", "reads a body that arrives in several pieces", 1,
                "One read() may return part of the body: read_exact reads until all Content-Length bytes are there.", server::reads_body_in_pieces).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "keeps an HTTP/1.1 connection open; closes on `Connection: close`", 1,
                "Loop over requests on one connection; stop after a response to `Connection: close` or to HTTP/1.0.", server::keeps_alive).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "reads header names in any case (content-length, AUTHORIZATION, connection)", 1,
                "HTTP header names are case-insensitive: where do you look a header up?", server::headers_any_case)
                .needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "answers GET with 405 and `Allow: POST`", 1,
                "Only POST carries a call: anything else gets 405 Method Not Allowed.", server::refuses_get).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "answers another path with 404, serves / and /RPC2", 1,
                "Compare the request's path with / and /RPC2.", server::refuses_other_paths).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "logs each refused request (405, 404, 401) on stderr", 1,
                "respond(): a refusal should leave a trace for whoever runs the server: who, and why? (log::warn!)", server::logs_refusals).needs(&["answers GET with 405 and `Allow: POST`", "answers another path with 404, serves / and /RPC2"]).across_hosts(),
            Check::new("1 HTTP", "answers a body over 1 MiB with 413 without reading it", 1,
                "Compare Content-Length with MAX_BODY before allocating or reading the body.", server::refuses_large_body).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "survives half requests, stalled clients and garbage (400)", 2,
                "Each connection has its own thread; every malformed request gets the status the handout lists for it; a request that never completes is never answered as one; a client that vanishes ends only its thread.", server::survives_bad_clients).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "--idle SECS: a connection silent that long is closed", 1,
                "A client that sends half a request and then nothing must not hold its thread forever: what makes a read give up?", server::closes_idle)
                .needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("1 HTTP", "out of file descriptors: each failure is logged and ends only its connection", 1,
                "accept() and try_clone() fail when the process has no file descriptor left: what should that end, and what should whoever runs the server learn (which client)?", server::out_of_descriptors)
                .needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).loopback_only(FD_LIMIT_HERE),
            Check::new("2 auth", "accepts the --username/--password credentials (scheme in any case)", 2,
                "Decode the base64 token after `Basic ` and compare it with `username:password`; the scheme name is case-insensitive.", auth::accepts).across_hosts(),
            Check::new("2 auth", "refuses a request without Authorization: 401 with WWW-Authenticate", 1,
                "A 401 must say how to authenticate: WWW-Authenticate: Basic realm=\"…\".", auth::missing).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("2 auth", "refuses a wrong user, a wrong password and a mere prefix: 401", 1,
                "Compare the whole decoded `user:password`, not a prefix, in constant time.", auth::wrong).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("2 auth", "refuses other schemes (Bearer, Digest): 401", 1,
                "Only the Basic scheme is accepted.", auth::not_basic).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("2 auth", "refuses malformed credentials (no token, not base64, no colon): 401", 1,
                "Every decoding error is a refusal, never an unwrap().", auth::malformed).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("3 echo", "echo(\"hello server...\") returns \"HELLO SERVER...\"", 3,
                "Upper-case the string; the given code decodes the call and encodes the answer.", calls::echo_round_trip).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("3 echo", "echo handles untyped values, XML escapes and Unicode", 1,
                "The given XML code decodes `<value>text</value>` and &amp; escapes; send the response body as it is.", calls::echo_escapes).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("3 echo", "prints `Client said: …` for each echo", 1,
                "Print the line the handout shows, for each echo.", calls::echo_prints).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("4 faults", "an unknown method gives a fault with faultCode and faultString", 1,
                "A fault is still an HTTP 200 response: the HTTP exchange worked, the call did not.", calls::fault_unknown_method).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("4 faults", "wrong argument count or type gives a fault", 1,
                "echo takes exactly one string.", calls::fault_bad_params).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("4 faults", "malformed XML gives a fault, not a 500; the server keeps serving", 2,
                "A body that is not an XML-RPC call is answered with a fault, and the connection goes on.", calls::fault_bad_xml).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("5 multicall", "system.multicall runs several echos in one request", 2,
                "Each call's result comes back wrapped in a one-element array.", calls::multicall_echos).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("5 multicall", "a failing call in a multicall gives a fault struct in its place", 1,
                "One bad call must not spoil the others.", calls::multicall_with_fault).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("5 multicall", "system.listMethods lists the three methods", 1,
                "Answer with an array of the method names.", calls::list_methods).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("6 client", "prints `Sending message to server: …` and `Got reply: …`", 3,
                "Connect, write the POST with its headers and body, read the status line, headers and Content-Length body.", client::echo).across_hosts(),
            Check::new("6 client", "sends POST, Host, Basic credentials and Content-Length", 1,
                "Authorization: Basic base64(username:password); Content-Length is the body's length in bytes.", client::request_form).needs(&["prints `Sending message to server: …` and `Got reply: …`"]).across_hosts(),
            Check::new("6 client", "reads the reply's header names in any case (content-length)", 1,
                "Header names are case-insensitive: compare them so.", client::lower_case_headers)
                .needs(&["prints `Sending message to server: …` and `Got reply: …`"]).across_hosts(),
            Check::new("6 client", "--message with XML special characters arrives intact", 1,
                "The given XML code escapes the text; Content-Length counts bytes, not characters.", client::message).needs(&["prints `Sending message to server: …` and `Got reply: …`"]).across_hosts(),
            Check::new("6 client", "reports a 401 and a fault, and exits non-zero", 1,
                "Read the status code from the status line; a fault is a 200 whose body holds <fault>; a body shorter than its Content-Length is an error too.", client::errors).needs(&["prints `Sending message to server: …` and `Got reply: …`"]).across_hosts(),
            Check::new("7 allow", "--allow CIDR closes connections from outside those networks", 1,
                "Compare the first prefix bits of the client's address with the network's, using a mask.", allow::refuses_outsiders).across_hosts(),
            Check::new("7 allow", "--allow CIDR serves clients inside them (any prefix length)", 1,
                "A /9 compares 9 bits: the whole first byte and the top bit of the second.", allow::admits_insiders).needs(&["answers a POST with 200, Content-Type and a matching Content-Length"]).across_hosts(),
            Check::new("7 allow", "IPv6 networks: 128-bit masks, and no match across families", 1,
                "An IPv6 address has 128 bits: check your mask for /0 and /128, and what a v4 network does with a v6 client.", allow::ipv6_networks).loopback_only(NO_IPV6_NETWORK),
    ])
    .questions(&questions::QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// Shared by the milestones.

/// Starts the server on a free loopback port (across hosts, on webserver's address) with `--username user --password pass` and the
/// `extra` options, and reads its address.
fn start(
    ctx: &Ctx,
    user: &str,
    pass: &str,
    extra: &[&str],
) -> Result<(Program, SocketAddr), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let mut args = vec![
        "--host",
        &host,
        "--port",
        "0",
        "--username",
        user,
        "--password",
        pass,
    ];
    args.extend_from_slice(extra);
    ctx.start_server(SERVER, &args)
}

/// The server with the default credentials.
fn server(ctx: &Ctx) -> Result<(Program, SocketAddr), String> {
    start(ctx, USER, PASS, &[])
}

/// Fails if the server has exited or one of its threads panicked; `after` says what it had just
/// been through.
fn still_running(server: &Program, after: &str) -> Result<(), String> {
    if server.is_running() && server.panic_message().is_none() {
        return Ok(());
    }
    Err(server.explain(format!("the server should still be running after {after}")))
}
