//! Every typed header's parser: never panics, and what parses encodes to a value that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tus-proto/tests/proto/checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::all_headers(data);
});
