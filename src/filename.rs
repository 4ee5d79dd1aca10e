//! The names of a database's files (provided).
//!
//! Every file of a database lives in its directory and is named after a
//! **file number**, one counter shared by logs, tables and manifests, so a
//! number names at most one file ever (chapter 6 makes sure it is never
//! reused, even after a crash):
//!
//! ```text
//!   000007.log        a write-ahead log (chapter 2)
//!   000012.sst        a table (chapter 3)
//!   MANIFEST-000009   a manifest: the log of version edits (chapter 6)
//!   CURRENT           names the live manifest, e.g. "MANIFEST-000009\n"
//!   CURRENT.tmp       the next CURRENT while it is being written
//! ```
//!
//! Parsing is strict: a name is recognised only if it is exactly what
//! [`FileName`]'s `Display` writes for it, so `7.log` or `000007.LOG` are
//! someone else's files, which the engine leaves alone.

use std::fmt;
use std::path::{Path, PathBuf};

/// A file of the database, by kind and number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileName {
    /// `NNNNNN.log`: a write-ahead log.
    Log(u64),
    /// `NNNNNN.sst`: a table.
    Table(u64),
    /// `MANIFEST-NNNNNN`: a manifest.
    Manifest(u64),
    /// `CURRENT`: names the live manifest.
    Current,
    /// `CURRENT.tmp`: a `CURRENT` being written; a leftover is debris.
    CurrentTemp,
}

impl FileName {
    /// Recognises one of the database's file names; `None` for anything
    /// else (including numbers written differently than [`Display`](fmt::Display) writes them).
    pub fn parse(name: &str) -> Option<FileName> {
        let parsed = match name {
            "CURRENT" => FileName::Current,
            "CURRENT.tmp" => FileName::CurrentTemp,
            _ => {
                if let Some(number) = name.strip_prefix("MANIFEST-") {
                    FileName::Manifest(parse_number(number)?)
                } else if let Some(number) = name.strip_suffix(".log") {
                    FileName::Log(parse_number(number)?)
                } else if let Some(number) = name.strip_suffix(".sst") {
                    FileName::Table(parse_number(number)?)
                } else {
                    return None;
                }
            }
        };
        // Only the canonical spelling: one name per file.
        (parsed.to_string() == name).then_some(parsed)
    }

    /// The file's number, `None` for `CURRENT` and its temp file.
    pub fn number(&self) -> Option<u64> {
        match *self {
            FileName::Log(number) | FileName::Table(number) | FileName::Manifest(number) => {
                Some(number)
            }
            FileName::Current | FileName::CurrentTemp => None,
        }
    }

    /// The file's path in the database directory `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(self.to_string())
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileName::Log(number) => write!(f, "{number:06}.log"),
            FileName::Table(number) => write!(f, "{number:06}.sst"),
            FileName::Manifest(number) => write!(f, "MANIFEST-{number:06}"),
            FileName::Current => f.write_str("CURRENT"),
            FileName::CurrentTemp => f.write_str("CURRENT.tmp"),
        }
    }
}

fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::FileName;

    #[test]
    fn names_round_trip_and_only_canonical_spellings_parse() {
        for name in [
            FileName::Log(7),
            FileName::Table(1_234_567),
            FileName::Manifest(0),
            FileName::Current,
            FileName::CurrentTemp,
        ] {
            assert_eq!(FileName::parse(&name.to_string()), Some(name));
        }
        assert_eq!(FileName::Log(7).to_string(), "000007.log");
        assert_eq!(FileName::Table(1_234_567).to_string(), "1234567.sst");
        for stranger in [
            "7.log",
            "000007.LOG",
            "0000007.sst",
            "MANIFEST-",
            "MANIFEST-00000a",
            "+00007.log",
            "CURRENT.bak",
            "LOCK",
            "000001.log.old",
        ] {
            assert_eq!(FileName::parse(stranger), None, "{stranger}");
        }
    }
}
