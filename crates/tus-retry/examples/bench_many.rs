//! The many-files driver of `cargo xtask bench`: uploads every file named in a list through one
//! [`tus_retry::Uploader`] sharing one [`tus_retry::Client`] (one connection pool), at most
//! `--concurrency` at once.
//!
//! ```text
//! bench_many <endpoint> <list> [--concurrency N] [--chunk-size BYTES] [--threads N]
//! ```
//!
//! `<list>` holds one path per line. Prints `<index> <upload URL>` for each file as it finishes
//! (index = line number from 0, so the order is that of completion). Nothing is kept per file once
//! it is done, so the driver's memory does not grow with the length of the list. `--threads 0` (the
//! default) runs tokio's current-thread runtime; `N > 0` a multi-thread runtime with N workers.

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tus_retry::{Client, Metadata, Source, Uploader, Url};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut positional = Vec::new();
    let (mut concurrency, mut chunk_size, mut threads) = (1usize, tus_retry::tus_proto::DEFAULT_CHUNK_SIZE, 0usize);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--concurrency" => concurrency = value()?.parse::<usize>()?.max(1),
            "--chunk-size" => chunk_size = value()?.parse()?,
            "--threads" => threads = value()?.parse()?,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}").into()),
            _ => positional.push(arg),
        }
    }
    let [endpoint, list] = <[String; 2]>::try_from(positional).map_err(|_| "usage: bench_many <endpoint> <list>")?;
    let endpoint = Url::parse(&endpoint)?;
    let lines = std::io::BufReader::new(std::fs::File::open(list)?).lines();
    let runtime = match threads {
        0 => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()?,
    };
    runtime.block_on(async move {
        let client = Client::builder().pool_max_idle_per_host(concurrency).build()?;
        let uploader = Uploader::new(client).chunk_size(chunk_size);
        let limit = Arc::new(Semaphore::new(concurrency));
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut report = |done: Result<Result<(usize, Url), BoxError>, JoinError>| -> Result<(), BoxError> {
            let (index, url) = done??;
            writeln!(out, "{index} {url}")?;
            Ok(())
        };
        // A task exists only while it holds a permit: at most `concurrency` uploads are in memory.
        let mut tasks = JoinSet::new();
        for (index, path) in lines.enumerate() {
            let path = path?;
            if path.is_empty() {
                continue;
            }
            let permit = Arc::clone(&limit).acquire_owned().await?;
            while let Some(done) = tasks.try_join_next() {
                report(done)?;
            }
            let (uploader, endpoint) = (uploader.clone(), endpoint.clone());
            tasks.spawn(async move {
                let _permit = permit;
                let source = Source::file(&path)?;
                let url = uploader.upload(&endpoint, source, Metadata::new()).await?;
                Ok::<_, BoxError>((index, url))
            });
        }
        while let Some(done) = tasks.join_next().await {
            report(done)?;
        }
        Ok::<_, BoxError>(())
    })
}
