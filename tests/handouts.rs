//! Every command a handout shows works as written. Each `cargo run --bin PROGRAM -- ARGS` (and
//! `target/debug/PROGRAM ARGS`, as behind `netlab exec HOST`) is run with the solution's program:
//! it must not refuse its arguments (exit 2) nor panic. A server is stopped once it has run for a
//! moment, a client once it has ended; stdin is empty. Every `make TARGET` must be a target of the
//! students' Makefile (their copy has no `make bench`). Other tools' commands (nc, curl, tcpdump)
//! are counted, not run: the labs' interop tests run the ones that matter.

#[path = "../src/bin/socklab/labs.rs"]
mod checks;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a program may run before it counts as started (a server) and is stopped.
const RUNNING: Duration = Duration::from_millis(1000);

/// The code lines of a Markdown text: indented blocks and fenced blocks, with `\` continuations
/// joined.
fn code_lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut fenced = false;
    let mut continued = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let code = if fenced {
            Some(line.trim())
        } else {
            line.strip_prefix("    ").map(str::trim)
        };
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            continued = false;
            continue;
        };
        let (code, more) = match code.strip_suffix('\\') {
            Some(c) => (c.trim_end(), true),
            None => (code, false),
        };
        match (continued, out.last_mut()) {
            (true, Some(last)) => {
                last.push(' ');
                last.push_str(code);
            }
            _ => out.push(code.to_string()),
        }
        continued = more;
    }
    out
}

/// Shell words with quotes removed; an unquoted `#` word ends the line; `|`, `;`, `&&` and `&`
/// end a command. Returns the commands.
fn commands(line: &str) -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() || matches!(c, '|' | ';' | '&') => {
                if in_word {
                    all.last_mut()
                        .expect("one command at least")
                        .push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !c.is_whitespace() {
                    while chars.peek().is_some_and(|n| matches!(n, '|' | '&')) {
                        chars.next();
                    }
                    all.push(Vec::new());
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        all.last_mut().expect("one command at least").push(word);
    }
    all.retain(|c| !c.is_empty());
    all
}

/// What a command runs, when it is one of the kit's programs: its name and arguments.
fn kit_program(words: &[String]) -> Option<(String, Vec<String>)> {
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "sudo")
        .collect();
    if let Some(path) = words.first().and_then(|w| w.strip_prefix("target/debug/")) {
        return Some((
            path.to_string(),
            words[1..].iter().map(|w| w.to_string()).collect(),
        ));
    }
    if words.first() != Some(&"cargo") || words.get(1) != Some(&"run") {
        return None;
    }
    let bin = words.iter().position(|w| *w == "--bin")?;
    let name = words.get(bin + 1)?.to_string();
    let args: Vec<String> = match words.iter().position(|w| *w == "--") {
        Some(dash) => words[dash + 1..].iter().map(|w| w.to_string()).collect(),
        None => Vec::new(),
    };
    // `netlab exec HOST COMMAND…`: the command is what runs.
    if name == "netlab" {
        if args.first().map(String::as_str) == Some("exec") && args.len() > 2 {
            // netlab's names and addresses exist only on its hosts: here, loopback's.
            let here: Vec<String> = args[2..]
                .iter()
                .map(|a| {
                    a.replace("www.ttm4200.com", "localhost")
                        .replace("10.20.30.3", "127.0.0.1")
                })
                .collect();
            return kit_program(&here);
        }
        return None;
    }
    Some((name, args))
}

/// The built program `bin`, beside the `socklab` binary cargo built for this test.
fn program(bin: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_socklab")).with_file_name(bin)
}

/// Runs a handout's command line in `root`: `Err` says why it does not work as written.
fn try_program(root: &Path, name: &str, args: &[String]) -> Result<(), String> {
    let path = program(name);
    if !path.is_file() {
        return Err(format!("there is no program {name}"));
    }
    let mut child = Command::new(&path)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if started.elapsed() > RUNNING {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
    }
    match status {
        Some(s) if s.code() == Some(2) => Err(format!("refuses its arguments: {}", err.trim())),
        _ if err.contains("panicked") => Err(format!("panics: {}", err.trim())),
        _ => Ok(()),
    }
}

/// The targets of a Makefile (`name:` at the start of a line).
fn targets(makefile: &str) -> Vec<String> {
    makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_in_a_handout_works_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let students = targets(socklab::student_kit::MAKEFILE);
    let (mut ran, mut other, mut problems) = (0, 0, Vec::new());
    for lab in checks::labs() {
        let handout = root.join("solutions").join(lab.name).join("README.md");
        let text = std::fs::read_to_string(&handout).expect("every lab has a handout");
        for line in code_lines(&text) {
            for words in commands(&line) {
                let at = format!("{}: `{line}`", lab.name);
                if let Some((name, args)) = kit_program(&words) {
                    ran += 1;
                    if let Err(why) = try_program(root, &name, &args) {
                        problems.push(format!("{at}: {name} {why}"));
                    }
                } else if words.iter().find(|w| *w != "sudo").map(String::as_str) == Some("make") {
                    let target = words.iter().skip_while(|w| *w == "sudo").nth(1);
                    match target {
                        Some(t) if !t.contains('=') && !students.contains(t) => {
                            problems.push(format!("{at}: the students' Makefile has no target {t}"))
                        }
                        _ => {}
                    }
                } else {
                    other += 1;
                }
            }
        }
    }
    println!("{ran} commands of the kit's programs run; {other} other code lines (other tools, examples) not run");
    assert!(
        ran > 40,
        "only {ran} commands found: is the handout parser broken?"
    );
    assert!(
        problems.is_empty(),
        "handout commands that do not work:\n{}",
        problems.join("\n")
    );
}

#[test]
fn commands_are_read_as_a_shell_would() {
    let words = commands(r#"printf 'a b\n' | cargo run --bin x -- --name "Ada L" # note"#);
    assert_eq!(words.len(), 2);
    assert_eq!(words[0], vec!["printf", "a b\\n"]);
    assert_eq!(
        kit_program(&words[1]),
        Some(("x".into(), vec!["--name".into(), "Ada L".into()]))
    );
    let exec = commands("sudo cargo run -q --bin netlab -- exec client1 target/debug/y -i URL");
    assert_eq!(
        kit_program(&exec[0]),
        Some(("y".into(), vec!["-i".into(), "URL".into()]))
    );
    assert_eq!(
        code_lines("text\n\n    a \\\n      b\n    c\n"),
        vec!["a b", "c"]
    );
}
