//! Milestone 1: the chat server, tested with clients written here, each on its own loopback
//! address so that the server's `!{…}` user list can be checked name by name.

use super::{answer, chat, ip, join, map, map_with, peer_ip, start_server, SERVER};
use socket2::SockRef;
use socklab::grader::{secs, tcp_from, Context, Ctx, LinePeer, WAIT};
use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

pub(super) fn prints_address(ctx: &Ctx) -> Result<(), String> {
    let (_server, addr) = start_server(ctx)?;
    if addr.port() == 0 {
        return Err("the printed port is 0: print the address after binding (local_addr)".into());
    }
    LinePeer::connect_from(addr, peer_ip(ctx, 101, 2), "a test client")?;
    Ok(())
}

/// Without --host the server is reachable at every address of its host, not only 127.0.0.1:
/// clients on other hosts connect to the address of the host's network card.
pub(super) fn listens_everywhere(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = ctx.start_server(SERVER, &["--port", "0"])?;
    // On loopback, any address but 127.0.0.1 stands for "another of this host's addresses";
    // across hosts it is webserver's own, on its network card.
    let other = SocketAddr::new(ctx.ip("webserver", ip(107, 23)), addr.port());
    LinePeer::connect_from(other, peer_ip(ctx, 107, 2), "a client")
        .map_err(|e| {
            server.explain(format!(
                "started without --host, the server should accept connections at every address \
                 of its host; {e}"
            ))
        })
        .map(|_| ())
}

pub(super) fn registers(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut alice = LinePeer::connect_from(addr, peer_ip(ctx, 102, 2), "alice")?;
        alice.send("alice")?;
        let ok = answer(&mut alice, "alice")?;
        if !ok.starts_with("OK") {
            return Err(format!(
                "the name alice should be accepted with `OK …`; got {ok:?}"
            ));
        }
        let map_of_alice = map(&mut alice)?;
        let want: BTreeMap<String, String> =
            [("alice".to_string(), peer_ip(ctx, 102, 2).to_string())].into();
        if map_of_alice != want {
            return Err(format!(
                "alice joined from {}; expected the map {want:?}, got {map_of_alice:?}",
                peer_ip(ctx, 102, 2)
            ));
        }
        let mut bob = LinePeer::connect_from(addr, peer_ip(ctx, 102, 3), "bob")?;
        bob.send("bob")?;
        answer(&mut bob, "bob")?;
        let seen_by_bob = map(&mut bob)?;
        if seen_by_bob.len() != 2
            || seen_by_bob.get("alice") != Some(&peer_ip(ctx, 102, 2).to_string())
        {
            return Err(format!(
            "bob joined after alice; his first map should list alice and bob, was {seen_by_bob:?}"
        ));
        }
        let both = map_with(&mut alice, &["alice", "bob"])?;
        if both.get("bob") != Some(&peer_ip(ctx, 102, 3).to_string()) {
            return Err(format!(
                "bob connected from {}; alice got the map {both:?}",
                peer_ip(ctx, 102, 3)
            ));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn relays(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut alice = join(addr, peer_ip(ctx, 103, 2), "alice")?;
        let mut bob = join(addr, peer_ip(ctx, 103, 3), "bob")?;
        let mut carol = join(addr, peer_ip(ctx, 103, 4), "carol")?;
        alice.send("hello everyone: 1 + 1 = 2")?;
        for peer in [&mut bob, &mut carol] {
            let got = chat(peer)?;
            if got.trim_end() != "alice: hello everyone: 1 + 1 = 2" {
                return Err(format!("alice sent `hello everyone: 1 + 1 = 2`; {} got {got:?}, expected `alice: hello everyone: 1 + 1 = 2`", peer.who()));
            }
        }
        bob.send("hi alice")?;
        let got = chat(&mut alice)?;
        if got.trim_end() != "bob: hi alice" {
            return Err(format!("after alice's own line and bob's `hi alice`, alice got {got:?}: the sender must not get its own line back"));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn departures(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut alice = join(addr, peer_ip(ctx, 104, 2), "alice")?;
        let bob = join(addr, peer_ip(ctx, 104, 3), "bob")?;
        let carol = join(addr, peer_ip(ctx, 104, 4), "carol")?;
        map_with(&mut alice, &["alice", "bob", "carol"])?;
        let _ = bob.stream().shutdown(Shutdown::Both);
        map_with(&mut alice, &["alice", "carol"]).context("bob closed his connection")?;
        // An abrupt end: SO_LINGER 0 makes close() send a reset, as a crashed client's host would.
        let _ = SockRef::from(carol.stream()).set_linger(Some(Duration::ZERO));
        drop(carol);
        map_with(&mut alice, &["alice"]).context("carol's connection was reset")?;
        join(addr, peer_ip(ctx, 104, 3), "bob").context("bob left, so his name is free again")?;
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn refuses_names(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut alice = join(addr, peer_ip(ctx, 105, 2), "alice")?;
        let long = "x".repeat(40);
        for bad in [
            "",
            "two words",
            "at@sign",
            "co:lon",
            "!bang",
            "#hash",
            "tab\there",
            long.as_str(),
            "alice",
        ] {
            let mut peer = LinePeer::connect_from(addr, peer_ip(ctx, 105, 3), "a test client")?;
            peer.send(bad)?;
            let answer = answer(&mut peer, bad)?;
            if !answer.starts_with("ERR ") {
                return Err(format!(
                    "the name {bad:?} should be refused with `ERR reason`; got {answer:?}"
                ));
            }
        }
        // The limit is in characters: 20 accented letters are 40 bytes, and a good name.
        let accented = "é".repeat(20);
        drop(
            join(addr, peer_ip(ctx, 105, 5), &accented)
                .context("a name of 20 characters (40 bytes in UTF-8) should be accepted")?,
        );
        // Kept open until the map is seen: a dropped dave leaves again, and if the accented
        // name's departure is handled after dave's arrival, no map ever lists only the two.
        let _dave = join(addr, peer_ip(ctx, 105, 4), "dave")?;
        let map = map_with(&mut alice, &["alice", "dave"])?;
        if map.get("alice") != Some(&peer_ip(ctx, 105, 2).to_string()) {
            return Err(format!("someone else took alice's entry: {map:?}"));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

/// A connection that says nothing must not stop the server from serving the next ones: the
/// name is read in the client's own thread, never in the accept loop.
pub(super) fn serves_at_once(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let _silent = LinePeer::connect_from(addr, peer_ip(ctx, 108, 9), "a silent client")?;
        let mut alice = LinePeer::connect_from(addr, peer_ip(ctx, 108, 2), "alice")?;
        alice.send("alice")?;
        match alice.next_within(WAIT)? {
            Some(ok) if ok.starts_with("OK") => {}
            Some(other) => return Err(format!("alice sent `alice` and got {other:?}")),
            None => {
                return Err(format!(
                    "alice sent her name while another client was connected but silent, and got \
                     no answer within {}: the server waits for the silent client's name; each \
                     client needs a thread of its own",
                    secs(WAIT)
                ))
            }
        }
        let mut bob = join(addr, peer_ip(ctx, 108, 3), "bob")?;
        map_with(&mut alice, &["alice", "bob"])?;
        bob.send("still served")?;
        let got = chat(&mut alice)?;
        if got.trim_end() != "bob: still served" {
            return Err(format!(
                "bob sent `still served` while a silent client was connected; alice got {got:?}"
            ));
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

/// No thread can start: each client that cannot get one is logged, and the server goes on
/// accepting (Builder::spawn reports the failure; thread::spawn would panic and end it).
pub(super) fn no_thread(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn_without_threads(SERVER, &["--host", "127.0.0.1", "--port", "0"])?;
    let addr = server.address(WAIT)?;
    for name in ["alice", "bob"] {
        let since = server.logged_so_far();
        let _peer = LinePeer::connect(addr, name).map_err(|e| server.explain(e))?;
        server
            .expect_logged(
                since,
                &format!("a line saying that {name}'s connection got no thread"),
                WAIT,
                |_| true,
            )
            .map_err(|e| server.explain(e))?;
    }
    Ok(())
}

pub(super) fn slow_client(ctx: &Ctx) -> Result<(), String> {
    const LINES: usize = 2500;
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        // A client that never reads, with a tiny receive buffer.
        let from = peer_ip(ctx, 106, 9);
        let socket = tcp_from(addr, from, "the slow client", Some(4096))?;
        let mut slow = LinePeer::new(socket, "slow")?;
        slow.send("slow")?;
        let mut alice = join(addr, peer_ip(ctx, 106, 2), "alice")?;
        let mut bob = join(addr, peer_ip(ctx, 106, 3), "bob")?;
        // Batches of 50 lines: bob reads each batch before the next is sent, so bob keeps up
        // while the client that never reads falls further and further behind.
        let line = "y".repeat(3900);
        let started = Instant::now();
        let mut cut_off = false;
        for batch in 0..LINES / 50 {
            for i in 0..50 {
                alice.send(&format!("{batch}.{i} {line}")).map_err(|e| {
                format!("alice could not send: {e}; is the server stuck writing to a client that does not read?")
            })?;
            }
            for _ in 0..50 {
                let got = loop {
                    let line = bob
                        .expect("a line", |_| true)
                        .map_err(|e| {
                            format!(
                                "a client that never reads seems to stall the others: bob got {} of {LINES} lines of 4 KB from alice in {}; {e}",
                                batch * 50,
                                secs(started.elapsed())
                            )
                        })?
                        .line;
                    // A user list without the slow client: the server cut it off.
                    match line.strip_prefix('!') {
                        Some(json) => {
                            let map: BTreeMap<String, String> =
                                serde_json::from_str(json).unwrap_or_default();
                            cut_off |= map.contains_key("alice") && !map.contains_key("slow");
                        }
                        None => break line,
                    }
                };
                if !got.starts_with("alice: ") {
                    return Err(format!(
                        "bob expected alice's lines, got {:?}",
                        &got[..got.len().min(60)]
                    ));
                }
            }
            // Cut off, slow can stall no one any more: the rest would prove nothing new.
            if cut_off {
                break;
            }
        }
        if !cut_off {
            map_with(&mut bob, &["alice", "bob"]).map_err(|e| {
                format!(
                    "slow never read a byte, yet after {LINES} lines of 4 KB to it the server had \
                     not cut it off: a client that cannot keep up must be disconnected, and the \
                     others sent the user list without it ({e})"
                )
            })?;
        }
        drop(slow);
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}

pub(super) fn survives_garbage(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let check = || -> Result<(), String> {
        let mut alice = join(addr, peer_ip(ctx, 107, 2), "alice")?;
        let mut bob = join(addr, peer_ip(ctx, 107, 3), "bob")?;
        let mut long = vec![b'z'; 100_000];
        long.push(b'\n');
        alice.send_raw(&long)?;
        alice.send_raw(b"\xff\xfe not UTF-8\n")?;
        alice.send("after")?;
        let got = chat(&mut bob)?;
        if got.trim_end() != "alice: after" {
            return Err(format!(
            "alice sent a 100 KB line, a line that is not UTF-8, then `after`; bob's next line was {:?}, expected `alice: after`",
            &got[..got.len().min(80)]
        ));
        }
        bob.send("still there?")?;
        let got = chat(&mut alice)?;
        if got.trim_end() != "bob: still there?" {
            return Err(format!(
                "alice should still be connected and get bob's line; got {got:?}"
            ));
        }
        if !server.is_running() {
            return Err("the server stopped".into());
        }
        Ok(())
    };
    check().map_err(|e| server.explain(e))
}
