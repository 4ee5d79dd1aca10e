//! `cargo xtask sim`: chapter 8's compaction policy at work on a simulated
//! workload, without disk I/O — the level shape and the write, space and
//! read amplifications as the writes go on, printed and drawn.
//!
//! How: build the `lsm-sim` binary of workspace member `bench/` in release
//! (your chapters; `--features reference` with `--reference`), then run it
//! with every other argument passed on (see its `--help`, shown by
//! `cargo xtask sim --help` too). The engine runs on a file system in
//! memory (`bench/src/bin/lsm-sim/memfs.rs`), so a run of a few seconds
//! builds several levels with the scaled-down options it uses.

use std::process::Command;

use crate::bench::{build_bin, workbook_features};
use crate::workspace::Workspace;
use crate::{Failure, Result, failed, help_requested};

pub const USAGE: &str = "\
usage: cargo xtask sim [--reference] [--features F] [simulator options]

Runs chapter 8's leveled compaction on a simulated workload, in memory (no
disk I/O), and prints how the level shape and the three amplifications
evolve; `--svg FILE` draws them. Yours by default; the reference with
--reference; `--features ref-upto-ch07` runs your chapter 8 on the
reference chapters 1-7.

  cargo xtask sim --writes 200000 --keys 20000 --svg /tmp/sim.svg
  cargo xtask sim --reference --deletes 30 --keep /tmp/simdb
  cargo xtask sim --reference --no-compaction      chapter 7's engine, to compare

The simulator's own options (workload, engine shape, output):
`cargo xtask sim --reference -- --help`.";

pub fn run(args: &[String]) -> Result<()> {
    if !args.iter().any(|arg| arg == "--") {
        help_requested(args, USAGE)?;
    }
    let mut reference = false;
    let mut features = Vec::new();
    let mut pass = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reference" => reference = true,
            "--features" => {
                let text = args
                    .next()
                    .ok_or_else(|| crate::usage_error("--features needs a value", USAGE))?;
                features.extend(workbook_features(text, USAGE)?);
            }
            "--" => pass.extend(args.by_ref().cloned()),
            _ => pass.push(arg.clone()),
        }
    }
    if reference && !features.is_empty() {
        return Err(crate::usage_error(
            "--reference already takes every chapter from the reference: drop --features",
            USAGE,
        ));
    }
    let ws = Workspace::locate()?;
    let (label, features) = if reference {
        ("reference", vec!["reference".to_string()])
    } else {
        let features = features
            .iter()
            .map(|f| format!("lsm-workbook/{f}"))
            .collect();
        ("yours", features)
    };
    let Some(binary) = build_bin(&ws, "lsm-sim", label, &features)? else {
        return Err(failed("lsm-sim does not compile: see the errors above"));
    };
    let status = Command::new(&binary)
        .args(&pass)
        .status()
        .map_err(|e| failed(format!("cannot run {}: {e}", binary.display())))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(2) => Err(Failure::Quiet(2)),
        _ => Err(Failure::Quiet(1)),
    }
}
