//! `rp_client`: a client of the reverse proxy (lab revproxy).
socklab::lab_program!(
    "../../labs/revproxy/rp_client.rs",
    "../../solutions/revproxy/rp_client.rs"
);
