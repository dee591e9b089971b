//! The single-file driver of `cargo xtask bench`: one upload through [`tus_retry::Uploader`], as a
//! program using the library would do it. Prints the upload URL.
//!
//! ```text
//! bench_upload <endpoint> <file> [--chunk-size BYTES] [--parallel N] [--checksum ALG]
//!              [--cacert PEM] [--header NAME:VALUE]... [--threads N]
//! ```
//!
//! `--chunk-size 0` sends the whole file in one PATCH. `--threads 0` (the default) runs tokio's
//! current-thread runtime; `N > 0` a multi-thread runtime with N workers.

use std::time::Duration;

use tus_retry::{Checksum, ChecksumAlgorithm, Client, Metadata, Source, Uploader, Url};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    endpoint: Url,
    file: String,
    chunk_size: u64,
    parallel: usize,
    checksum: Option<ChecksumAlgorithm>,
    cacert: Option<String>,
    headers: Vec<(String, String)>,
    threads: usize,
}

fn parse() -> Result<Args, BoxError> {
    let mut positional = Vec::new();
    let mut args = Args {
        endpoint: Url::parse("http://unset/")?,
        file: String::new(),
        chunk_size: tus_retry::tus_proto::DEFAULT_CHUNK_SIZE,
        parallel: 1,
        checksum: None,
        cacert: None,
        headers: Vec::new(),
        threads: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--chunk-size" => args.chunk_size = value()?.parse()?,
            "--parallel" => args.parallel = value()?.parse()?,
            "--checksum" => args.checksum = Some(value()?.parse()?),
            "--cacert" => args.cacert = Some(value()?),
            "--header" => {
                let header = value()?;
                let (name, v) = header.split_once(':').ok_or("--header needs NAME:VALUE")?;
                args.headers.push((name.trim().to_owned(), v.trim().to_owned()));
            }
            "--threads" => args.threads = value()?.parse()?,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}").into()),
            _ => positional.push(arg),
        }
    }
    let [endpoint, file] = <[String; 2]>::try_from(positional).map_err(|_| "usage: bench_upload <endpoint> <file>")?;
    args.endpoint = Url::parse(&endpoint)?;
    args.file = file;
    Ok(args)
}

fn main() -> Result<(), BoxError> {
    let args = parse()?;
    let runtime = match args.threads {
        0 => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()?,
    };
    let url = runtime.block_on(run(&args))?;
    println!("{url}");
    Ok(())
}

async fn run(args: &Args) -> Result<Url, BoxError> {
    let mut client = Client::builder().stall_timeout(Some(Duration::from_secs(60)));
    if let Some(pem) = &args.cacert {
        client = client.add_root_certificate_pem(&std::fs::read(pem)?);
    }
    for (name, value) in &args.headers {
        client = client.default_header(name, value);
    }
    let source = Source::file(&args.file)?;
    let chunk_size = match args.chunk_size {
        0 => source.len().unwrap_or(u64::MAX).max(1),
        n => n,
    };
    let mut uploader = Uploader::new(client.build()?).chunk_size(chunk_size);
    if let Some(algorithm) = &args.checksum {
        uploader = uploader.checksum(Checksum::Algorithm(algorithm.clone()));
    }
    let url = if args.parallel > 1 {
        uploader.upload_parallel(&args.endpoint, source, args.parallel, Metadata::new()).await?
    } else {
        uploader.upload(&args.endpoint, source, Metadata::new()).await?
    };
    Ok(url)
}
