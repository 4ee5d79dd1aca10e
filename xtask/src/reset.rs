//! `cargo xtask reset N` restores one chapter of `chapters/` to its starter,
//! after copying the current files to `.lsm-workbook-backup/`.
//! `cargo xtask diff N` shows the learner's chapter against the reference.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::starter;
use crate::workspace::{self, Chapter, Workspace};
use crate::{Result, failed, help_requested, usage_error};

pub const RESET_USAGE: &str = "\
usage: cargo xtask reset N

Restores chapter N of chapters/ to the generated starter. The current files
are first copied to .lsm-workbook-backup/chNN_<unix-seconds>/.
N is a chapter number (3, 03, ch03) or name (ch03_sstable).";

pub const DIFF_USAGE: &str = "\
usage: cargo xtask diff N

Shows your chapter N (chapters/) against the reference (solutions/) with
`git diff --no-index`. N is a chapter number (3, 03, ch03) or name.";

/// The backup folder, relative to the workbook root.
pub const BACKUP_DIR: &str = ".lsm-workbook-backup";

/// The one chapter named by the arguments.
fn one_chapter(ws: &Workspace, args: &[String], usage: &'static str) -> Result<Chapter> {
    help_requested(args, usage)?;
    let [selector] = args else {
        return Err(usage_error("expected exactly one chapter", usage));
    };
    if selector.starts_with('-') {
        return Err(usage_error(format!("unknown option `{selector}`"), usage));
    }
    let chapters = ws.chapters()?;
    workspace::find(&chapters, selector, usage).cloned()
}

pub fn run_reset(args: &[String]) -> Result<()> {
    let ws = Workspace::locate()?;
    let chapter = one_chapter(&ws, args, RESET_USAGE)?;
    let tree = starter::generate_tree(&ws, Some(&chapter.name))?;
    let current = ws.chapters_dir().join(chapter.entry());
    if current.exists() {
        let backup = backup(&ws, &chapter, &current)?;
        println!(
            "backed up {} to {}",
            chapter.starter_display(),
            backup.display()
        );
        remove(&current)?;
    }
    for (relative, contents) in &tree {
        workspace::write(&ws.chapters_dir().join(relative), contents)?;
    }
    println!(
        "{} is the starter again ({} files)",
        chapter.starter_display(),
        tree.len()
    );
    Ok(())
}

/// Copies the chapter's file or folder to a fresh backup folder.
fn backup(ws: &Workspace, chapter: &Chapter, current: &Path) -> Result<std::path::PathBuf> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut folder = ws
        .root
        .join(BACKUP_DIR)
        .join(format!("{}_{seconds}", chapter.tag()));
    // Two resets within one second must not overwrite the first backup.
    let mut attempt = 1;
    while folder.exists() {
        attempt += 1;
        folder = ws
            .root
            .join(BACKUP_DIR)
            .join(format!("{}_{seconds}_{attempt}", chapter.tag()));
    }
    let target = folder.join(chapter.entry());
    if current.is_dir() {
        for relative in workspace::walk_files(current)? {
            copy(&current.join(&relative), &target.join(&relative))?;
        }
    } else {
        copy(current, &target)?;
    }
    Ok(folder)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let contents =
        std::fs::read(from).map_err(|e| failed(format!("cannot read {}: {e}", from.display())))?;
    workspace::write(to, &contents)
}

fn remove(path: &Path) -> Result<()> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.map_err(|e| failed(format!("cannot remove {}: {e}", path.display())))
}

pub fn run_diff(args: &[String]) -> Result<()> {
    let ws = Workspace::locate()?;
    let chapter = one_chapter(&ws, args, DIFF_USAGE)?;
    let entry = chapter.entry();
    // The reference without its generator markers, so the diff shows code
    // against code. It lives under target/, which git ignores.
    let reference = Path::new("target").join("xtask-diff").join("reference");
    let _ = std::fs::remove_dir_all(ws.root.join(&reference));
    copy_stripped(
        &ws.solutions().join(&entry),
        &ws.root.join(&reference).join(&entry),
    )?;
    let status = Command::new("git")
        .args(["diff", "--no-index", "--color=auto", "--"])
        .arg(reference.join(&entry))
        .arg(Path::new("chapters").join(&entry))
        .current_dir(&ws.root)
        .status();
    match status {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(failed(
            "git is not installed (or not on PATH); `cargo xtask diff` needs it",
        )),
        Err(e) => Err(failed(format!("cannot run git: {e}"))),
        // 0: identical, 1: they differ — both are answers, not failures.
        Ok(status) if matches!(status.code(), Some(0 | 1)) => Ok(()),
        Ok(status) => Err(failed(format!("git diff failed ({status})"))),
    }
}

/// Copies a chapter file or folder, stripping the generator's markers from
/// `.rs` files.
fn copy_stripped(from: &Path, to: &Path) -> Result<()> {
    let io =
        |e: std::io::Error| failed(format!("cannot copy {} for the diff: {e}", from.display()));
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(io)?;
        for item in std::fs::read_dir(from).map_err(io)? {
            let name = item.map_err(io)?.file_name();
            copy_stripped(&from.join(&name), &to.join(&name))?;
        }
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let text = std::fs::read_to_string(from).map_err(io)?;
    std::fs::write(to, starter::strip_markers(&text, false)).map_err(io)
}
