//! `udp_time`: the UDP time server and client (lab udp-time).
socklab::lab_program!(
    "../../labs/udp-time/udp_time.rs",
    "../../solutions/udp-time/udp_time.rs"
);
