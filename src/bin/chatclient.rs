//! `chatclient`: the chat client, to the room over TCP and peer-to-peer over UDP (lab chat).
socklab::lab_program!(
    "../../labs/chat/chatclient.rs",
    "../../solutions/chat/chatclient.rs"
);
