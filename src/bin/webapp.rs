//! `webapp`: a tiny web application over std::net, with --tls for HTTPS (lab http).
socklab::lab_program!(
    "../../labs/http/webapp.rs",
    "../../solutions/http/webapp.rs"
);
