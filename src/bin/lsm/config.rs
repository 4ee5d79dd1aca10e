//! `--config FILE`: the engine's [`Options`] from a TOML file, for the
//! `lsm` REPL and for chapter 11's server, which includes this file with
//! `#[path]` (so nothing here knows about the REPL). The parser is written
//! here rather than taken from a crate: the REPL is a binary of the
//! workbook crate, compiled by every learner's `cargo test`, and the
//! workbook keeps its dependencies few (DESIGN.md).
//!
//! It reads a strict subset of TOML, and anything outside it is an error,
//! never a guess:
//!
//! - `# comments` (also after a value), blank lines;
//! - `[table]` headers, one level (`[a.b]` and `[[a]]` are refused), each
//!   table at most once; keys before the first header are the top level;
//! - `key = value` with a bare key (`A-Z a-z 0-9 _ -`; no dotted or quoted
//!   keys), each key at most once in its table;
//! - values: integers (`4096`, `1_000_000`; no sign, no leading zero, no
//!   hex, no floats), `true` / `false`, and basic strings `"…"` with the
//!   escapes `\"`, `\\`, `\n`, `\t` (no literal, multi-line or `\u`
//!   strings); no arrays, inline tables or dates.
//!
//! A key that is a size takes an integer (bytes) or a string `"N UNIT"`
//! with UNIT `B`, `KiB`, `MiB` or `GiB` (powers of 1024): `"64 MiB"`. A
//! key that is a duration takes a string `"N UNIT"` with UNIT `µs` (or
//! `us`), `ms`, `s`, `min` or `h`: `"500 ms"`. Every error names the file,
//! the line and the key (or the table, or the text it could not read):
//!
//! ```text
//! lsm.toml:3: unknown key `memtable_sise_bytes` at the top level; did you mean `memtable_size_bytes`? (known: …)
//! lsm.toml:5: `background_threads` must be an integer from 0 to 64, not "four"
//! ```
//!
//! The layout (`lsm.example.toml` at the repository's root has every key
//! with its default, and a test parses it):
//!
//! ```toml
//! create_if_missing = true            # Options::create_if_missing
//! memtable_size_bytes = "4 MiB"       # Options::memtable_size_bytes
//! manifest_rotate_len_bytes = "4 MiB" # Options::manifest_rotate_len_bytes
//! background_threads = 0              # Options::background_threads
//! block_cache_bytes = 0               # Options::block_cache (0: none)
//! [table]                             # Options::table (chapters 3-5)
//! block_size_bytes = "4 KiB"
//! bloom_bits_per_key = 10
//! index = true
//! [compaction]                        # Options::compaction (chapter 8)
//! style = "leveled"                   # or "none"
//! level0_trigger = 4
//! level1_target_bytes = "10 MiB"
//! level_size_factor = 10
//! table_target_bytes = "2 MiB"
//! [stall]                             # Options::stall (chapter 10)
//! max_frozen_memtables = 4
//! level0_slowdown_tables = 8
//! level0_stop_tables = 12
//! slowdown = "1 ms"
//! [timeline]                          # chapter 9's TimelineOptions
//! enabled = true
//! resolution = "1 s"
//! retention = "1 h"
//! ```
//!
//! A program with options of its own (chapter 11's server: `[server]`)
//! names its tables to [`parse_with`]: their settings come back unchecked
//! in [`Config::extra`], for it to read with [`Setting`]'s typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use lsm_workbook::ch03_sstable::{BlockCache, TableOptions};
use lsm_workbook::ch07_engine::{Compaction, Options, StallOptions, StallRule};
use lsm_workbook::ch08_compaction::{Leveled, LeveledOptions};
use lsm_workbook::ch09_snapshots::TimelineOptions;
use lsm_workbook::ch10_background::{Cache, pressure};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const MS: u64 = 1_000;
const SECOND: u64 = 1_000_000;
const HOUR: u64 = 3_600 * SECOND;

/// How a database is opened, as a config file says: every field holds
/// its default unless the file sets its key. The defaults are the
/// engine's ([`Options::default`] and the chapters' option types), with
/// leveled compaction and a timeline on, as the REPL opens a database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `create_if_missing`.
    pub create_if_missing: bool,
    /// `memtable_size_bytes`.
    pub memtable_size_bytes: usize,
    /// `manifest_rotate_len_bytes`.
    pub manifest_rotate_len_bytes: u64,
    /// `background_threads`: 0 runs flush and compaction inline.
    pub background_threads: usize,
    /// `block_cache_bytes`: the block cache's capacity; 0: no cache.
    pub block_cache_bytes: usize,
    /// `[table]`.
    pub table: TableOptions,
    /// `[compaction] style`.
    pub compaction: CompactionStyle,
    /// The rest of `[compaction]`: the shape leveled compaction keeps.
    pub leveled: LeveledOptions,
    /// `[stall]`.
    pub stall: StallOptions,
    /// `[timeline] enabled`.
    pub timeline_enabled: bool,
    /// The rest of `[timeline]`.
    pub timeline: TimelineOptions,
    /// The settings of the tables the caller named to [`parse_with`], in
    /// file order, unchecked.
    pub extra: Vec<Setting>,
    /// The file the settings came from ("" for the defaults).
    pub file: String,
    /// The line each key was set on, by `(table, key)`; the top level's
    /// table is "".
    lines: BTreeMap<(String, String), usize>,
}

/// `[compaction] style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactionStyle {
    /// Chapter 8's [`Leveled`] compaction, with [`Config::leveled`].
    Leveled,
    /// No compaction: level 0 only grows.
    None,
}

impl Default for Config {
    fn default() -> Self {
        let options = Options::default();
        Config {
            create_if_missing: options.create_if_missing,
            memtable_size_bytes: options.memtable_size_bytes,
            manifest_rotate_len_bytes: options.manifest_rotate_len_bytes,
            background_threads: options.background_threads,
            block_cache_bytes: 0,
            table: options.table,
            compaction: CompactionStyle::Leveled,
            leveled: LeveledOptions::default(),
            stall: options.stall,
            timeline_enabled: true,
            timeline: TimelineOptions::default(),
            extra: Vec::new(),
            file: String::new(),
            lines: BTreeMap::new(),
        }
    }
}

impl Config {
    /// `options` with every engine option of this config: the scalars,
    /// the table and stall options, the compaction (a [`Leveled`] with
    /// [`Config::leveled`], or none) and the block cache (chapter 10's
    /// [`Cache`] when `block_cache_bytes` is not 0 — `Cache::new` is a
    /// learner's task, so a caller on unfinished chapters catches its
    /// `todo!()`). The file system, clock, salt and history stay as
    /// `options` has them; the timeline ([`Config::timeline_enabled`],
    /// [`Config::timeline`]) is opened by the caller, who knows the
    /// directory and keeps it for its reports.
    pub fn apply(&self, options: Options) -> Options {
        let compaction = match self.compaction {
            CompactionStyle::Leveled => Some(Arc::new(Leveled {
                options: self.leveled,
            }) as Arc<dyn Compaction>),
            CompactionStyle::None => None,
        };
        let block_cache = (self.block_cache_bytes > 0)
            .then(|| Arc::new(Cache::new(self.block_cache_bytes)) as Arc<dyn BlockCache>);
        Options {
            create_if_missing: self.create_if_missing,
            memtable_size_bytes: self.memtable_size_bytes,
            manifest_rotate_len_bytes: self.manifest_rotate_len_bytes,
            background_threads: self.background_threads,
            // Chapter 10's rule, asked only when there are threads.
            stall_rule: (self.background_threads > 0).then_some(pressure as StallRule),
            table: self.table,
            stall: self.stall,
            compaction,
            block_cache,
            ..options
        }
    }

    /// The line that set `key` in `table` ("" for the top level), if the
    /// file set it: a caller tells a default from a choice by it.
    pub fn line(&self, table: &str, key: &str) -> Option<usize> {
        self.lines
            .get(&(table.to_string(), key.to_string()))
            .copied()
    }
}

/// What is wrong with a config file, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as the caller named it.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The key (or `[table]`) at fault, if the line got that far.
    pub key: Option<String>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A value as the file writes it, before its key gives it a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An unsigned decimal integer.
    Integer(u64),
    /// `true` or `false`.
    Bool(bool),
    /// A basic string, escapes resolved.
    Text(String),
    /// A bare word that is no integer or boolean of the subset (`-3`,
    /// `1.5`, `0x10`, `four`, an integer too large): every key refuses it.
    Bare(String),
}

/// One `key = value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The file it is in.
    pub file: String,
    /// Its line, from 1.
    pub line: usize,
    /// Its table ("" for the top level).
    pub table: String,
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// The value as written, for messages.
    pub raw: String,
}

impl Setting {
    /// An error on this setting's line, naming its key.
    pub fn error(&self, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            key: Some(self.key.clone()),
            message,
        }
    }

    fn refuse(&self, wanted: &str) -> ConfigError {
        self.error(format!("`{}` must be {wanted}, not {}", self.key, self.raw))
    }

    /// `true` or `false`.
    pub fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value {
            Value::Bool(value) => Ok(value),
            _ => Err(self.refuse("true or false")),
        }
    }

    /// An integer from `min` to `max`.
    pub fn integer(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        match self.value {
            Value::Integer(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(self.refuse(&format!("an integer from {min} to {max}"))),
        }
    }

    /// A size in bytes from `min` to `max`: an integer or `"64 MiB"`.
    pub fn bytes(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let value = match &self.value {
            Value::Integer(value) => Some(*value),
            Value::Text(text) => {
                with_unit(text, &[("B", 1), ("KiB", KIB), ("MiB", MIB), ("GiB", GIB)])
            }
            _ => None,
        };
        value
            .filter(|value| (min..=max).contains(value))
            .ok_or_else(|| {
                self.refuse(&format!(
                    "a size from {} to {}: an integer (bytes) or a string like \"64 MiB\" \
                 (B, KiB, MiB, GiB)",
                    show_bytes(min),
                    show_bytes(max)
                ))
            })
    }

    /// A duration from `min_micros` to `max_micros`, in µs: `"500 ms"`.
    pub fn duration_micros(&self, min_micros: u64, max_micros: u64) -> Result<u64, ConfigError> {
        let units = [
            ("µs", 1),
            ("us", 1),
            ("ms", MS),
            ("s", SECOND),
            ("min", 60 * SECOND),
            ("h", HOUR),
        ];
        let value = match &self.value {
            Value::Text(text) => with_unit(text, &units),
            _ => None,
        };
        let range = min_micros..=max_micros;
        value.filter(|value| range.contains(value)).ok_or_else(|| {
            self.refuse(&format!(
                "a duration from {} to {}: a string like \"500 ms\" (µs, ms, s, min, h)",
                show_micros(min_micros),
                show_micros(max_micros)
            ))
        })
    }

    /// One of `choices`, as a string; its index.
    pub fn choice(&self, choices: &[&str]) -> Result<usize, ConfigError> {
        let found = match &self.value {
            Value::Text(text) => choices.iter().position(|choice| choice == text),
            _ => None,
        };
        found.ok_or_else(|| {
            let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
            self.refuse(&quoted.join(" or "))
        })
    }
}

/// `text` as `"N UNIT"` (one optional space) with UNIT among `units`.
fn with_unit(text: &str, units: &[(&str, u64)]) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit() && c != '_')?;
    let (number, unit) = text.split_at(digits);
    let unit = unit.strip_prefix(' ').unwrap_or(unit);
    let scale = units.iter().find(|(name, _)| *name == unit)?.1;
    integer(number)?.checked_mul(scale)
}

/// `4 KiB`, `10 MiB`, `100 B`: the largest unit that divides `bytes`.
fn show_bytes(bytes: u64) -> String {
    show(bytes, &[(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")], "B")
}

/// `1 h`, `500 ms`, `0 µs`: the largest unit that divides `micros`.
fn show_micros(micros: u64) -> String {
    show(
        micros,
        &[(HOUR, "h"), (60 * SECOND, "min"), (SECOND, "s"), (MS, "ms")],
        "µs",
    )
}

fn show(value: u64, units: &[(u64, &str)], base: &str) -> String {
    for &(scale, name) in units {
        if value >= scale && value.is_multiple_of(scale) {
            return format!("{} {name}", value / scale);
        }
    }
    format!("{value} {base}")
}

/// A key a config file may set: its table, its name, and where its value
/// goes (checked for its type and range on the way).
struct Key {
    table: &'static str,
    name: &'static str,
    set: fn(&mut Config, &Setting) -> Result<(), ConfigError>,
}

/// The tables, in the order the documentation lists them.
const TABLES: &[&str] = &["table", "compaction", "stall", "timeline"];

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Every key, by table; the setters hold each key's type and range.
const KEYS: &[Key] = &[
    Key {
        table: "",
        name: "create_if_missing",
        set: |c, s| {
            c.create_if_missing = s.boolean()?;
            Ok(())
        },
    },
    Key {
        table: "",
        name: "memtable_size_bytes",
        set: |c, s| {
            c.memtable_size_bytes = to_usize(s.bytes(KIB, 4 * GIB)?);
            Ok(())
        },
    },
    Key {
        table: "",
        name: "manifest_rotate_len_bytes",
        set: |c, s| {
            c.manifest_rotate_len_bytes = s.bytes(KIB, 4 * GIB)?;
            Ok(())
        },
    },
    Key {
        table: "",
        name: "background_threads",
        set: |c, s| {
            c.background_threads = to_usize(s.integer(0, 64)?);
            Ok(())
        },
    },
    Key {
        table: "",
        name: "block_cache_bytes",
        set: |c, s| {
            c.block_cache_bytes = to_usize(s.bytes(0, 1024 * GIB)?);
            Ok(())
        },
    },
    Key {
        table: "table",
        name: "block_size_bytes",
        set: |c, s| {
            c.table.block_size_bytes = to_usize(s.bytes(64, 16 * MIB)?);
            Ok(())
        },
    },
    Key {
        table: "table",
        name: "bloom_bits_per_key",
        // The range keeps the cast exact.
        set: |c, s| {
            c.table.bloom_bits_per_key = s.integer(0, 64)? as u32;
            Ok(())
        },
    },
    Key {
        table: "table",
        name: "index",
        set: |c, s| {
            c.table.index = s.boolean()?;
            Ok(())
        },
    },
    Key {
        table: "compaction",
        name: "style",
        set: |c, s| {
            let styles = [CompactionStyle::Leveled, CompactionStyle::None];
            c.compaction = styles[s.choice(&["leveled", "none"])?];
            Ok(())
        },
    },
    Key {
        table: "compaction",
        name: "level0_trigger",
        set: |c, s| {
            c.leveled.level0_trigger = to_usize(s.integer(1, 1_000)?);
            Ok(())
        },
    },
    Key {
        table: "compaction",
        name: "level1_target_bytes",
        set: |c, s| {
            c.leveled.level1_target_bytes = s.bytes(KIB, 1024 * GIB)?;
            Ok(())
        },
    },
    Key {
        table: "compaction",
        name: "level_size_factor",
        set: |c, s| {
            c.leveled.level_size_factor = s.integer(2, 1_000)?;
            Ok(())
        },
    },
    Key {
        table: "compaction",
        name: "table_target_bytes",
        set: |c, s| {
            c.leveled.table_target_bytes = s.bytes(KIB, 4 * GIB)?;
            Ok(())
        },
    },
    Key {
        table: "stall",
        name: "max_frozen_memtables",
        set: |c, s| {
            c.stall.max_frozen_memtables = to_usize(s.integer(1, 1_000)?);
            Ok(())
        },
    },
    Key {
        table: "stall",
        name: "level0_slowdown_tables",
        set: |c, s| {
            c.stall.level0_slowdown_tables = to_usize(s.integer(1, 10_000)?);
            Ok(())
        },
    },
    Key {
        table: "stall",
        name: "level0_stop_tables",
        set: |c, s| {
            c.stall.level0_stop_tables = to_usize(s.integer(1, 10_000)?);
            Ok(())
        },
    },
    Key {
        table: "stall",
        name: "slowdown",
        set: |c, s| {
            c.stall.slowdown_micros = s.duration_micros(0, SECOND)?;
            Ok(())
        },
    },
    Key {
        table: "timeline",
        name: "enabled",
        set: |c, s| {
            c.timeline_enabled = s.boolean()?;
            Ok(())
        },
    },
    Key {
        table: "timeline",
        name: "resolution",
        set: |c, s| {
            c.timeline.resolution_micros = s.duration_micros(MS, HOUR)?;
            Ok(())
        },
    },
    Key {
        table: "timeline",
        name: "retention",
        set: |c, s| {
            c.timeline.retention_micros = s.duration_micros(SECOND, 8_760 * HOUR)?;
            Ok(())
        },
    },
];

/// Parses `text`, the contents of `file` (named in errors), into a
/// [`Config`]; every table and key must be one of the layout's.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    parse_with(text, file, &[])
}

/// [`parse`], also accepting the tables named in `extra_tables`, whose
/// settings go unchecked to [`Config::extra`] (duplicates are still
/// refused).
pub fn parse_with(text: &str, file: &str, extra_tables: &[&str]) -> Result<Config, ConfigError> {
    let mut config = Config {
        file: file.to_string(),
        ..Config::default()
    };
    let mut table = String::new();
    let mut headers: BTreeMap<String, usize> = BTreeMap::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, content) in text.lines().enumerate() {
        let line = index + 1;
        let error = |key: Option<&str>, message: String| ConfigError {
            file: file.to_string(),
            line,
            key: key.map(str::to_string),
            message,
        };
        match lex(content).map_err(|(key, message)| error(key.as_deref(), message))? {
            Line::Blank => {}
            Line::Header(name) => {
                let known =
                    TABLES.contains(&name.as_str()) || extra_tables.contains(&name.as_str());
                if !known {
                    let mut tables: Vec<&str> = TABLES.to_vec();
                    tables.extend(extra_tables);
                    let message = format!("unknown table [{name}] (known: {})", tables.join(", "));
                    return Err(error(Some(&name), message));
                }
                if let Some(first) = headers.insert(name.clone(), line) {
                    let message = format!("table [{name}] appears twice (first on line {first})");
                    return Err(error(Some(&name), message));
                }
                table = name;
            }
            Line::Pair { key, value, raw } => {
                let place = (table.clone(), key.clone());
                if let Some(first) = config.lines.get(&place) {
                    let message = format!(
                        "`{key}` is set twice {} (first on line {first})",
                        in_table(&table)
                    );
                    return Err(error(Some(&key), message));
                }
                let setting = Setting {
                    file: file.to_string(),
                    line,
                    table: table.clone(),
                    key,
                    value,
                    raw,
                };
                if extra_tables.contains(&table.as_str()) {
                    config.extra.push(setting);
                } else {
                    let found = KEYS
                        .iter()
                        .find(|k| k.table == table && k.name == setting.key);
                    let spec = found.ok_or_else(|| unknown_key(&setting))?;
                    (spec.set)(&mut config, &setting)?;
                }
                config.lines.insert(place, line);
            }
        }
    }
    Ok(config)
}

fn in_table(table: &str) -> String {
    match table {
        "" => "at the top level".to_string(),
        table => format!("in [{table}]"),
    }
}

/// An unknown key's error: where it belongs if another table has it, a
/// near spelling if one is close, and the table's keys.
fn unknown_key(setting: &Setting) -> ConfigError {
    let (table, key) = (setting.table.as_str(), setting.key.as_str());
    let place = in_table(table);
    if let Some(home) = KEYS.iter().find(|k| k.name == key) {
        let home = match home.table {
            "" => "at the top level, before any [table]".to_string(),
            other => format!("in [{other}]"),
        };
        return setting.error(format!("unknown key `{key}` {place}: it belongs {home}"));
    }
    let known: Vec<&str> = KEYS
        .iter()
        .filter(|k| k.table == table)
        .map(|k| k.name)
        .collect();
    let near = known.iter().find(|name| edit_distance(name, key) <= 2);
    let hint = near.map_or(String::new(), |name| format!("; did you mean `{name}`?"));
    setting.error(format!(
        "unknown key `{key}` {place}{hint} (known: {})",
        known.join(", ")
    ))
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// One line of the file, read.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Blank,
    Header(String),
    Pair {
        key: String,
        value: Value,
        raw: String,
    },
}

/// What is wrong with a line: the key it names (if it got that far) and
/// the message.
type LineError = (Option<String>, String);

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads one line: blank (or a comment), a `[table]` header, or a
/// `key = value` pair.
fn lex(content: &str) -> Result<Line, LineError> {
    let line = content.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Line::Blank);
    }
    if line.starts_with("[[") {
        return Err((None, format!("arrays of tables are not supported: {line}")));
    }
    if let Some(header) = line.strip_prefix('[') {
        let Some((name, rest)) = header.split_once(']') else {
            return Err((
                None,
                format!("a table header needs its closing `]`: {line}"),
            ));
        };
        let name = name.trim();
        rest_is_comment(rest).map_err(|found| {
            (
                Some(name.to_string()),
                format!("unexpected {found} after [{name}]"),
            )
        })?;
        if name.contains('.') {
            let message =
                format!("nested tables ([{name}]) are not supported: one level of [table]");
            return Err((Some(name.to_string()), message));
        }
        if !is_bare_key(name) {
            let message = format!("a table name is a bare word (A-Z a-z 0-9 _ -), not [{name}]");
            return Err((Some(name.to_string()), message));
        }
        return Ok(Line::Header(name.to_string()));
    }
    let Some((key, rest)) = line.split_once('=') else {
        return Err((
            None,
            format!("expected `key = value` or `[table]`, found {line}"),
        ));
    };
    let key = key.trim();
    if key.starts_with('"') || key.starts_with('\'') {
        return Err((
            Some(key.to_string()),
            format!("quoted keys are not supported: {key}"),
        ));
    }
    if key.contains('.') && is_bare_key(&key.replace('.', "")) {
        let message =
            format!("dotted keys are not supported: {key} (one level: a [table], then its keys)");
        return Err((Some(key.to_string()), message));
    }
    if !is_bare_key(key) {
        let message = format!("a key is a bare word (A-Z a-z 0-9 _ -), not {key}");
        return Err((Some(key.to_string()), message));
    }
    let (value, raw) = value(rest.trim_start())
        .map_err(|message| (Some(key.to_string()), format!("`{key}`: {message}")))?;
    Ok(Line::Pair {
        key: key.to_string(),
        value,
        raw,
    })
}

/// `Ok` if `rest` is blank or a comment; else what was found, quoted.
fn rest_is_comment(rest: &str) -> Result<(), String> {
    let rest = rest.trim();
    match rest.is_empty() || rest.starts_with('#') {
        true => Ok(()),
        false => Err(format!("`{rest}`")),
    }
}

/// The value that starts `text` (and how it was written); only blanks or
/// a comment may follow it.
fn value(text: &str) -> Result<(Value, String), String> {
    let (value, rest) = match text.chars().next() {
        None | Some('#') => return Err("no value after `=`".to_string()),
        Some('[') => return Err(format!("arrays are not supported: {text}")),
        Some('{') => return Err(format!("inline tables are not supported: {text}")),
        Some('\'') => {
            return Err(format!(
                "literal strings ('…') are not supported, use \"…\": {text}"
            ));
        }
        Some('"') if text.starts_with("\"\"\"") => {
            return Err(format!("multi-line strings are not supported: {text}"));
        }
        Some('"') => string(text)?,
        Some(_) => {
            let end = text
                .find(|c: char| c.is_whitespace() || c == '#')
                .unwrap_or(text.len());
            let (word, rest) = text.split_at(end);
            let value = match word {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                word => integer(word).map_or_else(|| Value::Bare(word.to_string()), Value::Integer),
            };
            (value, rest)
        }
    };
    let raw = text[..text.len() - rest.len()].to_string();
    rest_is_comment(rest).map_err(|found| format!("unexpected {found} after the value {raw}"))?;
    Ok((value, raw))
}

/// A basic string at the start of `text` (which starts with `"`): its
/// value and what follows it.
fn string(text: &str) -> Result<(Value, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((Value::Text(value), &text[at + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => value.push('"'),
                Some('\\') => value.push('\\'),
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(other) => {
                    return Err(format!(
                        "unsupported escape \\{other} in a string (\\\" \\\\ \\n \\t are)"
                    ));
                }
                None => break,
            },
            c if c.is_control() && c != '\t' => {
                return Err(format!(
                    "a control character (U+{:04X}) in a string",
                    c as u32
                ));
            }
            c => value.push(c),
        }
    }
    Err(format!("unterminated string: {text}"))
}

/// A decimal integer of the subset: digits, `_` only between digits, no
/// leading zero; `None` for anything else or above `u64::MAX`.
fn integer(word: &str) -> Option<u64> {
    let bytes = word.as_bytes();
    let digits_between = word.split('_').all(|part| !part.is_empty());
    let leading_zero = bytes.len() > 1 && bytes[0] == b'0';
    if bytes.is_empty() || !digits_between || leading_zero {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in bytes.iter().filter(|&&b| b != b'_') {
        let digit = char::from(byte).to_digit(10)?;
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(text: &str) -> ConfigError {
        match parse(text, "lsm.toml") {
            Ok(config) => panic!("{text:?} must be refused, got {config:?}"),
            Err(error) => error,
        }
    }

    /// Asserts that `text` is refused on `line`, naming `key`, with a
    /// message containing `part`.
    fn refused(text: &str, line: usize, key: &str, part: &str) {
        let error = fails(text);
        assert_eq!(
            error.line, line,
            "{text:?} is refused on line {line}: {error}"
        );
        assert_eq!(
            error.key.as_deref(),
            Some(key),
            "{text:?}'s error names `{key}`: {error}"
        );
        assert!(
            error.message.contains(key) && error.message.contains(part),
            "{text:?}'s message names `{key}` and says {part:?}: {error}"
        );
        assert!(
            error.to_string().starts_with(&format!("lsm.toml:{line}: ")),
            "the error starts with file:line: {error}"
        );
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = parse("\n# nothing\n\n", "lsm.toml").expect("blank lines and comments parse");
        let defaults = Config {
            file: "lsm.toml".to_string(),
            ..Config::default()
        };
        assert_eq!(config, defaults, "no key set: every default");
        assert_eq!(
            config.line("", "memtable_size_bytes"),
            None,
            "nothing was set"
        );
    }

    #[test]
    fn a_full_file_sets_every_option() {
        let text = r#"
            # every key, none at its default
            create_if_missing = false
            memtable_size_bytes = "64 MiB"   # a size as a string
            manifest_rotate_len_bytes = 1_048_576
            background_threads = 2
            block_cache_bytes = "8MiB"

            [table]
            block_size_bytes = "16 KiB"
            bloom_bits_per_key = 0
            index = false

            [ compaction ]
            style = "none"
            level0_trigger = 8
            level1_target_bytes = "1 GiB"
            level_size_factor = 8
            table_target_bytes = "512 KiB"

            [stall]
            max_frozen_memtables = 2
            level0_slowdown_tables = 20
            level0_stop_tables = 36
            slowdown = "500 µs"

            [timeline]
            enabled = false
            resolution = "100 ms"
            retention = "2 h"
        "#;
        let config = parse(text, "full.toml").expect("the full example parses");
        assert!(!config.create_if_missing, "create_if_missing");
        assert_eq!(
            config.memtable_size_bytes,
            64 << 20,
            "\"64 MiB\" is 64 × 2^20"
        );
        assert_eq!(config.manifest_rotate_len_bytes, 1 << 20, "1_048_576");
        assert_eq!(config.background_threads, 2, "background_threads");
        assert_eq!(
            config.block_cache_bytes,
            8 << 20,
            "\"8MiB\" without a space"
        );
        let table = TableOptions {
            block_size_bytes: 16 << 10,
            bloom_bits_per_key: 0,
            index: false,
        };
        assert_eq!(config.table, table, "[table]");
        assert_eq!(config.compaction, CompactionStyle::None, "style = \"none\"");
        let leveled = LeveledOptions {
            level0_trigger: 8,
            level1_target_bytes: 1 << 30,
            level_size_factor: 8,
            table_target_bytes: 512 << 10,
        };
        assert_eq!(config.leveled, leveled, "[compaction]'s shape");
        let stall = StallOptions {
            max_frozen_memtables: 2,
            level0_slowdown_tables: 20,
            level0_stop_tables: 36,
            slowdown_micros: 500,
        };
        assert_eq!(config.stall, stall, "[stall]");
        assert!(!config.timeline_enabled, "enabled = false");
        let timeline = TimelineOptions {
            resolution_micros: 100_000,
            retention_micros: 2 * HOUR,
        };
        assert_eq!(config.timeline, timeline, "[timeline]");
        assert_eq!(
            config.line("compaction", "style"),
            Some(15),
            "the line of style"
        );
        assert_eq!(
            config.line("", "create_if_missing"),
            Some(3),
            "the line of a top-level key"
        );

        // Without the cache: `Cache::new` is chapter 10's (a todo!() on the
        // starter); tests/repl.rs runs one.
        let uncached = Config {
            block_cache_bytes: 0,
            ..config.clone()
        };
        let options = uncached.apply(Options::default());
        assert!(
            options.compaction.is_none(),
            "style = \"none\": no compaction"
        );
        assert!(
            options.block_cache.is_none(),
            "block_cache_bytes = 0: no cache"
        );
        assert_eq!(
            options.memtable_size_bytes,
            64 << 20,
            "apply copies the sizes"
        );
        assert_eq!(options.stall, stall, "apply copies the stall options");
        assert_eq!(options.table, table, "apply copies the table options");
    }

    #[test]
    fn the_defaults_are_the_engines_and_apply_keeps_them() {
        let config = Config::default();
        let options = config.apply(Options::default());
        let engine = Options::default();
        assert_eq!(
            options.memtable_size_bytes, engine.memtable_size_bytes,
            "memtable"
        );
        assert_eq!(options.table, engine.table, "table options");
        assert_eq!(options.stall, engine.stall, "stall options");
        assert_eq!(options.background_threads, 0, "inline by default");
        assert!(options.block_cache.is_none(), "no block cache by default");
        assert!(
            options.compaction.is_some(),
            "leveled compaction by default"
        );
        assert!(config.timeline_enabled, "a timeline by default");
        assert_eq!(config.timeline, TimelineOptions::default(), "its options");
    }

    // The example at the repository's root sets every key to its default,
    // so it cannot drift from the code.
    #[test]
    fn the_example_file_sets_every_key_to_its_default() {
        let text = include_str!("../../../lsm.example.toml");
        let config = parse(text, "lsm.example.toml").expect("lsm.example.toml parses");
        for key in KEYS {
            assert!(
                config.line(key.table, key.name).is_some(),
                "lsm.example.toml sets `{}` {}",
                key.name,
                in_table(key.table)
            );
        }
        let defaults = Config {
            file: config.file.clone(),
            lines: config.lines.clone(),
            ..Config::default()
        };
        assert_eq!(
            config, defaults,
            "every value in lsm.example.toml is the default"
        );
    }

    #[test]
    fn unknown_keys_and_tables_are_refused_with_what_is_known() {
        refused(
            "memtable_sise_bytes = 1",
            1,
            "memtable_sise_bytes",
            "did you mean `memtable_size_bytes`?",
        );
        refused(
            "\n\nmemtable_sise_bytes = 1",
            3,
            "memtable_sise_bytes",
            "known: create_if_missing, ",
        );
        refused("[table]\nblock_size = 1", 2, "block_size", "in [table]");
        refused(
            "[stall]\nblock_size_bytes = 4096",
            2,
            "block_size_bytes",
            "belongs in [table]",
        );
        refused(
            "[timeline]\nbackground_threads = 1",
            2,
            "background_threads",
            "at the top level",
        );
        refused(
            "[engine]\n",
            1,
            "engine",
            "unknown table [engine] (known: table, compaction",
        );
        let config = parse_with(
            "[server]\nbind = \"127.0.0.1:6380\"\n",
            "lsm.toml",
            &["server"],
        )
        .expect("a table the caller names parses");
        assert_eq!(config.extra.len(), 1, "its setting is handed back");
        assert_eq!(
            config.extra[0].value,
            Value::Text("127.0.0.1:6380".into()),
            "unchecked"
        );
    }

    #[test]
    fn values_of_the_wrong_type_or_range_are_refused() {
        refused(
            "background_threads = \"four\"",
            1,
            "background_threads",
            "must be an integer from 0 to 64, not \"four\"",
        );
        refused(
            "background_threads = 65",
            1,
            "background_threads",
            "from 0 to 64, not 65",
        );
        refused("background_threads = -1", 1, "background_threads", "not -1");
        refused(
            "background_threads = 1.5",
            1,
            "background_threads",
            "not 1.5",
        );
        refused(
            "background_threads = 0x2",
            1,
            "background_threads",
            "not 0x2",
        );
        refused("background_threads = 02", 1, "background_threads", "not 02");
        refused(
            "background_threads = 1__0",
            1,
            "background_threads",
            "not 1__0",
        );
        refused(
            "background_threads = 99999999999999999999",
            1,
            "background_threads",
            "not 9999",
        );
        refused(
            "create_if_missing = \"yes\"",
            1,
            "create_if_missing",
            "must be true or false",
        );
        refused(
            "create_if_missing = 1",
            1,
            "create_if_missing",
            "must be true or false, not 1",
        );
        refused(
            "memtable_size_bytes = \"64 MB\"",
            1,
            "memtable_size_bytes",
            "(B, KiB, MiB, GiB), not \"64 MB\"",
        );
        refused(
            "memtable_size_bytes = \"1.5 MiB\"",
            1,
            "memtable_size_bytes",
            "a size from 1 KiB to 4 GiB",
        );
        refused(
            "memtable_size_bytes = 100",
            1,
            "memtable_size_bytes",
            "not 100",
        );
        refused(
            "memtable_size_bytes = true",
            1,
            "memtable_size_bytes",
            "not true",
        );
        refused(
            "[stall]\nslowdown = 1000",
            2,
            "slowdown",
            "a duration from 0 µs to 1 s",
        );
        refused("[stall]\nslowdown = \"2 s\"", 2, "slowdown", "not \"2 s\"");
        refused(
            "[stall]\nslowdown = \"1 d\"",
            2,
            "slowdown",
            "(µs, ms, s, min, h)",
        );
        refused(
            "[compaction]\nstyle = \"tiered\"",
            2,
            "style",
            "must be \"leveled\" or \"none\", not \"tiered\"",
        );
        refused("[compaction]\nstyle = leveled", 2, "style", "not leveled");
        let ok = parse(
            "[stall]\nslowdown = \"0 ms\"\n[timeline]\nresolution = \"1 min\"",
            "lsm.toml",
        );
        assert!(ok.is_ok(), "the range's ends and every unit parse: {ok:?}");
    }

    #[test]
    fn toml_outside_the_subset_is_refused() {
        refused(
            "background_threads = [1, 2]",
            1,
            "background_threads",
            "arrays are not supported",
        );
        refused(
            "background_threads = { a = 1 }",
            1,
            "background_threads",
            "inline tables",
        );
        refused(
            "memtable_size_bytes = '4 KiB'",
            1,
            "memtable_size_bytes",
            "literal strings",
        );
        refused(
            "memtable_size_bytes = \"\"\"4 KiB\"\"\"",
            1,
            "memtable_size_bytes",
            "multi-line",
        );
        refused(
            "memtable_size_bytes = \"4 KiB",
            1,
            "memtable_size_bytes",
            "unterminated string",
        );
        refused(
            "memtable_size_bytes = \"4\\u0020KiB\"",
            1,
            "memtable_size_bytes",
            "unsupported escape \\u",
        );
        refused(
            "memtable_size_bytes = \"4 KiB\" 2",
            1,
            "memtable_size_bytes",
            "unexpected `2`",
        );
        refused(
            "memtable_size_bytes =",
            1,
            "memtable_size_bytes",
            "no value",
        );
        refused(
            "memtable_size_bytes = # none",
            1,
            "memtable_size_bytes",
            "no value",
        );
        refused(
            "table.index = true",
            1,
            "table.index",
            "dotted keys are not supported",
        );
        refused("\"index\" = true", 1, "\"index\"", "quoted keys");
        refused("my key = 1", 1, "my key", "a key is a bare word");
        refused("[table.more]", 1, "table.more", "nested tables");
        refused("[table] x", 1, "table", "unexpected `x` after [table]");
        let error = fails("\n[[table]]");
        assert_eq!(
            (error.line, error.key),
            (2, None),
            "[[table]] is refused on its line"
        );
        assert!(
            error.message.contains("arrays of tables"),
            "says why: {}",
            error.message
        );
        let error = fails("index true");
        assert!(
            error.message.contains("expected `key = value`"),
            "a line without `=`: {error}"
        );
        let error = fails("[table");
        assert!(
            error.message.contains("closing `]`"),
            "an unclosed header: {error}"
        );
    }

    #[test]
    fn a_key_or_table_set_twice_is_refused_naming_the_first_line() {
        refused(
            "[table]\nindex = true\n\nindex = false",
            4,
            "index",
            "set twice in [table] (first on line 2)",
        );
        refused(
            "[table]\n[stall]\n[table]",
            3,
            "table",
            "appears twice (first on line 1)",
        );
        refused(
            "background_threads = 1\nbackground_threads = 1",
            2,
            "background_threads",
            "at the top level",
        );
        let same_key = parse(
            "[table]\nindex = true\n[timeline]\nenabled = true",
            "lsm.toml",
        );
        assert!(
            same_key.is_ok(),
            "different tables are different places: {same_key:?}"
        );
    }

    #[test]
    fn strings_resolve_their_escapes_and_comments_follow_values() {
        let text = "[server]\na = \"q\\\"b\\\\s\\n\\t# not a comment\" # a comment\nb = true#c\n";
        let config = parse_with(text, "lsm.toml", &["server"]).expect("escapes parse");
        let values: Vec<&Value> = config.extra.iter().map(|s| &s.value).collect();
        let text = Value::Text("q\"b\\s\n\t# not a comment".into());
        assert_eq!(
            values,
            [&text, &Value::Bool(true)],
            "escapes resolved, comments dropped"
        );
        assert_eq!(
            config.extra[1].raw, "true",
            "the raw value stops at the comment"
        );
        assert_eq!(
            integer("1_000_000"),
            Some(1_000_000),
            "underscores between digits"
        );
        for bad in ["", "_1", "1_", "+1", "01", "1e3", "18446744073709551616"] {
            assert_eq!(integer(bad), None, "{bad:?} is no integer of the subset");
        }
        assert_eq!(
            show_bytes(4 * GIB),
            "4 GiB",
            "sizes read back in their largest unit"
        );
        assert_eq!(show_micros(8_760 * HOUR), "8760 h", "durations too");
    }
}
