//! Milestone 7: --allow CIDR, which closes connections from clients outside the given networks.
//! The test clients are at 127.0.0.1 (and at ::1 for IPv6), so the networks vary around them;
//! across netlab's hosts the IPv4 client is client1, and the networks are the same ones drawn
//! around its address ([`Around`]).

use super::http::{basic, call, call_body, connect, post, string};
use super::xml::expect_canon;
use super::{start, still_running, PASS, USER};
use socklab::grader::{secs, Context, Ctx, Program, WAIT};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};

/// The server with the default credentials, allowing only `nets`.
fn start_allowing(ctx: &Ctx, nets: &[&str]) -> Result<(Program, SocketAddr), String> {
    let allow: Vec<&str> = nets.iter().flat_map(|&net| ["--allow", net]).collect();
    start(ctx, USER, PASS, &allow)
}

/// Networks drawn around the test client's IPv4 address `client` (127.0.0.1 on loopback).
struct Around {
    client: Ipv4Addr,
}

impl Around {
    /// The client's address as the check sees it: 127.0.0.1 on loopback, client1 across hosts.
    fn of(ctx: &Ctx) -> Around {
        let client = match ctx.ip("client1", [127, 0, 0, 1]) {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        Around { client }
    }

    /// Private networks that do not hold the client, in a fixed order (10/8 and 192.168/16
    /// for 127.0.0.1).
    fn elsewhere(&self) -> Vec<String> {
        let holds = |[a, b, c, d]: [u8; 4], len: u32| {
            let mask = u32::MAX << (32 - len);
            u32::from(self.client) & mask == u32::from(Ipv4Addr::new(a, b, c, d)) & mask
        };
        [
            ([10, 0, 0, 0], 8),
            ([192, 168, 0, 0], 16),
            ([172, 16, 0, 0], 12),
        ]
        .into_iter()
        .filter(|&(net, len)| !holds(net, len))
        .map(|([a, b, c, d], len)| format!("{a}.{b}.{c}.{d}/{len}"))
        .collect()
    }

    /// The /9 network of the client (`same`) or the other /9 of its first byte.
    fn nine(&self, same: bool) -> String {
        let [a, b, _, _] = self.client.octets();
        let top = if same { b & 0x80 } else { (b & 0x80) ^ 0x80 };
        format!("{a}.{top}.0.0/9")
    }

    /// The client's /30 network.
    fn thirty(&self) -> String {
        let [a, b, c, d] = self.client.octets();
        format!("{a}.{b}.{c}.{}/30", d & !3)
    }
}

/// Clients outside every --allow network have their connection closed without an answer.
pub(super) fn refuses_outsiders(ctx: &Ctx) -> Result<(), String> {
    let around = Around::of(ctx);
    let elsewhere = around.elsewhere();
    for nets in [
        vec![elsewhere[0].clone(), elsewhere[1].clone()],
        vec![around.nine(false)],
        vec!["::1/128".to_string()],
    ] {
        let nets: Vec<&str> = nets.iter().map(String::as_str).collect();
        let (server, addr) = start_allowing(ctx, &nets)?;
        let what = format!(
            "with --allow {} a client at {}",
            nets.join(" --allow "),
            around.client
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
    let around = Around::of(ctx);
    for nets in [
        vec![around.elsewhere()[0].clone(), around.thirty()],
        vec![around.client.to_string()],
        vec![around.nine(true)],
        vec!["0.0.0.0/0".to_string()],
    ] {
        let nets: Vec<&str> = nets.iter().map(String::as_str).collect();
        let (_server, addr) = start_allowing(ctx, &nets)?;
        let what = format!(
            "with --allow {}, a client at {}",
            nets.join(" --allow "),
            around.client
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
