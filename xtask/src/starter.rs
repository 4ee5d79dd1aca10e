//! `cargo xtask starter [--check]`: generate `chapters/` from `solutions/`.
//!
//! `solutions/` is the single source of truth. Regions the learner writes are
//! fenced by whole-line markers (the marker's indentation is reused):
//!
//! ```text
//! // BEGIN SOLUTION todo(key, value): insert the entry — book §1.3
//! …reference body…
//! // END SOLUTION
//! ```
//!
//! becomes `let _ = (key, value);` and `todo!("ch01: insert the entry — book
//! §1.3")`: the stub mentions its arguments, so it is warning-free, and fails
//! with a message naming its chapter (`cargo xtask check` relies on that).
//! `// BEGIN SOLUTION hide: message` … `// END SOLUTION` becomes
//! `// TODO(ch01): message`; a bare `// BEGIN SOLUTION hide` region vanishes.
//! Inside a region, a line `// STARTER: code` puts `code` into the starter
//! (at that line's indentation, before the stub): for what the starter needs
//! but the reference must not have, e.g. a `PhantomData` field that keeps a
//! lifetime parameter used once the real fields are hidden.
//! mdBook anchor lines (`// ANCHOR: name`, `// ANCHOR_END: name`) are dropped.
//! The result is formatted by `rustfmt --edition 2024`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::workspace::{self, Workspace, chapter_number};
use crate::{Result, failed, help_requested, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask starter [--check]

Regenerates chapters/ from solutions/: every .rs file has its solution regions
replaced by todo!() stubs or TODO comments, and is formatted with rustfmt.
Other files are copied verbatim.

  --check   change nothing; fail if chapters/ differs from the generated starter";

/// A marker problem at a 1-based line of the input.
#[derive(Debug, PartialEq, Eq)]
pub struct MarkerError {
    pub line: usize,
    pub message: String,
}

/// What a solution region turns into.
#[derive(Debug, PartialEq, Eq)]
enum Region {
    /// `todo(a, b): message` → `let _ = (a, b);` + `todo!("chNN: message")`.
    Todo { args: Vec<String>, message: String },
    /// `hide: message` → `// TODO(chNN): message`; `hide` → nothing.
    Hide { message: Option<String> },
}

/// How one input line is treated.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Begin(Region),
    End,
    Anchor,
    /// `// STARTER: code` → the indentation and `code`.
    Starter(String),
    Text,
}

/// An open region: where it started, its indentation and its replacement.
struct Open {
    line: usize,
    indent: String,
    region: Region,
    /// `// STARTER:` lines of the region, already unwrapped.
    starter: Vec<String>,
}

/// Replaces the solution regions of one file; `tag` is `ch01` for files of
/// chapter 1 (`None` outside a chapter, where markers are an error). The
/// output is not yet formatted.
pub fn generate(source: &str, tag: Option<&str>) -> std::result::Result<String, MarkerError> {
    let mut out = String::with_capacity(source.len());
    let mut open: Option<Open> = None;
    for (index, text) in source.lines().enumerate() {
        let line = index + 1;
        let error = |message: String| MarkerError { line, message };
        match classify(text).map_err(error)? {
            Line::Anchor => {}
            Line::Text if open.is_none() => {
                out.push_str(text);
                out.push('\n');
            }
            Line::Text => {}
            Line::Starter(code) => match &mut open {
                Some(region) => region.starter.push(code),
                None => {
                    return Err(error("`// STARTER:` outside a solution region".into()));
                }
            },
            Line::Begin(region) => {
                if let Some(outer) = &open {
                    return Err(error(format!(
                        "nested BEGIN SOLUTION (the region opened at line {} is still open)",
                        outer.line
                    )));
                }
                let indent = text[..text.len() - text.trim_start().len()].to_string();
                open = Some(Open {
                    line,
                    indent,
                    region,
                    starter: Vec::new(),
                });
            }
            Line::End => {
                let Some(region) = open.take() else {
                    return Err(error("END SOLUTION without a BEGIN SOLUTION".into()));
                };
                let Some(tag) = tag else {
                    return Err(error("solution markers outside a chNN_ chapter".into()));
                };
                out.push_str(&replacement(&region, tag));
            }
        }
    }
    match open {
        Some(region) => Err(MarkerError {
            line: region.line,
            message: "BEGIN SOLUTION is never closed by END SOLUTION".into(),
        }),
        None => Ok(out),
    }
}

/// The text standing in for a region, each line ending in `\n`: a hidden
/// region's TODO comment, then the `// STARTER:` lines, then a todo stub.
fn replacement(open: &Open, tag: &str) -> String {
    let indent = &open.indent;
    let mut out = String::new();
    if let Region::Hide {
        message: Some(message),
    } = &open.region
    {
        out.push_str(&format!("{indent}// TODO({tag}): {message}\n"));
    }
    for line in &open.starter {
        out.push_str(line);
        out.push('\n');
    }
    if let Region::Todo { args, message } = &open.region {
        match args.as_slice() {
            [] => {}
            [one] => out.push_str(&format!("{indent}let _ = {one};\n")),
            many => out.push_str(&format!("{indent}let _ = ({});\n", many.join(", "))),
        }
        let message = escape_todo_message(&format!("{tag}: {message}"));
        out.push_str(&format!("{indent}todo!(\"{message}\")\n"));
    }
    out
}

/// Escapes a message for `todo!("…")`: a string literal that is also a
/// format string, so braces are doubled as well.
pub fn escape_todo_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            _ => out.push(c),
        }
    }
    out
}

/// The reference as a reader should see it: `source` without the marker
/// lines that steer the generator (`BEGIN`/`END SOLUTION`, `STARTER:`);
/// mdBook anchors are kept when `keep_anchors`. Used by `diff` (anchors
/// dropped) and by the book build (which strips anchors itself).
pub fn strip_markers(source: &str, keep_anchors: bool) -> String {
    let is_marker = |line: &str| {
        let trimmed = line.trim();
        trimmed == END
            || trimmed.starts_with(BEGIN)
            || trimmed.starts_with(STARTER)
            || (!keep_anchors && is_anchor(trimmed))
    };
    let mut out: String = source
        .lines()
        .filter(|line| !is_marker(line))
        .collect::<Vec<_>>()
        .join("\n");
    if source.ends_with('\n') {
        out.push('\n');
    }
    out
}

const BEGIN: &str = "// BEGIN SOLUTION";
const END: &str = "// END SOLUTION";
const STARTER: &str = "// STARTER:";

fn classify(text: &str) -> std::result::Result<Line, String> {
    let trimmed = text.trim();
    if trimmed == END {
        return Ok(Line::End);
    }
    if let Some(rest) = trimmed.strip_prefix(BEGIN) {
        return parse_begin(rest).map(Line::Begin);
    }
    if is_anchor(trimmed) {
        return Ok(Line::Anchor);
    }
    if let Some(code) = trimmed.strip_prefix(STARTER) {
        let indent = &text[..text.len() - text.trim_start().len()];
        return Ok(Line::Starter(format!("{indent}{}", code.trim())));
    }
    let looks_like_marker = trimmed.contains("BEGIN SOLUTION") || trimmed.contains("END SOLUTION");
    if trimmed.starts_with("//") && looks_like_marker {
        return Err(format!(
            "unknown marker form `{trimmed}`: expected `{BEGIN} todo(args): message`, \
             `{BEGIN} hide[: message]` or `{END}`"
        ));
    }
    Ok(Line::Text)
}

/// Parses what follows `// BEGIN SOLUTION`.
fn parse_begin(rest: &str) -> std::result::Result<Region, String> {
    let unknown = || {
        format!(
            "unknown marker form `{BEGIN}{rest}`: expected `{BEGIN} todo(args): message` \
             or `{BEGIN} hide[: message]`"
        )
    };
    if !rest.starts_with(' ') {
        return Err(unknown());
    }
    let rest = rest.trim();
    if rest == "hide" {
        return Ok(Region::Hide { message: None });
    }
    if let Some(message) = rest.strip_prefix("hide:") {
        let message = message.trim();
        if message.is_empty() {
            return Err("`hide:` needs a message (or write a bare `hide`)".into());
        }
        return Ok(Region::Hide {
            message: Some(message.to_string()),
        });
    }
    match rest.strip_prefix("todo(") {
        Some(after) => parse_todo(after),
        None => Err(unknown()),
    }
}

/// Parses `a, b): message` (what follows `todo(`).
fn parse_todo(after: &str) -> std::result::Result<Region, String> {
    let close = closing_paren(after).ok_or("`todo(` has no closing `)`")?;
    let inside = &after[..close];
    let message = after[close + 1..]
        .trim_start()
        .strip_prefix(':')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or("`todo(args)` needs a message: `todo(args): what to do — book §N.M`")?;
    let args = if inside.trim().is_empty() {
        Vec::new()
    } else {
        let args: Vec<String> = split_top_level(inside)
            .iter()
            .map(|a| a.trim().to_string())
            .collect();
        if args.iter().any(String::is_empty) {
            return Err(format!("empty argument in `todo({inside})`"));
        }
        args
    };
    Ok(Region::Todo {
        args,
        message: message.to_string(),
    })
}

/// The index of the `)` closing an already opened `(`.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(index),
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Splits at commas that are not nested in brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `// ANCHOR: name` or `// ANCHOR_END: name`, as mdBook writes them.
fn is_anchor(trimmed: &str) -> bool {
    let Some(rest) = trimmed.strip_prefix("//") else {
        return false;
    };
    let rest = rest.trim_start();
    let Some(name) = rest
        .strip_prefix("ANCHOR:")
        .or_else(|| rest.strip_prefix("ANCHOR_END:"))
    else {
        return false;
    };
    let name = name.trim();
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Formats Rust source with `rustfmt --edition 2024` (stdin → stdout), run in
/// `root` so the project's rustfmt.toml applies.
pub fn rustfmt(source: &str, root: &Path, label: &str) -> Result<String> {
    let spawned = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed(
                "rustfmt not found; install it with `rustup component add rustfmt`",
            ));
        }
        Err(e) => return Err(failed(format!("cannot run rustfmt: {e}"))),
    };
    // Writing from another thread: rustfmt may fill its stdout pipe before it
    // has read all of its input.
    let input = source.to_string();
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || stdin.map(|mut s| s.write_all(input.as_bytes())));
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("rustfmt on {label}: {e}")))?;
    let _ = writer.join();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).replace("<stdin>", label);
        return Err(failed(format!(
            "rustfmt could not format the starter generated from {label} (line numbers are the starter's):\n{stderr}"
        )));
    }
    String::from_utf8(output.stdout)
        .map_err(|_| failed(format!("rustfmt output for {label} is not UTF-8")))
}

/// The generated `chapters/` tree: relative path → contents.
pub type Tree = BTreeMap<PathBuf, Vec<u8>>;

/// Generates the starter for every file under `solutions/`, or only under
/// `solutions/<only>` when given.
pub fn generate_tree(ws: &Workspace, only: Option<&str>) -> Result<Tree> {
    let solutions = ws.solutions();
    let mut tree = Tree::new();
    for relative in workspace::walk_files(&solutions)? {
        let top = top_component(&relative);
        let top_stem = top.strip_suffix(".rs").unwrap_or(&top);
        if only.is_some_and(|only| only != top_stem) {
            continue;
        }
        let path = solutions.join(&relative);
        let label = format!("solutions/{}", relative.display());
        let contents = if relative.extension().is_some_and(|e| e == "rs") {
            let source = workspace::read(&path)?;
            let tag = chapter_number(top_stem).map(|n| format!("ch{n:02}"));
            let raw = generate(&source, tag.as_deref())
                .map_err(|e| failed(format!("{label}:{}: {}", e.line, e.message)))?;
            rustfmt(&raw, &ws.root, &label)?.into_bytes()
        } else {
            std::fs::read(&path).map_err(|e| failed(format!("cannot read {label}: {e}")))?
        };
        tree.insert(relative, contents);
    }
    Ok(tree)
}

/// The first component of a relative path, e.g. `ch06_engine`.
fn top_component(relative: &Path) -> String {
    relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Differences between a generated tree and `chapters/`.
#[derive(Debug, Default)]
pub struct Drift {
    /// Generated files whose `chapters/` copy is missing or different.
    pub stale: Vec<(PathBuf, &'static str)>,
    /// Files in `chapters/` that nothing in `solutions/` generates.
    pub orphans: Vec<PathBuf>,
}

/// Compares the generated tree with `chapters/`.
pub fn compare(ws: &Workspace, tree: &Tree) -> Result<Drift> {
    let chapters = ws.chapters_dir();
    let mut drift = Drift::default();
    for (relative, contents) in tree {
        match std::fs::read(chapters.join(relative)) {
            Ok(existing) if &existing == contents => {}
            Ok(_) => drift.stale.push((relative.clone(), "differs")),
            Err(_) => drift.stale.push((relative.clone(), "missing")),
        }
    }
    for relative in workspace::walk_files(&chapters)? {
        if !tree.contains_key(&relative) {
            drift.orphans.push(relative);
        }
    }
    Ok(drift)
}

/// `chapters/` is current: the same check as `starter --check`. Returns the
/// problems and the number of generated files.
pub fn check(ws: &Workspace) -> Result<(Vec<String>, usize)> {
    let tree = generate_tree(ws, None)?;
    let drift = compare(ws, &tree)?;
    let mut problems: Vec<String> = drift
        .stale
        .iter()
        .map(|(path, why)| format!("chapters/{} {why}", path.display()))
        .collect();
    problems.extend(drift.orphans.iter().map(|path| {
        format!(
            "chapters/{} has no counterpart in solutions/",
            path.display()
        )
    }));
    Ok((problems, tree.len()))
}

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    let check_only = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err(usage_error(format!("unexpected arguments {args:?}"), USAGE)),
    };
    let ws = Workspace::locate()?;
    if check_only {
        let (problems, file_count) = check(&ws)?;
        if problems.is_empty() {
            println!("chapters/ is up to date ({file_count} files)");
            return Ok(());
        }
        for problem in &problems {
            println!("  {problem}");
        }
        return Err(failed(format!(
            "chapters/ is stale ({} problems); run `cargo xtask starter`",
            problems.len()
        )));
    }
    write_all(&ws)
}

/// Regenerates every file of `chapters/` and handles orphans.
fn write_all(ws: &Workspace) -> Result<()> {
    let tree = generate_tree(ws, None)?;
    let drift = compare(ws, &tree)?;
    for (relative, why) in &drift.stale {
        workspace::write(&ws.chapters_dir().join(relative), &tree[relative])?;
        let action = if *why == "missing" {
            "created"
        } else {
            "updated"
        };
        println!("  {action} chapters/{}", relative.display());
    }
    for relative in &drift.orphans {
        handle_orphan(ws, relative)?;
    }
    println!(
        "chapters/ regenerated ({} files, {} written)",
        tree.len(),
        drift.stale.len()
    );
    Ok(())
}

/// Deletes a leftover `.rs` file inside a chapter folder that still exists in
/// `solutions/`; anything else is only reported, never deleted.
fn handle_orphan(ws: &Workspace, relative: &Path) -> Result<()> {
    let top = top_component(relative);
    let inside_chapter_dir = relative.components().count() > 1
        && chapter_number(&top).is_some()
        && ws.solutions().join(&top).is_dir();
    let is_rs = relative.extension().is_some_and(|e| e == "rs");
    let path = ws.chapters_dir().join(relative);
    if inside_chapter_dir && is_rs {
        std::fs::remove_file(&path)
            .map_err(|e| failed(format!("cannot delete {}: {e}", path.display())))?;
        println!(
            "  deleted chapters/{} (not in solutions/)",
            relative.display()
        );
    } else {
        println!(
            "  warning: chapters/{} has no counterpart in solutions/ (left alone)",
            relative.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starter(source: &str) -> String {
        generate(source, Some("ch03")).unwrap()
    }

    fn error(source: &str) -> MarkerError {
        generate(source, Some("ch03")).unwrap_err()
    }

    #[test]
    fn todo_with_two_args_binds_a_tuple() {
        let source = "fn f(a: u8, b: u8) -> u8 {\n    // BEGIN SOLUTION todo(a, b): add them\n    a + b\n    // END SOLUTION\n}\n";
        let expected =
            "fn f(a: u8, b: u8) -> u8 {\n    let _ = (a, b);\n    todo!(\"ch03: add them\")\n}\n";
        assert_eq!(starter(source), expected);
    }

    #[test]
    fn todo_with_one_arg_binds_it_alone() {
        let source = "  // BEGIN SOLUTION todo(self): go\n  x\n  // END SOLUTION\n";
        assert_eq!(starter(source), "  let _ = self;\n  todo!(\"ch03: go\")\n");
    }

    #[test]
    fn todo_without_args_has_no_binding() {
        let source = "\t// BEGIN SOLUTION todo(): build it — book §3.4\n\tx\n\t// END SOLUTION\n";
        assert_eq!(starter(source), "\ttodo!(\"ch03: build it — book §3.4\")\n");
    }

    #[test]
    fn todo_args_keep_nested_commas() {
        let source = "// BEGIN SOLUTION todo(f(a, b), c): m\n// END SOLUTION\n";
        assert_eq!(
            starter(source),
            "let _ = (f(a, b), c);\ntodo!(\"ch03: m\")\n"
        );
    }

    #[test]
    fn todo_message_is_escaped() {
        let source = "// BEGIN SOLUTION todo(): say \"hi\" \\ {x}\n// END SOLUTION\n";
        assert_eq!(
            starter(source),
            "todo!(\"ch03: say \\\"hi\\\" \\\\ {{x}}\")\n"
        );
    }

    #[test]
    fn hide_with_message_leaves_a_todo_comment() {
        let source = "struct S {\n    // BEGIN SOLUTION hide: your fields\n    a: u8,\n    // END SOLUTION\n}\n";
        assert_eq!(
            starter(source),
            "struct S {\n    // TODO(ch03): your fields\n}\n"
        );
    }

    #[test]
    fn bare_hide_removes_the_region() {
        let source = "use a;\n// BEGIN SOLUTION hide\nuse b;\n// END SOLUTION\nuse c;\n";
        assert_eq!(starter(source), "use a;\nuse c;\n");
    }

    #[test]
    fn starter_lines_replace_the_region_after_its_comment() {
        let source = "struct I<'a> {\n    // BEGIN SOLUTION hide: your state\n    // STARTER: _p: PhantomData<&'a ()>,\n    inner: &'a [u8],\n    // END SOLUTION\n}\n";
        let expected =
            "struct I<'a> {\n    // TODO(ch03): your state\n    _p: PhantomData<&'a ()>,\n}\n";
        assert_eq!(starter(source), expected);
        let body =
            "  // BEGIN SOLUTION todo(a): m\n  // STARTER:   let b = 1;\n  x\n  // END SOLUTION\n";
        assert_eq!(
            starter(body),
            "  let b = 1;\n  let _ = a;\n  todo!(\"ch03: m\")\n"
        );
    }

    #[test]
    fn starter_lines_outside_regions_are_errors() {
        let e = error("a\n// STARTER: b\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("outside"), "{}", e.message);
    }

    #[test]
    fn anchors_are_dropped_everywhere() {
        let source = "// ANCHOR: all\nfn f() {\n    // BEGIN SOLUTION todo(): m\n    // ANCHOR: body\n    x\n    // ANCHOR_END: body\n    // END SOLUTION\n}\n// ANCHOR_END: all\n";
        assert_eq!(starter(source), "fn f() {\n    todo!(\"ch03: m\")\n}\n");
    }

    #[test]
    fn text_outside_regions_is_kept() {
        let source = "//! docs mention ANCHOR: in prose\nfn f() {}\n";
        assert_eq!(starter(source), source);
    }

    #[test]
    fn nested_begin_is_an_error() {
        let e = error("// BEGIN SOLUTION hide\n// BEGIN SOLUTION hide\n// END SOLUTION\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("nested"), "{}", e.message);
    }

    #[test]
    fn end_without_begin_is_an_error() {
        let e = error("fn f() {}\n// END SOLUTION\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("without"), "{}", e.message);
    }

    #[test]
    fn unterminated_begin_is_an_error_at_its_line() {
        let e = error("a\n// BEGIN SOLUTION hide\nb\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("never closed"), "{}", e.message);
    }

    #[test]
    fn unknown_marker_forms_are_errors() {
        let bad = [
            "// BEGIN SOLUTION",
            "// BEGIN SOLUTION stub",
            "// BEGIN SOLUTIONhide",
            "// BEGIN SOLUTION hide:",
            "// BEGIN SOLUTION todo(a",
            "// BEGIN SOLUTION todo(a)",
            "// BEGIN SOLUTION todo(a,): m",
            "// END SOLUTION please",
            "//BEGIN SOLUTION hide",
        ];
        for line in bad {
            let e = error(&format!("x\n    {line}\n// END SOLUTION\n"));
            assert_eq!(e.line, 2, "{line}: {}", e.message);
        }
    }

    #[test]
    fn markers_outside_a_chapter_are_errors() {
        let e = generate("// BEGIN SOLUTION hide\n// END SOLUTION\n", None).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(generate("fn f() {}\n", None).is_ok());
    }

    #[test]
    fn strip_markers_leaves_the_code_a_reader_should_see() {
        let source = "// ANCHOR: f\nfn f() {\n    // BEGIN SOLUTION todo(): m\n    // STARTER: x\n    y\n    // END SOLUTION\n}\n// ANCHOR_END: f\n";
        assert_eq!(strip_markers(source, false), "fn f() {\n    y\n}\n");
        assert_eq!(
            strip_markers(source, true),
            "// ANCHOR: f\nfn f() {\n    y\n}\n// ANCHOR_END: f\n"
        );
    }
}
