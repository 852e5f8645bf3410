//! `silly_server`: the silly chatter, which answers What? to everything (lab netcat).
socklab::lab_program!(
    "../../labs/netcat/silly_server.rs",
    "../../solutions/netcat/silly_server.rs"
);
