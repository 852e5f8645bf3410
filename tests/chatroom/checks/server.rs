//! Milestones 1–5: the hub, tested with several clients written here that speak the seed's
//! protocol (one line per message) as netcat users would.

use super::{connect, join, room, settle, start_server, SERVER};
use socklab::grader::{secs, shown, Context, Ctx, WAIT};
use std::io::Write;
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// 1 accept and handshake.

pub(super) fn handshake(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut ann = connect(&server, addr, "ann")?;
    let before = ann
        .expect_next("NICKNAME")
        .and_then(|()| ann.send("ann"))
        .and_then(|()| ann.expect_line("Connected to server!"))
        .map_err(|e| server.explain(e))?;
    if before.iter().any(|l| l.starts_with("ERROR")) {
        return Err(format!("the nickname ann was refused: {before:?}"));
    }
    Ok(())
}

pub(super) fn clients_at_once(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    // Three connections open at once; they answer NICKNAME in the reverse order.
    let mut peers = Vec::new();
    for name in ["amy", "ben", "cat"] {
        let mut peer = connect(&server, addr, name)?;
        peer.expect_next("NICKNAME").map_err(|e| {
            server.explain(format!(
                "{e} (while the other clients had not chosen a nickname yet)"
            ))
        })?;
        peers.push(peer);
    }
    for peer in peers.iter_mut().rev() {
        let name = peer.who().to_string();
        peer.send(&name)?;
        peer.expect_line("Connected to server!")?;
    }
    Ok(())
}

/// Out of file descriptors: with four (stdin, stdout, stderr and the listener), every `accept`
/// fails at once (it needs a descriptor for the connection before it waits for one). Each
/// failure must be logged and the loop go on: a second line comes, and the server still runs.
pub(super) fn accept_fails(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn_with_fd_limit(SERVER, &["--host", "127.0.0.1", "--port", "0"], 4)?;
    server.address(WAIT)?;
    for what in ["a line saying that accept failed", "another one: the accept loop goes on"] {
        let since = server.logged_so_far();
        server
            .expect_logged(since, what, WAIT, |_| true)
            .map_err(|e| server.explain(e))?;
    }
    if !server.is_running() {
        return Err(server.explain(
            "out of file descriptors, the server should log each failed accept and try again, not end"
                .into(),
        ));
    }
    Ok(())
}

/// No thread can start: each client that cannot get one is logged, and the server goes on
/// accepting (Builder::spawn reports the failure; thread::spawn would panic and end it).
pub(super) fn no_thread(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.spawn_without_threads(SERVER, &["--host", "127.0.0.1", "--port", "0"])?;
    let addr = server.address(WAIT)?;
    for name in ["ann", "bea"] {
        let since = server.logged_so_far();
        let _peer = connect(&server, addr, name)?;
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

pub(super) fn nickname_rules(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let _taken = join(&server, addr, "dora")?;
    let too_long = "abcdefghijklmnopqrstu"; // 21 characters
    let tries: [(&[&str], &str); 2] = [
        (&["", "two words", "at@sign"], "good_name-1"),
        (&["colon:s", too_long, "dora"], "Ünïcode_2"),
    ];
    for (bad_names, good) in tries {
        let mut peer = connect(&server, addr, "newcomer")?;
        peer.expect_next("NICKNAME")?;
        for bad in bad_names {
            peer.send(bad)?;
            match peer.next_within(WAIT)? {
                Some(line) if line.starts_with("ERROR") => {}
                other => {
                    return Err(format!(
                        "the nickname {bad:?} should be refused with a line `ERROR …`; got {}",
                        shown(other.as_slice())
                    ))
                }
            }
            peer.expect_next("NICKNAME")
                .with_context(|| format!("after refusing {bad:?} the server should ask again"))?;
        }
        peer.send(good)?;
        peer.expect_line("Connected to server!")
            .with_context(|| format!("after refused nicknames, {good} should be accepted"))?;
    }
    Ok(())
}

/// After 5 refused nicknames the server says goodbye and closes the connection.
pub(super) fn gives_up(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut peer = connect(&server, addr, "newcomer")?;
    for i in 1..=5 {
        peer.expect_next("NICKNAME")
            .with_context(|| format!("before try {i}"))?;
        peer.send("not valid")?;
        match peer.next_within(WAIT)? {
            Some(line) if line.starts_with("ERROR") => {}
            other => {
                return Err(format!(
                    "try {i}: the nickname \"not valid\" should be refused with `ERROR …`; got {}",
                    shown(other.as_slice())
                ))
            }
        }
    }
    // The goodbye, then the end of the stream.
    match peer.next_within(WAIT)? {
        Some(line) if line.starts_with("ERROR") => {}
        other => {
            return Err(format!(
                "after 5 refused nicknames the server should say goodbye with an `ERROR …` line \
                 and give up on the connection; got {}",
                shown(other.as_slice())
            ))
        }
    }
    if !peer.closes(WAIT) {
        return Err(format!(
            "after 5 refused nicknames the server should close the connection; it is still open \
             after {}",
            secs(WAIT)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2 join notices.

pub(super) fn join_notices(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let mut eve = connect(&server, addr, "eve")?;
    eve.expect_next("NICKNAME")?;
    eve.send("eve")?;
    let before = eve.expect_line("Connected to server!")?;
    if !before.iter().any(|l| l == "eve joined!") {
        return Err(format!(
            "the newcomer eve should get `eve joined!` before `Connected to server!`; got {before:?}"
        ));
    }
    let mut fay = join(&server, addr, "fay")?;
    eve.expect_line("fay joined!")?;
    let _gus = join(&server, addr, "gus")?;
    eve.expect_line("gus joined!")?;
    fay.expect_line("gus joined!")?;
    Ok(())
}

pub(super) fn server_log(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = start_server(ctx)?;
    let _hal = join(&server, addr, "hal")?;
    let from = format!("{}:", ctx.ip("client1", [127, 0, 0, 1]));
    server.expect_line(&format!("`Connected with {from}PORT`"), WAIT, |l| {
        l.starts_with("Connected with ") && l.contains(&from)
    })?;
    server.expect_line("`Client name is hal`", WAIT, |l| {
        l.trim() == "Client name is hal"
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3 broadcast.

pub(super) fn broadcast(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["ida", "jon", "kim"])?;
    settle(&mut peers)?;
    // An empty line, or a prefix with nothing after it, is nothing to say: not relayed.
    peers[1].send("")?;
    peers[1].send("jon:   ")?;
    peers[1].send("jon: hello, room")?;
    for peer in &mut peers {
        let before = peer.expect_line("jon: hello, room")?;
        if !before.is_empty() {
            return Err(format!(
                "jon sent an empty line and `jon:   ` (nothing to say), then `jon: hello, room`; \
                 {} got {} before it: an empty text is not relayed",
                peer.who(),
                shown(&before)
            ));
        }
    }
    // A netcat user types the text alone; the server adds the nickname.
    peers[2].send("plain text from netcat")?;
    for peer in &mut peers {
        peer.expect_line("kim: plain text from netcat")?;
    }
    server.expect_line("`jon: hello, room` in the server's output", WAIT, |l| {
        l.trim() == "jon: hello, room"
    })?;
    Ok(())
}

pub(super) fn no_impersonation(ctx: &Ctx) -> Result<(), String> {
    let (_server, _addr, mut peers) = room(ctx, &["lea", "max"])?;
    settle(&mut peers)?;
    peers[1].send("lea: I owe max 100 euros")?;
    let got = peers[0].next_within(WAIT)?;
    if got.as_deref() != Some("max: lea: I owe max 100 euros") {
        return Err(format!(
            "max sent `lea: I owe max 100 euros`; everyone should see it as written by max \
             (`max: lea: I owe max 100 euros`), lea got {}",
            shown(got.as_slice())
        ));
    }
    Ok(())
}

pub(super) fn exactly_once(ctx: &Ctx) -> Result<(), String> {
    const LINES: usize = 30;
    let names = ["ned", "oli", "pam"];
    let (_server, _addr, mut peers) = room(ctx, &names)?;
    settle(&mut peers)?;
    // Each client sends from its own thread and reads in this one afterwards: the server's
    // queues hold what arrives meanwhile.
    let senders: Vec<_> = peers
        .iter()
        .map(|p| {
            let name = p.who().to_string();
            let mut stream = p
                .stream()
                .try_clone()
                .with_context(|| format!("cloning {name}'s connection for a sender thread"))?;
            Ok(thread::spawn(move || {
                let mut text = String::new();
                for i in 0..LINES {
                    text.push_str(&format!("{name}: line {i}\n"));
                }
                stream
                    .write_all(text.as_bytes())
                    .with_context(|| format!("{name} sending its {LINES} lines"))
            }))
        })
        .collect::<Result<_, String>>()?;
    for s in senders {
        s.join()
            .map_err(|_| "a sender thread panicked".to_string())??;
    }
    for peer in &mut peers {
        let mut next = [0usize; 3];
        let deadline = Instant::now() + WAIT;
        while next.iter().sum::<usize>() < LINES * names.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = peer.next_within(left)? else {
                return Err(format!(
                    "{} received {:?} of the {LINES} lines of ned, oli and pam within {}",
                    peer.who(),
                    next,
                    secs(WAIT)
                ));
            };
            let Some((from, i)) = line.split_once(": line ").and_then(|(f, i)| {
                Some((
                    names.iter().position(|n| *n == f)?,
                    i.parse::<usize>().ok()?,
                ))
            }) else {
                return Err(format!(
                    "{} received an unexpected line {line:?}",
                    peer.who()
                ));
            };
            if i != next[from] {
                return Err(format!(
                    "{} expected `{}: line {}` next from {}, got {line:?} (a line lost, repeated or out of order)",
                    peer.who(), names[from], next[from], names[from]
                ));
            }
            next[from] += 1;
        }
    }
    Ok(())
}

pub(super) fn bad_lines(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["quin", "ray"])?;
    settle(&mut peers)?;
    let mut long = vec![b'x'; 5000];
    long.push(b'\n');
    peers[0].send_raw(&long)?;
    peers[0].send_raw(b"quin: caf\xc3\xa9 \xff\xfe broken\n")?;
    peers[0].send("quin: still here")?;
    let before = peers[1].expect_line("quin: still here").context(
        "after a 5000-byte line and a line that is not UTF-8, the next good line should arrive",
    )?;
    if !before.is_empty() {
        return Err(format!(
            "the bad lines should be dropped, not relayed; ray got {}",
            shown(&before)
        ));
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    // The sender learns that each bad line was dropped; its own good line comes back after.
    let quin = peers[0].expect_line("quin: still here")?;
    let errors = quin.iter().filter(|l| l.starts_with("ERROR")).count();
    if errors != 2 {
        return Err(format!(
            "quin sent a line over 4 KiB and a line that is not UTF-8: each should be answered \
             with an `ERROR …` line to quin; quin got {}",
            shown(&quin)
        ));
    }
    Ok(())
}

pub(super) fn stuck_client(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, mut peers) = room(ctx, &["sam", "tia"])?;
    // `stuck` joins, then never reads again.
    let stuck = join(&server, addr, "stuck")?;
    settle(&mut peers)?;
    let mut tia = peers.pop().ok_or("no peer")?;
    let mut sam = peers.pop().ok_or("no peer")?;
    // sam talks (big lines, one at a time, each after its echo); tia listens in a thread.
    let listener = thread::spawn(move || -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(18);
        while Instant::now() < deadline {
            if let Some(line) = tia.next_within(WAIT)? {
                if line == "stuck left!" {
                    return Ok(());
                }
            } else {
                return Err("tia got nothing for 3 s while sam was talking".into());
            }
        }
        Err("tia did not see `stuck left!` within 18 s".into())
    });
    let filler = "y".repeat(4000);
    let deadline = Instant::now() + Duration::from_secs(18);
    let mut sent = 0;
    let mut stalled = None;
    while !listener.is_finished() && Instant::now() < deadline {
        let echoed = sam.send(&format!("sam: {sent} {filler}")).and_then(|()| {
            sam.expect("its own line back", |l| {
                l.starts_with(&format!("sam: {sent} "))
            })
        });
        if let Err(e) = echoed {
            stalled = Some(e);
            break;
        }
        sent += 1;
    }
    drop(stuck);
    // tia's verdict first: when tia gave up, her own departure is what sam saw last.
    let heard = listener
        .join()
        .map_err(|_| "the listening thread panicked".to_string())?;
    if let Some(e) = stalled.filter(|_| heard.is_ok()) {
        return Err(format!(
            "{e}; a client that never reads must not stall the room ({sent} lines sent)"
        ));
    }
    heard.map_err(|e| {
        format!(
            "{e}: `stuck` never read the {sent} lines of 4 KB, so it should have been \
             disconnected when its queue was full"
        )
    })?;
    sam.send("sam: after")?;
    sam.expect_line("sam: after")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4 private messages.

pub(super) fn private_message(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["uma", "vic", "wes"])?;
    settle(&mut peers)?;
    peers[0].send("uma: @wes meet me at noon")?;
    peers[0].send("uma: public marker")?;
    let got = peers[2].next_within(WAIT)?;
    if got.as_deref() != Some("uma: @wes meet me at noon") {
        return Err(format!(
            "uma sent `@wes meet me at noon`; wes should get `uma: @wes meet me at noon`, got {}",
            shown(got.as_slice())
        ));
    }
    for i in [0, 1] {
        let peer = &mut peers[i];
        let before = peer.expect_line("uma: public marker")?;
        if !before.is_empty() {
            return Err(format!(
                "a private message to wes reached {}: {}",
                peer.who(),
                shown(&before)
            ));
        }
    }
    peers[2].expect_line("uma: public marker")?;
    server.expect_line("the private message in the server's output", WAIT, |l| {
        l.contains("@wes meet me at noon")
    })?;
    // A netcat user types the text alone, and the target may end in punctuation: the server
    // still writes the prefix, and `@wes,` is for wes.
    peers[1].send("@wes, psst")?;
    peers[1].send("vic: public marker")?;
    let got = peers[2].next_within(WAIT)?;
    if got.as_deref() != Some("vic: @wes, psst") {
        return Err(format!(
            "vic typed `@wes, psst` (no prefix, as in netcat); wes should get `vic: @wes, psst` \
             (the server writes the prefix for private messages too), got {}",
            shown(got.as_slice())
        ));
    }
    for i in [0, 1] {
        let peer = &mut peers[i];
        let before = peer.expect_line("vic: public marker")?;
        if !before.is_empty() {
            return Err(format!(
                "a private message to wes reached {}: {}",
                peer.who(),
                shown(&before)
            ));
        }
    }
    Ok(())
}

pub(super) fn exact_target(ctx: &Ctx) -> Result<(), String> {
    let (_server, _addr, mut peers) = room(ctx, &["bob", "bobby", "al"])?;
    settle(&mut peers)?;
    peers[2].send("al: @bobby for bobby")?;
    peers[2].send("al: @bob for bob")?;
    peers[2].send("al: marker")?;
    for (i, want) in [(0, "al: @bob for bob"), (1, "al: @bobby for bobby")] {
        let peer = &mut peers[i];
        let before = peer.expect_line("al: marker")?;
        if before != [want.to_string()] {
            return Err(format!(
                "al wrote `@bobby for bobby`, then `@bob for bob`: {} should get only `{want}` \
                 before al's next public line, got {}",
                peer.who(),
                shown(&before)
            ));
        }
    }
    Ok(())
}

pub(super) fn unknown_target(ctx: &Ctx) -> Result<(), String> {
    let (_server, _addr, mut peers) = room(ctx, &["xia", "yan"])?;
    settle(&mut peers)?;
    peers[0].send("xia: @zed are you there?")?;
    match peers[0].next_within(WAIT)? {
        Some(line) if line.starts_with("ERROR") => {}
        other => {
            return Err(format!(
                "no one called zed is here: xia should get a line `ERROR …`, got {}",
                shown(other.as_slice())
            ))
        }
    }
    // Each client's lines are handled in order: had the message to zed gone anywhere, yan
    // would have it before xia's next line to the room.
    peers[0].send("xia: sync")?;
    let others = peers[1].expect_line("xia: sync")?;
    if !others.is_empty() {
        return Err(format!(
            "a message to an unknown @zed should reach no one; yan got {}",
            shown(&others)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5 leave notices.

pub(super) fn leave_notice(ctx: &Ctx) -> Result<(), String> {
    let (server, addr, mut peers) = room(ctx, &["abe", "bea", "cy"])?;
    settle(&mut peers)?;
    let cy = peers.pop().ok_or("no peer")?;
    drop(cy);
    for peer in &mut peers {
        peer.expect_line("cy left!")?;
    }
    server.expect_line("`cy left!` in the server's output", WAIT, |l| {
        l.trim() == "cy left!"
    })?;
    let mut again =
        join(&server, addr, "cy").context("once cy left, the nickname cy should be free again")?;
    again.send("cy: back")?;
    peers[0].expect_line("cy: back")?;
    Ok(())
}

/// A client that closes its sending side (Ctrl-D) is answered with the server's own close: a
/// server that keeps the socket (and a thread) for every client that ever left runs out of both.
pub(super) fn leave_closes(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["amy", "ben"])?;
    settle(&mut peers)?;
    peers[0]
        .stream()
        .shutdown(Shutdown::Write)
        .context("amy closing her sending side")?;
    peers[1].expect_line("amy left!")?;
    if !peers[0].closes(WAIT) {
        return Err(server.explain(format!(
            "after amy left (she closed her sending side), the server kept her connection open \
             for {}: it never closed its side",
            secs(WAIT)
        )));
    }
    Ok(())
}

pub(super) fn abrupt_leave(ctx: &Ctx) -> Result<(), String> {
    let (server, _addr, mut peers) = room(ctx, &["dan", "eli"])?;
    settle(&mut peers)?;
    let mut eli = peers.pop().ok_or("no peer")?;
    eli.send_raw(b"eli: half a mess")?;
    thread::sleep(Duration::from_millis(100));
    drop(eli);
    let before = peers[0].expect_line("eli left!")?;
    if before.iter().any(|l| l.contains("half a mess")) {
        return Err("half a line (cut by a disconnect) should be dropped, not relayed".into());
    }
    if !server.is_running() {
        return Err("the server stopped".into());
    }
    peers[0].send("dan: anyone?")?;
    peers[0].expect_line("dan: anyone?")?;
    Ok(())
}
