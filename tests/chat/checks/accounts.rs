//! Delivery Q2: accounts. With `--users FILE` the server's first line is `SIGNUP NAME PASSWORD`
//! or `LOGIN NAME PASSWORD`, answered `OK …` or `ERR reason`; the file keeps a salted PBKDF2
//! hash per user and survives a killed server. Also the client's `--signup` and `--password`.
//! Across netlab's hosts the server runs on webserver, the test clients on client1 and client2
//! (`peer_ip`), and the built client on client1.

use super::{answer, chat, free_udp_port, map, map_with, peer_ip, ANSWER_WAIT, CLIENT, SERVER};
use serde_json::Value;
use sha2::{Digest, Sha256};
use socklab::grader::{Context, Ctx, LinePeer, Program, WAIT};
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;

/// The server's arguments: its host's address (127.0.0.1 on loopback), a port the system picks
/// and accounts kept in `path`.
fn server_args(ctx: &Ctx, path: &Path) -> Vec<String> {
    let host = ctx.ip("webserver", [127, 0, 0, 1]).to_string();
    let users = path.to_string_lossy().to_string();
    ["--host", &host, "--port", "0", "--users", &users]
        .map(String::from)
        .to_vec()
}

/// The server with accounts kept in `path`.
fn start_with_users(ctx: &Ctx, path: &Path) -> Result<(Program, SocketAddr), String> {
    let args = server_args(ctx, path);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ctx.start_server(SERVER, &refs)
}

/// The server with a new users file in the check's scratch folder.
fn users_server(ctx: &Ctx) -> Result<(Program, SocketAddr, PathBuf), String> {
    let path = ctx.scratch_dir().join("users.json");
    let (server, addr) = start_with_users(ctx, &path)?;
    Ok((server, addr, path))
}

/// The first two words of a first line: the password is not shown in messages.
fn shown(first: &str) -> String {
    first.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// Connects and sends one first line; returns the answer and the connection.
fn attempt(addr: SocketAddr, from: IpAddr, first: &str) -> Result<(String, LinePeer), String> {
    let mut peer = LinePeer::connect_from(addr, from, "a test client")?;
    peer.send(first)?;
    let answer = answer(&mut peer, &format!("{} …", shown(first)))?;
    Ok((answer, peer))
}

/// Waits until the server prints that `name` has left (the given `leave` does), so that the
/// name is free again for the next login.
fn has_left(server: &Program, name: &str) -> Result<(), String> {
    let line = format!("{name} has left");
    server.expect_line(&format!("`{line}`"), WAIT, |l| l.trim() == line)?;
    Ok(())
}

fn expect_ok(addr: SocketAddr, from: IpAddr, first: &str) -> Result<LinePeer, String> {
    let (answer, mut peer) = attempt(addr, from, first)?;
    if !answer.starts_with("OK") {
        return Err(format!(
            "`{}` should be accepted with OK; the server answered {answer:?}",
            shown(first)
        ));
    }
    let name = first.split(' ').nth(1).unwrap_or("");
    let map = map(&mut peer)?;
    if !map.contains_key(name) {
        return Err(format!(
            "{name} was accepted but the user list it got does not list it: {map:?}"
        ));
    }
    Ok(peer)
}

fn expect_err(
    addr: SocketAddr,
    from: IpAddr,
    first: &str,
    what: &str,
    word: &str,
) -> Result<(), String> {
    let (answer, _) = attempt(addr, from, first)?;
    if !answer.starts_with("ERR ") || !answer.to_lowercase().contains(word) {
        return Err(format!(
            "{what} should be refused with `ERR …{word}…`; the server answered {answer:?}"
        ));
    }
    Ok(())
}

pub(super) fn signup_then_login(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        let alice = expect_ok(addr, peer_ip(ctx, 121, 2), "SIGNUP alice open sesame")?;
        drop(alice);
        has_left(&server, "alice")?;
        let mut alice = expect_ok(addr, peer_ip(ctx, 121, 2), "LOGIN alice open sesame")?;
        let mut bob = expect_ok(addr, peer_ip(ctx, 121, 3), "SIGNUP bob hunter2")?;
        map_with(&mut alice, &["alice", "bob"])?;
        bob.send("hello alice")?;
        let got = chat(&mut alice)?;
        if got.trim_end() != "bob: hello alice" {
            return Err(format!(
                "after logging in, alice should get bob's line `bob: hello alice`; got {got:?}"
            ));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn client_signs_up_and_logs_in(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        let udp = free_udp_port()?.to_string();
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        // Across hosts the client runs on client1, the host of its --bind address.
        let a = peer_ip(ctx, 122, 2).to_string();
        let on = ctx.across_hosts().then_some("client1");
        let base = [
            "--server",
            &host,
            "--port",
            &port,
            "--bind",
            &a,
            "--udp-port",
            &udp,
            "--name",
            "alice",
            "--password",
            "pa ss",
        ];
        let mut args = base.to_vec();
        args.push("--signup");
        let mut client = ctx.spawn_on(on, CLIENT, &args)?;
        client.expect_line(
            "`Connection Established!` after --signup",
            ANSWER_WAIT,
            |l| l.contains("Connection Established"),
        )?;
        client.close_stdin();
        client.wait(WAIT)?;
        has_left(&server, "alice")?;
        let client = ctx.spawn_on(on, CLIENT, &base)?;
        client.expect_line(
            "`Connection Established!` after logging in with --password",
            ANSWER_WAIT,
            |l| l.contains("Connection Established"),
        )?;
        let wrong: Vec<&str> = base[..base.len() - 1]
            .iter()
            .copied()
            .chain(["pa sss"])
            .collect();
        let refused = ctx.spawn_on(on, CLIENT, &wrong)?;
        let lines = refused.rest(WAIT)?;
        if lines.iter().any(|l| l.contains("Connection Established"))
            || refused.wait(WAIT)?.success()
        {
            return Err(format!("with a wrong password the client should print the refusal and exit non-zero; it printed {lines:?}"));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn refuses_bad_logins(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        drop(expect_ok(
            addr,
            peer_ip(ctx, 123, 2),
            "SIGNUP alice right one",
        )?);
        has_left(&server, "alice")?;
        expect_err(
            addr,
            peer_ip(ctx, 123, 3),
            "LOGIN alice wrong one",
            "a wrong password",
            "password",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 123, 3),
            "LOGIN alice right on",
            "a password that is a prefix of the right one",
            "password",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 123, 3),
            "LOGIN zed right one",
            "an unknown user",
            "unknown",
        )?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn refuses_taken_and_malformed(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        let _alice = expect_ok(addr, peer_ip(ctx, 124, 2), "SIGNUP alice pw1")?;
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            "SIGNUP alice pw2",
            "a sign-up for an existing account",
            "taken",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            "LOGIN alice pw1",
            "a login while alice is connected",
            "logged in",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            "alice",
            "a bare name on a server with accounts",
            "malformed",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            "LOGIN alice",
            "LOGIN without a password",
            "malformed",
        )?;
        let long = format!("SIGNUP carol {}", "p".repeat(257));
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            &long,
            "a sign-up with a password of 257 bytes",
            "256",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 124, 3),
            "SIGNUP a:b pw",
            "a sign-up with a name that has a colon",
            ":",
        )?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn closes_after_failures(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut peer = LinePeer::connect_from(addr, peer_ip(ctx, 125, 2), "a test client")?;
        for i in 1..=3 {
            peer.send("LOGIN nobody nothing")?;
            let answer = answer(&mut peer, "LOGIN nobody …")?;
            if !answer.starts_with("ERR ") {
                return Err(format!(
                    "attempt {i} (an unknown user) should be refused; got {answer:?}"
                ));
            }
        }
        let _ = peer.send("LOGIN nobody nothing");
        if !peer.closes(WAIT) {
            return Err(
                "after 3 refused attempts the server should close the connection; it is still open"
                    .into(),
            );
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn signup_race(ctx: &Ctx) -> Result<(), String> {
    const RACERS: usize = 5;
    let (server, addr, _) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        // Everyone connects first, then all send at once.
        let mut peers = Vec::new();
        for i in 0..RACERS {
            peers.push(LinePeer::connect_from(
                addr,
                peer_ip(ctx, 126, 2 + i as u8),
                "a racer",
            )?);
        }
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = peers
            .into_iter()
            .enumerate()
            .map(|(i, mut peer)| {
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    let signup = format!("SIGNUP racer secret{i}");
                    peer.send(&signup)?;
                    // Five hashes at once on a busy machine: the answer may take a while.
                    let answer = answer(&mut peer, &shown(&signup))?;
                    Ok::<_, String>((answer, peer))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, h) in handles.into_iter().enumerate() {
            let (answer, peer) = h
                .join()
                .map_err(|_| "a racer thread failed".to_string())??;
            if answer.starts_with("OK") {
                winners.push((i, peer));
            } else if !answer.starts_with("ERR") {
                return Err(format!("a racer got {answer:?}, neither OK nor ERR"));
            }
        }
        if winners.len() != 1 {
            return Err(format!("{RACERS} clients signed up as `racer` at once; {} were accepted, exactly one should be", winners.len()));
        }
        let winner = winners.remove(0).0;
        drop(winners);
        has_left(&server, "racer")?;
        for i in (0..RACERS).filter(|i| *i != winner) {
            expect_err(
                addr,
                peer_ip(ctx, 126, 20),
                &format!("LOGIN racer secret{i}"),
                "a loser's password",
                "password",
            )?;
        }
        expect_ok(
            addr,
            peer_ip(ctx, 126, 20),
            &format!("LOGIN racer secret{winner}"),
        )
        .context("the winner's password must log in")?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn survive_a_killed_server(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, path) = users_server(ctx)?;
    let sign_up = || -> Result<(), String> {
        expect_ok(addr, peer_ip(ctx, 127, 2), "SIGNUP alice first pw")?;
        expect_ok(addr, peer_ip(ctx, 127, 3), "SIGNUP bob second pw")?;
        Ok(())
    };
    sign_up().map_err(|e| server.explain(e))?;
    // SIGKILL, right after the OKs: nothing gets a chance to clean up.
    server.kill();
    let (server, addr) =
        start_with_users(ctx, &path).context("restarting with the same --users file")?;
    let log_in = || -> Result<(), String> {
        expect_ok(addr, peer_ip(ctx, 127, 2), "LOGIN alice first pw").context("after a restart")?;
        expect_ok(addr, peer_ip(ctx, 127, 3), "LOGIN bob second pw").context("after a restart")?;
        Ok(())
    };
    log_in().map_err(|e| server.explain(e))
}

pub(super) fn no_password_in_file(ctx: &Ctx) -> Result<(), String> {
    const PW: &str = "correct horse battery staple";
    let (server, addr, path) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        let _a = expect_ok(addr, peer_ip(ctx, 128, 2), &format!("SIGNUP alice {PW}"))?;
        let _b = expect_ok(addr, peer_ip(ctx, 128, 3), &format!("SIGNUP bob {PW}"))?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the users file {}", path.display()))?;
        let hex: String = PW.bytes().map(|b| format!("{b:02x}")).collect();
        let sha: String = Sha256::digest(PW)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(PW);
        let reversed: String = PW.chars().rev().collect();
        for (form, needle) in [
            ("in clear", PW),
            ("in hex", &hex),
            ("in base64", &b64),
            ("reversed", &reversed),
            ("as an unsalted SHA-256", &sha),
        ] {
            if text.to_lowercase().contains(&needle.to_lowercase()) {
                return Err(format!("the users file holds the password {form}"));
            }
        }
        let file: Value =
            serde_json::from_str(&text).map_err(|_| "the users file is not JSON".to_string())?;
        let mut hashes = Vec::new();
        for name in ["alice", "bob"] {
            let account = &file["users"][name];
            let salt = account["salt"]
                .as_str()
                .and_then(socklab::password::from_hex);
            let hash = account["hash"]
                .as_str()
                .and_then(socklab::password::from_hex);
            let iterations = account["iterations"].as_u64().unwrap_or(0);
            let (Some(salt), Some(hash)) = (salt, hash) else {
                return Err(format!(
                    "{name}'s account should have hex `salt` and `hash`: {account}"
                ));
            };
            if salt.len() < 16 || iterations < 10_000 {
                return Err(format!(
                    "{name}: use at least 16 random bytes of salt and 10000 iterations"
                ));
            }
            let want = socklab::password::hash_password(PW, &salt, iterations as u32);
            if hash != want {
                return Err(format!(
                    "{name}'s hash is not PBKDF2-HMAC-SHA256(password, salt, iterations)"
                ));
            }
            hashes.push((salt, hash));
        }
        if hashes[0] == hashes[1] {
            return Err("alice and bob have the same password and the same salt and hash: draw a new random salt per user".into());
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn corrupt_file_stops(ctx: &Ctx) -> Result<(), String> {
    let path = ctx.scratch_dir().join("users.json");
    let damaged = "{\"format\": \"socklab-chat-users/1\", \"users\": {\"alice\": {\"salt\": \"00";
    std::fs::write(&path, damaged)
        .with_context(|| format!("writing a damaged users file {}", path.display()))?;
    let args = server_args(ctx, &path);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ctx.spawn(SERVER, &refs)?;
    let status = server.wait(WAIT).map_err(|_| {
        "with a damaged --users file the server should stop with a message; it kept running"
            .to_string()
    })?;
    if let Some(panic) = server.panic_message() {
        return Err(format!("the server {panic}: print a clear message instead"));
    }
    if status.success() {
        return Err(
            "with a damaged --users file the server should exit with a non-zero code".into(),
        );
    }
    if !server.stderr().contains("users.json") {
        return Err(format!(
            "the message should name the file; stderr was {:?}",
            server.stderr()
        ));
    }
    let after = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the users file {} back", path.display()))?;
    if after != damaged {
        return Err("the damaged users file was changed; it must be left as it was".into());
    }
    Ok(())
}

/// `OK` only once the account is on disk: a sign-up whose file cannot be written is refused,
/// and leaves no account behind (in memory either), and the server goes on.
pub(super) fn unsaved_signup_refused(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, path) = users_server(ctx)?;
    let check = || -> Result<(), String> {
        // A folder where the users file goes: renaming the new file onto it fails.
        fs::create_dir(&path).context("making a folder where the users file goes")?;
        expect_err(
            addr,
            peer_ip(ctx, 129, 2),
            "SIGNUP alice pw1",
            "a sign-up whose users file cannot be written (a folder is in its place)",
            "",
        )?;
        expect_err(
            addr,
            peer_ip(ctx, 129, 2),
            "LOGIN alice pw1",
            "a login to an account whose sign-up could not be saved",
            "unknown",
        )?;
        fs::remove_dir(&path).context("removing the folder again")?;
        expect_ok(addr, peer_ip(ctx, 129, 3), "SIGNUP bob pw2")
            .context("once the file can be written again, a sign-up should work")?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}
