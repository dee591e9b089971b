//! [`TlsProxy`]: terminates TLS on 127.0.0.1 and forwards the plaintext bytes to an upstream (e.g. a
//! real tus server that only speaks plain HTTP).
//!
//! The proxy forwards bytes, not HTTP, so the upstream must speak whatever protocol the client
//! negotiated. Plaintext upstreams rarely do h2c, so the proxy **only advertises ALPN `http/1.1`**,
//! whatever the given config says (a client that offers only `h2` fails the handshake). Upstreams see
//! the proxy's `Host`, so they may build `http://` `Location`s for an `https://` client (tus pitfall #2;
//! use an absolute-path Location or the client's handling of it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::server::tasks::Tasks;

struct Shared {
    connections: AtomicUsize,
    handshake_failures: AtomicUsize,
}

/// A running TLS-terminating proxy; dropping it closes the listener and every connection.
pub struct TlsProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    tasks: Tasks,
}

impl std::fmt::Debug for TlsProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProxy").field("addr", &self.addr).field("upstream", &self.upstream).finish_non_exhaustive()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl TlsProxy {
    /// Starts the proxy with (a copy of) `server_config`, its ALPN list replaced by `http/1.1`.
    pub async fn start(upstream: SocketAddr, server_config: Arc<rustls::ServerConfig>) -> Self {
        let mut config = (*server_config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared { connections: AtomicUsize::new(0), handshake_failures: AtomicUsize::new(0) });
        let tasks = Tasks::new();
        let (shared2, tasks2) = (shared.clone(), tasks.clone());
        tasks.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                shared2.connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, shared) = (acceptor.clone(), shared2.clone());
                tasks2.spawn(async move {
                    let _ = client.set_nodelay(true);
                    let accepted = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(client)).await;
                    let Ok(Ok(mut tls)) = accepted else {
                        shared.handshake_failures.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let Ok(Ok(mut up)) =
                        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(upstream)).await
                    else {
                        return;
                    };
                    let _ = up.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        Self { addr, upstream, shared, tasks }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT<path>` (the test leaf certificates carry an IP SAN for 127.0.0.1).
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("https://{}{path}", self.addr)).expect("valid url")
    }

    /// `https://localhost:PORT<path>`.
    pub fn localhost_url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("https://localhost:{}{path}", self.addr.port())).expect("valid url")
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections whose TLS handshake failed (or timed out after 10 s).
    pub fn handshake_failures(&self) -> usize {
        self.shared.handshake_failures.load(Ordering::SeqCst)
    }
}
