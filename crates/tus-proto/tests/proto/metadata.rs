//! `Upload-Metadata`: encoding what every server accepts, decoding what servers really echo.

use tus_proto::{Error, Metadata, MetadataError};

/// Pairs as written in the tables.
type Pairs<'a> = &'a [(&'a str, Option<&'a [u8]>)];

fn md(pairs: Pairs<'_>) -> Metadata {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

#[track_caller]
fn decoded(header: &str) -> Vec<(String, Option<Vec<u8>>)> {
    Metadata::decode(header)
        .unwrap_or_else(|e| panic!("{header:?}: {e}"))
        .iter()
        .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
        .collect()
}

fn pairs(list: Pairs<'_>) -> Vec<(String, Option<Vec<u8>>)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), v.map(<[u8]>::to_vec))).collect()
}

// ---------------------------------------------------------------------------------------------------
// Decoding.

#[test]
fn decode_aiotus_table() {
    let cases: &[(&str, Pairs<'_>)] = &[
        ("", &[]),
        ("key", &[("key", None)]),
        ("key ", &[("key", None)]),
        ("key dmFsdWU=", &[("key", Some(b"value"))]),
        ("k1, k2 dmFsdWU=", &[("k1", None), ("k2", Some(b"value"))]),
        ("k1 djE=, k2 djI=  ", &[("k1", Some(b"v1")), ("k2", Some(b"v2"))]),
    ];
    for (header, expected) in cases {
        assert_eq!(decoded(header), pairs(expected), "{header:?}");
    }
}

#[test]
fn decode_tolerates_what_servers_echo() {
    let cases: &[(&str, Pairs<'_>)] = &[
        // Reordered against what was sent.
        ("b Yg==,a YQ==", &[("b", Some(b"b")), ("a", Some(b"a"))]),
        // tusd re-serialises an empty value as `key ` with a trailing space.
        ("filename YS5iaW4=,empty ", &[("filename", Some(b"a.bin")), ("empty", None)]),
        // Unpadded base64.
        ("k djE", &[("k", Some(b"v1"))]),
        ("k YQ,l YWI", &[("k", Some(b"a")), ("l", Some(b"ab"))]),
        // Spaces and tabs around pairs and between key and value.
        ("  a YQ==  ,\tb  Yg==\t", &[("a", Some(b"a")), ("b", Some(b"b"))]),
        // Empty pairs and a trailing comma.
        ("a,,b,", &[("a", None), ("b", None)]),
        (",", &[]),
        ("   ", &[]),
        // Keys the encoder would refuse are still read back (a server's business).
        ("k\u{e9}y YQ==", &[("k\u{e9}y", Some(b"a"))]),
        // Non-UTF-8 values survive.
        ("bin //79", &[("bin", Some(&[0xff, 0xfe, 0xfd]))]),
        ("nul AA==", &[("nul", Some(&[0]))]),
    ];
    for (header, expected) in cases {
        assert_eq!(decoded(header), pairs(expected), "{header:?}");
    }
}

#[test]
fn decode_duplicate_key_keeps_the_last_value_in_the_first_position() {
    let m = Metadata::decode("a YQ==,b Yg==,a Yw==").unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m.get("a"), Some(&b"c"[..]));
    assert_eq!(m.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
    let m = Metadata::decode("a YQ==,a").unwrap();
    assert_eq!(m.entry("a"), Some(None));
}

#[test]
fn decode_errors() {
    let base64 = |key: &str, value: &str| MetadataError::InvalidBase64 { key: key.into(), value: value.into() };
    let cases: &[(&str, MetadataError)] = &[
        ("k1 dj&=", base64("k1", "dj&=")),
        ("k !!!", base64("k", "!!!")),
        // URL-safe alphabet is not the standard one.
        ("k _-8=", base64("k", "_-8=")),
        ("k =", base64("k", "=")),
        ("k Y", base64("k", "Y")),
        ("ok YQ==, k Y===", base64("k", "Y===")),
        ("k v v", MetadataError::MalformedPair("k v v".into())),
        ("a YQ==, k  YQ==  YQ== ", MetadataError::MalformedPair("k  YQ==  YQ==".into())),
    ];
    for (header, expected) in cases {
        let err = Metadata::decode(header).unwrap_err();
        assert_eq!(&err, expected, "{header:?}");
        assert!(err.is_decode());
        assert!(Error::from(err).is_protocol_violation());
    }
    assert_eq!(Metadata::decode_bytes(b"k \xff").unwrap_err(), MetadataError::NotUtf8);
    assert_eq!(Metadata::decode_bytes(b"k YQ==").unwrap().get("k"), Some(&b"a"[..]));
}

#[test]
fn decode_error_messages_say_what_was_sent() {
    assert_eq!(
        Metadata::decode("name !!").unwrap_err().to_string(),
        "value of key \"name\" is not valid base64: \"!!\""
    );
    assert_eq!(
        Metadata::decode("a b c").unwrap_err().to_string(),
        "malformed pair \"a b c\": expected `key` or `key base64value`"
    );
    assert_eq!(MetadataError::NotUtf8.to_string(), "header is not valid UTF-8");
}

// ---------------------------------------------------------------------------------------------------
// Encoding.

#[test]
fn encode_table() {
    let cases: &[(Pairs<'_>, &str)] = &[
        (&[], ""),
        (&[("filename", Some(b"photo.jpg"))], "filename cGhvdG8uanBn"),
        (&[("is_confidential", None)], "is_confidential"),
        // An empty value is sent as a bare key, without a trailing space.
        (&[("empty", Some(b""))], "empty"),
        // aiotus's functional case.
        (
            &[("k1", Some(b"1")), ("k2", Some("2\u{b2}".as_bytes())), ("k-3", Some(b"three"))],
            "k1 MQ==,k2 MsKy,k-3 dGhyZWU=",
        ),
        // No space after commas; order kept.
        (&[("z", Some(b"a")), ("a", None), ("m", Some(b"ab"))], "z YQ==,a,m YWI="),
        // Non-UTF-8 values and punctuation in keys.
        (&[("bin", Some(&[0xff, 0, 0x80])), ("x.y_z-1~!", Some(b"v"))], "bin /wCA,x.y_z-1~! dg=="),
    ];
    for (input, expected) in cases {
        assert_eq!(md(input).encode().unwrap(), *expected, "{input:?}");
    }
}

#[test]
fn encode_refuses_bad_keys() {
    let invalid = |key: &str, found: char| MetadataError::InvalidKey { key: key.into(), found };
    let cases: &[(Pairs<'_>, MetadataError)] = &[
        (&[("", Some(b"v"))], MetadataError::EmptyKey),
        (&[("ok", None), ("", None)], MetadataError::EmptyKey),
        // aiotus's three cases.
        (&[("k1", Some(b"v1")), ("k\u{b2}", Some(b"v2"))], invalid("k\u{b2}", '\u{b2}')),
        (&[("k1", Some(b"v1")), ("k 2", Some(b"v2"))], invalid("k 2", ' ')),
        (&[("k1", Some(b"v1")), ("k2,", Some(b"v2"))], invalid("k2,", ',')),
        (&[("tab\tkey", None)], invalid("tab\tkey", '\t')),
        (&[("new\nline", None)], invalid("new\nline", '\n')),
        (&[("nul\0", None)], invalid("nul\0", '\0')),
        (&[("del\x7f", None)], invalid("del\x7f", '\x7f')),
        (&[("caf\u{e9}", None)], invalid("caf\u{e9}", '\u{e9}')),
        (&[("a", Some(b"1")), ("b", None), ("a", Some(b"2"))], MetadataError::DuplicateKey("a".into())),
        (&[("a", None), ("a", None)], MetadataError::DuplicateKey("a".into())),
    ];
    for (input, expected) in cases {
        let m = md(input);
        assert_eq!(m.encode().unwrap_err(), *expected, "{input:?}");
        assert_eq!(m.validate().unwrap_err(), *expected, "{input:?}");
        assert!(!expected.is_decode());
        assert!(!Error::from(expected.clone()).is_protocol_violation());
    }
}

#[test]
fn encode_error_messages() {
    assert_eq!(MetadataError::EmptyKey.to_string(), "empty key");
    assert_eq!(
        md(&[("k 2", None)]).encode().unwrap_err().to_string(),
        "key \"k 2\" contains ' ', but keys must be ASCII without spaces, commas or control characters"
    );
    assert_eq!(MetadataError::DuplicateKey("a".into()).to_string(), "duplicate key \"a\"");
    assert_eq!(Error::from(MetadataError::EmptyKey).to_string(), "metadata: empty key");
}

// ---------------------------------------------------------------------------------------------------
// The map itself.

#[test]
fn map_operations() {
    let mut m = Metadata::new();
    assert!(m.is_empty());
    m.insert("a", "1").insert_key("b").insert("c", [0xffu8]);
    assert_eq!(m.len(), 3);
    // Replacing keeps the position.
    m.insert("a", "2");
    assert_eq!(m.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(m.get("a"), Some(&b"2"[..]));
    assert_eq!(m.get("b"), Some(&b""[..]));
    assert_eq!(m.entry("b"), Some(None));
    assert_eq!(m.get("zzz"), None);
    assert!(m.contains_key("b"));
    assert_eq!(m.remove("b"), Some(None));
    assert_eq!(m.remove("b"), None);
    assert!(!m.contains_key("b"));
    assert_eq!(m.encode().unwrap(), "a Mg==,c /w==");
    assert_eq!((&m).into_iter().count(), 2);
    assert_eq!(format!("{m:?}"), "{\"a\": \"2\", \"c\": [255]}");
    // `push` keeps duplicates so that encode can refuse them; `get` sees the last one.
    m.push("a", Some(b"3".to_vec()));
    assert_eq!(m.get("a"), Some(&b"3"[..]));
    assert_eq!(m.encode().unwrap_err(), MetadataError::DuplicateKey("a".into()));
}

#[test]
fn encode_then_decode_keeps_pairs() {
    let m = md(&[("filename", Some("r\u{e9}sum\u{e9}.pdf".as_bytes())), ("flag", None), ("bin", Some(&[0, 255]))]);
    let back = Metadata::decode(&m.encode().unwrap()).unwrap();
    assert_eq!(back, m);
}
