//! `capture`: records the captures a lab's questions are about (`make capture LAB=udp-time`).
#[path = "../../tests/checks/mod.rs"]
mod checks;

fn main() {
    socklab::answers::capture_main(checks::labs, checks::question_sets);
}
