//! Naming the step that failed. A check's error is what a student reads, so an OS error alone
//! ("connection refused") is not enough: `.context("connecting to the server at 127.0.0.1:4000")`
//! turns it into "connecting to the server at 127.0.0.1:4000: connection refused".

use std::fmt::Display;

/// Adds the step that failed to an error, turning it into the `String` checks return.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("{step}: {e}")`.
    fn context(self, step: &str) -> Result<T, String>;
    /// The same, with the step built only on failure (`|| format!(…)`).
    fn with_context(self, step: impl FnOnce() -> String) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, step: &str) -> Result<T, String> {
        self.map_err(|e| format!("{step}: {e}"))
    }

    fn with_context(self, step: impl FnOnce() -> String) -> Result<T, String> {
        self.map_err(|e| format!("{}: {e}", step()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_comes_first() {
        let refused: Result<(), std::io::Error> =
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let err = refused
            .context("connecting to the server at 127.0.0.1:9")
            .unwrap_err();
        assert!(
            err.starts_with("connecting to the server at 127.0.0.1:9: "),
            "{err}"
        );
        assert_eq!(Ok::<_, String>(3).with_context(|| unreachable!()), Ok(3));
    }
}
