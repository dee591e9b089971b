//! Integration tests of tus-proto through its public API: one test binary.
//!
//! - `headers`: table-driven parse and encode cases for every typed header.
//! - `metadata`: `Upload-Metadata` encoding and decoding.
//! - `requests`: the exact headers of every request plan and the response interpreters.
//! - `proptests`: property tests, among them the upload state machine against a misbehaving server.
//! - `checks` and `sim`: parser checks and the simulated server, shared with the fuzz targets.

mod checks;
mod headers;
mod metadata;
mod proptests;
mod requests;
mod sim;
