//! Log output on stderr: warnings (retries) always, more with `-v`, anything with `RUST_LOG`.

use std::io::{self, IsTerminal as _, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::Verbosity;

/// Installs the subscriber. Without `-v`, only the retry layer's warnings (a failed request that is
/// retried, an upload created again) are shown.
pub(crate) fn init(verbosity: Verbosity) {
    let default = match verbosity.0 {
        0 => "warn,tus_client=error",
        1 => "warn,tus_retry=info,tus_client=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(Stderr).with_ansi(io::stderr().is_terminal());
    let _ = if verbosity.0 == 0 { builder.without_time().with_target(false).try_init() } else { builder.try_init() };
}

/// stderr, drawn above the progress bar.
#[derive(Debug, Clone, Copy)]
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::progress::suspend(|| io::stderr().lock().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        crate::progress::suspend(|| io::stderr().lock().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl MakeWriter<'_> for Stderr {
    type Writer = Self;

    fn make_writer(&self) -> Self::Writer {
        *self
    }
}
