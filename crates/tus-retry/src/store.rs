use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::Digest as _;
use url::Url;

/// Where an interrupted upload can be found again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The upload URL.
    pub url: Url,
    /// The creation endpoint it was made at.
    pub endpoint: Url,
    /// The source's length.
    pub length: Option<u64>,
}

/// Maps a fingerprint of a source to the upload made from it, so an upload interrupted in one process
/// can be resumed by the next. `upload` looks here before creating, writes the entry once the server
/// has created the upload, and removes it on success.
pub trait UploadStore: Send + Sync + fmt::Debug {
    /// The upload stored under `key`.
    ///
    /// # Errors
    ///
    /// An `io::Error` from the storage.
    fn get(&self, key: &str) -> io::Result<Option<StoredUpload>>;
    /// Stores `upload` under `key`, replacing what was there.
    ///
    /// # Errors
    ///
    /// An `io::Error` from the storage.
    fn put(&self, key: &str, upload: &StoredUpload) -> io::Result<()>;
    /// Removes `key`; absent keys are fine.
    ///
    /// # Errors
    ///
    /// An `io::Error` from the storage.
    fn remove(&self, key: &str) -> io::Result<()>;
}

/// An [`UploadStore`] in memory, for tests and for resuming within one process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, StoredUpload>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredUpload>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl UploadStore for MemoryStore {
    fn get(&self, key: &str) -> io::Result<Option<StoredUpload>> {
        Ok(self.lock().get(key).cloned())
    }

    fn put(&self, key: &str, upload: &StoredUpload) -> io::Result<()> {
        self.lock().insert(key.to_owned(), upload.clone());
        Ok(())
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        self.lock().remove(key);
        Ok(())
    }
}

/// An [`UploadStore`] in a directory: one small text file per entry, named by the SHA-256 of its key,
/// written atomically (temporary file, then rename).
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir`, created if missing.
    ///
    /// # Errors
    ///
    /// The `io::Error` from creating the directory.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The conventional place: `$XDG_CACHE_HOME/tus-rs/uploads`, else `~/.cache/tus-rs/uploads`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("tus-rs").join("uploads"))
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        let digest = sha2::Sha256::digest(key.as_bytes());
        let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.upload"))
    }
}

impl UploadStore for FileStore {
    fn get(&self, key: &str) -> io::Result<Option<StoredUpload>> {
        let text = match std::fs::read_to_string(self.path(key)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                fields.insert(k, v);
            }
        }
        if fields.get("key") != Some(&key) {
            return Ok(None); // A hash collision or a stale file: not ours.
        }
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("resume entry has a bad {what}"));
        let url = fields.get("url").and_then(|u| Url::parse(u).ok()).ok_or_else(|| bad("url"))?;
        let endpoint = fields.get("endpoint").and_then(|u| Url::parse(u).ok()).ok_or_else(|| bad("endpoint"))?;
        let length = match fields.get("length") {
            None | Some(&"") => None,
            Some(l) => Some(l.parse().map_err(|_| bad("length"))?),
        };
        Ok(Some(StoredUpload { url, endpoint, length }))
    }

    fn put(&self, key: &str, upload: &StoredUpload) -> io::Result<()> {
        if key.contains('\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a resume key cannot contain a newline"));
        }
        let length = upload.length.map(|l| l.to_string()).unwrap_or_default();
        let text = format!("key={key}\nurl={}\nendpoint={}\nlength={length}\n", upload.url, upload.endpoint);
        let path = self.path(key);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trip() {
        let dir = std::env::temp_dir().join(format!("tus-store-{}", std::process::id()));
        let store = FileStore::new(&dir).unwrap();
        let entry = StoredUpload {
            url: Url::parse("http://h/files/a?token=x").unwrap(),
            endpoint: Url::parse("http://h/files/").unwrap(),
            length: Some(42),
        };
        assert_eq!(store.get("k").unwrap(), None);
        store.put("k", &entry).unwrap();
        assert_eq!(store.get("k").unwrap(), Some(entry.clone()));
        assert_eq!(store.get("other").unwrap(), None);
        store.remove("k").unwrap();
        store.remove("k").unwrap();
        assert_eq!(store.get("k").unwrap(), None);
        assert!(store.put("a\nb", &entry).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
