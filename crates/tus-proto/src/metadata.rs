use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

/// Upload metadata: an ordered map from string keys to optional byte values, as aiotus's
/// `Mapping[str, Optional[bytes]]`.
///
/// On the wire it is the `Upload-Metadata` header: comma-separated `key base64(value)` pairs, or a bare
/// `key` when the value is absent. [`Metadata::encode`] writes what every known server accepts (no space
/// after commas, standard padded base64, a bare key for an absent or empty value); [`Metadata::decode`]
/// reads what servers really echo back (any order, bare keys, `key ` with a trailing space, unpadded
/// base64, spaces around pairs).
///
/// ```
/// use tus_proto::Metadata;
///
/// let mut md = Metadata::new();
/// md.insert("filename", "photo.jpg");
/// md.insert_key("is_confidential");
/// assert_eq!(md.encode()?, "filename cGhvdG8uanBn,is_confidential");
///
/// let back = Metadata::decode("is_confidential,filename cGhvdG8uanBn")?;
/// assert_eq!(back.get("filename"), Some(&b"photo.jpg"[..]));
/// assert!(back.contains_key("is_confidential"));
/// # Ok::<(), tus_proto::MetadataError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, Option<Vec<u8>>)>,
}

/// Why metadata could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// A key is empty.
    #[error("empty key")]
    EmptyKey,
    /// A key holds a character the header cannot carry (a space, a comma, a control character or non-ASCII).
    #[error("key {key:?} contains {found:?}, but keys must be ASCII without spaces, commas or control characters")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// The first character that is not allowed.
        found: char,
    },
    /// The same key appears twice.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// A value in a received header is not valid base64.
    #[error("value of key {key:?} is not valid base64: {value:?}")]
    InvalidBase64 {
        /// The key whose value is broken.
        key: String,
        /// The value as sent.
        value: String,
    },
    /// A pair in a received header is not `key` or `key base64`.
    #[error("malformed pair {0:?}: expected `key` or `key base64value`")]
    MalformedPair(String),
    /// A received header is not UTF-8.
    #[error("header is not valid UTF-8")]
    NotUtf8,
}

impl MetadataError {
    /// Whether this error comes from decoding what a server sent (rather than encoding the caller's input).
    pub fn is_decode(&self) -> bool {
        matches!(self, Self::InvalidBase64 { .. } | Self::MalformedPair(_) | Self::NotUtf8)
    }
}

/// Lenient decoding: the standard alphabet, padding optional.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value in place (the key keeps its position).
    pub fn insert(&mut self, key: impl Into<String>, value: impl AsRef<[u8]>) -> &mut Self {
        self.set(key.into(), Some(value.as_ref().to_vec()))
    }

    /// Sets `key` with no value (sent as a bare key), replacing an earlier value in place.
    pub fn insert_key(&mut self, key: impl Into<String>) -> &mut Self {
        self.set(key.into(), None)
    }

    fn set(&mut self, key: String, value: Option<Vec<u8>>) -> &mut Self {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
        self
    }

    /// Appends a pair without checking for an earlier one with the same key.
    ///
    /// This keeps input as given (for example from a command line) so that [`Metadata::encode`] can
    /// report a duplicate instead of silently keeping one of the values.
    pub fn push(&mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> &mut Self {
        self.entries.push((key.into(), value));
        self
    }

    /// The value of `key`: `None` if the key is absent, `Some(b"")` for a key without a value.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entry(key).map(|v| v.map_or(&[][..], Vec::as_slice))
    }

    /// The value of `key` as stored: `None` if absent, `Some(None)` for a key without a value.
    pub fn entry(&self, key: &str) -> Option<Option<&Vec<u8>>> {
        self.entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// Whether `key` is present, with or without a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Option<Vec<u8>>> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encodes the map as an `Upload-Metadata` value.
    ///
    /// An absent or empty value becomes a bare key. Pairs are joined by `,` with no space.
    ///
    /// # Errors
    ///
    /// [`MetadataError::EmptyKey`], [`MetadataError::InvalidKey`] or [`MetadataError::DuplicateKey`].
    pub fn encode(&self) -> Result<String, MetadataError> {
        self.validate()?;
        let mut out = String::new();
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                out.push(' ');
                STANDARD.encode_string(value, &mut out);
            }
        }
        Ok(out)
    }

    /// Checks every key as [`Metadata::encode`] does, without encoding.
    ///
    /// # Errors
    ///
    /// As [`Metadata::encode`].
    pub fn validate(&self) -> Result<(), MetadataError> {
        for (i, (key, _)) in self.entries.iter().enumerate() {
            validate_key(key)?;
            if self.entries[..i].iter().any(|(k, _)| k == key) {
                return Err(MetadataError::DuplicateKey(key.clone()));
            }
        }
        Ok(())
    }

    /// Decodes an `Upload-Metadata` value as servers echo it.
    ///
    /// Accepts any order, bare keys, a trailing space after a key, spaces around pairs, empty pairs (a
    /// trailing comma) and base64 with or without padding. A key that appears twice keeps its last
    /// value, as in aiotus.
    ///
    /// # Errors
    ///
    /// [`MetadataError::InvalidBase64`] or [`MetadataError::MalformedPair`].
    pub fn decode(header: &str) -> Result<Self, MetadataError> {
        let mut md = Self::new();
        for pair in header.split(',') {
            let mut parts = pair.split_ascii_whitespace();
            let Some(key) = parts.next() else {
                continue; // Empty pair: tolerate "a,,b" and a trailing comma.
            };
            let value = parts.next();
            if parts.next().is_some() {
                return Err(MetadataError::MalformedPair(pair.trim().to_owned()));
            }
            let value = match value {
                None => None,
                Some(v) => Some(
                    LENIENT
                        .decode(v)
                        .map_err(|_| MetadataError::InvalidBase64 { key: key.to_owned(), value: v.to_owned() })?,
                ),
            };
            md.set(key.to_owned(), value);
        }
        Ok(md)
    }

    /// Decodes raw header bytes; see [`Metadata::decode`].
    ///
    /// # Errors
    ///
    /// As [`Metadata::decode`], and [`MetadataError::NotUtf8`].
    pub fn decode_bytes(header: &[u8]) -> Result<Self, MetadataError> {
        Self::decode(std::str::from_utf8(header).map_err(|_| MetadataError::NotUtf8)?)
    }
}

fn validate_key(key: &str) -> Result<(), MetadataError> {
    if key.is_empty() {
        return Err(MetadataError::EmptyKey);
    }
    if let Some(found) = key.chars().find(|c| !c.is_ascii_graphic() || *c == ',') {
        return Err(MetadataError::InvalidKey { key: key.to_owned(), found });
    }
    Ok(())
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.entries {
            match v {
                None => map.entry(k, &None::<()>),
                Some(v) => match std::str::from_utf8(v) {
                    Ok(s) => map.entry(k, &s),
                    Err(_) => map.entry(k, &v),
                },
            };
        }
        map.finish()
    }
}

impl<K: Into<String>, V: AsRef<[u8]>> FromIterator<(K, Option<V>)> for Metadata {
    /// Collects pairs with [`Metadata::push`]: duplicates are kept, for [`Metadata::encode`] to refuse.
    fn from_iter<I: IntoIterator<Item = (K, Option<V>)>>(iter: I) -> Self {
        let mut md = Self::new();
        for (k, v) in iter {
            md.push(k, v.map(|v| v.as_ref().to_vec()));
        }
        md
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, Option<&'a [u8]>);
    type IntoIter = Box<dyn Iterator<Item = Self::Item> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
