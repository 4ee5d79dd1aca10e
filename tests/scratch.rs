//! Your scratch pad: tests that nothing grades. Write whatever helps you
//! here — a quick experiment, a table or a log written to the real file
//! system so that `cargo xtask dump` can show it, a failing case copied out
//! of a property test. Book: "How to use this workbook", *Scratch tests*.
//!
//! This is a test target of its own, `--test scratch`, and it uses only the
//! crate's public API, so it compiles whatever `--features` you choose:
//! your code, the reference, or any mix. (A scratch test inside a chapter
//! file is not compiled when `ref-chNN` switches that chapter to the
//! reference, and `cargo test` then silently finds nothing to run.) Neither
//! `cargo xtask grade` nor `tests/points.toml` knows about this file, and
//! `cargo xtask reset` never touches it.
//!
//! The tests below are `#[ignore]`d, so a plain `cargo test` only compiles
//! them; run one by name with `--ignored`, for example
//! `cargo test --test scratch write_a_log -- --ignored`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsm_workbook::ch01_memtable::Memtable;
use lsm_workbook::ch02_wal::{LogHeader, Wal};
use lsm_workbook::ch03_sstable::{TableOptions, write_table};
use lsm_workbook::ch06_manifest::{Manifest, ManifestOptions, TableMeta, VersionEdit};
use lsm_workbook::fs::{Fs, StdFs};
use lsm_workbook::types::{InternalKey, WriteBatch};

/// The scratch directory, created if needed, and `name` in it, removed if
/// a previous run left it (`Fs::create` refuses an existing file).
fn fresh_scratch_file(name: &str) -> PathBuf {
    let dir = Path::new("/tmp/lsm-scratch");
    let path = dir.join(name);
    StdFs.create_dir_all(dir).unwrap();
    if StdFs.exists(&path).unwrap() {
        StdFs.remove(&path).unwrap();
    }
    path
}

// ANCHOR: scratch_write_a_log
#[test]
#[ignore = "writes /tmp/lsm-scratch/000001.log; run it with --ignored"]
fn write_a_log() {
    let path = fresh_scratch_file("000001.log");
    // The header and the two batches of §2.3's worked example. A real log
    // takes a random salt; this one is fixed so that the bytes match the
    // book's byte table.
    let header = LogHeader {
        salt: 0x5a17_0000_c0de_0001,
        first_seq: 1,
    };
    let mut wal = Wal::create(&StdFs, &path, header).unwrap();
    wal.append(&WriteBatch::new(1).put("k", "v1")).unwrap();
    wal.append(&WriteBatch::new(2).delete("k")).unwrap();
    wal.sync().unwrap();
}
// ANCHOR_END: scratch_write_a_log

// ANCHOR: scratch_write_a_table
#[test]
#[ignore = "writes /tmp/lsm-scratch/000005.sst; run it with --ignored"]
fn write_a_table() {
    let path = fresh_scratch_file("000005.sst");
    // The three versions of §3.3's worked example, flushed from a memtable.
    let memtable = Memtable::new();
    memtable.put("apple".into(), 3, "red".into());
    memtable.delete("fig".into(), 2);
    memtable.put("kiwi".into(), 1, "green".into());
    // `plain(40)`: 40-byte blocks, no filter, no index. Chapters 4 and 5:
    // try `TableOptions::default()` (a filter and an index) here.
    write_table(&StdFs, &path, TableOptions::plain(40), memtable.iter()).unwrap();
}
// ANCHOR_END: scratch_write_a_table

// ANCHOR: scratch_write_a_manifest
#[test]
#[ignore = "writes the database /tmp/lsm-scratch/db; run it with --ignored"]
fn write_a_manifest() {
    // A new database each run: remove what an earlier run left.
    let dir = Path::new("/tmp/lsm-scratch/db");
    if StdFs.exists(dir).unwrap() {
        for name in StdFs.list(dir).unwrap() {
            StdFs.remove(&dir.join(name)).unwrap();
        }
    }
    let options = ManifestOptions {
        create_if_missing: true,
        ..ManifestOptions::default()
    };
    let (mut manifest, _) = Manifest::open(Arc::new(StdFs), dir, options).unwrap();
    // One flush of §6.3: a table taking one file number, the log before it
    // retired. (Only the manifest is written: the table file is not.)
    let number = manifest.new_file_number();
    let flush = VersionEdit {
        log_number: Some(number),
        last_seq: Some(3),
        added: vec![(
            0,
            TableMeta {
                file_number: number,
                size_bytes: 1008,
                smallest: InternalKey::new("apple", 3),
                largest: InternalKey::new("kiwi", 1),
            },
        )],
        ..VersionEdit::default()
    };
    manifest.install(&flush).unwrap();
    manifest.rotate().unwrap(); // now CURRENT names MANIFEST-000003
}
// ANCHOR_END: scratch_write_a_manifest
