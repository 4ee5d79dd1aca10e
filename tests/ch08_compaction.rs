//! Graded tests for chapter 8 — compaction. Book: "8. Compaction".
//! Run: `cargo test --test ch08_compaction --features ref-upto-ch07`.
//!
//! Engine tests run on the simulated file system with scaled-down shapes:
//! memtables of a few KiB, a level-1 target of a few KiB, small tables, so
//! a few thousand writes build several levels.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_workbook::ch06_manifest::LEVEL_COUNT;
use lsm_workbook::ch07_engine::{Db, DbStats, Options};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions};
use lsm_workbook::fs::{Fs, SimFs};

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

/// A scaled-down leveled shape: level 0 compacts at 4 tables, level 1
/// holds 8 KiB, each level 10 times more, tables of 4 KiB.
fn shape() -> LeveledOptions {
    LeveledOptions {
        level0_trigger: 4,
        level1_target_bytes: 8 << 10,
        level_size_factor: 10,
        table_target_bytes: 4 << 10,
    }
}

fn options(fs: &SimFs) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: 4 << 10,
        salt_seed: Some(8),
        compaction: Some(Arc::new(Leveled { options: shape() })),
        ..Options::default()
    }
}

fn open(fs: &SimFs) -> Db {
    Db::open(dir(), options(fs)).expect("the database must open")
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn dir_bytes(fs: &SimFs) -> u64 {
    fs.list(dir())
        .unwrap()
        .iter()
        .map(|name| fs.file_bytes(dir().join(name)).map_or(0, |bytes| bytes.len() as u64))
        .sum()
}

fn level_tables(stats: &DbStats) -> Vec<usize> {
    stats.levels.iter().map(|(tables, _)| *tables).collect()
}

#[test]
fn smoke_many_writes_keep_the_shape_and_every_value() {
    let fs = SimFs::new();
    let db = open(&fs);
    let mut model = BTreeMap::new();
    for i in 0..6000u32 {
        let key = format!("key{:05}", (i * 7919) % 1500);
        if i % 9 == 4 {
            db.delete(b(&key)).unwrap();
            model.remove(&key);
        } else {
            let value = format!("v{i:06}-{}", "x".repeat(30));
            db.put(b(&key), b(&value)).unwrap();
            model.insert(key, value);
        }
    }
    db.flush().unwrap();
    let stats = db.stats();
    eprintln!("{:?} dir {} bytes", stats, dir_bytes(&fs));
    assert!(stats.compaction_bytes > 0, "compaction ran: {stats:?}");
    assert!(level_tables(&stats)[0] < 4, "level 0 below its trigger once settled: {stats:?}");
    let got: Vec<(Bytes, Bytes)> = db.scan(..).collect::<lsm_workbook::Result<_>>().unwrap();
    let want: Vec<(Bytes, Bytes)> = model.iter().map(|(k, v)| (b(k), b(v))).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the scan after compaction equals the model");
    for (k, v) in model.iter().step_by(17) {
        assert_eq!(db.get(k.as_bytes()).unwrap(), Some(b(v)), "get {k}");
    }
    drop(db);
    let db = open(&fs);
    let got: Vec<(Bytes, Bytes)> = db.scan(..).collect::<lsm_workbook::Result<_>>().unwrap();
    assert!(got == want, "after reopen too");
    let _ = LEVEL_COUNT;
}
