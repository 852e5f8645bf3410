//! `xmlrpc_client`: the XML-RPC client with HTTP Basic auth (lab xmlrpc).
socklab::lab_program!(
    "../../labs/xmlrpc/xmlrpc_client.rs",
    "../../solutions/xmlrpc/xmlrpc_client.rs"
);
