//! The workspace's one integration-test binary. Each module says what belongs in it.

mod real_servers;
mod support_smoke;
