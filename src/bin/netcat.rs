//! `netcat`: a netcat with TLS, commands and file transfer (lab netcat).
socklab::lab_program!(
    "../../labs/netcat/netcat.rs",
    "../../solutions/netcat/netcat.rs"
);
