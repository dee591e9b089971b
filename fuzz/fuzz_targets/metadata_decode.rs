//! `Upload-Metadata` decoding: never panics; what decodes with valid keys survives encode and decode.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tus-proto/tests/proto/checks.rs"]
#[allow(dead_code)]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::metadata(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tus_proto::Metadata::decode(text);
    }
});
