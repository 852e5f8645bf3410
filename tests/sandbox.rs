//! The grading sandbox against a corpus of hostile submissions (issue 16): each is the solutions
//! plus one misdeed (a daemon, a write to `$HOME`, a connection out, a fork bomb, memory without
//! end, endless output, a forger, a compile that never ends, a peek at another student's file, a
//! disk filler), graded in one batch with an honest submission. For each: its checks fail
//! with a reason an instructor understands, nothing outside its scratch changes, no process
//! remains, and the honest submission's grade is the one it gets alone.
//!
//! A misdeed that the sandbox lets through makes its program behave (and score); one that is
//! stopped makes it panic, saying so. So a leaky sandbox shows as points.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LAB: &str = "udp-time";
const FILE: &str = "udp_time.rs";
/// What the command lines of processes left behind would hold: the daemon's, and the
/// sandbox's programs' (the fork bomb's children among them).
const DAEMON: &str = "3771";
const PROGRAMS: &str = "/kit/";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The solution with `call` run first in main and `code` appended.
fn with_misdeed(call: &str, code: &str) -> String {
    let solution = fs::read_to_string(root().join("solutions").join(LAB).join(FILE)).unwrap();
    let head = "pub fn main() -> ExitCode {\n";
    assert!(solution.contains(head), "the solution's main moved");
    let mut text = solution.replacen(head, &format!("{head}    {call}\n"), 1);
    text.push_str(code);
    text
}

fn submission(dir: &Path, name: &str, text: &str) {
    let lab = dir.join(name).join("labs").join(LAB);
    fs::create_dir_all(&lab).unwrap();
    fs::write(lab.join(FILE), text).unwrap();
}

/// Processes whose command line holds `word`.
fn processes_with(word: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(word) {
            found.push(format!("{name}: {text}"));
        }
    }
    found
}

fn grade(args: &[&str]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .arg("grade")
        .args(args)
        .output()
        .expect("socklab runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// The gradebook's rows: student → (points, status).
fn gradebook(path: &Path) -> BTreeMap<String, (u32, String)> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            // The columns: student, the one lab graded, total, status.
            let fields: Vec<&str> = line.splitn(4, ',').collect();
            let total: u32 = fields[2].parse().unwrap();
            (
                fields[0].to_string(),
                (total, fields[3].trim_matches('"').to_string()),
            )
        })
        .collect()
}

#[test]
fn hostile_submissions_are_contained() {
    assert!(
        Command::new("bwrap").arg("--version").output().is_ok(),
        "bubblewrap (bwrap) is needed: apt-get install bubblewrap"
    );
    let tmp = std::env::temp_dir().join(format!("socklab-hostile-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let (subs, out) = (tmp.join("submissions"), tmp.join("out"));
    fs::create_dir_all(&subs).unwrap();
    let solution = with_misdeed("", "");
    submission(&subs, "honest", &solution);

    // The honest submission alone: its grade, and the results a forger would like to have.
    let (alone, ok) = grade(&[
        "--submission",
        subs.join("honest").to_str().unwrap(),
        "--lab",
        LAB,
        "--json",
        tmp.join("honest.json").to_str().unwrap(),
    ]);
    assert!(ok, "{alone}");
    let honest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.join("honest.json")).unwrap()).unwrap();
    let honest_points = honest["score"].as_u64().unwrap() as u32;
    assert!(honest_points > 0, "{alone}");
    let mut forged = honest.clone();
    for test in forged["tests"].as_array_mut().unwrap() {
        test["score"] = test["max_score"].clone();
        test["status"] = "passed".into();
    }
    forged["score"] = forged["max_score"].clone();

    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let planted = PathBuf::from(&home).join(format!("socklab-hostile-{}", std::process::id()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let honest_file = subs.join("honest/labs").join(LAB).join(FILE);
    let book = out.join("gradebook.csv");
    let misdeeds: [(&str, String, String); 10] = [
        (
            "daemon",
            "misdeed();".into(),
            format!(
                "fn misdeed() {{ let _ = std::process::Command::new(\"sh\").args([\"-c\", \
                 \"setsid sleep {DAEMON} >/dev/null 2>&1 &\"]).status(); \
                 panic!(\"a daemon was left running\"); }}\n"
            ),
        ),
        (
            "home",
            "misdeed();".into(),
            format!(
                "fn misdeed() {{ let wrote = std::fs::write({planted:?}, \"x\"); \
                 panic!(\"tried to write to the grader's home: {{wrote:?}}\"); }}\n"
            ),
        ),
        (
            "outside",
            "misdeed();".into(),
            format!(
                "fn misdeed() {{ for to in [\"127.0.0.1:{port}\", \"192.0.2.1:80\"] {{ \
                 let addr: std::net::SocketAddr = to.parse().unwrap(); \
                 if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_ok() {{ return; }} }} \
                 panic!(\"no connection out of the sandbox\"); }}\n"
            ),
        ),
        (
            "forkbomb",
            "misdeed();".into(),
            "fn misdeed() { for n in 0..100_000 { match unsafe { libc::fork() } { \
             0 => loop { unsafe { libc::pause(); } }, \
             -1 => panic!(\"fork bomb stopped after {n} processes: {}\", std::io::Error::last_os_error()), \
             _ => {} } } }\n"
                .into(),
        ),
        (
            "memory",
            "misdeed();".into(),
            "fn misdeed() { let mut hoard: Vec<Vec<u8>> = Vec::new(); \
             for _ in 0..4096 { hoard.push(vec![0u8; 16 << 20]); } \
             panic!(\"64 GiB allocated: no memory limit\"); }\n"
                .into(),
        ),
        (
            "output",
            "misdeed();".into(),
            "fn misdeed() { std::thread::spawn(|| loop { eprintln!(\"noise on stderr\"); }); \
             let start = std::time::Instant::now(); \
             while start.elapsed() < std::time::Duration::from_secs(20) { println!(\"noise on stdout\"); } }\n"
                .into(),
        ),
        (
            "forger",
            "misdeed();".into(),
            format!(
                "const FORGED: &str = {forged:?};\n\
                 fn misdeed() {{ for target in [{book:?}, {results:?}] {{ let _ = std::fs::write(target, \"forged\"); }} \
                 let me = std::process::id().to_string(); let mut forged = Vec::new(); \
                 for pid in std::fs::read_dir(\"/proc\").into_iter().flatten().flatten() {{ \
                 let pid = pid.file_name().to_string_lossy().into_owned(); if pid == me {{ continue; }} \
                 for fd in std::fs::read_dir(format!(\"/proc/{{pid}}/fd\")).into_iter().flatten().flatten() {{ \
                 if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(fd.path()) {{ \
                 use std::io::Write; if f.write_all(FORGED.as_bytes()).is_ok() {{ forged.push(pid.clone()); }} }} }} }} \
                 for pid in &forged {{ let _ = std::process::Command::new(\"kill\").args([\"-9\", pid]).status(); }} \
                 panic!(\"forged into the descriptors of {{forged:?}}, then killed them\"); }}\n",
                forged = forged.to_string(),
                results = out.join("students/honest.json"),
            ),
        ),
        (
            "endless-compile",
            "let _ = FOREVER;".into(),
            "#[allow(long_running_const_eval)]\n\
             const FOREVER: u64 = { let mut i = 0u64; loop { i = i.wrapping_add(1); if i == u64::MAX { break i; } } };\n"
                .into(),
        ),
        (
            "disk",
            "misdeed();".into(),
            "fn misdeed() { use std::io::Write; let chunk = vec![7u8; 1 << 20]; \
             for n in 0..32 { let mut f = std::fs::File::create(format!(\"/kit/filler-{n}\")).unwrap(); \
             for _ in 0..256 { if let Err(e) = f.write_all(&chunk) { panic!(\"filling stopped at file {n}: {e}\"); } } } \
             panic!(\"8 GiB written: no limit on the folder\"); }\n"
                .into(),
        ),
        (
            "peeker",
            "misdeed();".into(),
            format!(
                "fn misdeed() {{ if let Err(e) = std::fs::read_to_string({honest_file:?}) {{ \
                 panic!(\"another student's file is out of reach: {{e}}\"); }} }}\n"
            ),
        ),
    ];
    for (name, call, code) in &misdeeds {
        submission(&subs, name, &with_misdeed(call, code));
    }
    let before = snapshot(&subs);

    let started = Instant::now();
    let (said, ok) = grade(&[
        "--submissions",
        subs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--students",
        "3",
        "--lab",
        LAB,
        "--compile-limit",
        "15",
        "--time-limit",
        "300",
    ]);
    let took = started.elapsed();
    assert!(ok, "{said}");
    let rows = gradebook(&book);
    println!("{said}\n{rows:#?}\n({took:?})");

    // The honest grade is the one it had alone; every hostile one lost its points, for a
    // reason in its results.
    assert_eq!(
        rows["honest"],
        (honest_points, "graded".to_string()),
        "{said}"
    );
    let reasons = [
        ("daemon", "a daemon was left running"),
        ("home", "tried to write to the grader's home"),
        ("outside", "no connection out of the sandbox"),
        ("forkbomb", "fork bomb stopped after"),
        ("memory", "memory allocation"),
        ("output", "noise on stdout"),
        ("forger", "then killed them"),
        ("endless-compile", "took longer than 15 s"),
        ("peeker", "out of reach"),
        ("disk", "wrote more than 2 GiB"),
    ];
    for (name, why) in reasons {
        assert_eq!(rows[name].0, 0, "{name} scored: {said}");
        let results = fs::read_to_string(out.join(format!("students/{name}.json"))).unwrap();
        assert!(results.contains(why), "{name}: no \"{why}\" in {results}");
    }

    // Nothing outside the scratch changed, no process remains, nothing reached the listener.
    assert!(!planted.exists(), "{} was written", planted.display());
    assert_eq!(snapshot(&subs), before, "a submission folder changed");
    assert!(
        listener.accept().is_err(),
        "a submission connected out of its sandbox"
    );
    std::thread::sleep(Duration::from_millis(200));
    for word in [DAEMON, PROGRAMS] {
        let left = processes_with(word);
        assert!(left.is_empty(), "processes left behind: {left:?}");
    }
    let log = fs::metadata(out.join("students/output.log")).unwrap().len();
    assert!(
        log <= 1 << 20,
        "the log of endless output holds {log} bytes"
    );
    let _ = fs::remove_dir_all(&tmp);
}

/// Every file under `dir` with its content.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}
