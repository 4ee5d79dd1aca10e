//! `cargo xtask ci`: everything that proves the workbook itself works, in
//! one command (the README's test command; `.ci/run` calls it).
//!
//! 1. `cargo test --workspace --features lsm-workbook/solutions,xtask/dump`: the
//!    provided code's own tests, the doc tests, every graded test on the
//!    reference and xtask's tests, with cargo's usual output;
//! 2. `cargo xtask check`: formatting, clippy, the teaching contract and the
//!    book build.

use crate::workspace::Workspace;
use crate::{Result, cargo, check, failed, help_requested, usage_error};

const USAGE: &str = "\
usage: cargo xtask ci

Runs every test of the workspace against the reference, then `check`.";

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    if let Some(arg) = args.first() {
        return Err(usage_error(format!("unexpected argument `{arg}`"), USAGE));
    }
    let ws = Workspace::locate()?;
    println!("▸ cargo test --workspace --features lsm-workbook/solutions,xtask/dump");
    let status = cargo::cargo(&ws.root)
        .args([
            "test",
            "--workspace",
            "--features",
            "lsm-workbook/solutions,xtask/dump",
        ])
        .status()
        .map_err(|e| failed(format!("could not run cargo: {e}")))?;
    if !status.success() {
        return Err(failed("tests failed on the reference (see above)"));
    }
    println!();
    check::run(&[])
}
