//! Checks for lab `http`: `webapp` (a tiny web application) and `http_get` (a raw HTTP client),
//! each tested on its own so that one broken program costs only its own points. The webapp is
//! driven with raw requests written here (`server.rs`, over `wire.rs`); http_get fetches from
//! stand-in servers written here, which report what it sent (`client.rs`); `questions.rs` asks
//! about a capture of both. Across netlab's hosts (`grade --net`) both programs run on
//! webserver and the grader's clients and stand-in servers on client1.

mod client;
mod questions;
mod server;
mod wire;

use socklab::grader::{Check, Ctx, Lab, Program, WAIT};
use std::net::SocketAddr;
use wire::{Conn, Reply};

const WEBAPP: &str = "webapp";
const HTTP_GET: &str = "http_get";

/// Names of the checks others build on (for `Check::needs`).
const HELLO: &str = "prints `Running on http://IP:PORT/`; / answers 200 `Hello World`";
const INDEX: &str = "/index is an HTML page; /index/<name> greets the percent-decoded name";
const KEEP: &str =
    "keep-alive: two requests on one connection; `Connection: close` and HTTP/1.0 close it";
const REQUEST: &str = "sends `GET /path?query HTTP/1.1` with Host, User-Agent, Connection: close";
const LENGTH: &str =
    "prints a body framed by Content-Length, sent in pieces, without waiting for the close";

pub fn lab() -> Lab {
    Lab::new(
        "http",
        "HTTP by hand: a raw client with HTTPS, and a tiny web app",
        &[HTTP_GET, WEBAPP],
    )
    .checks(vec![
            Check::new("1 webapp", HELLO, 2,
                "Bind, print the address, accept; read the request line and headers up to the empty line, route it, and write status line, headers (Content-Type, Content-Length), empty line, body.", server::hello).across_hosts(),
            Check::new("1 webapp", "reads a request that arrives in pieces, and two in one piece", 1,
                "A read() returns what has arrived, part of a request or more than one: read lines from a BufReader kept for the whole connection.", server::pieces).across_hosts().needs(&[HELLO, INDEX]),
            Check::new("1 webapp", "writes each response in one write: a client reading once (recv(1024), as the seeds' Python does) gets all of it", 2,
                "Two writes make two TCP segments, and a client that reads once gets only the first. Build the whole response in one buffer, then write it once.", server::one_write).across_hosts().needs(&[HELLO]),
            Check::new("1 webapp", "serves several connections at once", 1,
                "One thread per connection: a client that has sent half a request must not hold up the others.", server::several).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", INDEX, 2,
                "Route on the path's segments; decode %XX escapes in each (two hex digits make one byte; the bytes are UTF-8).", server::index).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", "/index/<name> escapes HTML: a name with <script> is shown, not run", 2,
                "html_escape every character with a meaning in HTML before putting the name in the page, & first.", server::escaping).across_hosts().needs(&[INDEX]),
            Check::new("2 routes", "/data?format=json|csv|html answers with the matching Content-Type", 2,
                "Split the target at '?'; take `format` from the query (percent-decoded), json when absent.", server::data).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", "/data with an unknown format: 400 with a sentence", 1,
                "An unknown format is the client's mistake: a 4xx status, and a body saying what to ask for.", server::bad_format).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", "/home: 301 with Location: /index", 1,
                "A redirect is a status and a Location header; the client makes the second request.", server::home).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", "an unknown path: 404; a POST or DELETE: 405 with Allow", 2,
                "Look up the path first (404 for any method), then the method: 405 and an Allow header listing GET and HEAD.", server::not_found_and_method).across_hosts().needs(&[HELLO]),
            Check::new("2 routes", "HEAD: the GET's status and headers, Content-Length too, and no body", 1,
                "For HEAD write the same head as for GET (its Content-Length included), but not the body.", server::head).across_hosts().needs(&[INDEX]),
            Check::new("3 connections", KEEP, 2,
                "Loop over requests on one connection; after the response, stop when keep_alive says so.", server::keep_alive).across_hosts().needs(&[INDEX]),
            Check::new("3 connections", "header names in any case: host, CONTENT-LENGTH, connection", 1,
                "The handout's step 2 says how header names compare; look at how your server finds a header by its name.", server::header_case).across_hosts().needs(&[KEEP]),
            Check::new("3 connections", "a body under the limit is read and skipped; the next request still works", 1,
                "Read exactly Content-Length bytes after the headers, or they are taken for the next request.", server::small_body).across_hosts().needs(&[INDEX]),
            Check::new("4 hardening", "a malformed request line or header, or no Host: 400; the server lives on", 2,
                "Three words on the request line, a token method, a target starting with /; a colon in each header; Host in HTTP/1.1. Answer 400 and close, never panic.", server::malformed).across_hosts().needs(&[HELLO]),
            Check::new("4 hardening", "HTTP/2.0 or a garbage version: 505", 1,
                "Compare the version word with HTTP/1.0 and HTTP/1.1; anything else is a version this server does not speak.", server::bad_version).across_hosts().needs(&[HELLO]),
            Check::new("4 hardening", "a request line over 8 KiB: 414; headers over 8 KiB: 431; a body over the limit: 413 at once", 2,
                "Count the head's bytes as they come; compare Content-Length with MAX_BODY before reading the body.", server::too_large).across_hosts().needs(&[HELLO]),
            Check::new("4 hardening", "closes a connection idle for --idle seconds", 1,
                "Set a read timeout on each accepted socket; a timed-out read ends the connection.", server::idle).across_hosts().needs(&[HELLO]),
            Check::new("4 hardening", "gives up on a client that never reads its answers after --idle seconds", 1,
                "A write to a client that reads nothing waits once the buffers are full: the idle limit is for writes too.", server::never_reads).across_hosts().needs(&[HELLO]).limit(15),
            Check::new("5 https", "--tls serves the same app over HTTPS; the printed certificate verifies", 2,
                "The certificate and configuration are given; serve() must run the connection inside a TLS session made from that configuration, and the first line must say https://.", server::tls).across_hosts().needs(&[HELLO, INDEX]),
            Check::new("6 http_get", REQUEST, 2,
                "Split the URL into host, port and target (/ when empty); write the request line, the headers with \\r\\n, and an empty line.", client::request_form).across_hosts(),
            Check::new("6 http_get", LENGTH, 2,
                "Read exactly Content-Length bytes (more reads than one), then stop: the server may keep the connection open.", client::content_length).across_hosts().needs(&[REQUEST]),
            Check::new("6 http_get", "percent-encodes a space, a quote or a non-ASCII letter in the URL's path and query", 1,
                "A space in the request line would make more than three words: every byte a request target cannot carry goes as %XX.", client::encodes_target).across_hosts().needs(&[REQUEST]),
            Check::new("6 http_get", "reads header names in any case (content-length, TRANSFER-ENCODING, location)", 1,
                "The handout's step 2 says how header names compare; look at how http_get finds a header by its name.", client::header_case).across_hosts().needs(&[LENGTH]),
            Check::new("6 http_get", "prints a chunked body (hex sizes, extensions, trailers)", 2,
                "Each chunk: a size line in hexadecimal (drop any ;extension), the data, \\r\\n; size 0 ends, after the trailer lines.", client::chunked).across_hosts().needs(&[REQUEST]),
            Check::new("6 http_get", "prints a body that ends with the close (no length given)", 1,
                "Without Content-Length or chunks, the body is everything until the server closes.", client::until_close).across_hosts().needs(&[REQUEST]),
            Check::new("6 http_get", "-i prints the status line and headers before the body", 1,
                "With -i write the status line and each header line, then an empty line, then the body.", client::include).across_hosts().needs(&[LENGTH]),
            Check::new("6 http_get", "exits 0 on 2xx/3xx, 1 otherwise; no body after 204 or 304", 1,
                "Take the status code from the status line; 1xx, 204 and 304 responses never have a body.", client::statuses).across_hosts().needs(&[LENGTH]),
            Check::new("6 http_get", "a refused connection, a cut body, a bad chunk or garbage: one line on stderr, exit 1", 1,
                "Return every failure as an error sentence; main prints it on stderr and exits 1 (never a panic).", client::failures).across_hosts(),
            Check::new("6 http_get", "a URL it cannot fetch (ftp://, no host, a bad port): exit 2 with the reason", 1,
                "parse_url returns an error sentence for every URL it cannot use; main turns it into a command-line mistake.", client::bad_urls).across_hosts(),
            Check::new("7 redirects", "-L follows 301/302/303/307/308 to absolute and relative Locations", 2,
                "For a redirect status with Location, resolve it against the current URL and request again on a new connection.", client::redirects).across_hosts().needs(&[LENGTH]),
            Check::new("7 redirects", "-L ends a redirect loop after 5 hops: exit 1 and a sentence", 1,
                "Count the hops; past MAX_REDIRECTS, stop with an error.", client::redirect_loop).across_hosts().needs(&[LENGTH]),
            Check::new("8 https", "https:// verified against --cacert; an untrusted certificate is refused", 2,
                "The TLS part is given once the URL says https and the TCP connection is made: check the scheme and the default port 443.", client::https).across_hosts().needs(&[LENGTH]),
    ])
    .questions(&questions::QUESTIONS)
}

// ---------------------------------------------------------------------------------------------
// Shared by the parts.

/// The address in the webapp's first line, `Running on http://127.0.0.1:40123/` (`https`
/// with `--tls`).
fn running_on(line: &str, scheme: &str) -> Result<SocketAddr, String> {
    let want = format!("Running on {scheme}://IP:PORT/");
    line.trim()
        .strip_prefix(&format!("Running on {scheme}://"))
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|addr| addr.parse().ok())
        .ok_or_else(|| format!("the first line should be `{want}`; it was {line:?}"))
}

/// Starts the webapp on a free loopback port (across hosts, on webserver's address) with the
/// `extra` options.
fn start(ctx: &Ctx, extra: &[&str]) -> Result<(Program, SocketAddr), String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let mut args = vec!["--host", host.as_str(), "--port", "0"];
    args.extend_from_slice(extra);
    let server = ctx.spawn(WEBAPP, &args)?;
    let line = server.line(WAIT)?;
    let addr = running_on(&line, "http").map_err(|e| server.explain(e))?;
    Ok((server, addr))
}

/// `GET target` on a new connection (closed after): the response.
fn get(server: &Program, addr: SocketAddr, target: &str) -> Result<Reply, String> {
    let fetched = Conn::tcp(addr).and_then(|mut conn| {
        conn.send(&wire::get_request(target))?;
        conn.reply(&format!("GET {target}"), false)
    });
    fetched.map_err(|e| server.explain(e))
}

/// Fails unless `reply` has status `want`; `what` names the request.
fn expect_status(reply: &Reply, want: u16, what: &str) -> Result<(), String> {
    if reply.status == want {
        return Ok(());
    }
    Err(format!(
        "{what}: expected status {want}, got {} (body {:.200?})",
        reply.status,
        reply.text()
    ))
}
