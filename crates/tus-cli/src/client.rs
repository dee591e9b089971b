//! The HTTP client and retry settings from a checked [`Connection`].

use anyhow::Context as _;
use tus_client::Client;
use tus_retry::{RetryConfiguration, Uploader};

use crate::config::Connection;

/// A client with the headers, timeouts and TLS settings of `conn`. Reads the PEM files it names.
pub(crate) fn client(conn: &Connection) -> anyhow::Result<Client> {
    let mut builder = Client::builder()
        .user_agent(concat!("tus-cli/", env!("CARGO_PKG_VERSION"), " (tus-rs)"))
        .stall_timeout(Some(conn.timeout))
        .connect_timeout(Some(conn.timeout));
    for (name, value) in &conn.headers {
        builder = builder.default_header(name, value);
    }
    let tls = &conn.tls;
    if let Some(path) = &tls.cacert {
        let pem = std::fs::read(path).with_context(|| format!("cannot read --cacert {}", path.display()))?;
        builder = builder.add_root_certificate_pem(&pem);
    }
    if let Some((cert, key)) = &tls.identity {
        let cert_pem = std::fs::read(cert).with_context(|| format!("cannot read --cert {}", cert.display()))?;
        let key_pem = std::fs::read(key).with_context(|| format!("cannot read --key {}", key.display()))?;
        builder = builder.identity_pem(&cert_pem, &key_pem);
    }
    for pin in &tls.pins {
        builder = builder.tls_pin_sha256(*pin);
    }
    if tls.insecure {
        builder = builder.danger_accept_invalid_certs();
    }
    builder.build().context("cannot set up the HTTP client")
}

/// `--retries N` means N retries after the first failure; tus-retry counts attempts.
pub(crate) fn retry(conn: &Connection) -> RetryConfiguration {
    RetryConfiguration::default().retry_attempts(conn.retries.saturating_add(1)).max_retry_period(conn.max_retry_delay)
}

/// An uploader for single requests (`info`, `options`, `delete`).
pub(crate) fn uploader(conn: &Connection) -> anyhow::Result<Uploader> {
    Ok(Uploader::new(client(conn)?).retry(retry(conn)))
}
