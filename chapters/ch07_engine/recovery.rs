//! Recovery: open the manifest, replay every log it still needs into one
//! memtable, write that memtable as a table, retire the old logs with one
//! edit, start a fresh log, and delete what is obsolete.
//!
//! The order is what makes recovery itself crash-safe: nothing is deleted
//! before the edit that retires it is durable, and the new log is created
//! only after that edit, so a crash at any point of recovery leaves either
//! the old logs (replayed again next time) or the new table.

#![allow(
    dead_code,
    reason = "provided helpers that only the code you write calls"
)]

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::{Core, Options, Pins, ReadState, Stats, Writer};
use crate::ch01_memtable::Memtable;
use crate::ch06_manifest::{Manifest, ManifestOptions, Version};
use crate::error::Result;
use crate::fs::Fs;
use crate::types::SeqNo;

/// Opens the database in `dir`: the provided half of recovery, around
/// [`replay_logs`] and [`recover`].
pub(super) fn open(dir: &Path, options: Options) -> Result<Core> {
    let fs = Arc::clone(&options.fs);
    let salt_seed = options
        .salt_seed
        .unwrap_or_else(|| ManifestOptions::default().salt_seed);
    let manifest_options = ManifestOptions {
        create_if_missing: options.create_if_missing,
        rotate_len_bytes: options.manifest_rotate_len_bytes,
        salt_seed,
    };
    let (mut manifest, _) = Manifest::open(Arc::clone(&fs), dir, manifest_options)?;
    let memtable = Memtable::new();
    let next_seq = replay_logs(fs.as_ref(), dir, &manifest.version(), &memtable)?;
    let stats = Stats::default();
    let opening = Opening {
        dir,
        options: &options,
        salt_seed,
        stats: &stats,
    };
    let (writer, state) = recover(&opening, &mut manifest, memtable, next_seq)?;
    if let Some(history) = &options.history {
        history.recovered(next_seq - 1, options.clock.now_micros())?;
    }
    let listing = fs.list(dir)?;
    for name in manifest.obsolete_files(&listing, &[]) {
        // Best effort: what is left is named obsolete again next time.
        let _ = fs.remove(&dir.join(name));
    }
    Ok(Core {
        dir: dir.to_path_buf(),
        options,
        salt_seed,
        published_seq: AtomicU64::new(next_seq - 1),
        state: RwLock::new(Arc::new(state)),
        writer: Mutex::new(writer),
        manifest: Mutex::new(manifest),
        pending: Mutex::default(),
        poisoned: OnceLock::new(),
        flushing: Mutex::default(),
        compacting: Mutex::default(),
        background: Default::default(),
        stats,
        pins: Pins::default(),
    })
}

/// What recovery needs of the database being opened.
#[derive(Debug)]
pub(super) struct Opening<'a> {
    pub dir: &'a Path,
    pub options: &'a Options,
    pub salt_seed: u64,
    pub stats: &'a Stats,
}

/// Replays, in file-number order, every log numbered at or above the
/// version's `log_number` into `memtable`, and returns the sequence number
/// the next write gets.
///
/// The logs must continue each other: the first one starts right after
/// the version's `last_seq`, each next one where the one before it ended.
/// Only the newest log may end in a torn tail (an older one was synced
/// before a newer one was started), and only the newest may be a bare,
/// torn header (a crash while it was created). Anything else is
/// [`Error::Corruption`](crate::Error::Corruption): a missing or damaged log is never skipped.
pub(super) fn replay_logs(
    fs: &dyn Fs,
    dir: &Path,
    version: &Version,
    memtable: &Memtable,
) -> Result<SeqNo> {
    let _ = (fs, dir, version, memtable);
    todo!("ch07: every needed log in order, checked to continue the one before — book §7.4, task 4")
}

/// Finishes recovery with the replayed `memtable`: writes it (if it holds
/// anything) as a level-0 table, installs one edit that adds the table,
/// records `next_seq - 1` as the last sequence number and retires every
/// log so far, and only then creates the new log the next writes go to.
/// Returns the writer and the first read state; the caller deletes the
/// old logs after all this.
pub(super) fn recover(
    opening: &Opening<'_>,
    manifest: &mut Manifest,
    memtable: Memtable,
    next_seq: SeqNo,
) -> Result<(Writer, ReadState)> {
    let _ = (opening, manifest, memtable, next_seq);
    todo!("ch07: table, edit (retiring the old logs), then the new log — book §7.4, task 4")
}
