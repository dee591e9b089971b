//! Property tests: metadata round trips, parsers that never panic, and the upload state machine against
//! a randomly misbehaving server.

use http::HeaderValue;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tus_proto::header::{TusHeader, UploadLength, UploadOffset};
use tus_proto::{Metadata, UploadConcat, resolve_location};

use crate::checks::{self, HEADER_NAMES};
use crate::sim::{self, Choices, Scenario};

/// Keys `Metadata::encode` accepts: printable ASCII without space or comma.
fn key() -> impl Strategy<Value = String> {
    "[!-+\\--~]{1,12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn metadata_round_trip(entries in vec((key(), option::of(vec(any::<u8>(), 0..48))), 0..10)) {
        let mut md = Metadata::new();
        for (k, v) in &entries {
            match v {
                Some(v) => md.insert(k.clone(), v),
                None => md.insert_key(k.clone()),
            };
        }
        let encoded = md.encode().unwrap();
        prop_assert!(HeaderValue::from_str(&encoded).is_ok(), "not a header value: {encoded:?}");
        prop_assert!(!encoded.contains(", "), "a space after a comma: {encoded:?}");
        prop_assert!(!encoded.ends_with(' '), "a trailing space: {encoded:?}");
        let decoded = Metadata::decode(&encoded).unwrap();
        // An empty value is sent as a bare key, so it comes back as no value.
        let normalised: Vec<(&str, Option<&[u8]>)> =
            md.iter().map(|(k, v)| (k, v.filter(|v| !v.is_empty()))).collect();
        prop_assert_eq!(decoded.iter().collect::<Vec<_>>(), normalised);
        // And it decodes the same from raw bytes, with the spacing servers add.
        let spaced = encoded.replace(',', " , ") + " ,";
        prop_assert_eq!(Metadata::decode_bytes(spaced.as_bytes()).unwrap(), decoded);
    }

    #[test]
    fn metadata_unpadded_values_decode(k in key(), v in vec(any::<u8>(), 1..40)) {
        let mut md = Metadata::new();
        md.insert(k.clone(), &v);
        let unpadded = md.encode().unwrap().trim_end_matches('=').to_owned();
        let decoded = Metadata::decode(&unpadded).unwrap();
        prop_assert_eq!(decoded.get(&k), Some(&v[..]));
    }

    #[test]
    fn metadata_decode_never_panics(s in ".{0,200}") {
        let _ = Metadata::decode(&s);
    }

    #[test]
    fn metadata_decode_structured_noise(s in "[a-zA-Z0-9+/= ,\t]{0,120}") {
        if let Ok(md) = Metadata::decode(&s) {
            // Whatever decodes re-encodes to something that decodes to the same (keys here are valid).
            let again = Metadata::decode(&md.encode().unwrap()).unwrap();
            let normalised: Vec<(&str, Option<&[u8]>)> =
                md.iter().map(|(k, v)| (k, v.filter(|v| !v.is_empty()))).collect();
            prop_assert_eq!(again.iter().collect::<Vec<_>>(), normalised);
        }
    }

    #[test]
    fn metadata_decode_bytes_never_panics(b in vec(any::<u8>(), 0..200)) {
        checks::metadata(&b);
    }

    #[test]
    fn header_parsers_never_panic_and_round_trip(b in vec(any::<u8>(), 0..80)) {
        checks::all_headers(&b);
    }

    #[test]
    fn header_parsers_on_header_like_text(s in "[ -~]{0,60}") {
        checks::all_headers(s.as_bytes());
    }

    #[test]
    fn numbers_round_trip(n in any::<u64>(), pad in 0usize..4, ws in "[ \t]{0,2}") {
        let text = format!("{ws}{}{n}{ws}", "0".repeat(pad));
        prop_assert_eq!(UploadOffset::parse(text.as_bytes()).unwrap(), UploadOffset(n));
        prop_assert_eq!(UploadLength::parse(UploadLength(n).encode().as_bytes()).unwrap(), UploadLength(n));
    }

    #[test]
    fn numbers_agree_with_a_strict_reading(s in "[ 0-9+\\-a.]{0,24}") {
        let trimmed = s.trim();
        let strict = (!trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()))
            .then(|| trimmed.parse::<u64>().ok())
            .flatten();
        prop_assert_eq!(UploadOffset::parse(s.as_bytes()).ok().map(|o| o.0), strict);
    }

    #[test]
    fn upload_concat_final_round_trip(parts in vec("[!-~]{1,20}", 1..5)) {
        let concat = UploadConcat::Final(parts);
        prop_assert_eq!(UploadConcat::parse(concat.encode().as_bytes()).unwrap(), concat);
    }

    #[test]
    fn location_resolution_never_panics(b in vec(any::<u8>(), 0..60), s in "[ -~]{0,40}") {
        let base = url::Url::parse("https://tus.example/files/").unwrap();
        for input in [&b[..], s.as_bytes()] {
            if let Ok(u) = resolve_location(&base, input) {
                prop_assert!(matches!(u.scheme(), "http" | "https"));
                prop_assert!(u.host_str().is_some_and(|h| !h.is_empty()));
            }
        }
    }

    #[test]
    fn interpreters_never_panic(status in 100u16..1000, headers in vec((0usize..HEADER_NAMES.len(), value()), 0..8)) {
        checks::interpret_all(&checks::response_head(status, &headers));
    }

    #[test]
    fn interpreters_on_raw_bytes(b in vec(any::<u8>(), 0..200)) {
        checks::interpret_all(&checks::response_from_bytes(&b));
    }

    /// Invariants 1 to 5 of `sim`, with a generated scenario and random server decisions.
    #[test]
    fn upload_machine_against_a_misbehaving_server(
        length in prop_oneof![Just(0u64), 1u64..8, 8u64..200],
        deferred in any::<bool>(),
        chunk_size in prop_oneof![1u64..4, 4u64..64],
        creation_with_upload in any::<bool>(),
        checksum in any::<bool>(),
        decisions in vec(any::<u8>(), 0..400),
    ) {
        let scenario = Scenario { length, deferred, chunk_size, creation_with_upload, checksum };
        let report = sim::run(&scenario, &mut Choices::new(&decisions));
        prop_assert!(report.steps >= 1);
        prop_assert!(report.counts[0] >= 1, "no creation");
    }

    /// The same, reading the scenario from the bytes as the fuzz target does.
    #[test]
    fn upload_machine_from_raw_bytes(bytes in vec(any::<u8>(), 0..600)) {
        let mut choices = Choices::new(&bytes);
        let scenario = Scenario::from_choices(&mut choices);
        sim::run(&scenario, &mut choices);
    }
}

/// A correct server from the start: no retries, and the request count is exactly what chunking needs.
#[test]
fn upload_machine_against_a_correct_server() {
    for length in [0u64, 1, 5, 64, 100] {
        for chunk_size in [1u64, 3, 64, 200] {
            for deferred in [false, true] {
                for creation_with_upload in [false, true] {
                    let scenario = Scenario { length, deferred, chunk_size, creation_with_upload, checksum: true };
                    let report = sim::run(&scenario, &mut Choices::new(&[]));
                    assert_eq!(report.restarts, 0);
                    assert_eq!(report.counts[0], 1, "{scenario:?}");
                    assert_eq!(report.counts[1], 0, "no HEAD is needed: {scenario:?}");
                    let with_post = if creation_with_upload && (!deferred || length <= chunk_size) {
                        length.min(chunk_size)
                    } else {
                        0
                    };
                    // The driver declares a deferred length as soon as the end is within the next chunk, so
                    // no empty PATCH is ever needed to declare it.
                    let data_patches = (length - with_post).div_ceil(chunk_size);
                    assert_eq!(report.counts[2], data_patches, "{scenario:?}");
                }
            }
        }
    }
}

/// Many runs against a misbehaving server really do exercise restarts and recoveries.
#[test]
fn upload_machine_simulation_covers_the_bad_paths() {
    let mut restarts = 0;
    let mut heads = 0;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect();
        let mut choices = Choices::new(&bytes);
        let scenario = Scenario::from_choices(&mut choices);
        let report = sim::run(&scenario, &mut choices);
        restarts += report.restarts;
        heads += report.counts[1];
        assert!(report.honest_steps <= report.steps);
    }
    assert!(restarts > 10, "only {restarts} restarts");
    assert!(heads > 300, "only {heads} HEADs");
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..30),
        "[0-9]{0,22}".prop_map(String::into_bytes),
        "[ -~]{0,30}".prop_map(String::into_bytes),
    ]
}
