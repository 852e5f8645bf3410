//! `chatroom_client`: the chat-room client (lab chatroom).
socklab::lab_program!(
    "../../labs/chatroom/chatroom_client.rs",
    "../../solutions/chatroom/chatroom_client.rs"
);
