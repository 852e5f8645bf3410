//! Milestone 7: --allow CIDR, which closes connections from clients outside the given networks.
//! The test clients are at 127.0.0.1 (and at ::1 for IPv6), so the networks vary around them.

use super::http::{basic, call, call_body, connect, post, string};
use super::xml::expect_canon;
use super::{start, still_running, PASS, USER};
use socklab::grader::{secs, Context, Ctx, Program, WAIT};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

/// The server with the default credentials, allowing only `nets`.
fn start_allowing(ctx: &Ctx, nets: &[&str]) -> Result<(Program, SocketAddr), String> {
    let allow: Vec<&str> = nets.iter().flat_map(|&net| ["--allow", net]).collect();
    start(ctx, USER, PASS, &allow)
}

/// Clients outside every --allow network have their connection closed without an answer.
pub(super) fn refuses_outsiders(ctx: &Ctx) -> Result<(), String> {
    for nets in [
        &["10.0.0.0/8", "192.168.0.0/16"][..],
        &["127.128.0.0/9"],
        &["::1/128"],
    ] {
        let (server, addr) = start_allowing(ctx, nets)?;
        let what = format!(
            "with --allow {} a client at 127.0.0.1",
            nets.join(" --allow ")
        );
        let mut stream = connect(addr)?;
        // The write may already fail if the server closed at once: that is a refusal too.
        let _ = stream.write_all(&post(
            "/",
            Some(&basic(USER, PASS)),
            &call_body("echo", &[&string("x")]),
            "",
        ));
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(0) => {}
            Ok(_) => {
                return Err(format!(
                    "{what} should get no answer, but got {:?}",
                    String::from_utf8_lossy(&buf)
                ))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "{what} should have its connection closed at once; it stayed open for {}",
                    secs(WAIT)
                ))
            }
            Err(_) => {} // reset: closed
        }
        still_running(&server, "refusing a client")?;
    }
    Ok(())
}

/// Clients inside an --allow network are served, whatever its prefix length.
pub(super) fn admits_insiders(ctx: &Ctx) -> Result<(), String> {
    for nets in [
        &["10.0.0.0/8", "127.0.0.0/30"][..],
        &["127.0.0.1"],
        &["127.0.0.0/9"],
        &["0.0.0.0/0"],
    ] {
        let (_server, addr) = start_allowing(ctx, nets)?;
        let what = format!(
            "with --allow {}, a client at 127.0.0.1",
            nets.join(" --allow ")
        );
        let got = call(addr, "echo", &[&string("inside")]).context(&what)?;
        expect_canon(&got, "string:INSIDE", &what)?;
    }
    Ok(())
}

/// IPv6 networks are matched by their own 128 bits: a server on ::1 admits ::1 within ::1/128
/// and ::/0, and refuses it from ::/128 and from an IPv4 network.
pub(super) fn ipv6_networks(ctx: &Ctx) -> Result<(), String> {
    for (net, admitted) in [
        ("::1/128", true),
        ("::/0", true),
        ("::/128", false),
        ("10.0.0.0/8", false),
    ] {
        let args = [
            "--host",
            "::1",
            "--port",
            "0",
            "--username",
            USER,
            "--password",
            PASS,
            "--allow",
            net,
        ];
        let (server, addr) = ctx.start_server(super::SERVER, &args)?;
        let what = format!("with --host ::1 --allow {net}, a client at ::1");
        match call(addr, "echo", &[&string("six")]) {
            Ok(got) if admitted => expect_canon(&got, "string:SIX", &what)?,
            Ok(got) => return Err(format!("{what} should get no answer, but got {got}")),
            Err(e) if admitted => return Err(server.explain(format!("{what}: {e}"))),
            Err(_) => {}
        }
        still_running(&server, &what)?;
    }
    Ok(())
}
