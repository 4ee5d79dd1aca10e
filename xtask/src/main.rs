//! `cargo xtask` — the workbook's tools.
//!
//! - `grade`: run the graded tests and print a scoreboard (or a Gradescope
//!   `results.json`);
//! - `starter`: regenerate `chapters/` from `solutions/`;
//! - `reset` / `diff`: restore one chapter to its starter, or compare it with
//!   the reference;
//! - `check`: prove the teaching contract;
//! - `ci`: the workspace's tests on the reference, then `check` (CI);
//! - `dump`: print a WAL or a table file in human-readable form;
//! - `book`: build the mdBook;
//! - `bench`: db_bench workloads on your engine, the reference and peers.
//! - `sim`: compaction on a simulated workload: shape and amplifications.
//!
//! The default build has no dependencies at all, so a learner's first
//! `cargo xtask grade` compiles only this crate; arguments, the points file
//! and JSON are handled by hand. `book` (mdBook's library) and `dump` (the
//! workbook's library with the reference selected) are behind features of
//! those names, and re-invoke xtask with them (see `rerun.rs`).
//!
//! Environment: `LSM_WORKBOOK_ROOT` overrides the workbook root (default: the
//! parent of this crate's directory), so the tools can run on a fixture.

mod bench;
mod bench_server;
mod book;
mod bookcheck;
mod cargo;
mod check;
mod ci;
#[cfg(feature = "dump")]
mod dump;
mod grade;
mod json;
mod libtest;
mod points;
#[cfg(not(all(feature = "book", feature = "dump")))]
mod rerun;
mod reset;
mod sim;
mod starter;
mod workspace;

use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  grade [N…] [--isolated] [--reference] [--json FILE]
                        run the graded tests and print a scoreboard
  starter [--check]     regenerate chapters/ from solutions/
  reset N               restore chapter N to its starter (keeps a backup)
  diff N                show your chapter N against the reference
  check                 check the teaching contract
  ci                    every workspace test on the reference, then check
  dump FILE|DIR [--limit N] [--svg FILE]
                        print a log, table, manifest, CURRENT or TIMELINE
                        readably; a database directory: its levels, files,
                        amplification and timeline
  book [--open]         build the book into book/build
  bench [--num N] [--peers] [--reference-only] [--json FILE] …
                        db_bench workloads: your engine, the reference, peers
  bench --server …      redis-benchmark: lsm-server against redis-server
  sim [--reference] [--svg FILE] …
                        compaction on a simulated workload, in memory: the
                        level shape and the amplifications over time

Run `cargo xtask <command> --help` for a command's options.
Environment: LSM_WORKBOOK_ROOT overrides the workbook root directory.";

/// Why a command stopped early.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments: the usage is printed and the process exits with 2.
    Usage {
        message: String,
        usage: &'static str,
    },
    /// The command ran and failed: the message is printed, exit code 1.
    Failed(String),
    /// `--help` was asked for: the usage is printed, exit code 0.
    Help(&'static str),
    /// A re-invoked xtask (see `rerun.rs`) failed and printed why: exit
    /// with this code (2 for bad arguments, else 1), adding nothing.
    Quiet(u8),
}

/// The result type of every command.
pub type Result<T> = std::result::Result<T, Failure>;

/// A failure with a message (exit code 1).
pub fn failed(message: impl Into<String>) -> Failure {
    Failure::Failed(message.into())
}

/// A usage error (exit code 2) for the command whose usage is `usage`.
pub fn usage_error(message: impl Into<String>, usage: &'static str) -> Failure {
    Failure::Usage {
        message: message.into(),
        usage,
    }
}

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Help(usage)) => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage { message, usage }) => {
            eprintln!("error: {message}\n\n{usage}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Quiet(code)) => ExitCode::from(code),
    }
}

fn run(raw: Vec<OsString>) -> Result<()> {
    let mut args = Vec::with_capacity(raw.len());
    for arg in raw {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(arg) => {
                return Err(usage_error(format!("argument {arg:?} is not UTF-8"), USAGE));
            }
        }
    }
    let Some((command, rest)) = args.split_first() else {
        return Err(usage_error("no command given", USAGE));
    };
    match command.as_str() {
        "grade" => grade::run(rest),
        "starter" => starter::run(rest),
        "reset" => reset::run_reset(rest),
        "diff" => reset::run_diff(rest),
        "check" => check::run(rest),
        "ci" => ci::run(rest),
        "dump" => run_dump(rest),
        "book" => book::run(rest),
        "bench" if rest.iter().any(|arg| arg == "--server") => bench_server::run(rest),
        "bench" => bench::run(rest),
        "sim" => sim::run(rest),
        "help" | "-h" | "--help" => Err(Failure::Help(USAGE)),
        other => Err(usage_error(format!("unknown command `{other}`"), USAGE)),
    }
}

/// Returns `Err(Help)` if `args` asks for help, so every command handles
/// `-h`/`--help` the same way.
pub fn help_requested(args: &[String], usage: &'static str) -> Result<()> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        return Err(Failure::Help(usage));
    }
    Ok(())
}

/// `dump` with the reference decoders compiled in.
#[cfg(feature = "dump")]
fn run_dump(args: &[String]) -> Result<()> {
    dump::run(args)
}

/// Without the `dump` feature the workbook library is not part of xtask:
/// run xtask again with it (see `rerun.rs`). The child prints the dump and
/// any problem (`error: FILE: N problems found`); its exit code is passed on
/// without a second message.
#[cfg(not(feature = "dump"))]
fn run_dump(args: &[String]) -> Result<()> {
    let mut rerun = vec!["dump".to_string()];
    rerun.extend_from_slice(args);
    match rerun::with_feature("dump", &rerun)? {
        0 => Ok(()),
        2 => Err(Failure::Quiet(2)),
        _ => Err(Failure::Quiet(1)),
    }
}
