//! Read-path benchmark of one table (issue 6, item 16): per-get time of
//! present and missing keys, and full-scan rows/s, on 1 M entries with
//! 16-byte keys and 100-byte values, written with the engine's options
//! (4 KiB blocks, a 10-bit filter, an index) to the real file system.
//!
//! Run: `cargo bench --bench table_read --features solutions`
//! (`harness = false`: a plain `main`, never built by `cargo test`).
//! `TABLE_READ_ENTRIES=N` changes the entry count.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lsm_workbook::ch03_sstable::{Table, TableOptions, write_table};
use lsm_workbook::fs::StdFs;
use lsm_workbook::types::{Entry, SEQ_MAX, Value};

const KEY_LEN_BYTES: usize = 16;
const VALUE_LEN_BYTES: usize = 100;
const GET_COUNT: usize = 500_000;

fn key(i: u64) -> Bytes {
    let key = format!("key{i:013}");
    debug_assert_eq!(key.len(), KEY_LEN_BYTES);
    Bytes::from(key)
}

fn entry(i: u64) -> Entry {
    let mut value = vec![b'v'; VALUE_LEN_BYTES];
    value[..8].copy_from_slice(&i.to_le_bytes());
    Entry {
        key: key(i * 2),
        seq: i + 1,
        value: Value::Put(Bytes::from(value)),
    }
}

/// A small deterministic generator (xorshift64*), so every run asks for
/// the same keys.
struct Rng(u64);

impl Rng {
    fn below(&mut self, end: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % end
    }
}

fn per_op(elapsed: Duration, count: usize) -> String {
    let ns = elapsed.as_nanos() as f64 / count as f64;
    format!(
        "{:>8.0} ns/op  {:>10.0} ops/s",
        ns,
        1e9 / ns.max(f64::MIN_POSITIVE)
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let entry_count: u64 = std::env::var("TABLE_READ_ENTRIES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("000001.sst");
    let fs = StdFs;

    let started = Instant::now();
    let summary = write_table(
        &fs,
        &path,
        TableOptions::default(),
        (0..entry_count).map(entry),
    )?;
    println!(
        "write: {entry_count} entries, {} blocks, {} bytes in {:.2?}",
        summary.block_count,
        summary.file_len,
        started.elapsed()
    );
    let table = Table::open(&fs, Path::new(&path))?;

    // Warm the page cache and check the answers once.
    let rows = table
        .iter()
        .try_fold(0u64, |rows, entry| entry.map(|_| rows + 1))?;
    assert_eq!(rows, entry_count, "the scan must see every entry");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let present: Vec<Bytes> = (0..GET_COUNT)
        .map(|_| key(rng.below(entry_count) * 2))
        .collect();
    let missing: Vec<Bytes> = (0..GET_COUNT)
        .map(|_| key(rng.below(entry_count) * 2 + 1))
        .collect();

    for round in 0..3 {
        let started = Instant::now();
        for key in &present {
            let found = table.get(key, SEQ_MAX)?;
            assert!(found.is_some(), "a present key must be found");
            black_box(found);
        }
        let get_present = started.elapsed();
        let started = Instant::now();
        for key in &missing {
            black_box(table.get(key, SEQ_MAX)?);
        }
        let get_missing = started.elapsed();
        let started = Instant::now();
        let mut rows = 0u64;
        for entry in table.iter() {
            black_box(entry?);
            rows += 1;
        }
        let scan = started.elapsed();
        println!("round {round}");
        println!("  get present  {}", per_op(get_present, present.len()));
        println!("  get missing  {}", per_op(get_missing, missing.len()));
        println!(
            "  scan         {:>8.2} M rows/s ({rows} rows in {scan:.2?})",
            rows as f64 / scan.as_secs_f64() / 1e6
        );
    }
    Ok(())
}
