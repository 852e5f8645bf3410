//! `socklab`: the kit's one command (`socklab --help` lists its subcommands; each is a file of
//! src/commands/) over the lab registry in tests/checks/, so the checks a submission is graded
//! with are always the kit's own.
#[path = "../../tests/checks/mod.rs"]
mod checks;

fn main() -> std::process::ExitCode {
    socklab::commands::main(checks::labs)
}
