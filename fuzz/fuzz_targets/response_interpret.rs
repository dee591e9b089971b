//! A response head built from the input, fed to every interpreter (creation, HEAD, PATCH, OPTIONS,
//! DELETE): never panics, and what is accepted is within the protocol's bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tus-proto/tests/proto/checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::interpret_all(&checks::response_from_bytes(data));
});
