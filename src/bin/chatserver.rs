//! `chatserver`: the TCP chat server with the active-user list and accounts (lab chat).
socklab::lab_program!(
    "../../labs/chat/chatserver.rs",
    "../../solutions/chat/chatserver.rs"
);
