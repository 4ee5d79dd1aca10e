//! Running this tool again with an optional feature switched on.
//!
//! The heavy parts of xtask are behind features so that a learner's
//! `cargo xtask grade` compiles almost nothing: `book` (mdBook's library) and
//! `dump` (the workbook library with the reference selected — as a default
//! dependency it would make every workspace-wide build, and rust-analyzer,
//! see the reference instead of the learner's `chapters/`). A command that
//! needs one of them, built without it, calls [`with_feature`].

use std::process::Command;

use crate::workspace::xtask_workspace_root;
use crate::{Result, failed};

/// Runs `cargo run --quiet --package xtask --features FEATURE -- ARGS` in the
/// current directory (so relative paths in `args` keep their meaning); the
/// child prints its own output and errors. Returns the child's exit code
/// (1 if it has none, killed by a signal): the caller decides whether to
/// add a message of its own.
pub fn with_feature(feature: &str, args: &[String]) -> Result<i32> {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = xtask_workspace_root().join("Cargo.toml");
    let status = Command::new(program)
        .args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--package", "xtask", "--features", feature, "--"])
        .args(args)
        .status()
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    Ok(status.code().unwrap_or(1))
}
