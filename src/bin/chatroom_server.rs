//! `chatroom_server`: the chat-room server (lab chatroom).
socklab::lab_program!(
    "../../labs/chatroom/chatroom_server.rs",
    "../../solutions/chatroom/chatroom_server.rs"
);
