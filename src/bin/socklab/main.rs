//! `socklab`: the kit's one command (`socklab --help` lists its subcommands; each is a file of
//! src/commands/) over the lab registry (labs.rs, each lab's checks in tests/<lab>/checks/), so
//! the checks a submission is graded with are always the kit's own.
mod labs;

fn main() -> std::process::ExitCode {
    socklab::commands::main(labs::labs)
}
