//! Criterion micro-benchmarks of `tus-proto`: see `benches/proto.rs`. Run them with
//! `cargo xtask bench --only criterion` (or `cargo bench -p tus-benches`).
//!
//! A separate, non-default workspace member so that criterion's dependencies stay out of
//! `cargo test` of the default members.
