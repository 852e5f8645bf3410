//! `xmlrpc_server`: the XML-RPC server with HTTP Basic auth (lab xmlrpc).
socklab::lab_program!(
    "../../labs/xmlrpc/xmlrpc_server.rs",
    "../../solutions/xmlrpc/xmlrpc_server.rs"
);
