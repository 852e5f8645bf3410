//! `rp_server`: a server behind the reverse proxy (lab revproxy).
socklab::lab_program!(
    "../../labs/revproxy/rp_server.rs",
    "../../solutions/revproxy/rp_server.rs"
);
