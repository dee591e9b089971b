//! The command line as clap parses it: raw values, no validation beyond clap's own.
//!
//! [`crate::config`] turns these into checked settings; everything that can be wrong with a value
//! (a size, a metadata key, a header, a pin) is reported there, as a usage error (exit code 2).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

/// tus: upload files to a tus server (the resumable-upload protocol) and inspect uploads.
#[derive(Debug, Parser)]
#[command(
    name = "tus",
    version,
    about = "Upload files to a tus server (resumable uploads) and inspect uploads",
    after_help = "Exit status: 0 success, 1 the operation failed, 2 usage error, 130 interrupted.",
    propagate_version = true
)]
pub(crate) struct Args {
    /// Log what the client does to stderr (-v: requests and retries; -vv: everything). RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Upload FILEs (or stdin with "-") and print the upload URL.
    #[command(after_help = UPLOAD_AFTER_HELP)]
    Upload(UploadArgs),
    /// Show an upload's offset, length, metadata and expiry (HEAD).
    Info(InfoArgs),
    /// Show what a server supports: versions, max size, extensions, checksum algorithms (OPTIONS).
    Options(OptionsArgs),
    /// Remove an upload from the server (DELETE, termination extension).
    Delete(DeleteArgs),
}

const UPLOAD_AFTER_HELP: &str = "\
FILE \"-\" reads stdin: its length is unknown, so the upload uses creation-defer-length.
Several FILEs are uploaded as partial uploads and joined in order with concatenation; the final URL is
printed. On success only the upload URL is printed, on stdout.

Ctrl-C stops the upload; with --resume, running the same command again continues it.";

#[derive(Debug, ClapArgs)]
pub(crate) struct UploadArgs {
    // A help attribute, not a doc comment: rustdoc would want the example URL in angle brackets.
    #[arg(value_name = "ENDPOINT", help = "The creation URL of the tus server, e.g. https://tus.example/files/")]
    pub(crate) endpoint: String,

    /// The files to upload; "-" reads stdin.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub(crate) files: Vec<PathBuf>,

    /// Bytes per PATCH: 4MiB, 512KiB, 1GiB or a plain number of bytes.
    #[arg(short = 'c', long, value_name = "SIZE", default_value = "4MiB")]
    pub(crate) chunk_size: String,

    /// One FILE: split it into N ranges sent at once and joined with concatenation (no split unless
    /// given). Several FILEs: how many are sent at once [default: 3].
    #[arg(short = 'p', long, value_name = "N")]
    pub(crate) parallel: Option<usize>,

    /// Upload metadata, repeatable: KEY=VALUE, or KEY alone for a key without a value. `filename` is
    /// added from the file's name unless given.
    #[arg(short = 'm', long = "metadata", value_name = "KEY[=VALUE]")]
    pub(crate) metadata: Vec<String>,

    /// Use a checksum on every PATCH: sha1, sha256, sha512, md5, or auto (the strongest that the server
    /// offers; none if it offers none).
    #[arg(long, value_name = "ALG")]
    pub(crate) checksum: Option<String>,

    /// Continue an earlier, interrupted upload of the same file (the state is kept under the user's
    /// cache directory, and forgotten on success).
    #[arg(long)]
    pub(crate) resume: bool,

    /// No progress display.
    #[arg(short, long)]
    pub(crate) quiet: bool,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct InfoArgs {
    /// The upload URL.
    #[arg(value_name = "URL")]
    pub(crate) url: String,

    /// Print JSON: {"url", "offset", "length", "metadata", "expires"}.
    #[arg(long)]
    pub(crate) json: bool,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct OptionsArgs {
    /// The creation URL of the tus server.
    #[arg(value_name = "ENDPOINT")]
    pub(crate) endpoint: String,

    /// Print JSON: {"versions", "extensions", "max_size", "checksum_algorithms"}.
    #[arg(long)]
    pub(crate) json: bool,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct DeleteArgs {
    /// The upload URL.
    #[arg(value_name = "URL")]
    pub(crate) url: String,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

/// How to talk to the server: headers, timeouts, retries, TLS. Shared by every subcommand.
#[derive(Debug, ClapArgs)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectionArgs {
    /// A header sent on every request, repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,

    /// How many times to retry after a failure [default: 10 for upload, 2 otherwise].
    #[arg(long, value_name = "N")]
    pub(crate) retries: Option<u32>,

    /// The cap of the exponential backoff between retries, in seconds.
    #[arg(long, value_name = "SECS", default_value = "60")]
    pub(crate) max_retry_delay: String,

    /// A request that makes no progress for this many seconds fails (and is retried).
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub(crate) timeout: String,

    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "PEM")]
    pub(crate) cacert: Option<PathBuf>,

    /// Accept only a server certificate with this SHA-256 fingerprint (hex, colons allowed),
    /// repeatable. Replaces chain validation, so self-signed certificates work.
    #[arg(long = "pin-sha256", value_name = "HEX")]
    pub(crate) pins: Vec<String>,

    /// Client certificate (chain, leaf first) in PEM, for servers that require one; needs --key.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(crate) cert: Option<PathBuf>,

    /// The private key of --cert, in PEM.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) key: Option<PathBuf>,

    /// Do not verify the server's certificate at all (dangerous).
    #[arg(short = 'k', long)]
    pub(crate) insecure: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Args;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }
}
