//! `cargo xtask dump FILE [--limit N]`: prints a write-ahead log or a table
//! in human-readable form, with the reference decoders (the library is built
//! with `solutions`, whatever state the learner's chapters are in).
//!
//! - A WAL (`*.log`, see `wal.rs`): every record, its ops, the replay report
//!   and any torn tail; a corruption is printed with its offset.
//! - A table (`*.sst`, or any file ending with the magic "LSMWBTAB", see
//!   `table.rs`): the footer (each check marked ok or BAD), each data block,
//!   the filter and the index. A damaged part is printed as
//!   `… at OFFSET: CORRUPTION: detail` and the dump goes on with what can
//!   still be read. If the footer itself is invalid, the regions it names
//!   are read best effort and reported as unverified, not as damaged.
//!
//! - A manifest (`MANIFEST-NNNNNN`, see `manifest.rs`): each edit as it is
//!   replayed, then the version it leads to, level by level; `CURRENT`: the
//!   manifest it names.
//! - Chapter 9's timeline (`TIMELINE`, see `timeline.rs`): its log header,
//!   its samples (time in ISO-8601 UTC and unix µs → seq), their summary
//!   and any torn tail; a damaged sample or record is printed with its
//!   offset.
//! - A database directory (see `dir.rs`): its levels, files and space
//!   amplification; and its timeline's summary if it has one.
//!
//! Any damage (not a torn WAL tail, which recovery drops by design) makes the
//! command exit with 1 after printing everything it could read.

mod dir;
mod manifest;
mod table;
mod timeline;
mod wal;

use std::fmt;
use std::path::Path;

use lsm_workbook::ch02_wal::LOG_MAGIC;
use lsm_workbook::ch09_snapshots::timeline::{TIMELINE_FILE, TIMELINE_TEMP_FILE};
use lsm_workbook::filename::FileName;
use lsm_workbook::fs::{Fs, ReadableFile, StdFs};
use lsm_workbook::types::{Entry, Value};

use crate::{Result, failed, help_requested, usage_error};

const USAGE: &str = "\
usage: cargo xtask dump FILE [--limit N]
       cargo xtask dump DIR [--svg FILE] [--limit N]

Prints a write-ahead log (*.log), a table (*.sst, or any file that ends
with the table magic \"LSMWBTAB\"), a manifest (MANIFEST-NNNNNN: each edit,
then the version), CURRENT or a timeline (TIMELINE: its samples, each a
time in ISO-8601 UTC and unix µs → the last seq written by then) in
human-readable form, decoded by the reference. Keys and values are shown
quoted: printable ASCII as is, other bytes as \\xNN, anything longer than
40 bytes cut short with its length.

A database directory prints its levels (each table's number, size and key
range), its files, the tables' live data and space amplification, and, if
it has a TIMELINE, the timeline's sample count, first and last samples.

options:
  --limit N   a table: also print up to N entries of each data block
              (default 0); a TIMELINE: print only its first N samples
              (default all); a DIR: also print its timeline's first N
              samples (default 0); a WAL's ops are always printed
  --svg FILE  with a DIR: also draw the level shape into FILE (SVG)

Exits with 1 if the file is damaged (a torn WAL tail is reported, not an
error), after printing everything that could be read.";

/// Bytes of a key or value shown before it is cut short.
const SHOWN_LEN_MAX_BYTES: usize = 40;

/// The last 8 bytes of every table.
const TABLE_MAGIC: &[u8; 8] = b"LSMWBTAB";

/// A dump's text, and how many problems (damage) it found.
#[derive(Debug, Default)]
pub struct Out {
    pub text: String,
    pub problems: usize,
}

impl Out {
    /// Appends one line.
    fn line(&mut self, args: fmt::Arguments<'_>) {
        // Writing to a `String` cannot fail.
        let _ = fmt::Write::write_fmt(&mut self.text, args);
        self.text.push('\n');
    }

    /// Appends one line that reports damage.
    fn problem(&mut self, args: fmt::Arguments<'_>) {
        self.problems += 1;
        self.line(args);
    }
}

/// `say!(out, "format", args…)`: one line of the dump.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => { $out.line(format_args!($($arg)*)) };
}

/// `damage!(out, "format", args…)`: one line that reports damage.
macro_rules! damage {
    ($out:expr, $($arg:tt)*) => { $out.problem(format_args!($($arg)*)) };
}

pub(crate) use {damage, say};

pub fn run(args: &[String]) -> Result<()> {
    let (file, limit, svg) = parse_args(args)?;
    let path = Path::new(file);
    let out = if path.is_dir() {
        dump_dir(path, svg.map(Path::new), limit.unwrap_or(0))
    } else {
        dump_file(path, limit).map_err(|e| failed(e.to_string()))?
    };
    print!("{}", out.text);
    match out.problems {
        0 => Ok(()),
        n => Err(failed(format!(
            "{}: {n} problem{} found (see above)",
            path.display(),
            plural(n as u64)
        ))),
    }
}

/// The file, the `--limit` (`None` if not given) and the `--svg` file.
fn parse_args(args: &[String]) -> Result<(&str, Option<usize>, Option<&str>)> {
    help_requested(args, USAGE)?;
    let mut file = None;
    let mut limit = None;
    let mut svg = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--svg" {
            let value = iter
                .next()
                .ok_or_else(|| usage_error("--svg needs a FILE", USAGE))?;
            svg = Some(value.as_str());
            continue;
        }
        let limit_value = match arg.as_str() {
            "--limit" => Some(iter.next().map(String::as_str)),
            other => other.strip_prefix("--limit=").map(Some),
        };
        if let Some(value) = limit_value {
            limit = Some(
                value
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| usage_error("--limit needs a number N ≥ 0", USAGE))?,
            );
        } else if arg.starts_with('-') {
            return Err(usage_error(format!("unknown option `{arg}`"), USAGE));
        } else if file.replace(arg.as_str()).is_some() {
            return Err(usage_error("expected exactly one FILE", USAGE));
        }
    }
    let file = file.ok_or_else(|| usage_error("no FILE given", USAGE))?;
    Ok((file, limit, svg))
}

/// What a file is read as, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Wal(&'static str),
    Table(&'static str),
    Manifest,
    Current,
    Timeline,
}

/// Dumps the database directory `dir` (through [`StdFs`]), drawing its
/// levels into `svg` if given; with a timeline, its summary and first
/// `limit` samples.
pub fn dump_dir(dir: &Path, svg: Option<&Path>, limit: usize) -> Out {
    let mut out = Out::default();
    say!(out, "{}: database directory", dir.display());
    dir::dump(&StdFs, dir, svg, &mut out);
    let timeline = dir.join(TIMELINE_FILE);
    if timeline.is_file() {
        timeline::dump_in_dir(&StdFs, &timeline, limit, &mut out);
    }
    out
}

/// Dumps the file at `path` (through [`StdFs`]); `limit`: see the usage.
/// `Err` only if the file cannot be opened or read at all; damage is
/// reported in the text.
pub fn dump_file(path: &Path, limit: Option<usize>) -> lsm_workbook::Result<Out> {
    let fs = StdFs;
    let file = fs.open(path)?;
    let kind = kind_of(path, file.as_ref())?;
    let mut out = Out::default();
    match kind {
        Kind::Wal(why) => {
            say!(
                out,
                "{}: write-ahead log, {} bytes ({why})",
                path.display(),
                file.len()
            );
            drop(file);
            wal::dump(&fs, path, &mut out);
        }
        Kind::Table(why) => {
            say!(
                out,
                "{}: table, {} bytes ({why})",
                path.display(),
                file.len()
            );
            table::dump(file, limit.unwrap_or(0), &mut out);
        }
        Kind::Manifest => {
            say!(out, "{}: manifest, {} bytes", path.display(), file.len());
            drop(file);
            manifest::dump(&fs, path, &mut out);
        }
        Kind::Current => {
            say!(out, "{}: CURRENT, {} bytes", path.display(), file.len());
            drop(file);
            manifest::dump_current(&fs, path, &mut out);
        }
        Kind::Timeline => {
            say!(out, "{}: timeline, {} bytes", path.display(), file.len());
            drop(file);
            timeline::dump_file(&fs, path, limit, &mut out);
        }
    }
    Ok(out)
}

/// By extension; otherwise a file ending with the table magic is a table
/// and anything else is read as a log.
fn kind_of(path: &Path, file: &dyn ReadableFile) -> lsm_workbook::Result<Kind> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    match FileName::parse(name) {
        Some(FileName::Manifest(_)) => return Ok(Kind::Manifest),
        Some(FileName::Current) => return Ok(Kind::Current),
        _ if name == TIMELINE_FILE || name == TIMELINE_TEMP_FILE => return Ok(Kind::Timeline),
        _ => {}
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("log") => return Ok(Kind::Wal("by its .log extension")),
        Some("sst") => return Ok(Kind::Table("by its .sst extension")),
        _ => {}
    }
    let mut magic = [0; TABLE_MAGIC.len()];
    if let Some(offset) = file.len().checked_sub(TABLE_MAGIC.len() as u64) {
        file.read_exact_at(&mut magic, offset)?;
        if &magic == TABLE_MAGIC {
            return Ok(Kind::Table("it ends with the table magic"));
        }
    }
    let mut magic = [0; 8];
    if file.len() >= 8 {
        file.read_exact_at(&mut magic, 0)?;
        if u64::from_le_bytes(magic) == LOG_MAGIC {
            return Ok(Kind::Wal("it starts with the log magic"));
        }
    }
    Ok(Kind::Wal(
        "no .log/.sst extension and no table or log magic",
    ))
}

/// `bytes` quoted: printable ASCII as is (`"` and `\` escaped), other bytes
/// as `\xNN`; past [`SHOWN_LEN_MAX_BYTES`], cut short with the full length.
pub fn show(bytes: &[u8]) -> String {
    let mut shown = String::from("\"");
    for &byte in bytes.iter().take(SHOWN_LEN_MAX_BYTES) {
        match byte {
            b'"' => shown.push_str("\\\""),
            b'\\' => shown.push_str("\\\\"),
            0x20..=0x7e => shown.push(char::from(byte)),
            _ => shown.push_str(&format!("\\x{byte:02x}")),
        }
    }
    shown.push('"');
    if bytes.len() > SHOWN_LEN_MAX_BYTES {
        shown.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    shown
}

/// One version: `"key"@seq put "value"` or `"key"@seq delete`.
pub fn show_entry(entry: &Entry) -> String {
    match &entry.value {
        Value::Put(value) => format!("{}@{} put {}", show(&entry.key), entry.seq, show(value)),
        Value::Delete => format!("{}@{} delete", show(&entry.key), entry.seq),
    }
}

/// `"s"` when `count` is not 1.
fn plural(count: impl Into<u64>) -> &'static str {
    if count.into() == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;
