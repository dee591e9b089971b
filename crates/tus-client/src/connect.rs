//! The connector hyper-util's legacy `Client` dials through: TCP, then TLS for `https`.
//!
//! It has the shape of hyper-rustls's `HttpsConnector` over tokio-rustls:
//! hyper-util's `HttpConnector` does DNS and TCP, and for `https` URIs
//! tokio-rustls runs the handshake with the server name taken from the URI
//! host (DNS name or IP address).
//!
//! Errors reach hyper-util as a `BoxError` holding one of:
//!
//! - [`ConnectTimeout`]: TCP connect plus TLS handshake took longer than the
//!   connect timeout (this also covers a TCP connect the OS timed out);
//! - the `std::io::Error` from tokio-rustls when the handshake failed, whose
//!   payload (`io::Error::get_ref`) is the `rustls::Error`, e.g.
//!   `InvalidCertificate(Other(OtherError(PinMismatch)))`;
//! - [`InvalidDestination`] for a URI that cannot be dialled;
//! - hyper-util's own `HttpConnector` error for DNS and TCP failures.
//!
//! `crate::tls::error_chain` walks all of these, including the `io::Error`
//! payload that `source()` skips.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The error type the connector hands to hyper-util.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connecting (DNS, TCP and, for `https`, the TLS handshake) timed out.
#[derive(Debug)]
pub(crate) struct ConnectTimeout {
    /// The configured timeout, if the timeout was ours rather than the OS's.
    pub(crate) after: Option<Duration>,
    source: Option<BoxError>,
}

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.after {
            Some(after) => write!(f, "connect timed out after {after:?}"),
            None => f.write_str("connect timed out"),
        }
    }
}

impl std::error::Error for ConnectTimeout {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// The URI cannot be dialled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum InvalidDestination {
    /// The scheme is neither `http` nor `https`.
    #[error("unsupported uri scheme {0:?}, expected http or https")]
    UnsupportedScheme(String),
    /// The URI has no host.
    #[error("uri has no host")]
    MissingHost,
    /// The host is not a valid TLS server name.
    #[error("invalid tls server name {0:?}")]
    InvalidServerName(String, #[source] rustls_pki_types::InvalidDnsNameError),
}

/// Dials `http` and `https` URIs; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpConnector,
    tls: Arc<ClientConfig>,
    connect_timeout: Option<Duration>,
}

impl Connector {
    /// A connector using `tls` for `https` URIs.
    ///
    /// `connect_timeout` bounds DNS, TCP connect and the TLS handshake
    /// together; `None` waits as long as the OS does.
    pub(crate) fn new(tls: Arc<ClientConfig>, connect_timeout: Option<Duration>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        // Per address, so a dead address leaves time for the next one; the
        // overall deadline below also covers DNS and the handshake.
        http.set_connect_timeout(connect_timeout);
        Self { inner: Arc::new(Inner { http, tls, connect_timeout }) }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = MaybeHttpsStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeHttpsStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(after) = inner.connect_timeout else {
                return inner.connect(dst).await;
            };
            match tokio::time::timeout(after, inner.connect(dst)).await {
                Ok(result) => result,
                Err(elapsed) => Err(ConnectTimeout { after: Some(after), source: Some(elapsed.into()) }.into()),
            }
        })
    }
}

impl Inner {
    async fn connect(&self, dst: Uri) -> Result<MaybeHttpsStream, BoxError> {
        let server_name = match dst.scheme_str() {
            Some("https") => Some(server_name(&dst)?),
            Some("http") => None,
            other => {
                return Err(InvalidDestination::UnsupportedScheme(other.unwrap_or_default().to_owned()).into());
            }
        };

        let mut http = self.http.clone();
        std::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut http, cx)).await?;
        let tcp =
            tower_service::Service::call(&mut http, dst).await.map_err(|e| self.tcp_error(e.into()))?.into_inner();

        let Some(server_name) = server_name else {
            return Ok(MaybeHttpsStream::Http(TokioIo::new(tcp)));
        };
        match TlsConnector::from(self.tls.clone()).connect(server_name, tcp).await {
            Ok(tls) => Ok(MaybeHttpsStream::Https(Box::new(TokioIo::new(tls)))),
            Err(e) => {
                tracing::debug!(error = %e, "tls handshake failed");
                // Kept as is: its payload is the `rustls::Error`.
                Err(e.into())
            }
        }
    }

    /// Classifies a TCP connect that timed out as a [`ConnectTimeout`].
    fn tcp_error(&self, err: BoxError) -> BoxError {
        let timed_out = crate::tls::error_chain(&*err)
            .any(|e| e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::TimedOut));
        if timed_out { ConnectTimeout { after: self.connect_timeout, source: Some(err) }.into() } else { err }
    }
}

/// The TLS server name for `dst`'s host: a DNS name or an IP address.
pub(crate) fn server_name(dst: &Uri) -> Result<ServerName<'static>, InvalidDestination> {
    let host = dst.host().ok_or(InvalidDestination::MissingHost)?;
    // `Uri::host` keeps the brackets of an IPv6 literal.
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    ServerName::try_from(host.to_owned()).map_err(|e| InvalidDestination::InvalidServerName(host.to_owned(), e))
}

/// A connection made by [`Connector`]: plain TCP or TLS over TCP.
#[derive(Debug)]
pub(crate) enum MaybeHttpsStream {
    /// An `http` connection.
    Http(TokioIo<TcpStream>),
    /// An `https` connection.
    Https(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl MaybeHttpsStream {
    /// The TLS session, for an `https` connection.
    #[cfg(test)]
    pub(crate) fn tls(&self) -> Option<&rustls::ClientConnection> {
        match self {
            Self::Http(_) => None,
            Self::Https(s) => Some(s.inner().get_ref().1),
        }
    }
}

impl Connection for MaybeHttpsStream {
    fn connected(&self) -> Connected {
        match self {
            Self::Http(s) => s.connected(),
            Self::Https(s) => {
                let (tcp, session) = s.inner().get_ref();
                let connected = tcp.connected();
                if session.alpn_protocol() == Some(b"h2") { connected.negotiated_h2() } else { connected }
            }
        }
    }
}

impl Read for MaybeHttpsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(s) => Pin::new(s).poll_read(cx, buf),
            Self::Https(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl Write for MaybeHttpsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Http(s) => Pin::new(s).poll_write(cx, buf),
            Self::Https(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(s) => Pin::new(s).poll_flush(cx),
            Self::Https(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Http(s) => Pin::new(s).poll_shutdown(cx),
            Self::Https(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Http(s) => s.is_write_vectored(),
            Self::Https(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Http(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Https(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }
}
