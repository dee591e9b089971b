//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask ci                                  the full check CI runs (`.ci/run`)
//! cargo xtask tidy                                dependency and source hygiene checks
//! cargo xtask servers install                     install rustus and @tus/server into .tools/
//! cargo xtask servers run rustus|node [--port N] [-- extra server args]
//! cargo xtask demo [--release]                   the tus CLI against rustus: interrupted, resumed, verified
//! cargo xtask bench [--size 1GiB] [--reps 3] [--only SECTIONS]   tus-rs against its peers (BENCHMARKS.md)
//! ```
//!
//! Everything installed goes under `<workspace>/.tools/` (override with `TUS_TOOLS_DIR`).

mod bench;
mod ci;
mod demo;
mod servers;
mod tidy;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context, Result, bail};

pub(crate) const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                              run the project's full check (what .ci/run runs)
  tidy                            check tus-proto's dependencies and crates/ for dbg!/todo!/unimplemented!
  servers install                 install the pinned real tus servers into .tools/ (idempotent)
  servers run rustus|node [--port N] [-- ARGS...]
                                  run one real server in the foreground for manual poking
  demo [--release]                upload 64 MiB with the tus CLI to rustus, interrupt it, resume it, verify it
  bench [--size 1GiB] [--reps 3] [--only single,sink,many,parallel,cost,profile,criterion]
        [--servers rustus,node] [--small-files 1000] [--large-files 100] [--concurrency 1,8,32]
        [--update BENCHMARKS.md] [--keep]
                                  benchmark tus-rs against aiotus, tuspy, tus-js-client and curl on
                                  rustus, @tus/server and a sink; report in target/bench/report.md
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ci"] => ci::run(),
        ["tidy"] => tidy::run(),
        ["servers", "install"] => servers::install(),
        ["servers", "run", rest @ ..] => servers::run_cmd(rest),
        ["demo", rest @ ..] => demo::run(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["help" | "--help" | "-h"] | [] => {
            print!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
    }
}

/// The workspace root (the parent of this package's manifest directory).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// `<workspace>/.tools`, or `$TUS_TOOLS_DIR` if set (the test harness honours the same variable).
pub(crate) fn tools_dir() -> PathBuf {
    match env::var_os("TUS_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join(".tools"),
    }
}

/// The `cargo` that runs us (`$CARGO`), so nested builds use the same toolchain.
pub(crate) fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` with inherited stdio; an error if it cannot start or exits unsuccessfully.
pub(crate) fn run_status(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    let status = cmd.status().with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its trimmed stdout; an error (with stderr) if it fails.
pub(crate) fn run_output(cmd: &mut Command) -> Result<String> {
    let shown = display(cmd);
    let out = cmd.output().with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        bail!("`{shown}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A command line for messages.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
