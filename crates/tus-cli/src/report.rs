//! How a run ends: exit codes and error messages.

use std::error::Error as StdError;
use std::io::Write as _;

use crate::config::UsageError;

/// Exit status: success.
pub(crate) const SUCCESS: i32 = 0;
/// Exit status: the operation failed.
pub(crate) const FAILURE: i32 = 1;
/// Exit status: the command line makes no sense (clap uses 2 as well).
pub(crate) const USAGE: i32 = 2;
/// Exit status: interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const INTERRUPTED: i32 = 130;

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Exit {
    /// A usage error, found before anything was sent.
    Usage(UsageError),
    /// The operation failed; hints are printed after the error.
    Failed { error: anyhow::Error, hints: Vec<String> },
    /// Interrupted; what to say was printed already.
    Interrupted,
}

impl Exit {
    pub(crate) fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::Failed { error: error.into(), hints: Vec::new() }
    }

    /// Prints the error to stderr and returns the exit status.
    pub(crate) fn report(self) -> i32 {
        let mut err = std::io::stderr().lock();
        match self {
            Self::Usage(e) => {
                let _ = writeln!(err, "tus: error: {e}\n\nFor more information, try '--help'.");
                USAGE
            }
            Self::Failed { error, hints } => {
                let _ = writeln!(err, "tus: error: {}", chain(error.as_ref()));
                for hint in hints {
                    let _ = writeln!(err, "tus: {hint}");
                }
                FAILURE
            }
            Self::Interrupted => INTERRUPTED,
        }
    }
}

impl From<UsageError> for Exit {
    fn from(e: UsageError) -> Self {
        Self::Usage(e)
    }
}

impl From<anyhow::Error> for Exit {
    fn from(error: anyhow::Error) -> Self {
        Self::failed(error)
    }
}

/// The failure of an operation of tus-retry: `what` failed because of `e`, with hints about TLS trust.
pub(crate) fn retry_failure(e: tus_retry::Error, what: String, mut hints: Vec<String>) -> Exit {
    let error = anyhow::Error::new(e).context(what);
    if chain(error.as_ref()).contains("invalid peer certificate") {
        hints.push(
            "hint: the server's certificate is not trusted: --cacert trusts its CA, --pin-sha256 pins it, \
             -k skips the check"
                .to_owned(),
        );
    }
    if chain(error.as_ref()).contains("CertificateRequired") {
        hints.push("hint: the server wants a client certificate: --cert and --key".to_owned());
    }
    Exit::Failed { error, hints }
}

/// Prints a warning to stderr, above the progress bar.
pub(crate) fn warn(message: &str) {
    crate::progress::suspend(|| {
        let _ = writeln!(std::io::stderr().lock(), "tus: warning: {message}");
    });
}

/// An error and its causes on one line, joined by `: `. A cause whose text the message already holds
/// (many errors repeat their source in their own message) is left out.
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        let text = text.trim();
        // hyper-util's wrapper ("client error (Connect)") adds nothing to the messages around it.
        let noise = text.starts_with("client error (") && text.ends_with(')');
        if !text.is_empty() && !noise && !out.contains(text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(text);
        }
        if text.contains("matches no pin") {
            // This names both fingerprints; the causes below only repeat them as rustls's Debug output.
            break;
        }
        next = e.source();
    }
    out
}

/// Prints an internal error instead of a panic message and a backtrace, and exits with status 1.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        crate::progress::clear();
        let _ = writeln!(
            std::io::stderr().lock(),
            "tus: internal error: {message}{location}\ntus: this is a bug in tus; please report it"
        );
        std::process::exit(FAILURE);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<Self>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for E {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn chain_skips_repeated_causes() {
        let e = E("gave up: refused", Some(Box::new(E("refused", Some(Box::new(E("os error 111", None)))))));
        assert_eq!(chain(&e), "gave up: refused: os error 111");
        let e = E("a", Some(Box::new(E("client error (Connect)", Some(Box::new(E("b", None)))))));
        assert_eq!(chain(&e), "a: b");
        let e =
            E("TLS failed", Some(Box::new(E("x matches no pin (expected y)", Some(Box::new(E("Other(..)", None)))))));
        assert_eq!(chain(&e), "TLS failed: x matches no pin (expected y)");
    }
}
