use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Mutex;

/// How many bytes one read from a file or a reader asks for.
pub(crate) const PIECE: usize = 256 * 1024;

/// The bytes of an upload: a file, bytes in memory, or any `AsyncRead`.
///
/// Cheap to clone; clones share the underlying file or stream. Nothing is buffered whole:
/// - a file is read with positioned reads (`pread`) on a blocking thread, piece by piece, as the body
///   is sent;
/// - bytes in memory are sent as zero-copy slices;
/// - a reader is forward-only, so it keeps the bytes the server has not confirmed yet (about one
///   chunk) and no more: [`Source::release`] drops what the server confirmed.
///
/// ```no_run
/// use tus_client::Source;
///
/// let file = Source::file("video.mp4")?;
/// let memory = Source::bytes(vec![0u8; 1024]);
/// let stdin = Source::reader(tokio::io::stdin());
/// assert_eq!(memory.len(), Some(1024));
/// assert_eq!(stdin.len(), None);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Source {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    File { file: Arc<std::fs::File>, base: u64, len: u64, path: Option<PathBuf>, pool: Arc<BufferPool> },
    Bytes(Bytes),
    Reader { state: Arc<Mutex<ReaderState>>, len: Option<u64> },
}

struct ReaderState {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Retained pieces, contiguous, starting at `base`.
    pieces: VecDeque<Bytes>,
    /// The first byte still held. It may lie past `end` after a release beyond what was read (a resumed
    /// upload): the bytes up to it are then discarded as they are read, never retained.
    base: u64,
    /// The offset just past the last byte read.
    end: u64,
    eof: bool,
}

/// The source ended before the range a request needed, or released bytes were asked for again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The bytes before `released` were dropped after the server confirmed them; a forward-only source
    /// cannot send them again. This happens when a server loses data it had confirmed.
    #[error(
        "bytes before offset {released} were released after the server confirmed them; this source cannot rewind to {wanted}"
    )]
    CannotRewind {
        /// The first byte still held.
        released: u64,
        /// The offset asked for.
        wanted: u64,
    },
    /// The source holds more bytes than the upload's length (a reader sent to an existing upload).
    #[error("the source goes on past the upload's length {length}")]
    TooLong {
        /// The upload's length.
        length: u64,
    },
    /// The source holds fewer bytes than its declared length (a file that shrank, a short stream).
    #[error("the source ended at byte {ended}, before byte {needed}")]
    TooShort {
        /// Where it ended.
        ended: u64,
        /// Where it was expected to go on to.
        needed: u64,
    },
}

impl Source {
    /// A file, opened at `path`; its current size is the upload's length.
    ///
    /// # Errors
    ///
    /// The `io::Error` from opening or inspecting the file.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)?;
        let mut source = Self::from_file(file)?;
        if let Kind::File { path: p, .. } = &mut source.kind {
            *p = Some(path.to_owned());
        }
        Ok(source)
    }

    /// An open file; its current size is the upload's length.
    ///
    /// # Errors
    ///
    /// The `io::Error` from inspecting the file; a file that is not a regular file is refused.
    pub fn from_file(file: std::fs::File) -> io::Result<Self> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file; use Source::reader"));
        }
        let pool = Arc::new(BufferPool::default());
        Ok(Self { kind: Kind::File { file: Arc::new(file), base: 0, len: meta.len(), path: None, pool } })
    }

    /// Bytes in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Self { kind: Kind::Bytes(bytes.into()) }
    }

    /// A forward-only reader of unknown length, such as stdin or a pipe. Uploads from it use
    /// creation-defer-length.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        Self::reader_inner(Box::new(reader), None)
    }

    /// A forward-only reader that will yield exactly `len` bytes.
    pub fn reader_with_length(reader: impl AsyncRead + Send + Unpin + 'static, len: u64) -> Self {
        Self::reader_inner(Box::new(reader), Some(len))
    }

    fn reader_inner(reader: Box<dyn AsyncRead + Send + Unpin>, len: Option<u64>) -> Self {
        let state = ReaderState { reader, pieces: VecDeque::new(), base: 0, end: 0, eof: false };
        Self { kind: Kind::Reader { state: Arc::new(Mutex::new(state)), len } }
    }

    /// The length in bytes, if known.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            Kind::File { len, .. } => Some(*len),
            Kind::Bytes(b) => Some(b.len() as u64),
            Kind::Reader { len, .. } => *len,
        }
    }

    /// Whether the length is known to be zero.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Whether any range can be read again, from the start (files and memory, not readers).
    pub fn is_seekable(&self) -> bool {
        !matches!(self.kind, Kind::Reader { .. })
    }

    /// The bytes `range` of this source as a source of their own (offset 0 is `range.start`), sharing the
    /// file or memory. For splitting one upload into parallel parts.
    ///
    /// # Errors
    ///
    /// [`std::io::ErrorKind::InvalidInput`] for a reader (it cannot be split) or a range past the end.
    pub fn slice(&self, range: std::ops::Range<u64>) -> io::Result<Self> {
        let refuse = || {
            io::Error::new(io::ErrorKind::InvalidInput, "only a file or memory source can be sliced, within its length")
        };
        if !self.len().is_some_and(|len| range.start <= range.end && range.end <= len) {
            return Err(refuse());
        }
        let kind = match &self.kind {
            Kind::File { file, base, path, pool, .. } => Kind::File {
                file: Arc::clone(file),
                base: base + range.start,
                len: range.end - range.start,
                path: path.clone(),
                pool: Arc::clone(pool),
            },
            Kind::Bytes(b) => Kind::Bytes(b.slice(range.start as usize..range.end as usize)),
            Kind::Reader { .. } => return Err(refuse()),
        };
        Ok(Self { kind })
    }

    /// The file's path, for a source made with [`Source::file`].
    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::File { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The file's metadata, for a file source (size and modification time make a resume fingerprint).
    pub fn file_metadata(&self) -> Option<io::Result<std::fs::Metadata>> {
        match &self.kind {
            Kind::File { file, .. } => Some(file.metadata()),
            _ => None,
        }
    }

    /// Drops retained bytes before `offset`, once the server has confirmed them. Only readers retain
    /// anything; for files and memory this does nothing.
    pub async fn release(&self, offset: u64) {
        if let Kind::Reader { state, .. } = &self.kind {
            state.lock().await.release(offset);
        }
    }

    /// How many bytes are available from `offset`, up to `want`, reading ahead as needed. Fewer than
    /// `want` means the source ends at `offset + returned`.
    ///
    /// # Errors
    ///
    /// An `io::Error` from reading, or [`SourceError::CannotRewind`] (as `io::Error`) for released bytes.
    pub async fn available(&self, offset: u64, want: u64) -> io::Result<u64> {
        match &self.kind {
            Kind::File { len, .. } => Ok(len.saturating_sub(offset).min(want)),
            Kind::Bytes(b) => Ok((b.len() as u64).saturating_sub(offset).min(want)),
            Kind::Reader { state, .. } => {
                let mut state = state.lock().await;
                state.check_rewind(offset)?;
                let target = offset.saturating_add(want);
                while state.end < target && !state.eof {
                    let want = target - state.end;
                    state.read_more(want).await?;
                }
                Ok(state.end.min(target).saturating_sub(offset))
            }
        }
    }

    /// Reads at most `max` bytes at `offset`, as one contiguous piece. Returns an empty piece only at the
    /// end of the source.
    pub(crate) async fn read_at(&self, offset: u64, max: usize) -> io::Result<Bytes> {
        match &self.kind {
            Kind::Bytes(b) => {
                let len = b.len() as u64;
                let start = offset.min(len) as usize;
                let end = start + max.min(b.len() - start);
                Ok(b.slice(start..end))
            }
            Kind::File { file, base, len, pool, .. } => {
                let (file, pool) = (Arc::clone(file), Arc::clone(pool));
                let max = (max as u64).min(len.saturating_sub(offset)).min(PIECE as u64 * 4) as usize;
                let at = base + offset;
                tokio::task::spawn_blocking(move || pread(&file, at, max, &pool))
                    .await
                    .map_err(|e| io::Error::other(format!("file read task failed: {e}")))?
            }
            Kind::Reader { state, .. } => {
                let mut state = state.lock().await;
                state.check_rewind(offset)?;
                while state.end <= offset && !state.eof {
                    let need = (offset - state.end).saturating_add(max as u64);
                    state.read_more(need).await?;
                }
                Ok(state.slice(offset, max))
            }
        }
    }
}

/// Reads up to `max` bytes at `offset` into a buffer of `pool`; the piece gives the buffer back to the
/// pool when the connection has written it and dropped the last reference.
fn pread(file: &std::fs::File, offset: u64, max: usize, pool: &Arc<BufferPool>) -> io::Result<Bytes> {
    let mut buf = pool.take(max);
    let mut filled = 0;
    while filled < max {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf[filled..max], offset + filled as u64);
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(file, &mut buf[filled..max], offset + filled as u64);
        match n {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                pool.give(buf);
                return Err(e);
            }
        }
    }
    if filled == 0 {
        pool.give(buf);
        return Ok(Bytes::new());
    }
    Ok(Bytes::from_owner(Pooled { buf, len: filled, pool: Arc::clone(pool) }))
}

/// Read buffers of one file source (shared by its clones and slices), reused from piece to piece: a
/// piece's buffer comes back once hyper has written and dropped it, so a file upload allocates and
/// zeroes a few buffers once instead of one per piece.
#[derive(Debug, Default)]
struct BufferPool {
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

/// Free buffers a pool keeps; more are dropped (one body holds two pieces at most: the one being
/// written and the one read ahead).
const POOL_KEEP: usize = 4;

impl BufferPool {
    /// A zero-initialised or reused buffer of at least `len` bytes (its length is its capacity).
    fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            free.iter().position(|b| b.len() >= len).map(|i| free.swap_remove(i))
        };
        reused.unwrap_or_else(|| vec![0; len])
    }

    fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if free.len() < POOL_KEEP {
            free.push(buf);
        }
    }
}

/// A piece read into a pooled buffer; returns the buffer to its pool on drop.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

impl ReaderState {
    fn check_rewind(&self, offset: u64) -> io::Result<()> {
        if offset < self.base {
            return Err(io::Error::other(SourceError::CannotRewind { released: self.base, wanted: offset }));
        }
        Ok(())
    }

    async fn read_more(&mut self, want: u64) -> io::Result<()> {
        let size = want.clamp(1, PIECE as u64) as usize;
        let mut buf = BytesMut::with_capacity(size);
        let n = self.reader.read_buf(&mut buf).await?;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        let start = self.end;
        self.end += n as u64;
        if self.end > self.base {
            // Keep only what lies at or after `base`; a released prefix is dropped as it is read.
            let skip = self.base.saturating_sub(start) as usize;
            self.pieces.push_back(buf.freeze().slice(skip..));
        }
        Ok(())
    }

    fn slice(&self, offset: u64, max: usize) -> Bytes {
        let mut start = self.base;
        for piece in &self.pieces {
            let end = start + piece.len() as u64;
            if offset < end {
                let from = (offset - start) as usize;
                let to = piece.len().min(from + max);
                return piece.slice(from..to);
            }
            start = end;
        }
        Bytes::new()
    }

    fn release(&mut self, offset: u64) {
        while let Some(front) = self.pieces.front() {
            let front_end = self.base + front.len() as u64;
            if front_end <= offset {
                self.base = front_end;
                self.pieces.pop_front();
            } else {
                break;
            }
        }
        if self.pieces.is_empty() && offset > self.base {
            self.base = offset;
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::File { len, path, .. } => {
                f.debug_struct("Source::File").field("len", len).field("path", path).finish()
            }
            Kind::Bytes(b) => f.debug_struct("Source::Bytes").field("len", &b.len()).finish(),
            Kind::Reader { len, .. } => f.debug_struct("Source::Reader").field("len", len).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reader_keeps_only_unconfirmed_bytes() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let source = Source::reader(std::io::Cursor::new(data.clone()));
        assert_eq!(source.available(0, 300_000).await.unwrap(), 300_000);
        let piece = source.read_at(100, 10).await.unwrap();
        assert_eq!(&piece[..], &data[100..110]);
        source.release(290_000).await;
        let err = source.read_at(0, 10).await.unwrap_err();
        assert!(err.to_string().contains("cannot rewind"), "{err}");
        // Reading forward still works after a release, and the end is found.
        assert_eq!(source.available(900_000, 200_000).await.unwrap(), 100_000);
        let piece = source.read_at(999_990, 100).await.unwrap();
        assert_eq!(&piece[..], &data[999_990..]);
        assert!(source.read_at(1_000_000, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_reader_released_ahead_of_what_was_read_discards_instead_of_retaining() {
        // A resumed upload of a reader: the server holds 600_000 bytes, so they are skipped, not kept.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let source = Source::reader(std::io::Cursor::new(data.clone()));
        source.release(600_000).await;
        assert_eq!(source.available(600_000, 1_000_000).await.unwrap(), 400_000);
        let Kind::Reader { state, .. } = &source.kind else { unreachable!() };
        let retained: usize = state.lock().await.pieces.iter().map(Bytes::len).sum();
        assert_eq!(retained, 400_000, "only bytes from the released offset on are kept");
        assert_eq!(&source.read_at(600_000, 10).await.unwrap()[..], &data[600_000..600_010]);
        assert!(source.read_at(599_999, 1).await.is_err());
    }

    #[tokio::test]
    async fn file_reads_are_positioned() {
        let dir = std::env::temp_dir().join(format!("tus-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let source = Source::file(&path).unwrap();
        assert_eq!(source.len(), Some(100_000));
        assert_eq!(&source.read_at(5000, 100).await.unwrap()[..], &data[5000..5100]);
        assert_eq!(&source.read_at(99_990, 100).await.unwrap()[..], &data[99_990..]);
        assert!(source.read_at(100_000, 100).await.unwrap().is_empty());
        let part = source.slice(40_000..60_000).unwrap();
        assert_eq!(part.len(), Some(20_000));
        assert_eq!(&part.read_at(0, 10).await.unwrap()[..], &data[40_000..40_010]);
        assert_eq!(&part.read_at(19_990, 100).await.unwrap()[..], &data[59_990..60_000]);
        assert!(part.read_at(20_000, 100).await.unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn file_read_buffers_are_reused_without_stale_bytes() {
        let dir = std::env::temp_dir().join(format!("tus-source-pool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 + 5) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let source = Source::file(&path).unwrap();
        let first = source.read_at(0, 1 << 20).await.unwrap();
        assert_eq!(&first[..], &data[..1 << 20]);
        drop(first); // Its buffer goes back to the pool ...
        // ... and is reused for a shorter read at the end, which must not show the old bytes.
        let tail = source.read_at(2_999_000, 1 << 20).await.unwrap();
        assert_eq!(&tail[..], &data[2_999_000..]);
        // A piece still held keeps its bytes while other reads go on.
        let held = source.read_at(1 << 20, 1 << 20).await.unwrap();
        let other = source.read_at(2 << 20, 1 << 20).await.unwrap();
        assert_eq!(&held[..], &data[1 << 20..2 << 20]);
        assert_eq!(&other[..], &data[2 << 20..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn bytes_are_sliced() {
        let source = Source::bytes(&b"hello world"[..]);
        assert_eq!(&source.read_at(6, 100).await.unwrap()[..], b"world");
        assert_eq!(source.available(6, 100).await.unwrap(), 5);
    }
}
