//! `tests/points.toml`: how many points each graded test is worth and which
//! book section teaches it. A small TOML subset, parsed by hand so that the
//! grader has no dependencies:
//!
//! ```toml
//! # comment
//! [ch01_memtable]
//! new_memtable_is_empty = { points = 1, section = "1.3" }
//! "module::test_name" = { points = 2, section = "1.4" }
//! ```
//!
//! Section headers name test targets; keys are test names as libtest prints
//! them (quote names that contain `::`).

use std::path::Path;

use crate::workspace::{self, Workspace};
use crate::{Result, failed};

/// The file, relative to the workbook root.
pub const PATH: &str = "tests/points.toml";

/// One graded test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub test: String,
    pub points: u32,
    /// The book section that teaches it, e.g. `1.3`.
    pub section: String,
    /// Where it is declared (1-based), for error messages.
    pub line: usize,
}

/// One `[target]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// The whole file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Points {
    pub targets: Vec<Target>,
}

impl Points {
    /// The entries of a test target (empty if it has no section).
    pub fn entries(&self, target: &str) -> &[Entry] {
        self.targets
            .iter()
            .find(|t| t.name == target)
            .map_or(&[], |t| t.entries.as_slice())
    }
}

/// Reads `tests/points.toml` of the workbook.
pub fn load(ws: &Workspace) -> Result<Points> {
    let path = ws.root.join(PATH);
    load_file(&path)
}

fn load_file(path: &Path) -> Result<Points> {
    let text = workspace::read(path)?;
    parse(&text).map_err(|e| failed(format!("{PATH}:{e}")))
}

/// Parses the file; errors read `LINE: message`.
pub fn parse(text: &str) -> std::result::Result<Points, String> {
    let mut points = Points::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        parse_line(raw, line, &mut points).map_err(|e| format!("{line}: {e}"))?;
    }
    Ok(points)
}

fn parse_line(raw: &str, line: usize, points: &mut Points) -> std::result::Result<(), String> {
    let mut cursor = Cursor::new(raw);
    cursor.skip_space();
    if cursor.at_end() {
        return Ok(());
    }
    if cursor.eat('[') {
        let name = cursor.key()?;
        cursor.expect(']')?;
        cursor.finish()?;
        if points.targets.iter().any(|t| t.name == name) {
            return Err(format!("section [{name}] appears twice"));
        }
        points.targets.push(Target {
            name,
            line,
            entries: Vec::new(),
        });
        return Ok(());
    }
    let test = cursor.key()?;
    cursor.expect('=')?;
    let (points_value, section) = cursor.inline_table()?;
    cursor.finish()?;
    let target = points
        .targets
        .last_mut()
        .ok_or("an entry before any [test_target] section")?;
    if let Some(first) = target.entries.iter().find(|e| e.test == test) {
        return Err(format!("`{test}` is already listed at line {}", first.line));
    }
    target.entries.push(Entry {
        test,
        points: points_value,
        section,
        line,
    });
    Ok(())
}

/// A position in one line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { rest: text }
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    /// At the end of the line, or at a comment.
    fn at_end(&self) -> bool {
        self.rest.is_empty() || self.rest.starts_with('#')
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}` at `{}`", self.rest.trim_end()))
        }
    }

    /// Only a comment may follow.
    fn finish(&mut self) -> std::result::Result<(), String> {
        self.skip_space();
        if self.at_end() {
            Ok(())
        } else {
            Err(format!("unexpected `{}`", self.rest.trim_end()))
        }
    }

    /// A bare key (`A-Za-z0-9_-`) or a quoted one.
    fn key(&mut self) -> std::result::Result<String, String> {
        self.skip_space();
        if self.rest.starts_with('"') {
            return self.string();
        }
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(format!("expected a name at `{}`", self.rest.trim_end()));
        }
        let (key, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(key.to_string())
    }

    /// A basic string `"…"` with the escapes `\"`, `\\`, `\n`, `\t`.
    fn string(&mut self) -> std::result::Result<String, String> {
        self.skip_space();
        let mut chars = self
            .rest
            .strip_prefix('"')
            .ok_or_else(|| format!("expected a string at `{}`", self.rest.trim_end()))?
            .char_indices();
        let mut out = String::new();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[1 + index + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    other => {
                        return Err(format!("unsupported escape `\\{}`", other.unwrap_or(' ')));
                    }
                },
                _ => out.push(c),
            }
        }
        Err("unterminated string".into())
    }

    /// A non-negative integer (digits, optionally with `_` separators).
    fn integer(&mut self) -> std::result::Result<u32, String> {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(self.rest.len());
        let digits: String = self.rest[..end].chars().filter(|c| *c != '_').collect();
        let value = digits.parse().map_err(|_| {
            format!(
                "expected a non-negative integer at `{}`",
                self.rest.trim_end()
            )
        })?;
        self.rest = &self.rest[end..];
        Ok(value)
    }

    /// `{ points = 1, section = "1.3" }`, keys in any order.
    fn inline_table(&mut self) -> std::result::Result<(u32, String), String> {
        self.expect('{')?;
        let (mut points, mut section) = (None, None);
        loop {
            let key = self.key()?;
            self.expect('=')?;
            match key.as_str() {
                "points" if points.is_none() => points = Some(self.integer()?),
                "section" if section.is_none() => section = Some(self.string()?),
                "points" | "section" => return Err(format!("`{key}` is given twice")),
                _ => return Err(format!("unknown key `{key}` (expected points, section)")),
            }
            if self.eat('}') {
                break;
            }
            self.expect(',')?;
        }
        let points = points.ok_or("missing `points = N`")?;
        let section = section.ok_or("missing `section = \"N.M\"`")?;
        Ok((points, section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_entries_and_comments() {
        let text = "# weights\n\n[ch01_memtable]  # first\nnew_memtable_is_empty = { points = 1, section = \"1.3\" }\n\"m::t\"={section=\"1.4\",points=2_0} # c\n[ch02_wal]\nreplay = { points = 3, section = \"2.1\" }\n";
        let points = parse(text).unwrap();
        assert_eq!(points.targets.len(), 2);
        let first = points.entries("ch01_memtable");
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].test, "new_memtable_is_empty");
        assert_eq!((first[0].points, first[0].section.as_str()), (1, "1.3"));
        assert_eq!((first[1].test.as_str(), first[1].points), ("m::t", 20));
        assert_eq!(first[1].line, 5);
        assert_eq!(points.entries("ch02_wal")[0].points, 3);
        assert!(points.entries("ch03_sstable").is_empty());
    }

    #[test]
    fn errors_name_their_line() {
        let cases = [
            (
                "x = { points = 1, section = \"1\" }\n",
                "1: an entry before",
            ),
            ("[a]\n[a]\n", "2: section [a] appears twice"),
            (
                "[a]\nx = { points = 1, section = \"1\" }\nx = { points = 1, section = \"1\" }\n",
                "3: `x` is already listed at line 2",
            ),
            (
                "[a]\nx = { points = -1, section = \"1\" }\n",
                "2: expected a non-negative integer",
            ),
            ("[a]\nx = { points = 1 }\n", "2: missing `section"),
            ("[a]\nx = { section = \"1\" }\n", "2: missing `points"),
            (
                "[a]\nx = { points = 1, section = \"1\", weight = 2 }\n",
                "2: unknown key `weight`",
            ),
            (
                "[a]\nx = { points = 1, points = 2 }\n",
                "2: `points` is given twice",
            ),
            (
                "[a]\nx = { points = 1, section = \"1 }\n",
                "2: unterminated string",
            ),
            (
                "[a]\nx = { points = 1, section = \"1\" } y\n",
                "2: unexpected `y`",
            ),
            ("[a\n", "1: expected `]`"),
            ("[a]\nx { points = 1 }\n", "2: expected `=`"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text:?}: {error}");
        }
    }
}
