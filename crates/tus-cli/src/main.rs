//! `tus`: a curl-like command-line client for the tus resumable-upload protocol.
//!
//! ```text
//! tus upload [OPTIONS] <ENDPOINT> <FILE>...
//! tus info [--json] <URL>
//! tus options [--json] <ENDPOINT>
//! tus delete <URL>
//! ```
//!
//! The command line is parsed by clap into [`args`], checked into [`config`] (usage errors exit with
//! status 2), then run: [`upload`] and [`query`]. Failures exit with status 1, Ctrl-C with 130.

mod args;
mod client;
mod config;
mod logging;
mod progress;
mod query;
mod report;
mod time;
mod upload;

use std::io::Write as _;

use clap::Parser as _;

use crate::config::Config;
use crate::report::Exit;

fn main() {
    report::install_panic_hook();
    // clap prints its own errors and exits with status 2 (0 for --help and --version).
    let args = args::Args::parse();
    let code = match Config::from_args(args) {
        Err(e) => Exit::Usage(e).report(),
        Ok((config, verbosity)) => {
            logging::init(verbosity);
            run(config)
        }
    };
    let _ = std::io::stdout().flush();
    // Exit without waiting for the runtime: a read of stdin may still be blocking a thread.
    std::process::exit(code);
}

fn run(config: Config) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Exit::failed(anyhow::Error::new(e).context("cannot start the async runtime")).report(),
    };
    let result = runtime.block_on(async move {
        match config {
            Config::Upload(c) => upload::run(c).await,
            Config::Info(c) => query::info(c).await,
            Config::Options(c) => query::options(c).await,
            Config::Delete(c) => query::delete(c).await,
        }
    });
    match result {
        Ok(()) => report::SUCCESS,
        Err(exit) => exit.report(),
    }
}
