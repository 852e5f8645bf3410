//! The kit's one lab registry: [`labs`] lists every lab, one line each, in the order the grader
//! reports them. A lab's checks module (`tests/<lab>/checks/mod.rs`) builds its [`Lab`], the
//! lab's manifest: name, title, programs, checks, questions on captures. Compiled into the
//! `socklab` command (and so into `make labs`, which writes each program's `src/bin` file and
//! the benches' dispatcher from it) and into the command-line tests (tests/cli.rs).
//! `socklab new-lab NAME` adds a line here.

use socklab::grader::Lab;

/// `module in "path of the lab's checks"`: each lab's checks module and its [`labs`] entry.
macro_rules! labs {
    ($($module:ident in $checks:literal,)*) => {
        $(
            #[path = $checks]
            mod $module;
        )*

        /// Every lab, in the order the grader reports them.
        pub fn labs() -> Vec<Lab> {
            vec![$($module::lab()),*]
        }
    };
}

labs! {
    udp_time in "../../../tests/udp-time/checks/mod.rs",
    xmlrpc in "../../../tests/xmlrpc/checks/mod.rs",
    chatroom in "../../../tests/chatroom/checks/mod.rs",
    chat in "../../../tests/chat/checks/mod.rs",
    revproxy in "../../../tests/revproxy/checks/mod.rs",
    netcat in "../../../tests/netcat/checks/mod.rs",
    http in "../../../tests/http/checks/mod.rs",
}
