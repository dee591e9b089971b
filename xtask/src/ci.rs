//! `cargo xtask ci`: the project's full check, in order, stopping at the first failure.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{cargo, run_status, servers, tidy, workspace_root};

enum Action {
    /// A `cargo` subcommand with extra environment.
    Cargo(&'static [&'static str], &'static [(&'static str, &'static str)]),
    /// An xtask step run in this process.
    Func(fn() -> Result<()>),
}

struct Step {
    name: &'static str,
    action: Action,
}

const STEPS: &[Step] = &[
    Step { name: "servers install", action: Action::Func(servers::install) },
    Step { name: "fmt", action: Action::Cargo(&["fmt", "--all", "--check"], &[]) },
    Step {
        name: "clippy",
        action: Action::Cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"], &[]),
    },
    Step { name: "test", action: Action::Cargo(&["test", "--workspace"], &[]) },
    Step {
        name: "doc",
        action: Action::Cargo(&["doc", "--workspace", "--no-deps"], &[("RUSTDOCFLAGS", "-D warnings")]),
    },
    Step { name: "tidy", action: Action::Func(tidy::run) },
];

pub(crate) fn run() -> Result<()> {
    let total = Instant::now();
    let mut done: Vec<(&str, Duration, bool)> = Vec::new();
    for (i, step) in STEPS.iter().enumerate() {
        println!("\n==> ci [{}/{}] {}", i + 1, STEPS.len(), describe(step));
        let start = Instant::now();
        let result = match &step.action {
            Action::Func(f) => f(),
            Action::Cargo(args, envs) => {
                let mut cmd = cargo();
                cmd.args(*args).current_dir(workspace_root());
                for (key, value) in *envs {
                    cmd.env(key, value);
                }
                run_status(&mut cmd)
            }
        };
        done.push((step.name, start.elapsed(), result.is_ok()));
        if let Err(err) = result {
            summary(&done, total.elapsed());
            bail!("ci failed at step `{}`: {err:#}", step.name);
        }
    }
    summary(&done, total.elapsed());
    println!("ci: all {} steps passed", STEPS.len());
    Ok(())
}

fn describe(step: &Step) -> String {
    match &step.action {
        Action::Func(_) => format!("cargo xtask {}", step.name),
        Action::Cargo(args, envs) => {
            let mut cmd = Command::new("cargo");
            cmd.args(*args);
            let env: String = envs.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
            format!("{env}{}", crate::display(&cmd))
        }
    }
}

fn summary(done: &[(&str, Duration, bool)], total: Duration) {
    println!("\nci summary:");
    for (name, took, ok) in done {
        let status = if *ok { "ok" } else { "FAILED" };
        println!("  {name:<16} {status:<7} {:>8.1}s", took.as_secs_f64());
    }
    for step in STEPS.iter().skip(done.len()) {
        println!("  {:<16} {:<7} {:>8}", step.name, "skipped", "-");
    }
    println!("  {:<16} {:<7} {:>8.1}s", "total", "", total.as_secs_f64());
}
