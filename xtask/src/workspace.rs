//! Where things are: the workbook root and its chapters.
//!
//! Chapters are discovered, never listed: every entry of `solutions/` named
//! `chNN_topic.rs` (a file) or `chNN_topic/` (a folder with `mod.rs`) is
//! chapter NN. Its test target is `tests/chNN_topic.rs`, its book page
//! `book/src/chNN_topic.md`, its starter the same path under `chapters/`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Result, failed, usage_error};

/// The environment variable that overrides the workbook root.
pub const ROOT_ENV: &str = "LSM_WORKBOOK_ROOT";

/// The workbook checkout the tools work on.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
}

/// One chapter, e.g. number 3, name `ch03_sstable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub number: u32,
    /// `chNN_topic`: the file stem, the test target and the book page stem.
    pub name: String,
    /// A folder `chNN_topic/` rather than a file `chNN_topic.rs`.
    pub is_dir: bool,
}

impl Chapter {
    /// `ch03`: the prefix of todo messages and the suffix of `ref-ch03`.
    pub fn tag(&self) -> String {
        format!("ch{:02}", self.number)
    }

    /// The Cargo feature that selects this chapter's reference.
    pub fn ref_feature(&self) -> String {
        format!("ref-{}", self.tag())
    }

    /// The entry's name inside `solutions/` and `chapters/`.
    pub fn entry(&self) -> String {
        if self.is_dir {
            self.name.clone()
        } else {
            format!("{}.rs", self.name)
        }
    }

    /// The entry as the learner sees it, e.g. `chapters/ch01_memtable.rs`.
    pub fn starter_display(&self) -> String {
        if self.is_dir {
            format!("chapters/{}/", self.name)
        } else {
            format!("chapters/{}.rs", self.name)
        }
    }
}

/// The root of the repository holding this xtask (Cargo's workspace root).
pub fn xtask_workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

impl Workspace {
    /// The root from `LSM_WORKBOOK_ROOT`, or the repository holding xtask.
    pub fn locate() -> Result<Workspace> {
        let root = match std::env::var_os(ROOT_ENV) {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => xtask_workspace_root(),
        };
        if !root.join("Cargo.toml").is_file() {
            return Err(failed(format!(
                "{} has no Cargo.toml; is {ROOT_ENV} right?",
                root.display()
            )));
        }
        Ok(Workspace { root })
    }

    pub fn solutions(&self) -> PathBuf {
        self.root.join("solutions")
    }

    pub fn chapters_dir(&self) -> PathBuf {
        self.root.join("chapters")
    }

    /// All chapters, ordered by number.
    pub fn chapters(&self) -> Result<Vec<Chapter>> {
        let dir = self.solutions();
        let entries = fs::read_dir(&dir)
            .map_err(|e| failed(format!("cannot read {}: {e}", dir.display())))?;
        let mut chapters = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| failed(format!("reading {}: {e}", dir.display())))?;
            let is_dir = entry.path().is_dir();
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(chapter) = parse_entry(&file_name, is_dir) {
                chapters.push(chapter);
            }
        }
        chapters.sort_by(|a, b| a.number.cmp(&b.number).then(a.name.cmp(&b.name)));
        for pair in chapters.windows(2) {
            if pair[0].number == pair[1].number {
                return Err(failed(format!(
                    "solutions/ has two chapters numbered {}: {} and {}",
                    pair[0].number,
                    pair[0].entry(),
                    pair[1].entry()
                )));
            }
        }
        if chapters.is_empty() {
            return Err(failed(format!("no chNN_* chapters in {}", dir.display())));
        }
        Ok(chapters)
    }
}

/// `ch03_sstable.rs` or the folder `ch03_sstable` → chapter 3.
pub fn parse_entry(file_name: &str, is_dir: bool) -> Option<Chapter> {
    let name = if is_dir {
        file_name
    } else {
        file_name.strip_suffix(".rs")?
    };
    let number = chapter_number(name)?;
    Some(Chapter {
        number,
        name: name.to_string(),
        is_dir,
    })
}

/// `ch03_sstable` → 3: `ch`, two digits, `_`, a non-empty topic.
pub fn chapter_number(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("ch")?;
    let digits = rest.get(..2)?;
    let topic = rest.get(2..)?.strip_prefix('_')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || topic.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// Picks chapters by `3`, `03`, `ch03` or `ch03_sstable`; all if empty.
pub fn select(
    chapters: &[Chapter],
    selectors: &[String],
    usage: &'static str,
) -> Result<Vec<Chapter>> {
    if selectors.is_empty() {
        return Ok(chapters.to_vec());
    }
    let mut picked: Vec<Chapter> = Vec::new();
    for selector in selectors {
        let chapter = find(chapters, selector, usage)?;
        if !picked.contains(chapter) {
            picked.push(chapter.clone());
        }
    }
    picked.sort_by_key(|chapter| chapter.number);
    Ok(picked)
}

/// One chapter by selector (see [`select`]).
pub fn find<'a>(
    chapters: &'a [Chapter],
    selector: &str,
    usage: &'static str,
) -> Result<&'a Chapter> {
    let digits = selector.strip_prefix("ch").unwrap_or(selector);
    let by_number = digits.parse::<u32>().ok();
    chapters
        .iter()
        .find(|c| c.name == selector || by_number == Some(c.number))
        .ok_or_else(|| {
            let known: Vec<String> = chapters.iter().map(|c| c.number.to_string()).collect();
            usage_error(
                format!("no chapter `{selector}` (chapters: {})", known.join(", ")),
                usage,
            )
        })
}

/// Every file under `dir`, as paths relative to `dir`, sorted.
pub fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if dir.exists() {
        walk_into(dir, Path::new(""), &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn walk_into(base: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = base.join(relative);
    let entries =
        fs::read_dir(&dir).map_err(|e| failed(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| failed(format!("reading {}: {e}", dir.display())))?;
        let path = relative.join(entry.file_name());
        let file_type = entry
            .file_type()
            .map_err(|e| failed(format!("reading {}: {e}", dir.display())))?;
        if file_type.is_dir() {
            walk_into(base, &path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads a file to a string, with the path in the error.
pub fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))
}

/// Writes a file, creating its parent folders, with the path in the error.
pub fn write(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| failed(format!("cannot create {}: {e}", parent.display())))?;
    }
    fs::write(path, contents).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_chapters() {
        let file = parse_entry("ch03_sstable.rs", false);
        assert_eq!(
            file.map(|c| (c.number, c.name)),
            Some((3, "ch03_sstable".into()))
        );
        assert_eq!(parse_entry("ch12_engine", true).map(|c| c.number), Some(12));
        assert_eq!(parse_entry("ch03_sstable", false), None);
        assert_eq!(parse_entry("ch3_sstable.rs", false), None);
        assert_eq!(parse_entry("ch03_.rs", false), None);
        assert_eq!(parse_entry("README.md", false), None);
        assert_eq!(parse_entry("ch03sstable.rs", false), None);
    }

    #[test]
    fn selectors_pick_chapters() {
        let chapters = vec![
            parse_entry("ch01_memtable.rs", false).unwrap_or_else(|| unreachable!()),
            parse_entry("ch02_wal", true).unwrap_or_else(|| unreachable!()),
        ];
        for selector in ["2", "02", "ch02", "ch02_wal"] {
            let found = find(&chapters, selector, "");
            assert_eq!(found.map(|c| c.number).ok(), Some(2), "{selector}");
        }
        assert!(find(&chapters, "3", "").is_err());
        let picked = select(&chapters, &["2".into(), "1".into(), "02".into()], "");
        let numbers: Vec<u32> = picked
            .unwrap_or_default()
            .iter()
            .map(|c| c.number)
            .collect();
        assert_eq!(numbers, vec![1, 2]);
    }
}
