//! Recovery: open the manifest, replay every log it still needs into one
//! memtable, write that memtable as a table, retire the old logs with one
//! edit, start a fresh log, and delete what is obsolete.
//!
//! The order is what makes recovery itself crash-safe: nothing is deleted
//! before the edit that retires it is durable, and the new log is created
//! only after that edit, so a crash at any point of recovery leaves either
//! the old logs (replayed again next time) or the new table.

// BEGIN SOLUTION hide
// STARTER: #![allow(dead_code, reason = "provided helpers that only the code you write calls")]
// END SOLUTION

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::{Core, Options, Pins, ReadState, Stats, Writer};
use crate::ch01_memtable::Memtable;
use crate::ch06_manifest::{Manifest, ManifestOptions, Version};
use crate::error::Result;
use crate::fs::Fs;
use crate::types::SeqNo;
// BEGIN SOLUTION hide
use super::write_path::write_level0_table;
use super::{open_tables, salt_for};
use crate::ch02_wal::{LogHeader, Wal, replay};
use crate::ch06_manifest::VersionEdit;
use crate::error::Error;
use crate::filename::FileName;
// END SOLUTION

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

// ANCHOR: ch07_replay_logs
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
    // BEGIN SOLUTION todo(fs, dir, version, memtable): every needed log in order, checked to continue the one before — book §7.4, task 4
    let mut logs: Vec<u64> = fs
        .list(dir)?
        .iter()
        .filter_map(|name| match FileName::parse(name) {
            Some(FileName::Log(number)) if number >= version.log_number => Some(number),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let mut next_seq = version.last_seq + 1;
    for (index, &number) in logs.iter().enumerate() {
        let path = FileName::Log(number).path(dir);
        let newest = index + 1 == logs.len();
        let report = replay(fs, &path, memtable)?;
        let Some(header) = report.header else {
            if newest {
                continue; // created, then the crash: it holds nothing
            }
            return Err(Error::corruption(
                &path,
                0,
                "a log without a header, and newer logs after it",
            ));
        };
        if header.first_seq != next_seq {
            return Err(Error::corruption(
                &path,
                0,
                format!(
                    "log starts at seq {}, the one before it ended at {next_seq}: a log is missing",
                    header.first_seq
                ),
            ));
        }
        if let (Some(torn), false) = (&report.torn_tail, newest) {
            return Err(Error::corruption(
                &path,
                torn.offset,
                format!("{} in a log that newer logs follow", torn.reason),
            ));
        }
        next_seq = report.next_seq.unwrap_or(next_seq);
    }
    Ok(next_seq)
    // END SOLUTION
}
// ANCHOR_END: ch07_replay_logs

// ANCHOR: ch07_recover
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
    // BEGIN SOLUTION todo(opening, manifest, memtable, next_seq): table, edit (retiring the old logs), then the new log — book §7.4, task 4
    let fs = opening.options.fs.as_ref();
    let log_number = manifest.new_file_number();
    let mut edit = VersionEdit {
        log_number: Some(log_number),
        last_seq: Some(next_seq - 1),
        ..VersionEdit::default()
    };
    if !memtable.is_empty() {
        let number = manifest.new_file_number();
        let (table, _) = write_level0_table(opening, number, &memtable)?;
        edit.added.push((0, table));
    }
    manifest.install(&edit)?;
    let header = LogHeader {
        salt: salt_for(opening.salt_seed, log_number),
        first_seq: next_seq,
    };
    let wal = Wal::create(fs, &FileName::Log(log_number).path(opening.dir), header)?;
    let cache = opening.options.block_cache.as_ref();
    let levels = open_tables(fs, opening.dir, &manifest.version(), &[], cache)?;
    let writer = Writer { wal, next_seq };
    let state = ReadState {
        active: Arc::new(Memtable::new()),
        active_log: log_number,
        frozen: Vec::new(),
        levels,
    };
    Ok((writer, state))
    // END SOLUTION
}
// ANCHOR_END: ch07_recover
