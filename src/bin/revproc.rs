//! `revproc`: the reverse proxy (lab revproxy).
socklab::lab_program!(
    "../../labs/revproxy/revproc.rs",
    "../../solutions/revproxy/revproc.rs"
);
