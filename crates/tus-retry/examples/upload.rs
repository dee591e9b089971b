//! Uploads a file with retries and resume: `cargo run -p tus-retry --example upload -- <endpoint> <file>`

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: upload <endpoint> <file>".into());
    };
    let source = tus_retry::Source::file(&path)?;
    let url = tus_retry::upload(&endpoint, source, tus_retry::Metadata::new()).await?;
    println!("{url}");
    Ok(())
}
