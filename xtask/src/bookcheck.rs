//! The book's part of the teaching contract (step g of `cargo xtask check`):
//!
//! - every chapter has a page `book/src/chNN_topic.md`, linked from SUMMARY.md;
//! - every `{{#include PATH[:ANCHOR|:LINES]}}` and `{{#rustdoc_include …}}`
//!   resolves (PATH relative to the page) and an anchor's region holds at least
//!   one non-blank line — mdBook silently inserts nothing for a missing anchor;
//! - every chapter page's task list names real tests: lines starting with
//!   `Tests:` (optionally emphasized) list backticked test names, each of which
//!   is in points.toml under that chapter, and together they name them all;
//!   task lists live on chapter pages only (a `Tests:` line elsewhere is
//!   graded by nothing, so it is a problem);
//! - the walkthrough of a chapter's reference is a spoiler, so it has a page
//!   of its own, `book/src/chNN_topic_reference.md`, linked from SUMMARY.md
//!   and from the chapter page; no other page includes code from a solution
//!   region (`BEGIN SOLUTION` … `END SOLUTION`) of `solutions/`;
//! - every page in `book/src/` is linked from SUMMARY.md: mdBook renders only
//!   the pages SUMMARY.md names, so any other page (and every link to it) is
//!   silently missing from the built book.

use std::path::Path;

use crate::Result;
use crate::points::Points;
use crate::workspace::{self, Chapter, Workspace};

/// One `{{#include …}}` or `{{#rustdoc_include …}}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Include {
    pub line: usize,
    pub path: String,
    pub selector: Selector,
}

/// What part of the file is included.
#[derive(Debug, PartialEq, Eq)]
pub enum Selector {
    Whole,
    Anchor(String),
    /// From a 1-based line (`None`: from the start).
    Lines(Option<usize>),
}

/// The include directives of a markdown page.
pub fn includes(markdown: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("{{") {
            let escaped = rest[..open].ends_with('\\');
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                break;
            };
            let body = after[..close].trim();
            rest = &after[close + 2..];
            if escaped {
                continue;
            }
            let args = body
                .strip_prefix("#include")
                .or_else(|| body.strip_prefix("#rustdoc_include"));
            if let Some(args) = args.filter(|a| a.starts_with(char::is_whitespace)) {
                found.push(parse_include(index + 1, args.trim()));
            }
        }
    }
    found
}

/// `path`, `path:anchor`, `path:10`, `path::10`, `path:2:10`.
fn parse_include(line: usize, args: &str) -> Include {
    let mut parts = args.splitn(3, ':');
    let path = parts.next().unwrap_or_default().trim().to_string();
    let selector = match parts.next().map(str::trim) {
        None => Selector::Whole,
        Some("") => Selector::Lines(None),
        Some(first) => match first.parse::<usize>() {
            Ok(start) => Selector::Lines(Some(start)),
            Err(_) => Selector::Anchor(first.to_string()),
        },
    };
    Include {
        line,
        path,
        selector,
    }
}

/// The text between `ANCHOR: name` and `ANCHOR_END: name` (any comment
/// syntax), without nested anchor lines, as mdBook includes it. `Err` says
/// what is missing.
pub fn anchor_region(source: &str, anchor: &str) -> std::result::Result<String, String> {
    let mut inside = false;
    let mut region = Vec::new();
    for line in source.lines() {
        if !inside {
            inside = marker_name(line, "ANCHOR:") == Some(anchor);
            continue;
        }
        if marker_name(line, "ANCHOR_END:") == Some(anchor) {
            return Ok(region.join("\n"));
        }
        if marker_name(line, "ANCHOR:").is_none() && marker_name(line, "ANCHOR_END:").is_none() {
            region.push(line);
        }
    }
    if inside {
        Err(format!("anchor `{anchor}` has no ANCHOR_END"))
    } else {
        Err(format!("no anchor `{anchor}`"))
    }
}

/// The name after `ANCHOR:` / `ANCHOR_END:` on a line (`[\w-]+`).
fn marker_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let at = line.find(marker)?;
    let rest = line[at + marker.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// `Tests:` lines: (line number, backticked names).
pub fn task_tests(markdown: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let mut text = line.trim_start();
        while let Some(rest) = text.strip_prefix('>') {
            text = rest.trim_start();
        }
        for bullet in ["- ", "+ ", "* "] {
            text = text.strip_prefix(bullet).unwrap_or(text);
        }
        let text = text.trim_start_matches(['*', '_']);
        if let Some(rest) = text.strip_prefix("Tests:") {
            found.push((index + 1, backticked(rest)));
        }
    }
    found
}

/// The `code` spans of a line.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Link targets `](…)` in SUMMARY.md, without a leading `./`.
pub fn summary_links(summary: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = summary;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(close) = rest.find(')') {
            let target = rest[..close].trim();
            links.push(target.strip_prefix("./").unwrap_or(target).to_string());
            rest = &rest[close + 1..];
        }
    }
    links
}

/// Every problem of the book, as `path:line: message` strings.
pub fn check(ws: &Workspace, chapters: &[Chapter], points: &Points) -> Result<Vec<String>> {
    let src = ws.root.join("book").join("src");
    let mut problems = Vec::new();
    let summary_path = src.join("SUMMARY.md");
    let links = match std::fs::read_to_string(&summary_path) {
        Ok(summary) => summary_links(&summary),
        Err(e) => {
            problems.push(format!("book/src/SUMMARY.md: cannot read: {e}"));
            Vec::new()
        }
    };
    for chapter in chapters {
        problems.extend(check_chapter_pages(&src, chapter, &links));
    }
    for relative in workspace::walk_files(&src)? {
        if relative.extension().is_some_and(|e| e == "md") {
            let label = format!("book/src/{}", relative.display());
            let text = workspace::read(&src.join(&relative))?;
            let dir = src
                .join(&relative)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let page = relative.to_string_lossy().replace('\\', "/");
            problems.extend(check_includes(&label, &text, &dir));
            problems.extend(check_counts(&label, &text, chapters, points));
            if !chapters.iter().any(|c| page == reference_page(c)) {
                problems.extend(check_no_solution_regions(&label, &text, &dir));
            }
            if page != "SUMMARY.md" && !links.contains(&page) {
                problems.push(format!(
                    "{label}: not linked from SUMMARY.md, so mdBook does not build it"
                ));
            }
            if !chapters.iter().any(|c| page == format!("{}.md", c.name)) {
                for (line, _) in task_tests(&text) {
                    problems.push(format!(
                        "{label}:{line}: a `Tests:` line outside a chapter page grades nothing; \
                         task lists belong on the chapter's page"
                    ));
                }
            }
        }
    }
    for chapter in chapters {
        let page = src.join(format!("{}.md", chapter.name));
        if let Ok(text) = std::fs::read_to_string(&page) {
            problems.extend(check_task_tests(chapter, &text, points));
        }
    }
    Ok(problems)
}

/// The page holding the walkthrough of a chapter's reference.
pub fn reference_page(chapter: &Chapter) -> String {
    format!("{}_reference.md", chapter.name)
}

/// A chapter's page and its reference page exist and are linked from
/// SUMMARY.md, and the chapter page links its reference page.
fn check_chapter_pages(src: &Path, chapter: &Chapter, links: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let page = format!("{}.md", chapter.name);
    let reference = reference_page(chapter);
    for name in [&page, &reference] {
        if !src.join(name).is_file() {
            problems.push(format!(
                "book/src/{name}: missing (chapter {})",
                chapter.number
            ));
        } else if !links.contains(name) {
            problems.push(format!("book/src/SUMMARY.md: does not link {name}"));
        }
    }
    if let Ok(text) = std::fs::read_to_string(src.join(&page))
        && src.join(&reference).is_file()
        && !text.contains(&format!("]({reference}"))
    {
        problems.push(format!(
            "book/src/{page}: does not link its reference page {reference} \
             (a spoiler-marked section with a link, where the walkthrough was)"
        ));
    }
    problems
}

/// Includes of a page that is not a reference page: none may show a
/// solution region (the learner reads these pages while working).
pub fn check_no_solution_regions(label: &str, markdown: &str, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for include in includes(markdown) {
        let Ok(source) = std::fs::read_to_string(dir.join(&include.path)) else {
            continue; // check_includes reports it
        };
        let shown = match &include.selector {
            Selector::Anchor(anchor) => anchor_region(&source, anchor).unwrap_or_default(),
            Selector::Whole | Selector::Lines(_) => source,
        };
        if shown.contains("BEGIN SOLUTION") {
            problems.push(format!(
                "{label}:{}: includes a solution region from `{}`: the reference's code is a \
                 spoiler and belongs on a chapter's reference page (chNN_topic_reference.md)",
                include.line, include.path
            ));
        }
    }
    problems
}

/// Problems with the includes of one page (`dir`: the page's folder).
pub fn check_includes(label: &str, markdown: &str, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for include in includes(markdown) {
        let at = format!("{label}:{}", include.line);
        let Ok(source) = std::fs::read_to_string(dir.join(&include.path)) else {
            problems.push(format!(
                "{at}: cannot read included file `{}`",
                include.path
            ));
            continue;
        };
        match &include.selector {
            Selector::Whole | Selector::Lines(None) => {}
            Selector::Lines(Some(start)) if *start <= source.lines().count() => {}
            Selector::Lines(Some(start)) => problems.push(format!(
                "{at}: `{}` has fewer than {start} lines",
                include.path
            )),
            Selector::Anchor(anchor) => match anchor_region(&source, anchor) {
                Ok(region) if region.trim().is_empty() => problems.push(format!(
                    "{at}: anchor `{anchor}` in `{}` is empty",
                    include.path
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("{at}: {e} in `{}`", include.path)),
            },
        }
    }
    problems
}

/// Every count of a chapter's tests and points the page states — in
/// "`tests/chNN_topic.rs` (T tests, P points)" and in a scoreboard line
/// "✓ chNN_topic  T/T  P/P" — against points.toml, so the book's figures
/// cannot go stale when tests are added.
pub fn check_counts(
    label: &str,
    markdown: &str,
    chapters: &[Chapter],
    points: &Points,
) -> Vec<String> {
    let mut problems = Vec::new();
    for chapter in chapters {
        let entries = points.entries(&chapter.name);
        let tests = entries.len() as u64;
        let total: u64 = entries.iter().map(|e| u64::from(e.points)).sum();
        let graded_by = format!("`tests/{}.rs` (", chapter.name);
        let scoreboard = format!("✓ {}", chapter.name);
        for (index, line) in markdown.lines().enumerate() {
            let stated = if let Some(at) = line.find(&graded_by) {
                numbers(&line[at + graded_by.len()..], 2)
            } else if let Some(at) = line.find(&scoreboard) {
                numbers(&line[at + scoreboard.len()..], 4)
            } else {
                continue;
            };
            let expected: Vec<u64> = match stated.len() {
                2 => vec![tests, total],
                _ => vec![tests, tests, total, total],
            };
            if stated != expected {
                problems.push(format!(
                    "{label}:{}: states {stated:?} for {}, tests/points.toml has {tests} tests \
                     and {total} points",
                    index + 1,
                    chapter.name
                ));
            }
        }
    }
    problems
}

/// The first `count` numbers in `text` (runs of ASCII digits).
fn numbers(text: &str, count: usize) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .filter_map(|run| run.parse().ok())
        .take(count)
        .collect()
}

/// A chapter page's `Tests:` lines against points.toml.
pub fn check_task_tests(chapter: &Chapter, markdown: &str, points: &Points) -> Vec<String> {
    let label = format!("book/src/{}.md", chapter.name);
    let entries = points.entries(&chapter.name);
    let mut named = Vec::new();
    let mut problems = Vec::new();
    for (line, tests) in task_tests(markdown) {
        for test in tests {
            if !entries.iter().any(|e| e.test == test) {
                problems.push(format!(
                    "{label}:{line}: test `{test}` is not in tests/points.toml [{}]",
                    chapter.name
                ));
            }
            named.push(test);
        }
    }
    for entry in entries {
        if !named.contains(&entry.test) {
            problems.push(format!(
                "{label}: no `Tests:` line names `{}` (a test of {})",
                entry.test, chapter.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_directives_are_found() {
        let page = "a {{#include ../../solutions/ch01_memtable.rs:ch01_put}} b\n\
                    {{ #rustdoc_include x.rs }}\n\
                    \\{{#include not/this.rs}}\n\
                    {{#include y.rs:10:20}} {{#include z.rs::5}}\n\
                    {{#title T}} {{#includes no}}\n";
        let found = includes(page);
        let summary: Vec<(usize, &str, &Selector)> = found
            .iter()
            .map(|i| (i.line, i.path.as_str(), &i.selector))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    1,
                    "../../solutions/ch01_memtable.rs",
                    &Selector::Anchor("ch01_put".into())
                ),
                (2, "x.rs", &Selector::Whole),
                (4, "y.rs", &Selector::Lines(Some(10))),
                (4, "z.rs", &Selector::Lines(None)),
            ]
        );
    }

    #[test]
    fn anchor_regions_follow_mdbook() {
        let source = "a\n// ANCHOR: outer\nb\n    // ANCHOR: inner\nc\n    // ANCHOR_END: inner\n// ANCHOR_END: outer\n# ANCHOR: blank\n\n# ANCHOR_END: blank\n<!-- ANCHOR: open -->\n";
        assert_eq!(anchor_region(source, "outer"), Ok("b\nc".into()));
        assert_eq!(anchor_region(source, "inner"), Ok("c".into()));
        assert_eq!(anchor_region(source, "blank"), Ok(String::new()));
        assert!(
            anchor_region(source, "open")
                .unwrap_err()
                .contains("no ANCHOR_END")
        );
        assert!(
            anchor_region(source, "out")
                .unwrap_err()
                .contains("no anchor")
        );
    }

    #[test]
    fn task_lines_list_backticked_tests() {
        let page = "Tests: `a`, `b`\n**Tests:** `c`\n- *Tests:* `d` and `e`\n> _Tests:_ `f`\nThe Tests: `no`\n";
        let lines = task_tests(page);
        let names: Vec<(usize, Vec<String>)> = lines;
        assert_eq!(names.len(), 4);
        assert_eq!(names[0], (1, vec!["a".to_string(), "b".to_string()]));
        assert_eq!(names[1].1, vec!["c"]);
        assert_eq!(names[2].1, vec!["d", "e"]);
        assert_eq!(names[3], (4, vec!["f".to_string()]));
    }

    #[test]
    fn task_tests_must_match_points() {
        let points = crate::points::parse(
            "[ch01_memtable]\na = { points = 1, section = \"1.1\" }\nb = { points = 1, section = \"1.2\" }\n",
        )
        .unwrap();
        let chapter = Chapter {
            number: 1,
            name: "ch01_memtable".into(),
            is_dir: false,
        };
        let problems = check_task_tests(&chapter, "Tests: `a`, `zz`\n", &points);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains(":1: test `zz` is not in"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("no `Tests:` line names `b`"),
            "{problems:?}"
        );
        assert!(check_task_tests(&chapter, "Tests: `b` `a`", &points).is_empty());
    }

    #[test]
    fn only_reference_pages_may_show_solution_regions() {
        let dir = std::env::temp_dir().join(format!("bookcheck-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("code.rs"),
            "// ANCHOR: provided\nfn glue() {}\n// ANCHOR_END: provided\n\
             // ANCHOR: answer\nfn get() {\n    // BEGIN SOLUTION todo(): get\n    x\n    \
             // END SOLUTION\n}\n// ANCHOR_END: answer\n",
        )
        .unwrap();
        let page =
            "{{#include code.rs:provided}}\n{{#include code.rs:answer}}\n{{#include code.rs}}\n";
        let problems = check_no_solution_regions("p.md", page, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("p.md:2: includes a solution region"),
            "{problems:?}"
        );
        assert!(problems[1].starts_with("p.md:3: "), "{problems:?}");
    }

    #[test]
    fn chapters_need_a_linked_reference_page() {
        let src = std::env::temp_dir().join(format!("bookcheck-pages-{}", std::process::id()));
        std::fs::create_dir_all(&src).unwrap();
        let chapter = Chapter {
            number: 1,
            name: "ch01_memtable".into(),
            is_dir: false,
        };
        std::fs::write(src.join("ch01_memtable.md"), "# 1.\n").unwrap();
        let links = vec!["ch01_memtable.md".to_string()];
        let missing = check_chapter_pages(&src, &chapter, &links);
        std::fs::write(src.join("ch01_memtable_reference.md"), "# 1.6\n").unwrap();
        let unlinked = check_chapter_pages(&src, &chapter, &links);
        std::fs::write(
            src.join("ch01_memtable.md"),
            "# 1.\nSpoilers: [1.6](ch01_memtable_reference.md)\n",
        )
        .unwrap();
        let links = vec![
            "ch01_memtable.md".to_string(),
            "ch01_memtable_reference.md".to_string(),
        ];
        let fine = check_chapter_pages(&src, &chapter, &links);
        std::fs::remove_dir_all(&src).unwrap();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].contains("ch01_memtable_reference.md: missing"),
            "{missing:?}"
        );
        assert_eq!(unlinked.len(), 2, "{unlinked:?}");
        assert!(
            unlinked[0].contains("SUMMARY.md: does not link ch01_memtable_reference.md"),
            "{unlinked:?}"
        );
        assert!(
            unlinked[1].contains("does not link its reference page"),
            "{unlinked:?}"
        );
        assert!(fine.is_empty(), "{fine:?}");
    }

    #[test]
    fn stated_counts_must_match_points() {
        let chapter = Chapter {
            number: 1,
            name: "ch01_memtable".into(),
            is_dir: false,
        };
        let points = crate::points::parse(
            "[ch01_memtable]\na = { points = 2, section = \"1.3\" }\nb = { points = 3, section = \"1.3\" }\n",
        )
        .unwrap();
        let chapters = [chapter];
        let good = "Graded by: `tests/ch01_memtable.rs` (2 tests, 5 points)\n  ✓ ch01_memtable  2/2  5/5\n";
        assert!(check_counts("p", good, &chapters, &points).is_empty());
        let stale =
            "Graded by: `tests/ch01_memtable.rs` (17 tests, 24 points)\n✓ ch01_memtable 2/2 4/5\n";
        assert_eq!(check_counts("p", stale, &chapters, &points).len(), 2);
    }

    #[test]
    fn summary_links_are_listed() {
        let summary = "# Summary\n\n[Intro](intro.md)\n- [1. Memtable](./ch01_memtable.md)\n  - [Sub](ch01/x.md)\n";
        assert_eq!(
            summary_links(summary),
            vec!["intro.md", "ch01_memtable.md", "ch01/x.md"]
        );
    }
}
