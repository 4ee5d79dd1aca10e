//! Reads libtest's human output (`cargo test -- --color never`), which is
//! stable across Rust releases:
//!
//! ```text
//! test m::inner ... ok
//! test todo_fails ... FAILED
//! test sp - should panic ... ok
//! test ign ... ignored
//!
//! failures:
//!
//! ---- todo_fails stdout ----
//! thread 'todo_fails' (2523) panicked at src/lib.rs:1:21:
//! not yet implemented: ch01: …
//!
//! failures:
//!     todo_fails
//!
//! test result: FAILED. 3 passed; 3 failed; 1 ignored; 0 measured; …
//! ```
//!
//! Run one test at a time (`--test-threads=1`), libtest announces each test
//! before running it (`test NAME ... `) and completes the line after; a
//! binary that dies mid-test leaves that line unfinished, which names the
//! culprit ([`TestRun::unfinished`]).

use std::collections::BTreeMap;

/// How one test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

/// The `test result:` line's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

/// Everything one run printed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TestRun {
    /// Result lines, in printed order (a name may appear more than once if
    /// something else printed a look-alike line; the grader checks).
    pub outcomes: Vec<(String, Outcome)>,
    /// Failure sections (`---- NAME stdout ----`) by test name.
    pub failures: BTreeMap<String, String>,
    /// The `test result:` line, if the run got that far.
    pub summary: Option<Summary>,
    /// The test announced last (`test NAME ... ` with no result after it)
    /// if nothing was printed after it: in a serial run that died, the test
    /// that was running.
    pub unfinished: Option<String>,
}

impl TestRun {
    /// The outcomes recorded for `name` (normally exactly one).
    pub fn outcomes_of(&self, name: &str) -> Vec<Outcome> {
        self.outcomes
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, o)| *o)
            .collect()
    }
}

/// Parses the stdout of one test binary.
pub fn parse(stdout: &str) -> TestRun {
    let mut run = TestRun::default();
    let mut section: Option<(String, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(name) = section_header(line) {
            close_section(&mut run, section.take());
            section = Some((name.to_string(), Vec::new()));
            continue;
        }
        if line.trim_end() == "failures:" {
            close_section(&mut run, section.take());
            continue;
        }
        if let Some((_, lines)) = &mut section {
            lines.push(line);
            continue;
        }
        if let Some((name, outcome)) = result_line(line) {
            run.outcomes.push((name, outcome));
            run.unfinished = None;
        } else if let Some(summary) = summary_line(line) {
            run.summary = Some(summary);
            run.unfinished = None;
        } else if let Some(name) = announcement(line) {
            run.unfinished = Some(name.to_string());
        } else if !line.trim().is_empty() {
            run.unfinished = None;
        }
    }
    close_section(&mut run, section);
    run
}

fn close_section(run: &mut TestRun, section: Option<(String, Vec<&str>)>) {
    let Some((name, lines)) = section else {
        return;
    };
    let text = lines.join("\n").trim_matches('\n').to_string();
    let entry = run.failures.entry(name).or_default();
    if !entry.is_empty() {
        entry.push('\n');
    }
    entry.push_str(&text);
}

/// `---- NAME stdout ----` (or `stderr`) → `NAME`.
fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("---- ")?.strip_suffix(" ----")?;
    inner
        .strip_suffix(" stdout")
        .or_else(|| inner.strip_suffix(" stderr"))
}

/// `test NAME ... ok|FAILED|ignored[, reason]`.
fn result_line(line: &str) -> Option<(String, Outcome)> {
    let rest = line.strip_prefix("test ")?;
    let (name, result) = rest.rsplit_once(" ... ")?;
    let outcome = match result.trim_end() {
        "ok" => Outcome::Ok,
        "FAILED" => Outcome::Failed,
        r if r == "ignored" || r.starts_with("ignored, ") => Outcome::Ignored,
        _ => return None,
    };
    let name = name.strip_suffix(" - should panic").unwrap_or(name);
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    Some((name.to_string(), outcome))
}

/// `test NAME ... ` (or `test NAME - should panic ... `) with no result
/// after it: a test announced, still running when the output ended. Output
/// the test wrote to stdout itself may follow on the same line.
fn announcement(line: &str) -> Option<&str> {
    let (name, _) = line.strip_prefix("test ")?.split_once(" ... ")?;
    let name = name.strip_suffix(" - should panic").unwrap_or(name);
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

/// `test result: ok. 3 passed; 0 failed; 1 ignored; …`.
fn summary_line(line: &str) -> Option<Summary> {
    let rest = line.strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut summary = Summary::default();
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(count), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(count) = count.parse() else {
            continue;
        };
        match what {
            "passed" => summary.passed = count,
            "failed" => summary.failed = count,
            "ignored" => summary.ignored = count,
            _ => {}
        }
    }
    Some(summary)
}

/// Test names from `cargo test -- --list` (`NAME: test` lines).
pub fn parse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// The few lines of a failure section worth showing: from the first panic
/// line on, without notes and backtraces, at most `max` lines.
pub fn excerpt(failure: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = failure.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("thread '") && l.contains("panicked at"))
        .unwrap_or(0);
    let mut out = Vec::new();
    for line in &lines[start..] {
        if line.starts_with("stack backtrace:") {
            break;
        }
        if line.trim().is_empty() || line.starts_with("note: ") {
            continue;
        }
        // The switchboard's `#[path = "../chapters/…"]` shows as `src/../`.
        out.push(shorten(&line.replace("src/../", ""), 160));
        if out.len() == max {
            break;
        }
    }
    out
}

/// Cuts a line to at most `max` characters.
pub fn shorten(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &line[..index]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
running 7 tests
test ign ... ignored
test m::inner ... ok
test sp - should panic ... ok
test slow has been running for over 60 seconds
test assert_fails ... FAILED
test todo_fails ... FAILED
test why ... ignored, not today

failures:

---- assert_fails stdout ----
some output

thread 'assert_fails' (2504) panicked at tests/t.rs:3:76:
assertion `left == right` failed: values differ
  left: 1
 right: 2
stack backtrace:
   0: __rustc::rust_begin_unwind
note: Some details are omitted.

---- todo_fails stdout ----

thread 'todo_fails' (2523) panicked at src/lib.rs:1:21:
not yet implemented: ch01: do it
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    assert_fails
    todo_fails

test result: FAILED. 2 passed; 2 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.16s
";

    #[test]
    fn result_lines_are_read() {
        let run = parse(SAMPLE);
        let expected = [
            ("ign", Outcome::Ignored),
            ("m::inner", Outcome::Ok),
            ("sp", Outcome::Ok),
            ("assert_fails", Outcome::Failed),
            ("todo_fails", Outcome::Failed),
            ("why", Outcome::Ignored),
        ];
        let got: Vec<(&str, Outcome)> =
            run.outcomes.iter().map(|(n, o)| (n.as_str(), *o)).collect();
        assert_eq!(got, expected);
        let summary = Summary {
            passed: 2,
            failed: 2,
            ignored: 2,
        };
        assert_eq!(run.summary, Some(summary));
        assert_eq!(run.outcomes_of("m::inner"), vec![Outcome::Ok]);
    }

    #[test]
    fn failure_sections_end_at_the_next_header_or_summary() {
        let run = parse(SAMPLE);
        assert_eq!(run.failures.len(), 2);
        let todo = &run.failures["todo_fails"];
        assert!(todo.starts_with("thread 'todo_fails'"), "{todo}");
        assert!(todo.ends_with("display a backtrace"), "{todo}");
        assert!(run.failures["assert_fails"].contains("right: 2"));
        assert!(!run.failures["assert_fails"].contains("todo_fails"));
    }

    #[test]
    fn excerpts_start_at_the_panic_and_skip_noise() {
        let run = parse(SAMPLE);
        let lines = excerpt(&run.failures["assert_fails"], 6);
        assert_eq!(
            lines[0],
            "thread 'assert_fails' (2504) panicked at tests/t.rs:3:76:"
        );
        assert_eq!(lines.len(), 4, "{lines:?}");
        let todo = excerpt(&run.failures["todo_fails"], 6);
        assert_eq!(todo.len(), 2, "{todo:?}");
        assert_eq!(excerpt("a\nb\nc", 2), vec!["a", "b"]);
        assert_eq!(shorten("abcdef", 3), "abc…");
    }

    #[test]
    fn truncated_output_has_no_summary() {
        let run = parse("running 2 tests\ntest a ... ok\ntest b ... ");
        assert_eq!(run.outcomes, vec![("a".to_string(), Outcome::Ok)]);
        assert_eq!(run.summary, None);
    }

    /// `cargo test -- --test-threads=1` whose binary aborted in its third
    /// test (stdout only; the abort message went to stderr).
    const SERIAL_CRASH: &str = "
running 5 tests
test a ... ok
test m::b - should panic ... ok
test m::boom ... ";

    #[test]
    fn serial_crash_names_the_unfinished_test() {
        let run = parse(SERIAL_CRASH);
        assert_eq!(run.unfinished.as_deref(), Some("m::boom"));
        assert_eq!(run.summary, None);
        let got: Vec<&str> = run.outcomes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, ["a", "m::b"]);
        // Output the test wrote to stdout itself may follow the announcement.
        let run = parse("test a ... ok\ntest slow - should panic ... partial line");
        assert_eq!(run.unfinished.as_deref(), Some("slow"));
        let run = parse("test a ... ok\ntest hang ... \n");
        assert_eq!(run.unfinished.as_deref(), Some("hang"));
    }

    #[test]
    fn completed_runs_have_no_unfinished_test() {
        assert_eq!(parse(SAMPLE).unfinished, None);
        let serial = "running 2 tests\ntest a ... ok\ntest b ... FAILED\n\nfailures:\n\n---- b stdout ----\npanicked\n\nfailures:\n    b\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        let run = parse(serial);
        assert_eq!(run.unfinished, None);
        assert_eq!(run.outcomes.len(), 2);
        // A crash between tests (after a result) names no test.
        assert_eq!(parse("test a ... ok\n").unfinished, None);
        // Parallel runs announce nothing; the warning is not an announcement.
        let parallel = "test a ... ok\ntest slow has been running for over 60 seconds\n";
        assert_eq!(parse(parallel).unfinished, None);
    }

    #[test]
    fn look_alike_lines_are_not_results() {
        let run = parse("test result: ok. 0 passed; 0 failed\ntest a b ... ok\ntest c ... okay\n");
        assert!(run.outcomes.is_empty(), "{:?}", run.outcomes);
    }

    #[test]
    fn list_output_names_tests() {
        let list = "a: test\nm::b: test\nc: bench\n\n2 tests, 1 benchmark\n";
        assert_eq!(parse_list(list), vec!["a", "m::b"]);
    }
}
