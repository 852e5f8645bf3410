//! The autograder's checks and the kit's one lab registry: [`labs`] lists every lab, and each
//! lab's module builds its [`Lab`] (binaries, checks, questions on captures). Compiled into the
//! `socklab` binary (src/bin/socklab.rs) and the command-line tests (tests/cli.rs).

use socklab::grader::Lab;

mod chat;
mod chatroom;
mod http;
mod netcat;
mod revproxy;
mod udp_time;
mod xmlrpc;

/// Every lab, in the order the grader reports them.
pub fn labs() -> Vec<Lab> {
    vec![
        udp_time::lab(),
        xmlrpc::lab(),
        chatroom::lab(),
        chat::lab(),
        revproxy::lab(),
        netcat::lab(),
        http::lab(),
    ]
}
