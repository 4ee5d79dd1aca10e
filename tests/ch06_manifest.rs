//! Graded tests for chapter 6 — the manifest. Book: "6. The manifest".
//! Run: `cargo test --test ch06_manifest --features ref-upto-ch05`.
//!
//! Every test runs on the simulated file system (`SimFs`), so it can read
//! the trace of a protocol, damage files and build crash images.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch02_wal::{LogHeader, Wal};
use lsm_workbook::ch06_manifest::{
    EDIT_KEY, LEVEL_COUNT, Manifest, ManifestOptions, ManifestRecovery, TableMeta, Version,
    VersionEdit, read_current, replay, write_current,
};
use lsm_workbook::filename::FileName;
use lsm_workbook::fs::sim::CrashPoint;
use lsm_workbook::fs::{CrashMode, Fault, Fs, OpKind, SimFs};
use lsm_workbook::types::{InternalKey, WriteBatch};
use proptest::prelude::*;
use support::alloc::measure;
use support::hexdump;

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn path(name: FileName) -> PathBuf {
    name.path(dir())
}

/// Options for tests: create when missing, a fixed salt seed, and a
/// rotation limit large enough that only the tests that want rotation get it.
fn options() -> ManifestOptions {
    ManifestOptions {
        create_if_missing: true,
        rotate_len_bytes: 1 << 20,
        salt_seed: 0x5eed,
    }
}

fn open(
    fs: &SimFs,
    options: ManifestOptions,
) -> lsm_workbook::Result<(Manifest, ManifestRecovery)> {
    Manifest::open(Arc::new(fs.clone()), dir(), options)
}

/// A new database in a new simulated file system.
fn new_db() -> (SimFs, Manifest) {
    let fs = SimFs::new();
    let (manifest, recovery) = open(&fs, options()).expect("a new database must open");
    assert!(
        recovery.created,
        "opening an empty directory with create_if_missing creates a database"
    );
    (fs, manifest)
}

/// A table with keys `smallest..=largest` (at seq 9 and 1).
fn table(file_number: u64, smallest: &str, largest: &str) -> TableMeta {
    TableMeta {
        file_number,
        size_bytes: 1000 + file_number,
        smallest: InternalKey::new(Bytes::copy_from_slice(smallest.as_bytes()), 9),
        largest: InternalKey::new(Bytes::copy_from_slice(largest.as_bytes()), 1),
    }
}

fn add(level: usize, table: TableMeta) -> VersionEdit {
    VersionEdit {
        added: vec![(level, table)],
        ..VersionEdit::default()
    }
}

/// The version's tables as `(level, file_number)`, for comparisons.
fn shape(version: &Version) -> Vec<(usize, u64)> {
    version
        .tables()
        .map(|(level, table)| (level, table.file_number))
        .collect()
}

/// Fails unless `got` holds the same tables (keys, sizes, levels, order)
/// and the same `log_number` and `last_seq` as `expected`. The
/// `next_file_number`s may differ: every open takes a number for its new
/// manifest.
#[track_caller]
fn assert_same_version(got: &Version, expected: &Version, what: &str) {
    for level in 0..LEVEL_COUNT {
        assert_eq!(
            got.level(level),
            expected.level(level),
            "{what}: the tables of level {level}"
        );
    }
    assert_eq!(
        (got.log_number, got.last_seq),
        (expected.log_number, expected.last_seq),
        "{what}: log_number and last_seq"
    );
    assert!(
        got.next_file_number >= expected.next_file_number,
        "{what}: next_file_number went back from {} to {}",
        expected.next_file_number,
        got.next_file_number
    );
}

/// Installs a flush: one new level-0 table, the log before `log_number` retired.
fn install_flush(manifest: &mut Manifest, key: &str, last_seq: u64) -> u64 {
    let number = manifest.new_file_number();
    let edit = VersionEdit {
        log_number: Some(number),
        last_seq: Some(last_seq),
        ..add(0, table(number, key, key))
    };
    manifest
        .install(&edit)
        .expect("a valid flush edit must install");
    number
}

/// Every kind of field, with binary keys and extreme numbers.
fn sample_edit() -> VersionEdit {
    VersionEdit {
        log_number: Some(7),
        next_file_number: Some(u64::MAX),
        last_seq: Some(0x0102_0304_0506_0708),
        removed: vec![(0, 3), (6, u64::MAX)],
        added: vec![
            (1, table(12, "apple", "fig")),
            (
                6,
                TableMeta {
                    file_number: 13,
                    size_bytes: 0,
                    smallest: InternalKey::new(Bytes::from_static(b""), u64::MAX),
                    largest: InternalKey::new(Bytes::from_static(b"\x00\xff"), 0),
                },
            ),
        ],
    }
}

#[test]
fn edit_round_trips_through_its_encoding() {
    for edit in [
        VersionEdit::default(),
        sample_edit(),
        add(0, table(1, "a", "a")),
        VersionEdit {
            last_seq: Some(0),
            ..VersionEdit::default()
        },
    ] {
        let bytes = edit.encode();
        let decoded = VersionEdit::decode(&bytes);
        assert_eq!(
            decoded.as_ref(),
            Ok(&edit),
            "decode(encode(edit)) must give the edit back ({} bytes: {:02x?})",
            bytes.len(),
            &bytes[..bytes.len().min(24)]
        );
    }
    assert!(
        VersionEdit::default().encode().is_empty(),
        "an empty edit has no fields, so no bytes"
    );
}

#[test]
fn edit_layout_matches_snapshot() {
    let edit = VersionEdit {
        log_number: Some(5),
        next_file_number: Some(9),
        last_seq: Some(42),
        removed: vec![(0, 4)],
        added: vec![(1, table(8, "a", "k"))],
    };
    insta::assert_snapshot!("edit_every_field", hexdump(&edit.encode()));
}

#[test]
fn edit_decode_refuses_unknown_tags_truncated_fields_and_overflowing_lengths() {
    let bytes = sample_edit().encode();
    // Every cut inside a field leaves a truncated field.
    let field_ends = field_ends(&sample_edit());
    for cut in 1..bytes.len() {
        if field_ends.contains(&cut) {
            continue;
        }
        assert!(
            VersionEdit::decode(&bytes[..cut]).is_err(),
            "an edit cut at byte {cut} of {} ends inside a field: decode must refuse it",
            bytes.len()
        );
    }
    let mut unknown = add(0, table(1, "a", "b")).encode();
    unknown.push(9);
    unknown.extend_from_slice(&[0; 8]);
    assert!(
        VersionEdit::decode(&unknown).is_err(),
        "tag 9 is unknown: refuse it, never skip it"
    );
    let mut twice = VersionEdit {
        last_seq: Some(1),
        ..VersionEdit::default()
    }
    .encode();
    twice.extend_from_slice(&twice.clone());
    assert!(
        VersionEdit::decode(&twice).is_err(),
        "a counter given twice is damage: refuse it"
    );
    let mut huge_key = vec![5, 0];
    huge_key.extend_from_slice(&1u64.to_le_bytes());
    huge_key.extend_from_slice(&1u64.to_le_bytes());
    huge_key.extend_from_slice(&u32::MAX.to_le_bytes());
    huge_key.extend_from_slice(b"abc");
    let (result, stats) = measure(|| VersionEdit::decode(&huge_key));
    assert!(
        result.is_err(),
        "a key length of 4 GiB with 3 bytes left must be refused"
    );
    stats.assert_within(
        huge_key.len() as u64,
        "VersionEdit::decode of a 4 GiB key length",
    );
}

/// Where each field of `edit`'s encoding ends: the only cuts that leave
/// whole fields.
fn field_ends(edit: &VersionEdit) -> BTreeSet<usize> {
    let mut ends = BTreeSet::new();
    let mut end = 0;
    for counter in [edit.log_number, edit.next_file_number, edit.last_seq] {
        if counter.is_some() {
            end += 9;
            ends.insert(end);
        }
    }
    for _ in &edit.removed {
        end += 10;
        ends.insert(end);
    }
    for (_, table) in &edit.added {
        end +=
            1 + 1 + 8 + 8 + (4 + table.smallest.key.len() + 8) + (4 + table.largest.key.len() + 8);
        ends.insert(end);
    }
    ends
}

#[test]
fn apply_adds_and_removes_tables_and_sets_counters() {
    let empty = Version::default();
    let edit = VersionEdit {
        log_number: Some(4),
        next_file_number: Some(10),
        last_seq: Some(99),
        added: vec![(0, table(3, "a", "m")), (2, table(5, "n", "z"))],
        ..VersionEdit::default()
    };
    let version = empty.apply(&edit).expect("a valid edit applies");
    assert_eq!(
        shape(&version),
        vec![(0, 3), (2, 5)],
        "tables land in their levels"
    );
    assert_eq!(
        (
            version.log_number,
            version.next_file_number,
            version.last_seq
        ),
        (4, 10, 99),
        "the counters are set"
    );
    assert_eq!(
        shape(&empty),
        vec![],
        "apply returns a new version; the old one is unchanged"
    );
    let moved = version
        .apply(&VersionEdit {
            removed: vec![(2, 5)],
            added: vec![(3, table(5, "n", "z"))],
            ..VersionEdit::default()
        })
        .expect("removing then adding one table moves it (removals come first)");
    assert_eq!(shape(&moved), vec![(0, 3), (3, 5)]);
    assert_eq!(
        moved.last_seq, 99,
        "counters not in the edit stay as they were"
    );
    let removed = moved
        .apply(&VersionEdit {
            removed: vec![(0, 3)],
            ..VersionEdit::default()
        })
        .unwrap();
    assert!(!removed.contains_table(3), "a removed table is gone");
    assert!(removed.contains_table(5));
}

#[test]
fn level0_is_newest_first_and_deeper_levels_are_sorted_by_key() {
    let mut version = Version::default()
        .apply(&VersionEdit {
            next_file_number: Some(100),
            ..VersionEdit::default()
        })
        .unwrap();
    for (level, table) in [
        (0, table(10, "m", "z")),
        (1, table(20, "p", "r")),
        (0, table(12, "a", "z")),
        (1, table(21, "a", "c")),
        (0, table(11, "c", "d")),
        (1, table(22, "e", "f")),
    ] {
        version = version.apply(&add(level, table)).unwrap();
    }
    let numbers =
        |level: usize| -> Vec<u64> { version.level(level).iter().map(|t| t.file_number).collect() };
    assert_eq!(
        numbers(0),
        vec![12, 11, 10],
        "level 0 is newest first: the highest file number first, whatever the keys"
    );
    assert_eq!(
        numbers(1),
        vec![21, 22, 20],
        "levels >= 1 are sorted by smallest key"
    );
    assert!(
        version.level(LEVEL_COUNT).is_empty(),
        "a level past the last is empty"
    );
}

#[test]
fn apply_refuses_invalid_edits_and_changes_nothing() {
    let base = Version::default()
        .apply(&VersionEdit {
            log_number: Some(5),
            next_file_number: Some(50),
            last_seq: Some(100),
            added: vec![(0, table(3, "a", "z")), (1, table(4, "d", "f"))],
            ..VersionEdit::default()
        })
        .unwrap();
    let before = base.clone();
    let cases: Vec<(&str, VersionEdit)> = vec![
        (
            "removing a table that is not there",
            VersionEdit {
                removed: vec![(0, 9)],
                ..VersionEdit::default()
            },
        ),
        (
            "removing a table from the wrong level",
            VersionEdit {
                removed: vec![(1, 3)],
                ..VersionEdit::default()
            },
        ),
        (
            "adding a file number the version holds",
            add(2, table(3, "x", "y")),
        ),
        (
            "adding one table twice in one edit",
            VersionEdit {
                added: vec![(2, table(7, "a", "b")), (3, table(7, "c", "d"))],
                ..VersionEdit::default()
            },
        ),
        ("a level out of range", add(LEVEL_COUNT, table(8, "a", "b"))),
        ("overlapping tables in level 1", add(1, table(9, "e", "g"))),
        (
            "a table ending where the next begins, in level 1",
            add(1, table(9, "a", "d")),
        ),
        ("smallest after largest", add(2, table(10, "z", "a"))),
        (
            "a file number not handed out yet (next_file_number is 50)",
            add(2, table(50, "a", "b")),
        ),
        (
            "log_number going backwards",
            VersionEdit {
                log_number: Some(4),
                ..VersionEdit::default()
            },
        ),
        (
            "next_file_number going backwards",
            VersionEdit {
                next_file_number: Some(49),
                ..VersionEdit::default()
            },
        ),
        (
            "last_seq going backwards",
            VersionEdit {
                last_seq: Some(99),
                ..VersionEdit::default()
            },
        ),
    ];
    for (what, edit) in cases {
        let result = base.apply(&edit);
        assert!(
            result.is_err(),
            "{what} must be refused (an error, never a silent no-op), got a version with {:?}",
            result.map(|v| shape(&v))
        );
        assert_eq!(
            base, before,
            "{what}: apply must never change the version it is called on"
        );
    }
    let overlap_in_level0 = base.apply(&add(0, table(11, "b", "c")));
    assert!(
        overlap_in_level0.is_ok(),
        "level 0 tables may overlap: {:?}",
        overlap_in_level0.err()
    );
}

#[test]
fn new_database_is_created_only_when_asked() {
    let fs = SimFs::new();
    fs.create_dir_all(dir()).unwrap();
    let refused = open(
        &fs,
        ManifestOptions {
            create_if_missing: false,
            ..options()
        },
    );
    assert!(
        refused.is_err(),
        "without CURRENT and without create_if_missing, open must fail, got a manifest"
    );
    assert_eq!(
        fs.list(dir()).unwrap(),
        Vec::<String>::new(),
        "a refused open writes nothing"
    );
    let (manifest, recovery) = open(&fs, options()).expect("create_if_missing creates it");
    assert!(
        recovery.created,
        "the recovery report says the database is new"
    );
    assert_eq!(
        shape(&manifest.version()),
        vec![],
        "a new database has no tables"
    );
    drop(manifest);
    let (_, recovery) = open(
        &fs,
        ManifestOptions {
            create_if_missing: false,
            ..options()
        },
    )
    .expect("an existing database opens without create_if_missing");
    assert!(
        !recovery.created,
        "reopening an existing database creates nothing"
    );
    // A database that lost its CURRENT is an error even when creation is
    // allowed: replacing it by an empty one would lose it.
    let fs = SimFs::new();
    let (mut manifest, _) = open(&fs, options()).unwrap();
    install_flush(&mut manifest, "k", 5);
    drop(manifest);
    fs.create(&path(FileName::Log(40))).unwrap();
    fs.remove(&path(FileName::Current)).unwrap();
    let result = open(&fs, options());
    assert!(
        matches!(result, Err(Error::Corruption { .. })),
        "CURRENT missing next to a log of the database: Corruption, never a fresh empty database; got {:?}",
        result.map(|(m, _)| shape(&m.version()))
    );
}

#[test]
fn reopen_rebuilds_the_version_held_in_memory() {
    let (fs, mut manifest) = new_db();
    let a = install_flush(&mut manifest, "a", 10);
    let b = install_flush(&mut manifest, "b", 20);
    let c = manifest.new_file_number();
    manifest
        .install(&VersionEdit {
            removed: vec![(0, a), (0, b)],
            added: vec![(1, table(c, "a", "b"))],
            last_seq: Some(25),
            ..VersionEdit::default()
        })
        .unwrap();
    let held = manifest.version();
    drop(manifest);
    let (reopened, recovery) = open(&fs, options()).unwrap();
    assert_eq!(
        shape(&reopened.version()),
        shape(&held),
        "the version replayed from the manifest must equal the one held in memory"
    );
    assert_same_version(
        &reopened.version(),
        &held,
        "reopened: tables, keys, sizes and counters",
    );
    assert!(
        recovery.edits >= 1,
        "reopening replays the manifest's edits"
    );
    let replayed = replay(&fs, &path(FileName::Manifest(reopened.number())))
        .unwrap()
        .0;
    assert_same_version(&replayed, &held, "replay of the new manifest");
}

#[test]
fn install_is_durable_when_it_returns() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let held = manifest.version();
    let image = fs.crash(CrashMode::PowerLoss);
    let (recovered, _) = open(&image, options()).unwrap_or_else(|e| {
        panic!(
            "after a power loss the database must open: {e}\n{}",
            fs.trace_string()
        )
    });
    assert_eq!(
        shape(&recovered.version()),
        shape(&held),
        "an edit whose install returned Ok survives a power loss: append, then sync, before \
         returning — and CURRENT must name that manifest durably (write_current syncs the \
         directory after the rename)\n{}",
        fs.trace_string()
    );
}

#[test]
fn write_current_is_temp_sync_rename_sync_dir() {
    let fs = SimFs::new();
    fs.create_dir_all(dir()).unwrap();
    for number in [7, 8] {
        fs.create(&path(FileName::Manifest(number))).unwrap();
    }
    let before = fs.op_count() as usize;
    write_current(&fs, dir(), 7).unwrap();
    assert_eq!(
        fs.file_bytes(path(FileName::Current)).as_deref(),
        Some(&b"MANIFEST-000007\n"[..]),
        "CURRENT holds the manifest's name and a newline"
    );
    let ops: Vec<(OpKind, PathBuf)> = fs.trace()[before..]
        .iter()
        .map(|op| (op.kind, op.path.clone()))
        .collect();
    let temp = path(FileName::CurrentTemp);
    let expected = vec![
        (OpKind::Create, temp.clone()),
        (OpKind::Append, temp.clone()),
        (OpKind::Sync, temp.clone()),
        (OpKind::Rename, temp),
        (OpKind::SyncDir, dir().to_path_buf()),
    ];
    assert_eq!(
        ops,
        expected,
        "CURRENT is replaced by: create CURRENT.tmp, append, sync, rename over CURRENT, sync the \
         directory — never written in place. The trace:\n{}",
        fs.trace_string()
    );
    // A leftover temp file from a crash does not stop the next switch.
    fs.create(&path(FileName::CurrentTemp)).unwrap();
    write_current(&fs, dir(), 8).expect("a stale CURRENT.tmp is removed first");
    assert_eq!(
        read_current(&fs, dir()).unwrap(),
        Some(8),
        "read_current reads what was written"
    );
}

#[test]
fn rotation_trace_matches_snapshot() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let before = fs.op_count() as usize;
    manifest.rotate().unwrap();
    let trace: String = fs.trace()[before..]
        .iter()
        .map(|op| format!("{op}\n"))
        .collect();
    insta::assert_snapshot!("rotation_trace", trace);
}

#[test]
fn rotation_removes_the_old_manifest_only_after_current_is_durable() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let old = path(FileName::Manifest(manifest.number()));
    let before = fs.op_count() as usize;
    manifest.rotate().unwrap();
    let new = path(FileName::Manifest(manifest.number()));
    assert_ne!(
        old, new,
        "rotation starts a manifest with a new file number"
    );
    let trace = fs.trace();
    let trace = &trace[before..];
    let position = |kind: OpKind, path: &Path| {
        trace
            .iter()
            .position(|op| op.kind == kind && op.path == path)
    };
    let removed = position(OpKind::Remove, &old).unwrap_or_else(|| {
        panic!(
            "rotation must remove the old manifest:\n{}",
            fs.trace_string()
        )
    });
    let rename = position(OpKind::Rename, &path(FileName::CurrentTemp));
    let dir_sync_after_rename = rename.and_then(|at| {
        trace[at..]
            .iter()
            .position(|op| op.kind == OpKind::SyncDir)
            .map(|d| at + d)
    });
    assert!(
        matches!(dir_sync_after_rename, Some(at) if at < removed),
        "the old manifest may go only after the rename of CURRENT is durable (a sync_dir after \
         it):\n{}",
        fs.trace_string()
    );
    let synced_new = trace
        .iter()
        .position(|op| op.kind == OpKind::Sync && op.path == new);
    assert!(
        matches!((synced_new, rename), (Some(s), Some(r)) if s < r),
        "the new manifest must be synced before CURRENT names it:\n{}",
        fs.trace_string()
    );
    assert!(!fs.exists(&old).unwrap(), "the old manifest is gone");
    let (replayed, recovery) = replay(&fs, &new).unwrap();
    assert_eq!(
        recovery.edits, 1,
        "a new manifest starts with one snapshot edit"
    );
    assert_eq!(
        replayed,
        *manifest.version(),
        "the snapshot edit rebuilds the whole version"
    );
}

#[test]
fn reopen_after_rotation_keeps_every_edit() {
    let fs = SimFs::new();
    let small = ManifestOptions {
        rotate_len_bytes: 200,
        ..options()
    };
    let (mut manifest, _) = open(&fs, small.clone()).unwrap();
    let first = manifest.number();
    let mut numbers = Vec::new();
    for i in 0..12 {
        numbers.push(install_flush(
            &mut manifest,
            &format!("k{i:02}"),
            10 * (i + 1),
        ));
    }
    assert!(
        manifest.number() != first,
        "12 edits pass a 200-byte limit: the manifest must have rotated"
    );
    let manifests: Vec<String> = fs
        .list(dir())
        .unwrap()
        .into_iter()
        .filter(|name| name.starts_with("MANIFEST-"))
        .collect();
    assert_eq!(
        manifests.len(),
        1,
        "old manifests are removed after rotation: {manifests:?}"
    );
    let held = manifest.version();
    drop(manifest);
    let (reopened, _) = open(&fs, small).unwrap();
    assert_same_version(
        &reopened.version(),
        &held,
        "every edit survives rotation and reopen",
    );
    for number in numbers {
        assert!(
            reopened.version().contains_table(number),
            "table {number} is still there"
        );
    }
}

#[test]
fn open_rotates_so_a_torn_tail_is_never_appended_to() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let number = manifest.number();
    drop(manifest);
    fs.append_garbage(path(FileName::Manifest(number)), &[0xee; 7])
        .unwrap();
    let (mut reopened, recovery) = open(&fs, options()).unwrap();
    assert!(
        recovery.torn_tail.is_some(),
        "the garbage after the last edit is a torn tail, and the recovery report says so"
    );
    assert_ne!(
        reopened.number(),
        number,
        "open starts a new manifest, so no edit is ever appended after a torn tail"
    );
    install_flush(&mut reopened, "b", 20);
    let held = reopened.version();
    drop(reopened);
    let (again, recovery) = open(&fs, options()).expect("the database opens again");
    assert_eq!(
        recovery.torn_tail, None,
        "the new manifest has no torn tail"
    );
    assert_same_version(&again.version(), &held, "reopened after the torn tail");
}

/// A small manifest holding a snapshot and two flushes, and its bytes.
fn small_manifest() -> (SimFs, u64, Version, Vec<u8>) {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let after_first = manifest.version();
    install_flush(&mut manifest, "b", 20);
    let number = manifest.number();
    drop(manifest);
    let bytes = fs.file_bytes(path(FileName::Manifest(number))).unwrap();
    (fs, number, Version::clone(&after_first), bytes)
}

#[test]
fn torn_last_edit_gives_the_previous_version_and_is_reported() {
    let (fs, number, after_first, bytes) = small_manifest();
    let manifest = path(FileName::Manifest(number));
    fs.truncate(&manifest, bytes.len() as u64 - 3).unwrap();
    let (version, recovery) = replay(&fs, &manifest).expect("a torn last edit is a torn tail");
    assert_eq!(version, after_first, "the version before the torn edit");
    assert!(recovery.torn_tail.is_some(), "the torn edit is reported");
    let (reopened, recovery) = open(&fs, options()).unwrap();
    assert_eq!(
        shape(&reopened.version()),
        shape(&after_first),
        "open recovers the previous version"
    );
    assert_eq!(reopened.version().last_seq, after_first.last_seq);
    assert!(
        recovery.torn_tail.is_some(),
        "open reports the torn edit too"
    );
}

// A freshly rotated manifest holds one edit, the snapshot of the whole
// version. If that edit is damaged, the manifest says nothing: reading it
// as an empty database would make every table look obsolete.
#[test]
fn a_manifest_whose_only_edit_is_damaged_is_corruption_not_an_empty_database() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    manifest.rotate().unwrap();
    let number = manifest.number();
    drop(manifest);
    let path = path(FileName::Manifest(number));
    let len = fs.file_bytes(&path).unwrap().len() as u64;
    fs.flip_bit(&path, (len - 3) * 8).unwrap();
    let result = open(&fs, options());
    assert!(
        matches!(&result, Err(Error::Corruption { .. })),
        "the only edit of the manifest CURRENT names is damaged: Corruption, never the empty \
         version (whose obsolete files would be every table); got a manifest with {:?}",
        result.map(|(m, _)| shape(&m.version()))
    );
}

#[test]
fn damaged_edit_followed_by_a_valid_one_is_corruption() {
    let (fs, number, _, bytes) = small_manifest();
    let manifest = path(FileName::Manifest(number));
    // The second record (the first flush) starts after the header and the
    // snapshot record; damage a byte of its edit.
    let offsets = record_offsets(&fs, &manifest);
    assert_eq!(offsets.len(), 3, "snapshot + two flushes");
    let target = offsets[1] as usize + 24 + 8;
    assert!(target < bytes.len());
    fs.flip_bit(&manifest, target as u64 * 8).unwrap();
    let result = replay(&fs, &manifest);
    assert!(
        matches!(&result, Err(Error::Corruption { file, offset, .. }) if *file == manifest && *offset == offsets[1]),
        "a damaged edit followed by a valid one is Corruption at the damaged record ({}), got {:?}",
        offsets[1],
        result.map(|(v, _)| shape(&v))
    );
    let opened = open(&fs, options());
    assert!(
        matches!(opened, Err(Error::Corruption { .. })),
        "open refuses it too: never a silent truncation"
    );
}

fn record_offsets(fs: &SimFs, path: &Path) -> Vec<u64> {
    let mut offsets = Vec::new();
    lsm_workbook::ch02_wal::read_log(fs, path, &mut |offset, _| offsets.push(offset)).unwrap();
    offsets
}

#[test]
fn replay_refuses_records_that_are_not_edits() {
    let fs = SimFs::new();
    fs.create_dir_all(dir()).unwrap();
    let good = VersionEdit {
        next_file_number: Some(5),
        ..VersionEdit::default()
    }
    .encode();
    let cases: Vec<(&str, WriteBatch)> = vec![
        (
            "a record with two ops",
            WriteBatch::new(2)
                .put(EDIT_KEY, good.clone())
                .put(EDIT_KEY, good.clone()),
        ),
        (
            "a put of another key",
            WriteBatch::new(2).put("not-an-edit", good.clone()),
        ),
        ("a delete", WriteBatch::new(2).delete(EDIT_KEY)),
        (
            "bytes that are not an edit",
            WriteBatch::new(2).put(EDIT_KEY, vec![99u8, 1, 2]),
        ),
        (
            "an edit the version refuses",
            WriteBatch::new(2).put(
                EDIT_KEY,
                VersionEdit {
                    removed: vec![(0, 1)],
                    ..VersionEdit::default()
                }
                .encode(),
            ),
        ),
    ];
    for (number, (what, bad)) in (10u64..).zip(cases) {
        let manifest = path(FileName::Manifest(number));
        let mut log = Wal::create(
            &fs,
            &manifest,
            LogHeader {
                salt: 1,
                first_seq: 1,
            },
        )
        .unwrap();
        log.append(&WriteBatch::new(1).put(EDIT_KEY, good.clone()))
            .unwrap();
        log.append(&bad).unwrap();
        log.append(&WriteBatch::new(log.next_seq()).put(EDIT_KEY, good.clone()))
            .unwrap();
        let offsets = record_offsets(&fs, &manifest);
        let result = replay(&fs, &manifest);
        assert!(
            matches!(&result, Err(Error::Corruption { file, offset, .. }) if *file == manifest && *offset == offsets[1]),
            "{what}: a valid log record that is not an edit the version accepts is Corruption at \
             its offset ({}), got {:?}",
            offsets[1],
            result.map(|(v, _)| shape(&v))
        );
    }
}

#[test]
fn current_missing_empty_damaged_or_naming_a_missing_manifest_is_an_error() {
    let (fs, manifest) = new_db();
    let number = manifest.number();
    drop(manifest);
    let current = path(FileName::Current);
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("CURRENT empty", Some(Vec::new())),
        (
            "CURRENT without its newline",
            Some(format!("MANIFEST-{number:06}").into_bytes()),
        ),
        (
            "CURRENT naming a manifest that is not there",
            Some(b"MANIFEST-000999\n".to_vec()),
        ),
        (
            "CURRENT naming something else",
            Some(b"000001.log\n".to_vec()),
        ),
        ("CURRENT holding garbage", Some(vec![0xff; 16])),
        ("CURRENT far too long", Some(vec![b'M'; 4096])),
        ("CURRENT missing", None),
    ];
    // CURRENT is fine, but the manifest it names lost its header: that is
    // damage (a manifest is complete before CURRENT names it), never an
    // empty database.
    let image = fs.crash(CrashMode::ProcessKill);
    image
        .truncate(path(FileName::Manifest(number)), 10)
        .unwrap();
    let result = open(&image, options());
    assert!(
        matches!(&result, Err(Error::Corruption { .. })),
        "CURRENT naming a manifest of 10 bytes (no whole header): Corruption, got {:?}",
        result.map(|(m, _)| shape(&m.version()))
    );
    for (what, content) in cases {
        let image = fs.crash(CrashMode::ProcessKill);
        image.remove(&current).unwrap();
        image.create(&path(FileName::Log(77))).unwrap(); // the database has a log
        if let Some(bytes) = &content {
            let mut file = image.create(&current).unwrap();
            file.append(bytes).unwrap();
        }
        let result = open(&image, options());
        assert!(
            result.is_err(),
            "{what}: open must fail with a clear error, never open an empty or wrong database; got a \
             manifest with {:?}",
            result.map(|(m, _)| shape(&m.version()))
        );
        if content.is_some() {
            assert!(
                matches!(&result, Err(Error::Corruption { file, .. }) if *file == current),
                "{what}: Corruption naming CURRENT, got {:?}",
                result.err()
            );
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_small_manifest_is_detected() {
    let (fs, number, _, bytes) = small_manifest();
    let manifest = path(FileName::Manifest(number));
    let truth = replay(&fs, &manifest).unwrap().0;
    let offsets = record_offsets(&fs, &manifest);
    let last = *offsets.last().unwrap();
    for bit in 0..bytes.len() as u64 * 8 {
        let image = fs.crash(CrashMode::ProcessKill);
        image.flip_bit(&manifest, bit).unwrap();
        match replay(&image, &manifest) {
            Err(Error::Corruption { .. }) => {}
            Ok((version, recovery)) => {
                assert!(
                    bit / 8 >= last && recovery.torn_tail.is_some() && version != truth,
                    "bit {bit}: a flip before the last edit must be Corruption; in the last edit \
                     it may only drop that edit as a torn tail — got a version with {:?} and torn \
                     tail {:?}",
                    shape(&version),
                    recovery.torn_tail
                );
            }
            Err(other) => panic!("bit {bit}: expected Corruption, got {other}"),
        }
    }
}

#[test]
fn file_numbers_are_never_reused_even_after_a_crash() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    // Numbers handed out but never recorded: a table written but not yet
    // installed, a log created — then the process dies.
    let table_number = manifest.new_file_number();
    fs.create(&path(FileName::Table(table_number))).unwrap();
    let log_number = manifest.new_file_number();
    let mut log = fs.create(&path(FileName::Log(log_number))).unwrap();
    log.sync().unwrap();
    fs.sync_dir(dir()).unwrap();
    let handed_out = [table_number, log_number];
    let image = fs.crash(CrashMode::PowerLoss);
    let (mut reopened, _) = open(&image, options()).unwrap();
    let existing: Vec<(String, u64)> = image
        .list(dir())
        .unwrap()
        .into_iter()
        .filter_map(|name| {
            let number = FileName::parse(&name)?.number()?;
            Some((name, number))
        })
        .collect();
    let next = reopened.new_file_number();
    assert!(
        existing.iter().all(|(_, number)| *number < next),
        "after a crash the next file number ({next}) must be above every numbered file in the \
         directory {existing:?}: numbers {handed_out:?} were handed out but never recorded (two \
         files sharing a number means one was reused)"
    );
}

#[test]
fn obsolete_files_are_exactly_the_dead_ones() {
    let (_fs, mut manifest) = new_db();
    let a = install_flush(&mut manifest, "a", 10);
    let b = install_flush(&mut manifest, "b", 20);
    manifest.rotate().unwrap(); // so MANIFEST-000001 is an old one
    let version = manifest.version();
    let live_manifest = FileName::Manifest(manifest.number()).to_string();
    let log_number = version.log_number;
    let dead_table = 900;
    let pending_table = 901;
    let listing: Vec<String> = vec![
        FileName::Table(a).to_string(),
        FileName::Table(b).to_string(),
        FileName::Table(dead_table).to_string(),
        FileName::Table(pending_table).to_string(),
        FileName::Log(log_number - 1).to_string(),
        FileName::Log(log_number).to_string(),
        FileName::Log(log_number + 5).to_string(),
        FileName::Manifest(1).to_string(),
        live_manifest.clone(),
        "CURRENT".to_string(),
        "CURRENT.tmp".to_string(),
        "notes.txt".to_string(),
        "7.log".to_string(),
        "LOCK".to_string(),
    ];
    let mut obsolete = manifest.obsolete_files(&listing, &[pending_table]);
    obsolete.sort();
    let mut expected = vec![
        FileName::Table(dead_table).to_string(),
        FileName::Log(log_number - 1).to_string(),
        FileName::Manifest(1).to_string(),
        "CURRENT.tmp".to_string(),
    ];
    expected.sort();
    assert_eq!(
        obsolete, expected,
        "obsolete: tables the version does not hold (not pending ones), logs below log_number \
         ({log_number}), manifests other than the live one ({live_manifest}), a leftover \
         CURRENT.tmp — and nothing else: unknown names are left alone"
    );
}

#[test]
fn failed_install_poisons_the_manifest() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let held = manifest.version();
    fs.inject(Fault::nth(OpKind::Sync, 1).forgetting());
    let number = manifest.new_file_number();
    let failed = manifest.install(&add(0, table(number, "b", "b")));
    assert!(
        matches!(failed, Err(Error::Io { .. })),
        "the failed sync must be returned, got {failed:?}"
    );
    assert_eq!(
        shape(&manifest.version()),
        shape(&held),
        "an edit whose sync failed is not installed in memory"
    );
    let number = manifest.new_file_number();
    let again = manifest.install(&add(0, table(number, "c", "c")));
    assert!(
        matches!(again, Err(Error::Poisoned { .. })),
        "after a failed install the manifest refuses further installs (fail-stop), got {again:?}"
    );
}

#[test]
fn failed_rotation_poisons_the_manifest_and_the_database_still_opens() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let held = manifest.version();
    fs.inject(Fault::nth(OpKind::Rename, 1));
    let failed = manifest.rotate();
    assert!(
        matches!(failed, Err(Error::Io { .. })),
        "the failed rename of CURRENT.tmp must be returned, got {failed:?}"
    );
    let number = manifest.new_file_number();
    let again = manifest.install(&add(0, table(number, "b", "b")));
    assert!(
        matches!(again, Err(Error::Poisoned { .. })),
        "after a failed rotation the manifest refuses installs until reopened (fail-stop): which \
         manifest CURRENT names is not known any more; got {again:?}"
    );
    drop(manifest);
    let (reopened, _) = open(&fs, options()).expect("the old CURRENT still names a whole manifest");
    assert_same_version(&reopened.version(), &held, "after the failed rotation");
}

#[test]
fn invalid_install_is_refused_and_writes_nothing() {
    let (fs, mut manifest) = new_db();
    install_flush(&mut manifest, "a", 10);
    let held = manifest.version();
    let len = manifest.len_bytes();
    let ops = fs.op_count();
    let refused = manifest.install(&VersionEdit {
        removed: vec![(0, 999)],
        ..VersionEdit::default()
    });
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "an edit the version refuses is InvalidArgument, got {refused:?}"
    );
    assert_eq!(
        fs.op_count(),
        ops,
        "a refused edit writes nothing:\n{}",
        fs.trace_string()
    );
    assert_eq!(manifest.len_bytes(), len);
    assert_eq!(*manifest.version(), *held, "and changes nothing");
    install_flush(&mut manifest, "b", 20); // not poisoned
}

/// The edits the crash workload installs, in order (from a dry run), and
/// the model of the tables after each prefix.
fn crash_workload(
    fs: &SimFs,
    options: &ManifestOptions,
    edits: &mut Vec<VersionEdit>,
) -> (bool, usize) {
    let Ok((mut manifest, _)) = open(fs, options.clone()) else {
        return (false, 0);
    };
    let mut installed = 0;
    let mut level0 = Vec::new();
    for i in 0..10u64 {
        let number = manifest.new_file_number();
        let edit = if i % 4 == 3 {
            VersionEdit {
                removed: level0.drain(..).map(|n| (0, n)).collect(),
                added: vec![(1, table(number, &format!("c{i}a"), &format!("c{i}z")))],
                last_seq: Some(10 * i),
                ..VersionEdit::default()
            }
        } else {
            level0.push(number);
            VersionEdit {
                log_number: Some(number),
                last_seq: Some(10 * i),
                ..add(0, table(number, "a", "z"))
            }
        };
        edits.push(edit.clone());
        if manifest.install(&edit).is_err() {
            break;
        }
        installed += 1;
    }
    (true, installed)
}

/// The tables `(level, file_number)` after the first `count` edits.
fn model(edits: &[VersionEdit], count: usize) -> BTreeSet<(usize, u64)> {
    let mut tables = BTreeSet::new();
    for edit in &edits[..count] {
        for removed in &edit.removed {
            tables.remove(removed);
        }
        for (level, table) in &edit.added {
            tables.insert((*level, table.file_number));
        }
    }
    tables
}

// The crash oracle for the manifest: crash after every operation of a
// workload of flushes and compactions with rotations in between, in every
// crash mode. Reopening must always work, and give the tables after some
// prefix of the edits that contains every edit whose install returned Ok.
#[test]
fn crash_at_every_operation_recovers_a_prefix_with_every_installed_edit() {
    let options = ManifestOptions {
        rotate_len_bytes: 300,
        ..options()
    };
    let dry_run = SimFs::new();
    let mut edits = Vec::new();
    crash_workload(&dry_run, &options, &mut edits);
    for point in CrashPoint::sweep(dry_run.op_count(), 0x6d61) {
        let fs = SimFs::new();
        fs.stop_after(point.after_op);
        let (opened, installed) = crash_workload(&fs, &options, &mut Vec::new());
        let image = fs.crash(point.mode);
        let (reopened, recovery) = open(&image, options.clone()).unwrap_or_else(|e| {
            panic!(
                "{point}: reopening after a crash failed: {e}\ntrace of the crashed run:\n{}",
                fs.trace_string()
            )
        });
        assert!(
            !(opened && recovery.created),
            "{point}: the first open returned Ok, so CURRENT was durable; reopening must not \
             create a new database\n{}",
            fs.trace_string()
        );
        let recovered: BTreeSet<(usize, u64)> = shape(&reopened.version()).into_iter().collect();
        let prefix = (installed..=edits.len()).find(|&count| model(&edits, count) == recovered);
        assert!(
            prefix.is_some(),
            "{point}: recovered tables {recovered:?} are not the state after any prefix of at \
             least the {installed} installed edits\ntrace of the crashed run:\n{}",
            fs.trace_string()
        );
        // Recovery is idempotent, and the reopened manifest works.
        drop(reopened);
        let (mut again, _) = open(&image, options.clone()).expect("a second reopen works");
        assert_eq!(
            shape(&again.version()).into_iter().collect::<BTreeSet<_>>(),
            recovered,
            "{point}: reopening twice changes nothing"
        );
        let number = again.new_file_number();
        let taken = image
            .list(dir())
            .unwrap()
            .iter()
            .filter_map(|n| FileName::parse(n)?.number())
            .max()
            .unwrap_or(0);
        assert!(
            number > taken,
            "{point}: file number {number} handed out again (largest on disk {taken})"
        );
    }
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    /// A flush: a new level-0 table.
    Flush,
    /// Move level-0 table `index % len` into a new level-`level` table.
    Compact { index: usize, level: usize },
    /// An edit the version must refuse.
    Invalid,
    /// Drop the manifest and open it again.
    Reopen,
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Flush),
        2 => (any::<usize>(), 1usize..LEVEL_COUNT).prop_map(|(index, level)| Step::Compact { index, level }),
        1 => Just(Step::Invalid),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    // Random flushes, compactions, invalid edits and reopens, against a
    // plain model of which table is in which level; a small rotation limit
    // rotates often.
    #[test]
    fn manifest_matches_a_model_under_random_edits_and_reopens(steps in prop::collection::vec(arb_step(), 1..30)) {
        let fs = SimFs::new();
        let options = ManifestOptions { rotate_len_bytes: 400, ..options() };
        let (mut manifest, _) = open(&fs, options.clone()).unwrap();
        let mut model: BTreeMap<u64, usize> = BTreeMap::new();
        let mut last_seq = 0;
        let mut key_counter = 0u32;
        for step in steps {
            match step {
                Step::Flush => {
                    last_seq += 3;
                    let number = install_flush(&mut manifest, "k", last_seq);
                    model.insert(number, 0);
                }
                Step::Compact { index, level } => {
                    let level0: Vec<u64> = model.iter().filter(|(_, l)| **l == 0).map(|(n, _)| *n).collect();
                    if level0.is_empty() { continue; }
                    let input = level0[index % level0.len()];
                    let number = manifest.new_file_number();
                    key_counter += 1;
                    let key = format!("{key_counter:06}");
                    manifest.install(&VersionEdit {
                        removed: vec![(0, input)],
                        added: vec![(level, table(number, &key, &key))],
                        ..VersionEdit::default()
                    }).unwrap();
                    model.remove(&input);
                    model.insert(number, level);
                }
                Step::Invalid => {
                    let refused = manifest.install(&VersionEdit { removed: vec![(0, u64::MAX)], ..VersionEdit::default() });
                    prop_assert!(refused.is_err(), "an invalid edit must be refused");
                }
                Step::Reopen => {
                    drop(manifest);
                    manifest = open(&fs, options.clone()).unwrap().0;
                }
            }
            let got: BTreeMap<u64, usize> = manifest.version().tables().map(|(level, t)| (t.file_number, level)).collect();
            prop_assert_eq!(&got, &model);
            prop_assert_eq!(manifest.version().last_seq, last_seq);
        }
        drop(manifest);
        let (reopened, _) = open(&fs, options).unwrap();
        let got: BTreeMap<u64, usize> = reopened.version().tables().map(|(level, t)| (t.file_number, level)).collect();
        prop_assert_eq!(&got, &model);
    }

    // Any bytes at all, as an edit: decode returns Ok or Err, never panics,
    // and allocates within the bound.
    #[test]
    fn edit_decode_of_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let (result, stats) = measure(|| VersionEdit::decode(&bytes));
        if let Ok(edit) = result {
            prop_assert_eq!(VersionEdit::decode(&edit.encode()), Ok(edit));
        }
        stats.assert_within(bytes.len() as u64, "VersionEdit::decode");
    }
}
