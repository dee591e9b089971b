//! `tus-tls-proxy`: terminates TLS on 127.0.0.1 and forwards the plaintext to an upstream, for
//! `cargo xtask bench`'s TLS-cost measurement. Build it in release mode.
//!
//! ```text
//! tus-tls-proxy --upstream 127.0.0.1:PORT --cert-dir DIR
//! ```
//!
//! Makes a test PKI with rcgen (`tus_tests::certs::TestPki`), writes it under DIR (the CA is
//! `DIR/ca.pem`; the leaf is valid for `127.0.0.1` and `localhost`), then prints `LISTENING <port>`.
//! ALPN is `http/1.1` only. Bytes are copied with 256 KiB buffers each way (the test-suite proxy's
//! 8 KiB would be the bottleneck). One thread. Exits when stdin closes.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tus_tests::certs::{TestPki, server_config};

const BUFFER: usize = 256 * 1024;

fn main() -> std::io::Result<()> {
    let (mut upstream, mut dir) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--upstream", Some(v)) => upstream = Some(v.parse::<SocketAddr>().map_err(std::io::Error::other)?),
            ("--cert-dir", Some(v)) => dir = Some(PathBuf::from(v)),
            _ => return Err(std::io::Error::other("usage: tus-tls-proxy --upstream ADDR --cert-dir DIR")),
        }
    }
    let (Some(upstream), Some(dir)) = (upstream, dir) else {
        return Err(std::io::Error::other("usage: tus-tls-proxy --upstream ADDR --cert-dir DIR"));
    };
    let pki = TestPki::new();
    std::fs::create_dir_all(&dir)?;
    pki.write_to(&dir)?;
    let mut config = (*server_config(&pki.server, None)).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    exit_when_stdin_closes();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(serve(upstream, acceptor))
}

async fn serve(upstream: SocketAddr, acceptor: TlsAcceptor) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    loop {
        let (client, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(mut tls) = acceptor.accept(client).await else { return };
            let Ok(mut up) = TcpStream::connect(upstream).await else { return };
            let _ = up.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional_with_sizes(&mut tls, &mut up, BUFFER, BUFFER).await;
        });
    }
}

/// Stdin reaching EOF (the harness went away) ends the process.
fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        while std::io::Read::read(&mut std::io::stdin(), &mut buf).is_ok_and(|n| n > 0) {}
        std::process::exit(0);
    });
}
