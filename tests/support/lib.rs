//! Support code for the workspace's integration tests (`tests/it`).
//!
//! - [`server`]: an in-process tus server on 127.0.0.1 that behaves as a correct tus 1.0.0 server and can
//!   inject faults on demand, with a log of every request it saw.
//! - [`hostile`]: a raw TCP server that answers each request with scripted bytes, broken on purpose.
//! - [`proxy`]: a fault-injecting TCP proxy (seeded cuts, stalls, resets) to put in front of any server.
//! - [`certs`]: test-time certificates made with rcgen, and [`tls_proxy`], a TLS-terminating proxy.
//! - [`real`]: the real servers (rustus, @tus/server) installed by `cargo xtask servers install`.
#![allow(unreachable_pub, missing_debug_implementations)]

pub mod certs;
pub mod hostile;
pub mod proxy;
pub mod real;
pub mod server;
pub mod tls_proxy;
pub mod util;
