//! `http_get`: a raw HTTP/HTTPS client (lab http).
socklab::lab_program!(
    "../../labs/http/http_get.rs",
    "../../solutions/http/http_get.rs"
);
