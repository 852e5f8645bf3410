//! `grade`: the autograder. The checks are the kit's own, in tests/checks/.
#[path = "../../tests/checks/mod.rs"]
mod checks;

fn main() {
    socklab::grader::main(checks::labs);
}
