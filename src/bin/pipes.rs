//! `pipes`: pipes against sockets, measured (lab netcat).
socklab::lab_program!(
    "../../labs/netcat/pipes.rs",
    "../../solutions/netcat/pipes.rs"
);
