//! `tus info`, `tus options`, `tus delete`.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use indicatif::HumanBytes;
use serde_json::{Map, Value, json};
use tus_proto::{ServerConfiguration, UploadConcat, UploadInfo};
use tus_retry::Metadata;

use crate::client;
use crate::config::QueryConfig;
use crate::report::Exit;
use crate::time::rfc3339;

pub(crate) async fn info(cfg: QueryConfig) -> Result<(), Exit> {
    let uploader = client::uploader(&cfg.connection)?;
    let info = uploader.info(&cfg.url).await.map_err(|e| failed(e, "cannot read the upload"))?;
    let text = if cfg.json { json_text(&info_json(&cfg.url, &info)) } else { info_text(&cfg.url, &info) };
    print(&text)
}

pub(crate) async fn options(cfg: QueryConfig) -> Result<(), Exit> {
    let uploader = client::uploader(&cfg.connection)?;
    let config =
        uploader.configuration(&cfg.url).await.map_err(|e| failed(e, "cannot read the server's configuration"))?;
    let text = if cfg.json { json_text(&options_json(&config)) } else { options_text(&cfg.url, &config) };
    print(&text)
}

pub(crate) async fn delete(cfg: QueryConfig) -> Result<(), Exit> {
    let uploader = client::uploader(&cfg.connection)?;
    uploader.terminate(&cfg.url).await.map_err(|e| failed(e, "cannot delete the upload"))
}

fn failed(e: tus_retry::Error, what: &str) -> Exit {
    let mut hints = Vec::new();
    match e.client_error().and_then(tus_client::Error::status).map(|s| s.as_u16()) {
        Some(404 | 410) => hints.push("the upload does not exist (it was deleted, expired, or never created)".into()),
        Some(405) => hints.push("the server does not allow this request here (is the URL right?)".into()),
        _ => {}
    }
    crate::report::retry_failure(e, what.to_owned(), hints)
}

fn print(text: &str) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).context("cannot write to stdout")?;
    Ok(())
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A metadata value for JSON: text if it is UTF-8, else base64; `null` for a key without a value.
fn metadata_json(md: Option<&Metadata>) -> Value {
    let mut map = Map::new();
    for (key, value) in md.into_iter().flat_map(Metadata::iter) {
        let value = match value {
            None => Value::Null,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Value::String(text.to_owned()),
                Err(_) => Value::String(STANDARD.encode(bytes)),
            },
        };
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

fn info_json(url: &tus_retry::Url, info: &UploadInfo) -> Value {
    json!({
        "url": url.as_str(),
        "offset": info.offset,
        "length": info.length,
        "metadata": metadata_json(info.metadata.as_ref()),
        "expires": info.expires.map(rfc3339),
    })
}

fn info_text(url: &tus_retry::Url, info: &UploadInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "URL:       {url}");
    let _ = writeln!(s, "Offset:    {} ({})", info.offset, HumanBytes(info.offset));
    match info.length {
        Some(length) => {
            let percent = if length == 0 { 100.0 } else { info.offset as f64 * 100.0 / length as f64 };
            let state = if info.is_complete() { "complete" } else { "unfinished" };
            let _ = writeln!(s, "Length:    {length} ({}), {percent:.1}% uploaded, {state}", HumanBytes(length));
        }
        None => {
            let _ = writeln!(s, "Length:    deferred (not declared yet)");
        }
    }
    match &info.concat {
        Some(UploadConcat::Partial) => {
            let _ = writeln!(s, "Concat:    partial upload");
        }
        Some(UploadConcat::Final(parts)) => {
            let _ = writeln!(s, "Concat:    final upload of {} parts", parts.len());
        }
        None => {}
    }
    let _ = writeln!(s, "Expires:   {}", info.expires.map_or_else(|| "not announced".to_owned(), rfc3339));
    match info.metadata.as_ref().filter(|m| !m.is_empty()) {
        None => {
            let _ = write!(s, "Metadata:  none");
        }
        Some(md) => {
            let _ = write!(s, "Metadata:");
            for (key, value) in md.iter() {
                let _ = match value {
                    None => write!(s, "\n  {key}"),
                    Some(bytes) => match std::str::from_utf8(bytes) {
                        Ok(text) => write!(s, "\n  {key}: {text:?}"),
                        Err(_) => write!(s, "\n  {key}: (base64) {}", STANDARD.encode(bytes)),
                    },
                };
            }
        }
    }
    s
}

fn options_json(config: &ServerConfiguration) -> Value {
    json!({
        "versions": config.versions,
        "extensions": config.extensions.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "max_size": config.max_size,
        "checksum_algorithms": config.checksum_algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    })
}

fn options_text(endpoint: &tus_retry::Url, config: &ServerConfiguration) -> String {
    let list = |items: Vec<&str>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    let mut s = String::new();
    let _ = writeln!(s, "Endpoint:            {endpoint}");
    let _ = writeln!(s, "Versions:            {}", list(config.versions.iter().map(String::as_str).collect()));
    let _ = writeln!(
        s,
        "Max size:            {}",
        config.max_size.map_or_else(|| "not announced".to_owned(), |m| format!("{m} ({})", HumanBytes(m)))
    );
    let _ = writeln!(s, "Extensions:          {}", list(config.extensions.iter().map(|e| e.as_str()).collect()));
    let _ = write!(s, "Checksum algorithms: {}", list(config.checksum_algorithms.iter().map(|a| a.as_str()).collect()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values() {
        let mut md = Metadata::new();
        md.insert("text", "héllo");
        md.insert("bin", [0xffu8, 0x00, 0x01]);
        md.insert_key("flag");
        let v = metadata_json(Some(&md));
        assert_eq!(v, json!({"text": "héllo", "bin": "/wAB", "flag": null}));
        assert_eq!(metadata_json(None), json!({}));
    }
}
