//! Uploads a file with the single-request operations, no retries:
//! `cargo run -p tus-client --example upload -- http://127.0.0.1:1080/files/ some.file`

use tus_client::{Client, Source};
use tus_proto::{Create, Length, Metadata, UploadOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: upload <endpoint> <file>".into());
    };
    let endpoint = url::Url::parse(&endpoint)?;
    let client = Client::new()?;
    let config = client.configuration(&endpoint).await?;
    println!("server: versions {:?}, extensions {:?}", config.versions, config.extensions);

    let source = Source::file(&path)?;
    let mut metadata = Metadata::new();
    metadata.insert("filename", &path);
    let create = Create::new(Length::Known(source.len().unwrap_or(0))).metadata(metadata);
    let created = client.create(&endpoint, &create).await?;
    let offset = client.upload_buffer(&created.url, &source, &UploadOptions::default()).await?;
    println!("{} ({offset} bytes)", created.url);
    Ok(())
}
