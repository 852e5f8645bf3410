//! Milestones 3 to 5: the calls themselves, once HTTP and auth work — echo, faults for bad
//! calls, system.multicall and system.listMethods.

use super::http::{basic, call, connect, expect_xml, post, read_reply, string};
use super::xml::{expect_canon, expect_fault};
use super::{server, still_running, PASS, USER};
use socklab::grader::{Context, Ctx, WAIT};
use std::io::{BufReader, Write};
use std::net::SocketAddr;

// ---------------------------------------------------------------------------------------------
// Milestone 3: echo.

/// The seed's call: echo("hello server...").
pub(super) fn echo_round_trip(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "echo", &[&string("hello server...")])?;
    expect_canon(&got, "string:HELLO SERVER...", "echo(\"hello server...\")")
}

/// An untyped value with escapes and non-ASCII letters comes back upper-cased.
pub(super) fn echo_escapes(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "echo", &["a &lt;b&gt; &amp; \"c\" é ☺"])?;
    expect_canon(
        &got,
        "string:A <B> & \"C\" É ☺",
        "echo of the untyped value `a &lt;b&gt; &amp; \"c\" é ☺`",
    )
}

/// The server prints the seed's line for each echo.
pub(super) fn echo_prints(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    call(addr, "echo", &[&string("hi there")])?;
    let want = "Client said: hi there. So we echo that in uppercase: HI THERE";
    server.expect_line(&format!("the line `{want}`"), WAIT, |l| l.trim() == want)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Milestone 4: faults.

/// A method that does not exist gets a fault.
pub(super) fn fault_unknown_method(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "launch.rockets", &[&string("now")])?;
    expect_fault(&got, "calling launch.rockets, which does not exist")
}

/// echo with no, two, or non-string arguments gets a fault.
pub(super) fn fault_bad_params(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let cases: [(&[&str], &str); 4] = [
        (&[], "echo()"),
        (&["<int>5</int>"], "echo(5)"),
        (&[&string("a"), &string("b")], "echo(\"a\", \"b\")"),
        (
            &["<array><data><value>x</value></data></array>"],
            "echo([\"x\"])",
        ),
    ];
    for (params, what) in cases {
        let got = call(addr, "echo", params)?;
        expect_fault(&got, what)?;
    }
    Ok(())
}

/// Bodies that are no XML-RPC call get faults on one kept-alive connection.
pub(super) fn fault_bad_xml(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = server(ctx)?;
    let deep = "<value><array><data>".repeat(5000);
    let bodies = [
        "this is not XML".to_string(),
        "<methodCall><methodName>echo</methodName>".to_string(),
        "<methodCall><methodName>echo</wrong></methodCall>".to_string(),
        "<methodCall><params/></methodCall>".to_string(),
        "<methodCall><methodName>echo</methodName><params><param><value><int>twelve</int></value></param></params></methodCall>".to_string(),
        format!("<methodCall><methodName>echo</methodName><params><param>{deep}"),
    ];
    let stream = connect(addr)?;
    let mut writer = stream.try_clone().context("cloning the test socket")?;
    let mut reader = BufReader::new(stream);
    for body in &bodies {
        let shown = format!("{body:.60}");
        writer
            .write_all(&post("/", Some(&basic(USER, PASS)), body, ""))
            .with_context(|| format!("sending {shown:?}"))?;
        let reply = read_reply(&mut reader).with_context(|| format!("after the body {shown:?}"))?;
        let got = expect_xml(&reply, &format!("the body {shown:?}"))?;
        expect_fault(&got, &format!("the body {shown:?}"))?;
    }
    still_running(&server, "malformed calls")?;
    let got = call(addr, "echo", &[&string("ok")])?;
    expect_canon(&got, "string:OK", "echo after malformed calls")
}

// ---------------------------------------------------------------------------------------------
// Milestone 5: system.multicall and system.listMethods.

/// One entry of a multicall's list: a struct of methodName and params.
fn multicall_entry(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<value>{p}</value>"))
        .collect();
    format!(
        "<value><struct><member><name>methodName</name><value><string>{method}</string></value></member>\
         <member><name>params</name><value><array><data>{params}</data></array></value></member></struct></value>"
    )
}

/// Calls system.multicall with `entries`.
fn multicall(addr: SocketAddr, entries: &[String]) -> Result<String, String> {
    let list = format!("<array><data>{}</data></array>", entries.concat());
    call(addr, "system.multicall", &[&list])
}

/// Two echos in one multicall.
pub(super) fn multicall_echos(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = multicall(
        addr,
        &[
            multicall_entry("echo", &[&string("first")]),
            multicall_entry("echo", &["second"]),
        ],
    )?;
    expect_canon(
        &got,
        "[[string:FIRST],[string:SECOND]]",
        "system.multicall([echo(\"first\"), echo(\"second\")])",
    )
}

/// A failing call between two echos gives a fault struct in its place.
pub(super) fn multicall_with_fault(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = multicall(
        addr,
        &[
            multicall_entry("echo", &[&string("a")]),
            multicall_entry("no.such.method", &[]),
            multicall_entry("echo", &[&string("b")]),
        ],
    )?;
    let what = "system.multicall([echo(\"a\"), no.such.method(), echo(\"b\")])";
    let (Some(rest), true) = (
        got.strip_prefix("[[string:A],{"),
        got.ends_with("},[string:B]]"),
    ) else {
        return Err(format!(
            "{what}: expected [[\"A\"], {{faultCode, faultString}}, [\"B\"]], got {got}"
        ));
    };
    expect_fault(
        &format!("fault {{{}", &rest[..rest.len() - "[string:B]]".len() - 1]),
        what,
    )
}

/// system.listMethods names the three methods.
pub(super) fn list_methods(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = server(ctx)?;
    let got = call(addr, "system.listMethods", &[])?;
    for method in ["echo", "system.listMethods", "system.multicall"] {
        if !got.contains(&format!("string:{method}")) {
            return Err(format!(
                "system.listMethods() should list {method}; it answered {got}"
            ));
        }
    }
    Ok(())
}
