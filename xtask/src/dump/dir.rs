//! Dumping a database directory: the version `CURRENT` names, level by
//! level (each table's number, size and key range), the files on disk, the
//! live data of the tables and the space amplification; with `--svg`, a
//! picture of the level shape (`dump_dir` then adds the timeline's summary,
//! from `timeline.rs`). Reads only: nothing in the directory is
//! changed (no recovery runs, so writes still only in a log are not counted).

use std::fmt::Write as _;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use lsm_workbook::ch03_sstable::Table;
use lsm_workbook::ch06_manifest::{LEVEL_COUNT, TableMeta, Version, read_current, replay};
use lsm_workbook::ch07_engine::merge::{MergeIterator, Source};
use lsm_workbook::ch07_engine::{LiveTable, TableCursor};
use lsm_workbook::ch08_compaction::{LeveledOptions, level_target_bytes};
use lsm_workbook::ch09_snapshots::timeline::TIMELINE_FILE;
use lsm_workbook::filename::FileName;
use lsm_workbook::fs::Fs;
use lsm_workbook::types::SEQ_MAX;

use super::{Out, damage, plural, say, show};

/// Prints the database in `dir`; draws its levels into `svg` if given.
pub fn dump(fs: &dyn Fs, dir: &Path, svg: Option<&Path>, out: &mut Out) {
    let number = match read_current(fs, dir) {
        Ok(Some(number)) => number,
        Ok(None) => {
            damage!(out, "no CURRENT: {} holds no database", dir.display());
            return;
        }
        Err(error) => {
            damage!(out, "CORRUPTION: {error}");
            return;
        }
    };
    let version = match replay(fs, &FileName::Manifest(number).path(dir)) {
        Ok((version, _)) => version,
        Err(error) => {
            damage!(out, "CORRUPTION: {error}");
            return;
        }
    };
    say!(
        out,
        "MANIFEST-{number:06}: log_number {}, next_file_number {}, last_seq {}",
        version.log_number,
        version.next_file_number,
        version.last_seq
    );
    print_levels(out, &version);
    let table_bytes: u64 = version.tables().map(|(_, table)| table.size_bytes).sum();
    print_files(fs, dir, out);
    match live_bytes(fs, dir, &version) {
        Ok(live) => {
            say!(
                out,
                "live data in the tables: {live} bytes (keys and values of the newest versions)"
            );
            if live > 0 {
                say!(
                    out,
                    "space amplification of the tables: {:.2} ({table_bytes} / {live})",
                    table_bytes as f64 / live as f64
                );
            }
        }
        Err(error) => damage!(out, "CORRUPTION while reading the tables: {error}"),
    }
    if let Some(svg) = svg {
        match std::fs::write(svg, draw(&version)) {
            Ok(()) => say!(out, "level shape drawn: {}", svg.display()),
            Err(error) => damage!(out, "cannot write {}: {error}", svg.display()),
        }
    }
}

fn print_levels(out: &mut Out, version: &Version) {
    let shape = LeveledOptions::default();
    for level in 0..LEVEL_COUNT {
        let tables = version.level(level);
        let bytes: u64 = tables.iter().map(|table| table.size_bytes).sum();
        let target = match level {
            0 => format!("trigger {} tables", shape.level0_trigger),
            _ => format!("target {} bytes", level_target_bytes(level, &shape)),
        };
        say!(
            out,
            "L{level}: {} table{}, {bytes} bytes ({target} at the default shape)",
            tables.len(),
            plural(tables.len() as u64)
        );
        for table in tables {
            say!(
                out,
                "  #{} {} bytes [{}@{} .. {}@{}]",
                table.file_number,
                table.size_bytes,
                show(&table.smallest.key),
                table.smallest.seq,
                show(&table.largest.key),
                table.largest.seq
            );
        }
    }
}

/// Bytes per kind of file in the directory.
fn print_files(fs: &dyn Fs, dir: &Path, out: &mut Out) {
    let Ok(names) = fs.list(dir) else {
        return;
    };
    let (mut tables, mut logs, mut timeline, mut other) = (0u64, 0u64, 0u64, 0u64);
    for name in names {
        let len = fs.open(&dir.join(&name)).map_or(0, |file| file.len());
        match FileName::parse(&name) {
            Some(FileName::Table(_)) => tables += len,
            Some(FileName::Log(_)) => logs += len,
            _ if name == TIMELINE_FILE => timeline += len,
            _ => other += len,
        }
    }
    say!(
        out,
        "on disk: {} bytes (tables {tables}, logs {logs}, timeline {timeline}, manifest and other {other})",
        tables + logs + timeline + other
    );
}

/// The bytes of keys and values the tables' newest live versions hold.
fn live_bytes(fs: &dyn Fs, dir: &Path, version: &Version) -> lsm_workbook::Result<u64> {
    let mut sources: Vec<Source> = Vec::new();
    for (_, meta) in version.tables() {
        let table = Table::open(fs, &FileName::Table(meta.file_number).path(dir))?;
        let live = Arc::new(LiveTable {
            meta: meta.clone(),
            table,
        });
        sources.push(Box::new(TableCursor::new(
            live,
            (Bound::Unbounded, Bound::Unbounded),
        )));
    }
    let mut bytes = 0;
    for pair in MergeIterator::new(sources, SEQ_MAX) {
        let (key, value) = pair?;
        bytes += (key.len() + value.len()) as u64;
    }
    Ok(bytes)
}

/// An SVG of the level shape: a row per level, each table a box spanning
/// its key range (keys placed by rank among all tables' bounds, so the
/// picture shows order and overlap, not distances), labelled with its
/// number and size.
pub fn draw(version: &Version) -> String {
    let mut bounds: Vec<&[u8]> = version
        .tables()
        .flat_map(|(_, t)| [t.smallest.key.as_ref(), t.largest.key.as_ref()])
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let (width, row, left) = (960.0, 44.0, 40.0);
    let slot = (width - left - 10.0) / bounds.len().max(1) as f64;
    let x = |key: &[u8]| left + slot * bounds.partition_point(|b| *b < key) as f64;
    let height = row * LEVEL_COUNT as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    for level in 0..LEVEL_COUNT {
        let y = 5.0 + row * level as f64;
        let _ = writeln!(
            svg,
            "  <text x=\"4\" y=\"{}\">L{level}</text>",
            y + row / 2.0
        );
        let tables = version.level(level);
        for (index, table) in tables.iter().enumerate() {
            // Level 0's tables overlap: stack them inside the row.
            let (band, bands) = if level == 0 {
                (index, tables.len().max(1))
            } else {
                (0, 1)
            };
            let h = (row - 8.0) / bands as f64;
            let top = y + h * band as f64;
            let (x0, x1) = (x(&table.smallest.key), x(&table.largest.key) + slot);
            let _ = writeln!(svg, "{}", rect(table, x0, top, x1 - x0, h));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn rect(table: &TableMeta, x: f64, y: f64, w: f64, h: f64) -> String {
    format!(
        "  <g><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#cfe3f7\" \
         stroke=\"#2b5d8a\"/><title>#{} {} bytes</title><text x=\"{:.1}\" y=\"{:.1}\">#{}</text></g>",
        table.file_number,
        table.size_bytes,
        x + 2.0,
        y + h.min(14.0) - 2.0,
        table.file_number
    )
}
