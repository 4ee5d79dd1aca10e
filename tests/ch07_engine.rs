//! Graded tests for chapter 7 — the engine. Book: "7. The engine".
//! Run: `cargo test --test ch07_engine --features ref-upto-ch06`.
//!
//! Every test runs the engine on the simulated file system (`SimFs`): it
//! can crash the engine at every file-system operation, build crash
//! images, inject I/O errors and count reads.

mod support;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use lsm_workbook::Error;
use lsm_workbook::ch07_engine::{Db, Options, WriteOptions};
use lsm_workbook::fs::{CrashMode, Fs, SimFs};
use lsm_workbook::types::WriteBatch;

const DIR: &str = "db";

fn dir() -> &'static Path {
    Path::new(DIR)
}

/// Options on `fs`, with a fixed salt and a memtable of `memtable_bytes`.
fn options(fs: &SimFs, memtable_bytes: usize) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        memtable_size_bytes: memtable_bytes,
        salt_seed: Some(7),
        ..Options::default()
    }
}

fn open(fs: &SimFs, memtable_bytes: usize) -> lsm_workbook::Result<Db> {
    Db::open(dir(), options(fs, memtable_bytes))
}

fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Everything a scan of the whole database returns.
fn scan_all(db: &Db) -> Vec<(Bytes, Bytes)> {
    db.scan(..).map(|pair| pair.expect("a scan of an intact database must not fail")).collect()
}

#[test]
fn smoke() {
    let fs = SimFs::new();
    let db = open(&fs, 300).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..200u32 {
        let key = format!("k{:03}", (i * 7) % 50);
        if i % 5 == 4 {
            db.delete(b(&key)).unwrap();
            model.remove(&key);
        } else {
            let value = format!("v{i}");
            db.put(b(&key), b(&value)).unwrap();
            model.insert(key, value);
        }
    }
    let expect: Vec<(Bytes, Bytes)> = model.iter().map(|(k, v)| (b(k), b(v))).collect();
    assert_eq!(scan_all(&db), expect);
    for (k, v) in &model {
        assert_eq!(db.get(k.as_bytes()).unwrap(), Some(b(v)));
    }
    assert!(db.stats().flushes > 0, "{:?}", db.stats());
    db.write(WriteBatch::default().put("x", "1").put("y", "2"), WriteOptions { sync: true }).unwrap();
    model.insert("x".into(), "1".into());
    model.insert("y".into(), "2".into());
    drop(db);
    let image = fs.crash(CrashMode::PowerLoss);
    let db = open(&image, 300).unwrap();
    let expect: Vec<(Bytes, Bytes)> = model.iter().map(|(k, v)| (b(k), b(v))).collect();
    assert_eq!(scan_all(&db), expect);
    let got: Vec<_> = db.scan(b"k010".as_slice()..b"k020".as_slice()).map(|p| p.unwrap().0).collect();
    let want: Vec<_> = model.range("k010".to_string().."k020".to_string()).map(|(k, _)| b(k)).collect();
    assert_eq!(got, want);
    let _ = (Bound::<Bytes>::Unbounded, Error::InvalidArgument(String::new()), image.list(dir()));
}
