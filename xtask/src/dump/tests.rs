//! Files written with the library's API through `StdFs`, then dumped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use lsm_workbook::ch02_wal::{LogHeader, Wal};
use lsm_workbook::ch03_sstable::{FOOTER_LEN_BYTES, Table, TableOptions, write_table};
use lsm_workbook::fs::StdFs;
use lsm_workbook::types::{Entry, Value, WriteBatch};

use super::table::filter_line;
use super::*;
use crate::Failure;

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "xtask-dump-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Four records, 5 ops, seqs 1..=5.
fn write_wal(path: &Path) {
    let header = LogHeader {
        salt: 0x5a17,
        first_seq: 1,
    };
    let mut wal = Wal::create(&StdFs, path, header).unwrap();
    let batches = [
        WriteBatch::new(1)
            .put("apple", "red")
            .put("banana", "yellow"),
        WriteBatch::new(3).delete("apple"),
        WriteBatch::new(4).put(&b"bin\x00\xff"[..], vec![b'x'; 100]),
        WriteBatch::new(5).put("cherry", "dark red"),
    ];
    for batch in &batches {
        wal.append(batch).unwrap();
    }
    wal.sync().unwrap();
}

/// 40 entries over 20 keys in small blocks; with a filter and an index
/// unless `plain`.
fn write_sst(path: &Path, plain: bool) {
    let entries = (0..40u64).map(|i| Entry {
        key: format!("key{:03}", i / 2).into(),
        seq: 100 - i,
        value: match i % 7 {
            3 => Value::Delete,
            _ => Value::Put(format!("value-{i}").into()),
        },
    });
    let options = match plain {
        true => TableOptions::plain(256),
        false => TableOptions {
            block_size_bytes: 256,
            bloom_bits_per_key: 10,
            index: true,
        },
    };
    write_table(&StdFs, path, options, entries).unwrap();
}

/// Flips one bit of the file at `offset`.
fn flip_bit(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

fn dump(path: &Path, limit: usize) -> Out {
    let out = dump_file(path, Some(limit)).unwrap();
    eprintln!("{}", out.text);
    out
}

#[test]
fn show_escapes_and_cuts_long_bytes_short() {
    assert_eq!(show(b"plain key"), "\"plain key\"");
    assert_eq!(show(b"a\x00\xff\"\\\n"), r#""a\x00\xff\"\\\x0a""#);
    let long = [b'v'; 41];
    assert_eq!(show(&long), format!("\"{}\"… (41 bytes)", "v".repeat(40)));
    assert_eq!(show(&long[..40]), format!("\"{}\"", "v".repeat(40)));
}

#[test]
fn arguments_are_a_file_and_a_limit() {
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let parsed = args(&["t.sst", "--limit", "3"]);
    assert!(matches!(parse_args(&parsed), Ok(("t.sst", Some(3), None))));
    let parsed = args(&["--limit=2", "t.sst"]);
    assert!(matches!(parse_args(&parsed), Ok(("t.sst", Some(2), None))));
    let parsed = args(&["db", "--svg", "l.svg"]);
    assert!(
        matches!(parse_args(&parsed), Ok(("db", None, Some("l.svg")))),
        "no --limit is None: a TIMELINE then prints every sample"
    );
    for bad in [
        &["t.sst", "--limit"][..],
        &["a", "b"],
        &[],
        &["--bogus", "a"],
    ] {
        assert!(matches!(parse_args(&args(bad)), Err(Failure::Usage { .. })));
    }
}

#[test]
fn wal_dump_lists_every_record_and_the_replay_report() {
    let dir = TempDir::new();
    let path = dir.join("000001.log");
    write_wal(&path);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    for line in [
        "header: 32 bytes, salt 0x0000000000005a17, first seq 1",
        "record 0 at 32: 62 bytes, seq 1, 2 ops",
        "  \"apple\"@1 put \"red\"",
        "  \"banana\"@2 put \"yellow\"",
        "record 1 at 94: 34 bytes, seq 3, 1 op",
        "  \"apple\"@3 delete",
        &format!(
            "  \"bin\\x00\\xff\"@4 put \"{}\"… (100 bytes)",
            "x".repeat(40)
        ),
        "record 3 at 266: 47 bytes, seq 5, 1 op",
        "replay: 4 records, 5 entries, last seq 5, next seq 6",
        "torn tail: none",
    ] {
        assert!(out.text.lines().any(|l| l == line), "no line {line:?}");
    }
}

#[test]
fn torn_wal_tail_is_reported_not_an_error() {
    let dir = TempDir::new();
    let path = dir.join("000001.log");
    write_wal(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    assert!(
        out.text
            .contains("replay: 3 records, 4 entries, last seq 4, next seq 5\n")
    );
    assert!(out.text.contains("torn tail at 266: 42 bytes dropped: "));
}

#[test]
fn corrupt_wal_record_is_reported_at_its_offset() {
    let dir = TempDir::new();
    let path = dir.join("000001.log");
    write_wal(&path);
    flip_bit(&path, 94 + 24 + 2); // in record 1's ops
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1);
    assert!(out.text.contains("record 0 at 32: 62 bytes"));
    assert!(
        out.text
            .contains("record at 94: CORRUPTION: record checksum mismatch")
    );
    assert!(out.text.contains("1 record read before the damage"));
}

#[test]
fn table_dump_shows_footer_blocks_index_and_filter() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    let table = Table::open(&StdFs, &path).unwrap();
    let footer = *table.footer();
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    assert!(
        out.text
            .contains(&format!("  block_count  {}\n", footer.block_count))
    );
    assert!(out.text.contains("  entry_count  40\n"));
    assert!(out.text.contains("  magic        \"LSMWBTAB\" (ok)\n"));
    assert!(out.text.contains("  version      2 (ok)\n"));
    let file_len = std::fs::metadata(&path).unwrap().len();
    assert!(out.text.contains(&format!(
        "  table_len    {file_len} (ok, the file's length)\n"
    )));
    let crc = out.text.lines().find(|l| l.starts_with("  crc ")).unwrap();
    assert!(crc.ends_with(" (ok)"), "{crc}");
    let filter_at = out.text.find("\nfilter at ").unwrap();
    let index_at = out.text.find("\nindex at ").unwrap();
    assert!(
        filter_at < index_at,
        "the filter comes first, as in the file"
    );
    let blocks = out.text.lines().filter(|l| l.starts_with("block ")).count();
    assert_eq!(blocks as u64, footer.block_count);
    assert!(footer.block_count > 2, "the test needs several blocks");
    let read = format!(
        "data blocks read: {0} of {0}, 40 of 40 entries",
        footer.block_count
    );
    assert!(out.text.contains(&read));
    let index = table.index().unwrap();
    for (number, entry) in index.entries().iter().enumerate() {
        let line = format!(
            "  {number}: last {}@{} → {}+{}\n",
            show(&entry.last_key),
            entry.last_seq,
            entry.handle.offset,
            entry.handle.len
        );
        assert!(out.text.contains(&line), "no index line {line:?}");
    }
    let filter = table.filter().unwrap();
    let rate = format!("{:.3}%", filter.expected_fp_rate() * 100.0);
    assert!(filter_line(filter).ends_with(&format!("bits/key 10.00, expected FP rate {rate}")));
    assert!(out.text.contains(&filter_line(filter)));
    assert!(out.text.contains("keys 20, "));
}

#[test]
fn table_dump_shows_each_blocks_offsets_array() {
    let dir = TempDir::new();
    let path = dir.join("plain.sst");
    // The book's worked example: two blocks of 40-byte target.
    let entries = [
        Entry {
            key: "apple".into(),
            seq: 3,
            value: Value::Put("red".into()),
        },
        Entry {
            key: "fig".into(),
            seq: 2,
            value: Value::Delete,
        },
        Entry {
            key: "kiwi".into(),
            seq: 1,
            value: Value::Put("green".into()),
        },
    ];
    write_table(&StdFs, &path, TableOptions::plain(40), entries).unwrap();
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    for line in [
        "block 0 at 0: 61 bytes, 2 entries, first \"apple\"@3, last \"fig\"@2",
        "  payload 53 bytes: entries 41, offsets array 2 x 4 at +41, count at +49",
        "block 1 at 61: 42 bytes, 1 entry, first \"kiwi\"@1, last \"kiwi\"@1",
        "  payload 34 bytes: entries 26, offsets array 1 x 4 at +26, count at +30",
        "  table_len    183 (ok, the file's length)",
    ] {
        assert!(out.text.lines().any(|l| l == line), "no line {line:?}");
    }
}

#[test]
fn a_table_followed_by_more_bytes_is_reported_by_its_table_len() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, true);
    let table = std::fs::read(&path).unwrap();
    std::fs::write(&path, [table.clone(), table.clone()].concat()).unwrap();
    let out = dump(&path, 0);
    let doubled = 2 * table.len();
    assert!(
        out.text.contains(&format!(
            "  table_len    {} (BAD, the file is {doubled} bytes)\n",
            table.len()
        )),
        "{}",
        out.text
    );
    assert!(
        out.text
            .contains("CORRUPTION: the footer says the table is ")
    );
    assert_eq!(out.problems, 1);
}

#[test]
fn a_block_copied_over_its_neighbour_is_corruption_at_its_offset() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    let handles: Vec<_> = {
        let table = Table::open(&StdFs, &path).unwrap();
        let entries = table.index().unwrap().entries();
        entries.iter().map(|entry| entry.handle).collect()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let (one, two) = (handles[1], handles[2]);
    let len = one.len.min(two.len) as usize;
    let copy = bytes[one.offset as usize..][..len].to_vec();
    bytes[two.offset as usize..][..len].copy_from_slice(&copy);
    std::fs::write(&path, bytes).unwrap();
    let out = dump(&path, 0);
    // Its frame is intact but was made for another offset (and holds
    // another length): block 2 is damage, its neighbours are not.
    let damaged = format!("block 2 at {}: CORRUPTION: block ", two.offset);
    assert!(out.text.contains(&damaged), "no line {damaged:?}");
    assert_eq!(out.problems, 1);
    assert!(out.text.contains(&format!("block 1 at {}: ", one.offset)));
}

#[test]
fn limit_prints_entries_of_each_block() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    let out = dump(&path, 2);
    assert!(out.text.contains("block 0 at 0: "));
    assert!(out.text.contains("\n    \"key000\"@100 put \"value-0\"\n"));
    assert!(
        out.text
            .contains("\n    \"key000\"@99 put \"value-1\"\n    … ")
    );
    assert!(!dump(&path, 0).text.contains("\"key000\"@99"));
}

#[test]
fn flipped_bit_in_a_data_block_is_corruption_at_its_offset_and_the_dump_goes_on() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    let handles: Vec<_> = {
        let table = Table::open(&StdFs, &path).unwrap();
        let entries = table.index().unwrap().entries();
        entries.iter().map(|entry| entry.handle).collect()
    };
    flip_bit(&path, handles[1].offset + handles[1].len - 3);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1);
    let damaged = format!(
        "block 1 at {}: CORRUPTION: block checksum mismatch",
        handles[1].offset
    );
    assert!(out.text.contains(&damaged), "no line {damaged:?}");
    let next = format!("block 2 at {}: {} bytes", handles[2].offset, handles[2].len);
    assert!(out.text.contains(&next), "the dump stopped at the damage");
    assert!(out.text.contains("index at "));
    assert!(out.text.contains("filter at "));
}

#[test]
fn without_an_index_the_block_walk_stops_at_the_damage() {
    let dir = TempDir::new();
    let path = dir.join("plain.sst");
    write_sst(&path, true);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    assert!(out.text.contains("filter: none\nindex: none\n"));
    assert!(out.text.contains("; the table has no index):"));
    let second = out
        .text
        .lines()
        .find(|l| l.starts_with("block 1 at "))
        .unwrap();
    let offset: u64 = second["block 1 at ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    flip_bit(&path, offset + 20);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1);
    assert!(
        out.text
            .contains(&format!("block 1 at {offset}: CORRUPTION: "))
    );
    assert!(out.text.contains("block walk stopped"));
    assert!(!out.text.contains("block 2 at "));
}

#[test]
fn damaged_footer_is_reported_with_its_raw_fields() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    let len = std::fs::metadata(&path).unwrap().len();
    flip_bit(&path, len - 1);
    let out = dump(&path, 0);
    let footer_at = len - FOOTER_LEN_BYTES as u64;
    assert!(
        out.text
            .contains(&format!("footer at {footer_at}: CORRUPTION: bad magic"))
    );
    assert!(out.text.contains("  entry_count  40\n"));
    assert!(out.text.contains("(BAD, expected \"LSMWBTAB\")"));
    assert!(
        out.text.contains("block 0 at 0: "),
        "best effort: the blocks"
    );
    assert_eq!(out.problems, 1);
    let short = dir.join("short.sst");
    std::fs::write(&short, b"tiny").unwrap();
    let out = dump(&short, 0);
    assert!(
        out.text
            .contains("footer at 0: CORRUPTION: the file is 4 bytes")
    );
    assert_eq!(out.problems, 1);
}

#[test]
fn a_file_is_a_table_if_it_ends_with_the_magic() {
    let dir = TempDir::new();
    let table = dir.join("000002.sst");
    write_sst(&table, false);
    let renamed = dir.join("table.dat");
    std::fs::rename(&table, &renamed).unwrap();
    let out = dump(&renamed, 0);
    assert!(out.text.contains("table, ") && out.text.contains("(it ends with the table magic)"));
    let log = dir.join("000001.log");
    write_wal(&log);
    let renamed = dir.join("wal.dat");
    std::fs::rename(&log, &renamed).unwrap();
    assert!(dump(&renamed, 0).text.contains("write-ahead log, "));
}

/// Flips a bit of the footer's byte `at` (0..80).
fn flip_footer_bit(path: &Path, at: u64) {
    let len = std::fs::metadata(path).unwrap().len();
    flip_bit(path, len - FOOTER_LEN_BYTES as u64 + at);
}

#[test]
fn a_bad_footer_checksum_is_marked_on_its_line() {
    let dir = TempDir::new();
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    // A bit of `entry_count`: the fields still look plausible.
    flip_footer_bit(&path, 16);
    let out = dump(&path, 0);
    let crc = out.text.lines().find(|l| l.starts_with("  crc ")).unwrap();
    assert!(crc.contains(" (BAD, computed 0x"), "{crc}");
    assert!(out.text.contains("  magic        \"LSMWBTAB\" (ok)\n"));
    assert!(out.text.contains("CORRUPTION: footer checksum mismatch"));
    assert!(out.text.contains("the footer is invalid"));
    assert_eq!(
        out.problems, 1,
        "the counts differ, but the footer is unverified"
    );
}

#[test]
fn an_invalid_footer_leaves_its_regions_unverified_not_damaged() {
    let dir = TempDir::new();
    // No index: the walk must not blame a damaged index.
    let plain = dir.join("plain.sst");
    write_sst(&plain, true);
    flip_footer_bit(&plain, 79);
    let out = dump(&plain, 0);
    assert!(!out.text.contains("the index is damaged"), "{}", out.text);
    assert!(
        out.text
            .contains("; the footer is invalid, so the regions it names are unverified):")
    );
    assert!(out.text.contains("block 0 at 0: "));
    assert_eq!(out.problems, 1);
    // The index handle itself is off: its region is unverified, not damaged.
    let path = dir.join("000002.sst");
    write_sst(&path, false);
    flip_footer_bit(&path, 40);
    let out = dump(&path, 0);
    let index = out
        .text
        .lines()
        .find(|l| l.starts_with("index at "))
        .unwrap();
    assert!(
        index.contains("(named by the invalid footer, unverified): unreadable: "),
        "{index}"
    );
    assert!(!index.contains("CORRUPTION"), "{index}");
    assert!(out.text.contains("; the footer is invalid, so the regions"));
    assert_eq!(out.problems, 1, "only the footer");
}

#[test]
fn manifest_dump_lists_each_edit_and_the_version() {
    use lsm_workbook::ch06_manifest::{Manifest, ManifestOptions, TableMeta, VersionEdit};
    use lsm_workbook::types::InternalKey;
    let dir = TempDir::new();
    let db = dir.join("db");
    let options = ManifestOptions {
        create_if_missing: true,
        rotate_len_bytes: 1 << 20,
        salt_seed: 1,
    };
    let (mut manifest, _) = Manifest::open(std::sync::Arc::new(StdFs), &db, options).unwrap();
    let number = manifest.new_file_number();
    let table = TableMeta {
        file_number: number,
        size_bytes: 4096,
        smallest: InternalKey::new("apple", 9),
        largest: InternalKey::new("fig", 1),
    };
    manifest
        .install(&VersionEdit {
            log_number: Some(number),
            last_seq: Some(9),
            added: vec![(0, table)],
            ..VersionEdit::default()
        })
        .unwrap();
    let path = manifest.path().to_path_buf();
    drop(manifest);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 0);
    for line in [
        "edit 1 at 32:",
        "edit 2 at ",
        "  add    L0 #2 4096 bytes [\"apple\"@9 .. \"fig\"@1]",
        "version: log_number 2, next_file_number 3, last_seq 9",
        "  L0: 1 table, 4096 bytes",
    ] {
        assert!(
            out.text.lines().any(|l| l.starts_with(line)),
            "no line {line:?}"
        );
    }
    let current = dump(&db.join("CURRENT"), 0);
    assert!(
        current.text.contains("names MANIFEST-000001"),
        "{}",
        current.text
    );
}

#[test]
fn directory_dump_shows_levels_space_and_a_picture() {
    use lsm_workbook::ch07_engine::{Db, Options};
    use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions};
    let dir = TempDir::new();
    let db_dir = dir.join("db");
    let options = Options {
        memtable_size_bytes: 4 << 10,
        salt_seed: Some(1),
        compaction: Some(std::sync::Arc::new(Leveled {
            options: LeveledOptions {
                level0_trigger: 2,
                level1_target_bytes: 8 << 10,
                level_size_factor: 4,
                table_target_bytes: 4 << 10,
            },
        })),
        ..Options::default()
    };
    let db = Db::open(&db_dir, options).unwrap();
    for i in 0..2000u32 {
        db.put(format!("key{:05}", i % 700), format!("value-{i}"))
            .unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let svg = dir.join("levels.svg");
    let out = dump_dir(&db_dir, Some(&svg), 0);
    eprintln!("{}", out.text);
    assert_eq!(out.problems, 0);
    assert!(out.text.contains("L1: "), "levels listed");
    assert!(out.text.contains("space amplification of the tables: "));
    let live = 700 * ("key00000".len() as u64)
        + (0..700u32)
            .map(|i| format!("value-{}", 1300 + i).len() as u64)
            .sum::<u64>();
    assert!(
        out.text
            .contains(&format!("live data in the tables: {live} bytes")),
        "live data is the newest value of each of the 700 keys ({live} bytes)"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.starts_with("<svg") && picture.contains("<rect"),
        "an SVG with boxes"
    );
}

/// 2024-04-05T19:34:38.901234Z, in µs.
const T0_MICROS: u64 = 1_712_345_678_901_234;

/// A database in `dir` with a timeline: writes at T0, T0 + 1.5 s, T0 + 1.7 s
/// and T0 + 3 s, so samples (T0, 0), (T0 + 1.5 s, 1), (T0 + 3 s, 3), and
/// the one `close` records, (T0 + 3 s, 4).
fn write_db_with_timeline(dir: &Path) {
    use lsm_workbook::ch07_engine::Options;
    use lsm_workbook::ch09_snapshots::{TimelineOptions, open_with_timeline};
    use lsm_workbook::clock::SimClock;
    let clock = SimClock::at(T0_MICROS);
    let options = Options {
        clock: std::sync::Arc::new(clock.clone()),
        salt_seed: Some(1),
        ..Options::default()
    };
    let db = open_with_timeline(dir, options, TimelineOptions::default()).unwrap();
    for (key, advance_micros) in [("a", 0), ("b", 1_500_000), ("c", 200_000), ("d", 1_300_000)] {
        clock.advance(advance_micros);
        db.put(key, "v").unwrap();
    }
    db.close().unwrap();
}

/// The offsets of the records of the log at `path`.
fn record_offsets(path: &Path) -> Vec<u64> {
    let mut offsets = Vec::new();
    lsm_workbook::ch02_wal::read_log(&StdFs, path, &mut |offset, _| offsets.push(offset)).unwrap();
    offsets
}

#[test]
fn timeline_dump_lists_every_sample_in_utc_and_micros() {
    let dir = TempDir::new();
    let db = dir.join("db");
    write_db_with_timeline(&db);
    let out = dump_file(&db.join("TIMELINE"), None).unwrap();
    eprintln!("{}", out.text);
    assert_eq!(out.problems, 0, "a healthy timeline has no problem");
    for line in [
        "header: 32 bytes, salt 0x7157e11e00000009, first seq 1",
        "  sample 0: 2024-04-05T19:34:38.901234Z (1712345678901234 µs) → seq 0",
        "  sample 1: 2024-04-05T19:34:40.401234Z (1712345680401234 µs) → seq 1",
        "  sample 2: 2024-04-05T19:34:41.901234Z (1712345681901234 µs) → seq 3",
        "  sample 3: 2024-04-05T19:34:41.901234Z (1712345681901234 µs) → seq 4",
        "samples: 4",
        "  first 2024-04-05T19:34:38.901234Z (1712345678901234 µs) → seq 0",
        "  last  2024-04-05T19:34:41.901234Z (1712345681901234 µs) → seq 4",
        "  span 3.000 s, seqs 0 to 4",
    ] {
        assert!(out.text.lines().any(|l| l == line), "no line {line:?}");
    }
    assert!(
        out.text
            .starts_with(&format!("{}: timeline, ", db.join("TIMELINE").display())),
        "a file named TIMELINE is read as a timeline"
    );
    assert!(!out.text.contains("torn tail"), "no torn tail");
    let limited = dump(&db.join("TIMELINE"), 1);
    assert!(
        limited.text.contains("  sample 0: ") && !limited.text.contains("  sample 1: "),
        "--limit 1 prints one sample"
    );
    assert!(
        limited.text.contains("  … 3 more\n"),
        "and how many it left out"
    );
}

#[test]
fn directory_dump_shows_the_timeline_summary_and_limit_samples() {
    let dir = TempDir::new();
    let db = dir.join("db");
    write_db_with_timeline(&db);
    let out = dump_dir(&db, None, 2);
    eprintln!("{}", out.text);
    assert_eq!(out.problems, 0);
    let len = std::fs::metadata(db.join("TIMELINE")).unwrap().len();
    for line in [
        &format!("timeline (TIMELINE): {len} bytes"),
        "samples: 4",
        "  last  2024-04-05T19:34:41.901234Z (1712345681901234 µs) → seq 4",
        "  sample 1: 2024-04-05T19:34:40.401234Z (1712345680401234 µs) → seq 1",
        "  … 2 more",
    ] {
        assert!(out.text.lines().any(|l| l == line), "no line {line:?}");
    }
    let summary = dump_dir(&db, None, 0);
    assert!(
        summary.text.contains("\nsamples: 4\n"),
        "the summary by default"
    );
    assert!(
        !summary.text.contains("  sample 0: "),
        "no sample is listed without --limit"
    );
    std::fs::remove_file(db.join("TIMELINE")).unwrap();
    assert!(
        !dump_dir(&db, None, 2).text.contains("\ntimeline ("),
        "a directory without TIMELINE shows no timeline"
    );
}

#[test]
fn timeline_dump_shows_the_gaps_left_by_writes_it_did_not_see() {
    use lsm_workbook::ch07_engine::{Db, Options};
    use lsm_workbook::ch09_snapshots::{TimelineOptions, open_with_timeline};
    use lsm_workbook::clock::SimClock;
    let dir = TempDir::new();
    let db_dir = dir.join("db");
    write_db_with_timeline(&db_dir);
    let clock = SimClock::at(T0_MICROS + 10_000_000);
    let options = || Options {
        clock: std::sync::Arc::new(clock.clone()),
        salt_seed: Some(1),
        ..Options::default()
    };
    let plain = Db::open(&db_dir, options()).unwrap();
    plain.put("e", "written without the timeline").unwrap();
    plain.close().unwrap();
    clock.advance(10_000_000);
    let db = open_with_timeline(&db_dir, options(), TimelineOptions::default()).unwrap();
    db.close().unwrap();
    let out = dump_file(&db_dir.join("TIMELINE"), None).unwrap();
    for line in [
        "gaps: 1 (reads as of these times are refused: writes were made then that the timeline did not see)",
        "  from 2024-04-05T19:34:42.901234Z (1712345682901234 µs) to 2024-04-05T19:34:58.901234Z (1712345698901234 µs)",
    ] {
        assert!(
            out.text.lines().any(|l| l == line),
            "no line {line:?} in\n{}",
            out.text
        );
    }
    assert!(
        dump_dir(&db_dir, None, 0).text.contains("\ngaps: 1 "),
        "the directory dump shows the gaps too"
    );
}

#[test]
fn damaged_timeline_is_reported_at_its_offset_never_a_panic() {
    let dir = TempDir::new();
    let db = dir.join("db");
    write_db_with_timeline(&db);
    let path = db.join("TIMELINE");
    let offsets = record_offsets(&path);
    assert_eq!(
        offsets.len(),
        4,
        "one record per sample, the last one recorded by close"
    );
    flip_bit(&path, offsets[1] + 30);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1, "a flipped bit is one problem");
    let damaged = format!("timeline record at {}: CORRUPTION: ", offsets[1]);
    assert!(out.text.contains(&damaged), "no line {damaged:?}");
    assert!(out.text.contains("1 sample before the damage"));
    let dumped = dump_dir(&db, None, 0);
    assert!(
        dumped.text.contains(&damaged),
        "the directory dump reports it too"
    );
    assert!(dumped.problems >= 1, "and counts it");
    // Garbage of every length up to a record and a half, and a truncated
    // real file at every length: reported, never a panic.
    write_db_with_timeline(&dir.join("fresh"));
    let whole = std::fs::read(dir.join("fresh").join("TIMELINE")).unwrap();
    for len in 0..whole.len() {
        std::fs::write(&path, &whole[..len]).unwrap();
        let out = dump(&path, 0);
        assert!(
            out.text.contains("samples: "),
            "a truncated timeline ({len} bytes) is summarised"
        );
        std::fs::write(&path, vec![0x5a; len]).unwrap();
        let _ = dump(&path, 0);
    }
    std::fs::write(&path, &whole[..whole.len() - 5]).unwrap();
    let torn = dump(&path, 0);
    assert_eq!(torn.problems, 0, "a torn last sample is not damage");
    assert!(
        torn.text.contains("samples: 3\n"),
        "the torn sample is dropped"
    );
    let tail = format!("torn tail at {}: ", offsets[3]);
    assert!(torn.text.contains(&tail), "no line {tail:?}");
}

#[test]
fn timeline_records_that_are_not_samples_in_order_are_corruption() {
    let dir = TempDir::new();
    let path = dir.join("TIMELINE");
    let sample = |time: u64, seq: u64| [time.to_le_bytes(), seq.to_le_bytes()].concat();
    let write = |records: &[(&str, Vec<u8>)]| {
        let header = LogHeader {
            salt: 9,
            first_seq: 1,
        };
        let _ = std::fs::remove_file(&path);
        let mut log = Wal::create(&StdFs, &path, header).unwrap();
        for (key, value) in records {
            let batch = WriteBatch::new(log.next_seq()).put(key.to_string(), value.clone());
            log.append(&batch).unwrap();
        }
        log.sync().unwrap();
    };
    write(&[("sample", sample(10, 5)), ("sample", sample(9, 6))]);
    let offsets = record_offsets(&path);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1, "a sample that goes back in time");
    assert!(
        out.text.contains(&format!(
            "timeline record at {}: CORRUPTION: sample ",
            offsets[1]
        )) && out.text.contains(" goes back from "),
        "{}",
        out.text
    );
    write(&[("sample", sample(10, 5)), ("other", sample(11, 6))]);
    let out = dump(&path, 0);
    assert_eq!(out.problems, 1, "a record that is not a sample");
    assert!(
        out.text.contains("is not one sample or gap"),
        "{}",
        out.text
    );
    write(&[("sample", vec![1, 2, 3])]);
    let out = dump(&path, 0);
    assert!(
        out.problems == 1 && out.text.contains("0 samples before the damage"),
        "a short sample: {}",
        out.text
    );
}
