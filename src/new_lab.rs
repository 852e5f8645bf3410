//! `socklab new-lab NAME [--title TEXT]` (`make new-lab NAME=…`): a new lab that works from
//! the start, to be turned into the real one. It writes a one-program lab, a TCP line echo
//! server whose echo loop is the blank: the solution `solutions/NAME/PROG.rs` (PROG is NAME with
//! `_` for `-`), its handout, its manifest and one check in `tests/NAME/checks/mod.rs`, and one
//! student bug and one accepted mutant in `tests/NAME/bugs/`; it adds the lab's line to the registry
//! (`src/bin/socklab/labs.rs`) and its row to README.md's lab table, and generates the rest
//! (`src/bin/PROG.rs`, `labs/NAME/`) as `make labs` does. The new lab passes `make check-labs`,
//! scores full on its solution and zero on its skeleton (tests/new_lab.rs proves it in a
//! scratch copy of the kit). No capture questions: a lab gets them with `Lab::questions` and an
//! `answers.txt` (docs/developing.md).

use crate::cli::{self, Options};
use crate::grader::Lab;
use crate::{blanks, lab_files};
use std::fs;
use std::path::Path;
use std::process::exit;

/// The registry file, relative to the kit.
pub const REGISTRY: &str = "src/bin/socklab/labs.rs";

/// Rust's keywords: a lab's module may not be one.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match",
    "mod", "move", "mut", "priv", "pub", "ref", "return", "self", "static", "struct", "super",
    "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where",
    "while", "yield",
];

/// The solution: a line echo server with one blank, shaped like the labs' programs.
const PROGRAM: &str = r#"//! @prog@: a TCP server that sends every line a client writes back to it. Written by
//! `socklab new-lab` as the starting point of lab @name@: replace it with the lab's program,
//! keeping the shape (constants, the protocol, `server`, `main` that reads the options).
//!
//!     @prog@ [--host HOST] [--port PORT]

use socklab::cli::Options;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

const USAGE: &str = "Usage: @prog@ [--host HOST] [--port PORT]

Sends every line a client writes back to it, over TCP.";

/// Sends each line that comes on `stream` back on it, until the client closes.
fn echo(stream: TcpStream) -> io::Result<()> {
    // BEGIN BLANK: read the client's lines one by one and write each back with its newline (BufReader::lines, writeln!)
    let mut writer = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        writeln!(writer, "{}", line?)?;
    }
    Ok(())
    // END BLANK
}

fn server(host: &str, port: u16) -> io::Result<()> {
    let listener = TcpListener::bind((host, port))?;
    println!("Server listening at {}", listener.local_addr()?);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = echo(stream) {
                        log::warn!("a client's connection failed: {e}");
                    }
                });
            }
            Err(e) => log::warn!("accept failed: {e}"),
        }
    }
    Ok(())
}

pub fn main() -> ExitCode {
    socklab::logging::init();
    let mut opts = Options::new();
    opts.optopt(
        "",
        "host",
        "the address to listen at (default 127.0.0.1)",
        "HOST",
    );
    opts.optopt(
        "",
        "port",
        "the port to listen at (default 0: the OS picks)",
        "PORT",
    );
    let args = socklab::cli::parse(opts, USAGE);
    if !args.free().is_empty() {
        args.fail("no arguments besides the options");
    }
    let host: String = args.get("host", "127.0.0.1".to_string());
    match server(&host, args.get("port", 0)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("@prog@: {e}");
            ExitCode::FAILURE
        }
    }
}
"#;

/// The handout.
const HANDOUT: &str = r#"# Lab @name@: @title@

<!-- Written by `socklab new-lab`: replace it with the lab's handout (docs/developing.md). -->

`@prog@` is a TCP server: it sends every line a client writes back to it, on the same
connection, until the client closes.

## Milestone 1: echo

Fill in the blank of `@prog@.rs`: read what the client sends, line by line, and write each
line back. Run the server (with port 0 the OS picks a free port; the server prints it):

    cargo run --bin @prog@ -- --port 0

talk to it from another terminal (`nc 127.0.0.1 PORT`), and grade your work:

    make grade LAB=@name@
"#;

/// The lab's manifest and its one check.
const CHECKS: &str = r#"//! Checks for lab `@name@`, written by `socklab new-lab`: the server `@prog@` started on a free
//! port, and a test client talking to it over loopback.

use socklab::grader::{Check, Ctx, Lab, LinePeer};

const BIN: &str = "@prog@";

/// The lab's entry in the registry: its name (the folder under solutions/, labs/, tests/), its
/// title, its programs and its checks.
pub fn lab() -> Lab {
    Lab::new("@name@", "@title@", &[BIN]).checks(vec![Check::new(
        "1 echo",
        "sends each line back on the same connection",
        1,
        "Milestone 1: how do you read a stream line by line, and how many lines may a client send?",
        echoes_lines,
    )])
}

/// Two lines, each sent back as it was: a server that answers only the first loses the point.
fn echoes_lines(ctx: &Ctx) -> Result<(), String> {
    let (server, addr) = ctx.start_server(BIN, &["--port", "0"])?;
    let mut client = LinePeer::connect(addr, "a test client")?;
    for line in ["hello, server", "a second line"] {
        client.send(line)?;
        client.expect_line(line).map_err(|e| server.explain(e))?;
    }
    Ok(())
}
"#;

/// A student bug the check must catch (`make bugs LAB=@name@`).
const BUG: &str = r#"# A student bug the checks must catch: `make bugs LAB=@name@` (docs/developing.md).
mistake: one line only: the server answers the first line and never reads again
check: sends each line back on the same connection
replace in @prog@.rs:
    for line in BufReader::new(stream).lines() {
with:
    for line in BufReader::new(stream).lines().take(1) {
end
"#;

/// Mutants allowed to survive `make mutants LAB=@name@`, each with its reason.
const ACCEPTED: &str = r#"# Mutants of this lab's solutions that may survive `make mutants`, each with its reason
# (docs/developing.md, "Mutants and the bug corpus").
@prog@.rs: drop ?: writeln!(writer, "{}", line?)?;
    why: equivalent: a write fails only once the client is gone, and the next read then ends the loop (an error or the end of the stream), as the `?` would; only the log line differs
"#;

fn fill(template: &str, name: &str, prog: &str, title: &str) -> String {
    template
        .replace("@name@", name)
        .replace("@prog@", prog)
        .replace("@title@", title)
}

/// Why `name` cannot be a new lab's name in the kit at `root`, if it cannot.
fn refused(root: &Path, name: &str, title: &str) -> Option<String> {
    let prog = lab_files::module(name);
    let well_formed = name.len() <= 30
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !well_formed {
        return Some(format!(
            "'{name}' is no lab name: lower-case letters, digits and single hyphens, starting \
             with a letter (udp-time), 30 characters at most"
        ));
    }
    if KEYWORDS.contains(&prog.as_str()) {
        return Some(format!("'{name}' is a Rust keyword: choose another name"));
    }
    if title.contains(['"', '\\', '\n', '|']) {
        return Some("the title may not hold quotes, backslashes, `|` or line breaks".into());
    }
    let registry = fs::read_to_string(root.join(REGISTRY)).unwrap_or_default();
    if registry
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("{prog} in ")))
    {
        return Some(format!(
            "lab {name} is in the registry ({REGISTRY}) already"
        ));
    }
    for taken in [
        format!("solutions/{name}"),
        format!("labs/{name}"),
        lab_files::home(name),
        format!("src/bin/{prog}.rs"),
        format!("src/bin/{prog}"),
    ] {
        if root.join(&taken).exists() {
            return Some(format!("{taken} exists already: choose another name"));
        }
    }
    None
}

/// `text` with `row` inserted after the last row of the first table whose header starts
/// with `header`, or `None` when there is no such table.
fn add_row(text: &str, header: &str, row: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with(header))?;
    let end = start
        + lines[start..]
            .iter()
            .take_while(|l| l.starts_with('|'))
            .count();
    let mut out: Vec<&str> = lines[..end].to_vec();
    out.push(row);
    out.extend_from_slice(&lines[end..]);
    Some(out.join("\n") + "\n")
}

/// The registry with `module in "…checks/mod.rs",` added as its last lab.
fn add_to_registry(text: &str, name: &str) -> Option<String> {
    let line = format!(
        "    {} in \"../../../{}/checks/mod.rs\",",
        lab_files::module(name),
        lab_files::home(name)
    );
    let lines: Vec<&str> = text.lines().collect();
    let open = lines.iter().position(|l| l.starts_with("labs! {"))?;
    let close = open + lines[open..].iter().position(|l| *l == "}")?;
    let mut out: Vec<&str> = lines[..close].to_vec();
    out.push(&line);
    out.extend_from_slice(&lines[close..]);
    Some(out.join("\n") + "\n")
}

/// Writes lab `name` into the kit at `root`; returns what it wrote, one line per file.
pub fn create(root: &Path, name: &str, title: &str) -> Result<Vec<String>, String> {
    if let Some(why) = refused(root, name, title) {
        return Err(why);
    }
    let prog = lab_files::module(name);
    let registry_path = root.join(REGISTRY);
    let readme_path = root.join("README.md");
    let read = |p: &Path| fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let registry = add_to_registry(&read(&registry_path)?, name)
        .ok_or_else(|| format!("{REGISTRY} has no `labs! {{ … }}` list to add the lab to"))?;
    let readme = add_row(
        &read(&readme_path)?,
        "| lab | programs | handout |",
        &format!("| `{name}` | `{prog}` | [labs/{name}/README.md](labs/{name}/README.md) |"),
    )
    .ok_or("README.md has no lab table (`| lab | programs | handout |`) to add a row to")?;

    // The lab as the registry will see it, for the generated program file.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let bins: &'static [&'static str] = Box::leak(vec![leak(prog.clone())].into_boxed_slice());
    let lab = Lab::new(leak(name.to_string()), leak(title.to_string()), bins);
    // The lab's own files, from the templates, then the generated one and the two edits.
    let templates = [
        ("solutions/@name@/@prog@.rs", PROGRAM),
        ("solutions/@name@/README.md", HANDOUT),
        ("tests/@name@/checks/mod.rs", CHECKS),
        ("tests/@name@/bugs/one-line-only.bug", BUG),
        ("tests/@name@/bugs/accepted.txt", ACCEPTED),
    ];
    let mut files: Vec<(String, String)> = templates
        .iter()
        .map(|(rel, text)| {
            (
                fill(rel, name, &prog, title),
                fill(text, name, &prog, title),
            )
        })
        .collect();
    let generated = format!("src/bin/{prog}.rs");
    files.push((generated.clone(), lab_files::program_file(&lab, &prog)));
    files.push((REGISTRY.to_string(), registry));
    files.push(("README.md".to_string(), readme));
    let mut done = Vec::new();
    for (rel, text) in &files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        let how = match rel.as_str() {
            REGISTRY => "one line added (the lab registry)",
            "README.md" => "one row added to the lab table",
            g if *g == generated => "generated (make labs)",
            _ => "written",
        };
        done.push(format!("{rel:<40} {how}"));
    }
    blanks::generate(&root.join("solutions"), &root.join("labs"), false)
        .map_err(|problems| problems.join("\n"))?;
    done.push(format!(
        "{:<40} generated (make labs)",
        format!("labs/{name}/")
    ));
    Ok(done)
}

/// `new-lab NAME [--title TEXT]`.
pub fn main(args: Vec<String>) {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "title",
        "the lab's title in the grader's table (default: a line echo server)",
        "TEXT",
    );
    let brief = "Usage: socklab new-lab NAME [--title TEXT]\n\n\
                 Writes a new one-program lab NAME (a TCP line echo server with one blank, its\n\
                 handout, one check, one student bug), adds it to the lab registry and README's\n\
                 table: it passes check-labs, scores full on its solution and zero on its\n\
                 skeleton. Then make it the lab you want (docs/developing.md, \"Adding a lab\").";
    let args = cli::parse_args(opts, brief, args);
    let [name] = args.free() else {
        args.fail("one NAME is needed, such as udp-time");
    };
    let title: String = args.get("title", "a TCP line echo server".to_string());
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(why) = refused(&root, name, &title) {
        args.fail(&why);
    }
    match create(&root, name, &title) {
        Ok(done) => {
            println!("lab {name}:");
            for line in done {
                println!("  {line}");
            }
            println!(
                "Next: make it your lab: the program and its handout in solutions/{name}/, the\n\
                 manifest and checks in tests/{name}/checks/, the bugs in tests/{name}/bugs/; then\n  \
                 cargo run --bin socklab -- grade --lab {name} --solutions --expect full\n  \
                 cargo run --bin socklab -- grade --lab {name} --expect zero\n  \
                 make check-labs && make bugs LAB={name} && make mutants LAB={name}"
            );
        }
        Err(e) => {
            eprintln!("new-lab: {e}");
            exit(1);
        }
    }
}
