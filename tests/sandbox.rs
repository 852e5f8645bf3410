//! The grading sandbox against a corpus of hostile submissions (issues 16 and 22): each is the
//! solutions plus one misdeed (a daemon, a write to `$HOME`, a connection out, a fork bomb,
//! memory without end, endless output, a forger, a compile that never ends, a peek at another
//! student's file, a disk filler, 120 spinning processes each in its own session, a `/dev/shm`
//! filler, a memfd hog, files deleted but kept open, files under a path longer than 4,096 bytes,
//! a read of the cargo credentials, a nested user namespace), or a hostile archive or name (a
//! zip whose declared sizes lie, an encrypted zip, a name that forges gradebook rows, names that
//! are spreadsheet formulas, names that collide), graded in one batch with honest submissions.
//! For each: its checks fail (or it is refused) with a reason an instructor understands, nothing
//! outside its scratch changes, no process remains, and the honest submissions' grades are the
//! one they get alone. A re-run keeps what the students' JSON confirms, and nothing else.
//!
//! A misdeed that the sandbox lets through makes its program behave (and score); one that is
//! stopped makes it panic, saying so. So a leaky sandbox shows as points.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
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

fn grade(cargo_home: &Path, args: &[&str]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_socklab"))
        .arg("grade")
        .args(args)
        .env("CARGO_HOME", cargo_home)
        .output()
        .expect("socklab runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// The gradebook's rows, as a spreadsheet reads them: student → (points, status), a student
/// named twice keeping the last row.
fn gradebook(path: &Path) -> BTreeMap<String, (u32, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|record| {
            // The columns: student, the one lab graded, total, status.
            let record = record.unwrap();
            assert_eq!(record.len(), 4, "{record:?}");
            let total: u32 = record[2].parse().unwrap();
            (record[0].to_string(), (total, record[3].to_string()))
        })
        .collect()
}

/// `dir` zipped into `zip` by the zip tool (`extra`: its options, such as a password).
fn zip_folder(dir: &Path, zip: &Path, extra: &[&str]) {
    let ok = Command::new("zip")
        .args(["-q", "-r"])
        .args(extra)
        .arg(zip)
        .arg(".")
        .current_dir(dir)
        .status()
        .expect("the zip tool is installed (apt-get install zip)");
    assert!(ok.success());
}

/// A zip holding the lab file and an entry of `size` zeros; when `lie`, its headers, local and
/// central, declare 1,000 bytes.
fn bomb_zip(zip: &Path, lab_file: &str, size: u64, lie: bool) {
    let script = r#"
import sys, zipfile, struct
path, text, size, lie = sys.argv[1], open(sys.argv[2]).read(), int(sys.argv[3]), sys.argv[4] == "1"
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("labs/udp-time/udp_time.rs", text)
    info = zipfile.ZipInfo("labs/udp-time/zeros.bin")
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w", force_zip64=False) as f:
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
if not lie:
    sys.exit(0)
data = bytearray(open(path, "rb").read())
at = 0
while True:
    local = data.find(b"PK\x03\x04", at)
    if local < 0:
        break
    name_len = struct.unpack_from("<H", data, local + 26)[0]
    if data[local + 30:local + 30 + name_len].endswith(b"zeros.bin"):
        struct.pack_into("<I", data, local + 22, 1000)
    at = local + 4
at = 0
while True:
    central = data.find(b"PK\x01\x02", at)
    if central < 0:
        break
    name_len = struct.unpack_from("<H", data, central + 28)[0]
    if data[central + 46:central + 46 + name_len].endswith(b"zeros.bin"):
        struct.pack_into("<I", data, central + 24, 1000)
    at = central + 4
open(path, "wb").write(data)
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(zip)
        .arg(lab_file)
        .arg(size.to_string())
        .arg(if lie { "1" } else { "0" })
        .status()
        .unwrap();
    assert!(ok.success());
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
    // A cargo home of our own, with the machine's crates and a credentials file to steal.
    let real_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"));
    let cargo_home = tmp.join("cargo-home");
    fs::create_dir_all(&cargo_home).unwrap();
    for part in ["registry", "git"] {
        if real_home.join(part).is_dir() {
            std::os::unix::fs::symlink(real_home.join(part), cargo_home.join(part)).unwrap();
        }
    }
    const SECRET: &str = "socklab-test-token-do-not-print";
    let credentials = cargo_home.join("credentials.toml");
    fs::write(&credentials, format!("[registry]\ntoken = \"{SECRET}\"\n")).unwrap();

    let solution = with_misdeed("", "");
    submission(&subs, "honest", &solution);
    // Honest neighbours graded right after the hogs (submissions go in the order of their
    // names, three at a time), so that they run beside them.
    let neighbours = ["memfd-neighbour", "spinners-neighbour", "shm-neighbour"];
    for name in neighbours {
        submission(&subs, name, &solution);
    }

    // The honest submission alone: its grade, and the results a forger would like to have.
    let (alone, ok) = grade(
        &cargo_home,
        &[
            "--submission",
            subs.join("honest").to_str().unwrap(),
            "--lab",
            LAB,
            "--json",
            tmp.join("honest.json").to_str().unwrap(),
        ],
    );
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
    // Runs `body` in the first run of the program only (a flag in its sandbox's /tmp); later
    // runs panic with `stopped` if the first never reached its end, and behave if it did.
    let once = |body: &str, stopped: &str| {
        format!(
            "fn misdeed() {{ if std::fs::OpenOptions::new().write(true).create_new(true)\
             .open(\"/tmp/misdeed-begun\").is_err() {{ \
             if std::path::Path::new(\"/tmp/misdeed-done\").exists() {{ return; }} \
             panic!(\"{stopped}\"); }} \
             {{ {body} }} let _ = std::fs::write(\"/tmp/misdeed-done\", \"\"); }}\n"
        )
    };
    let misdeeds: Vec<(&str, String, String)> = vec![
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
        // Issue 22: 120 processes spinning, each in its own session, for the whole grading:
        // they slow their own sandbox (its cgroup), never the honest one beside.
        (
            "spinners",
            "misdeed();".into(),
            "fn misdeed() { if std::fs::OpenOptions::new().write(true).create_new(true)\
             .open(\"/tmp/spun\").is_err() { return; } \
             for _ in 0..120 { if unsafe { libc::fork() } == 0 { unsafe { libc::setsid(); } \
             loop { std::hint::spin_loop(); } } } }\n"
                .into(),
        ),
        (
            "shm",
            "misdeed();".into(),
            "fn misdeed() { use std::io::Write; let chunk = vec![7u8; 1 << 20]; \
             let mut f = std::fs::File::create(\"/dev/shm/filler\").unwrap(); \
             for n in 0..3072 { if let Err(e) = f.write_all(&chunk) { panic!(\"/dev/shm stopped at {n} MiB: {e}\"); } } \
             panic!(\"3 GiB written into /dev/shm\"); }\n"
                .into(),
        ),
        (
            "memfd",
            "misdeed();".into(),
            once(
                "use std::io::Write; let chunk = vec![7u8; 1 << 20]; let mut held = Vec::new(); \
                 for _ in 0..12 { let fd = unsafe { libc::memfd_create(c\"hog\".as_ptr(), 0) }; \
                 assert!(fd >= 0); let mut f: std::fs::File = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }; \
                 for _ in 0..256 { f.write_all(&chunk).unwrap(); } held.push(f); }",
                "the memfd hog was stopped",
            ),
        ),
        (
            "deleted",
            "misdeed();".into(),
            "fn misdeed() { use std::io::Write; let chunk = vec![7u8; 1 << 20]; let mut held = Vec::new(); \
             for n in 0..16 { let path = format!(\"/kit/deleted-{n}\"); \
             let mut f = std::fs::File::create(&path).unwrap(); std::fs::remove_file(&path).unwrap(); \
             for m in 0..256 { if let Err(e) = f.write_all(&chunk) { panic!(\"deleted files stopped at file {n}, {m} MiB: {e}\"); } } \
             held.push(f); } panic!(\"4 GiB in deleted files\"); }\n"
                .into(),
        ),
        (
            "deep",
            "misdeed();".into(),
            "fn misdeed() { use std::io::Write; let name = \"d\".repeat(250); \
             std::env::set_current_dir(\"/kit\").unwrap(); \
             for _ in 0..20 { std::fs::create_dir(&name).unwrap(); std::env::set_current_dir(&name).unwrap(); } \
             let chunk = vec![7u8; 1 << 20]; \
             for n in 0..32 { let mut f = std::fs::File::create(format!(\"deep-{n}\")).unwrap(); \
             for _ in 0..256 { if let Err(e) = f.write_all(&chunk) { panic!(\"deep files stopped at file {n}: {e}\"); } } } \
             panic!(\"8 GiB under a path of 5,000 bytes\"); }\n"
                .into(),
        ),
        (
            "credentials",
            "misdeed();".into(),
            format!(
                "fn misdeed() {{ let home = std::env::var(\"CARGO_HOME\").unwrap_or_default(); \
                 for path in [format!(\"{{home}}/credentials.toml\"), {credentials:?}.to_string()] {{ \
                 if let Ok(text) = std::fs::read_to_string(&path) {{ println!(\"{{text}}\"); return; }} }} \
                 panic!(\"the cargo credentials are out of reach\"); }}\n"
            ),
        ),
        (
            "userns",
            "misdeed();".into(),
            "fn misdeed() { let pid = unsafe { libc::fork() }; \
             if pid == 0 { let r = unsafe { libc::unshare(libc::CLONE_NEWUSER) }; unsafe { libc::_exit(if r == 0 { 0 } else { 1 }) } } \
             let mut status = 0; unsafe { libc::waitpid(pid, &mut status, 0) }; \
             if libc::WEXITSTATUS(status) != 0 { panic!(\"no user namespace inside the sandbox\"); } }\n"
                .into(),
        ),
    ];
    for (name, call, code) in &misdeeds {
        submission(&subs, name, &with_misdeed(call, code));
    }
    // Archives: an honest one, one whose sizes lie, an encrypted one.
    let staging = tmp.join("staging");
    submission(&staging, "carol", &solution);
    zip_folder(&staging.join("carol"), &subs.join("carol.zip"), &[]);
    // carol.zip.zip is carol.zip's neighbour, not carol: it must not touch carol's results.
    submission(
        &staging,
        "carol2",
        &with_misdeed("misdeed();", "fn misdeed() { panic!(\"not carol\"); }\n"),
    );
    zip_folder(&staging.join("carol2"), &subs.join("carol.zip.zip"), &[]);
    let lab_file = staging.join("carol/labs").join(LAB).join(FILE);
    bomb_zip(
        &subs.join("liar.zip"),
        lab_file.to_str().unwrap(),
        300 << 20,
        true,
    );
    bomb_zip(
        &subs.join("bomb.zip"),
        lab_file.to_str().unwrap(),
        300 << 20,
        false,
    );
    zip_folder(
        &staging.join("carol"),
        &subs.join("locked.zip"),
        &["-P", "secret"],
    );
    // Names: one that forges rows, formulas, two that are the same text once read as UTF-8.
    let forger_name = "A\nzed,99,99,graded\nB";
    submission(&subs, forger_name, &solution);
    let formulas = ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)"];
    for name in formulas {
        fs::create_dir_all(subs.join(name)).unwrap();
    }
    for bytes in [&b"dave\xff"[..], &b"dave\xfe"[..]] {
        let dir = subs.join(OsStr::from_bytes(bytes));
        fs::create_dir_all(dir.join("labs").join(LAB)).unwrap();
        fs::write(dir.join("labs").join(LAB).join(FILE), &solution).unwrap();
    }
    let before = snapshot(&subs);

    let class_args = [
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
        // Small limits keep the test's memory use small on a shared machine.
        "--disk-limit",
        "512",
        "--memory-limit",
        "1024",
    ];
    let started = Instant::now();
    let (said, ok) = grade(&cargo_home, &class_args);
    let took = started.elapsed();
    assert!(ok, "{said}");
    let rows = gradebook(&book);
    println!("{said}\n{rows:#?}\n(graded in {took:?})");
    let cgroups = !said.contains("no control group per sandbox");

    // The honest grades are the one it had alone; every hostile one lost its points, for a
    // reason in its results.
    for name in ["honest", "carol"].iter().chain(&neighbours) {
        assert_eq!(
            rows[*name],
            (honest_points, "graded".to_string()),
            "{name}: {said}"
        );
    }
    let reasons = vec![
        ("daemon", "a daemon was left running"),
        ("home", "tried to write to the grader's home"),
        ("outside", "no connection out of the sandbox"),
        ("forkbomb", "fork bomb stopped after"),
        ("memory", "memory allocation"),
        ("output", "noise on stdout"),
        ("forger", "then killed them"),
        ("endless-compile", "took longer than 15 s"),
        ("peeker", "out of reach"),
        ("disk", "No space left on device"),
        ("shm", "/dev/shm stopped at"),
        ("deleted", "No space left on device"),
        ("deep", "No space left on device"),
        ("credentials", "the cargo credentials are out of reach"),
        ("userns", "no user namespace inside the sandbox"),
        ("carol.zip", "not carol"),
    ];
    if cgroups {
        // Stopped by its group's memory limit: the kernel kills the hog (its later runs say so),
        // or the grader beside it (then its row says the sandbox ran out of memory).
        let (points, status) = &rows["memfd"];
        let results = fs::read_to_string(out.join("students/memfd.json")).unwrap();
        assert_eq!(*points, 0, "memfd scored: {said}");
        assert!(
            status.contains("ran out of memory") || results.contains("the memfd hog was stopped"),
            "memfd: {status}; {results}"
        );
    } else {
        println!("no cgroups here: the memfd hog and the spinners are not contained");
    }
    for (name, why) in reasons {
        assert_eq!(rows[name].0, 0, "{name} scored: {said}");
        let results = fs::read_to_string(out.join(format!("students/{name}.json"))).unwrap();
        assert!(results.contains(why), "{name}: no \"{why}\" in {results}");
    }
    let logs: String = fs::read_dir(out.join("students"))
        .unwrap()
        .flatten()
        .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        !logs.contains(SECRET),
        "the credentials reached the results"
    );

    // Archives and names refused, each with a row saying why; the names refused wrote no
    // student's files (a name that is the same text as another's would overwrite them).
    let refused = [
        // Its declared sizes are small: the bytes are counted as they inflate.
        ("liar", "more than 200 MiB"),
        ("bomb", "more than 200 MiB"),
        ("locked", "password-protected"),
        ("A\\nzed,99,99,graded\\nB", "control characters"),
        ("dave\u{fffd}", "2 submissions are named"),
    ];
    for (name, why) in refused {
        let (points, status) = &rows[name];
        assert_eq!(*points, 0, "{name}: {said}");
        assert!(status.contains(why), "{name}: no \"{why}\" in {status}");
    }
    let written: Vec<String> = fs::read_dir(out.join("students"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dave") || n.contains('\n') || n.contains("zed"))
        .collect();
    assert!(written.is_empty(), "refused names wrote {written:?}");
    assert!(!rows.contains_key("zed"), "a name forged a row: {rows:#?}");
    let text = fs::read_to_string(&book).unwrap();
    for name in formulas {
        assert!(
            rows.contains_key(&format!("'{name}")),
            "{name} not escaped: {text}"
        );
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

    // A re-run keeps the rows the students' JSON confirms; a row changed by hand (99 points of
    // at most 32) is graded again, and a JSON changed by hand is not believed either.
    let tampered = text.replacen(
        &format!("honest,{honest_points},{honest_points},graded"),
        "honest,99,99,graded",
        1,
    );
    assert_ne!(tampered, text, "{text}");
    fs::write(&book, tampered).unwrap();
    let carol_json = out.join("students/carol.json");
    let mut inflated: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&carol_json).unwrap()).unwrap();
    inflated["score"] = (honest_points + 5).into();
    fs::write(&carol_json, inflated.to_string()).unwrap();
    let started = Instant::now();
    let (again, ok) = grade(&cargo_home, &class_args);
    assert!(ok, "{again}");
    println!("{again}\n(re-run in {:?})", started.elapsed());
    let rows = gradebook(&book);
    for name in ["honest", "carol"] {
        assert_eq!(
            rows[name],
            (honest_points, "graded".to_string()),
            "{name}: {again}"
        );
        assert!(
            again
                .lines()
                .any(|l| l.contains(&format!("] {name:<24} ")) && !l.contains("kept")),
            "{name} was kept: {again}"
        );
    }
    assert!(
        again
            .lines()
            .any(|l| l.contains(&format!("] {:<24} ", "daemon")) && l.contains("kept")),
        "a confirmed row was graded again: {again}"
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
