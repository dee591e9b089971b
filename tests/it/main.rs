//! The workspace's one integration-test binary. Each module says what belongs in it.

/// tus-client against the in-process server: exact request headers, every operation, faults, TLS.
mod client;
/// tus-client and tus-retry against real servers (rustus, @tus/server).
mod interop;
/// The real-server harness itself.
mod real_servers;
/// Reliability: the fault proxy in front of real servers, and the hostile-server catalogue.
mod reliability;
/// tus-retry flows against the in-process server, deterministic (fake sleeper, seeded jitter).
mod retry;
/// The test support code itself.
mod support_smoke;
