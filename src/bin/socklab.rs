//! `socklab`: the kit's command (grade, capture, labs, check-labs) over the lab registry in
//! tests/checks/, so the checks a submission is graded with are always the kit's own.
#[path = "../../tests/checks/mod.rs"]
mod checks;

fn main() {
    socklab::grader::main(checks::labs);
}
