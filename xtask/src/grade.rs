//! `cargo xtask grade [N…] [--isolated] [--reference] [--json FILE]`.
//!
//! For each chapter, in order: compile its test target with the mode's
//! features, run it with a timeout, read libtest's output and award a test's
//! points only if libtest printed `test NAME ... ok` for it in this run.
//! Then print a scoreboard (and optionally Gradescope's `results.json`).
//! `cargo xtask check` reuses [`Grader`] for the teaching contract.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::cargo::{self, Captured};
use crate::json::Value;
use crate::libtest::{self, Outcome, TestRun};
use crate::points::{self, Entry, Points};
use crate::workspace::{self, Chapter, Workspace};
use crate::{Result, failed, help_requested, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask grade [N…] [--isolated] [--reference] [--json FILE] [--timeout SECS]

Runs the graded tests of chapters N… (default: all) and prints a scoreboard.

  (default)     your code for every chapter (chapters build on each other)
  --isolated    each chapter graded on top of the reference for all others
  --reference   the reference solutions (must score 100%)
  --json FILE   also write a Gradescope results.json to FILE
  --timeout S   seconds allowed per chapter's test run (default 600)

N is a chapter number (3, 03, ch03) or name (ch03_sstable).";

const TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// Which implementation of each chapter is graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cumulative,
    Isolated,
    Reference,
}

impl Mode {
    /// The Cargo features for grading `chapter` among `all` chapters.
    pub fn features(self, chapter: &Chapter, all: &[Chapter]) -> Vec<String> {
        match self {
            Mode::Cumulative => Vec::new(),
            Mode::Reference => vec!["solutions".into()],
            Mode::Isolated => isolated_features(chapter, all),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Cumulative => "cumulative — your code for every chapter; features: none",
            Mode::Isolated => {
                "isolated — each chapter on top of the reference for all others; \
                 features: every ref-chMM except the graded chapter"
            }
            Mode::Reference => "reference — the solutions; features: solutions",
        }
    }
}

/// `ref-chMM` for every chapter but `chapter`.
pub fn isolated_features(chapter: &Chapter, all: &[Chapter]) -> Vec<String> {
    all.iter()
        .filter(|other| other.number != chapter.number)
        .map(Chapter::ref_feature)
        .collect()
}

/// How one graded test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    Ignored,
    /// Not reported as run; the reason says why (timeout, crash…).
    DidNotRun(String),
    NotCompiled,
}

/// One graded test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub entry: Entry,
    pub status: Status,
    /// The failure section (or compiler errors) for a failed test.
    pub output: String,
}

impl TestResult {
    pub fn earned(&self) -> u32 {
        if self.status == Status::Passed {
            self.entry.points
        } else {
            0
        }
    }

    /// A short description for scoreboards and results.json.
    pub fn status_text(&self) -> String {
        match &self.status {
            Status::Passed => "passed".into(),
            Status::Failed => "failed".into(),
            Status::Ignored => "ignored (counts as not passed)".into(),
            Status::DidNotRun(reason) => reason.clone(),
            Status::NotCompiled => "did not compile".into(),
        }
    }
}

/// The results of one chapter.
#[derive(Debug, Clone)]
pub struct ChapterReport {
    pub chapter: Chapter,
    pub tests: Vec<TestResult>,
    /// A problem with the run as a whole (compile error, timeout, crash).
    pub problem: Option<String>,
    /// Tests that ran but have no entry in points.toml (an error).
    pub unlisted: Vec<String>,
}

impl ChapterReport {
    pub fn passed(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == Status::Passed)
            .count()
    }

    pub fn points(&self) -> u32 {
        self.tests.iter().map(TestResult::earned).sum()
    }

    pub fn max_points(&self) -> u32 {
        self.tests.iter().map(|t| t.entry.points).sum()
    }

    pub fn first_failure(&self) -> Option<&TestResult> {
        self.tests.iter().find(|t| t.status != Status::Passed)
    }
}

/// Compiles and runs chapters' test targets; remembers crate-wide compile
/// errors per feature set so they are reported without recompiling.
pub struct Grader<'a> {
    pub ws: &'a Workspace,
    pub points: &'a Points,
    pub timeout: Duration,
    crate_errors: HashMap<Vec<String>, String>,
}

impl<'a> Grader<'a> {
    pub fn new(ws: &'a Workspace, points: &'a Points) -> Self {
        Grader {
            ws,
            points,
            timeout: TIMEOUT_DEFAULT,
            crate_errors: HashMap::new(),
        }
    }

    /// Grades one chapter with the given features.
    pub fn grade(&mut self, chapter: &Chapter, features: &[String]) -> Result<ChapterReport> {
        let entries = self.points.entries(&chapter.name);
        let mut report = ChapterReport {
            chapter: chapter.clone(),
            tests: Vec::new(),
            problem: None,
            unlisted: Vec::new(),
        };
        if let Some(errors) = self.compile(chapter, features)? {
            report.tests = entries.iter().map(|e| not_compiled(e, &errors)).collect();
            report.problem = Some(errors);
            return Ok(report);
        }
        self.progress(&format!("running {} …", chapter.name));
        let captured = self.run_tests(chapter, features)?;
        let run = libtest::parse(&captured.stdout);
        let interrupted = interruption(&captured, &run, self.timeout);
        let scored = score(entries, &run, interrupted.as_deref());
        report.tests = scored.tests;
        report.unlisted = scored.unlisted;
        report.problem = scored.problem.or(interrupted);
        Ok(report)
    }

    /// `Ok(Some(errors))` if the test target does not compile.
    fn compile(&mut self, chapter: &Chapter, features: &[String]) -> Result<Option<String>> {
        if let Some(errors) = self.crate_errors.get(features) {
            return Ok(Some(errors.clone()));
        }
        self.progress(&format!("compiling {} …", chapter.name));
        let mut command = cargo::cargo(&self.ws.root);
        command
            .args(["test", "--no-run", "--message-format", "short", "--test"])
            .arg(&chapter.name)
            .args(cargo::feature_args(features));
        let captured = cargo::capture(command, None)?;
        if captured.success() {
            return Ok(None);
        }
        let errors = compile_errors(&captured.stderr);
        let crate_wide = !captured.stderr.contains("(test \"");
        let message = if crate_wide && features.is_empty() {
            format!(
                "the crate does not compile. It is one crate, so an error in any chapter \
                 file stops every chapter; fix the first error:\n{errors}"
            )
        } else {
            let with = if features.is_empty() {
                "no features".to_string()
            } else {
                format!("features {}", features.join(","))
            };
            format!("does not compile ({with}):\n{errors}")
        };
        if crate_wide {
            self.crate_errors.insert(features.to_vec(), message.clone());
        }
        Ok(Some(message))
    }

    fn run_tests(&self, chapter: &Chapter, features: &[String]) -> Result<Captured> {
        let mut command = cargo::cargo(&self.ws.root);
        command
            .args(["test", "--test", &chapter.name])
            .args(cargo::feature_args(features))
            .args(["--no-fail-fast", "--", "--color", "never"])
            // Backtraces only slow the run down; the scoreboard shows the
            // panic message, and `cargo test` shows backtraces on request.
            .env("RUST_BACKTRACE", "0");
        cargo::capture(command, Some(self.timeout))
    }

    /// Progress goes to stderr, so stdout holds only the scoreboard.
    fn progress(&self, message: &str) {
        eprintln!("  {message}");
    }
}

fn not_compiled(entry: &Entry, errors: &str) -> TestResult {
    TestResult {
        entry: entry.clone(),
        status: Status::NotCompiled,
        output: errors.to_string(),
    }
}

/// The first error lines of cargo's `--message-format short` output.
pub fn compile_errors(stderr: &str) -> String {
    let errors: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with("error") || l.contains(": error"))
        .filter(|l| !l.starts_with("error: could not compile"))
        .take(6)
        // The switchboard's `#[path = "../chapters/…"]` shows as `src/../`.
        .map(|l| l.replace("src/../", ""))
        .collect();
    if errors.is_empty() {
        cargo::tail(stderr, 6)
    } else {
        errors.join("\n")
    }
}

/// Why a run ended early, if it did: a timeout, or a test binary that died
/// before printing its summary.
fn interruption(captured: &Captured, run: &TestRun, timeout: Duration) -> Option<String> {
    if captured.timed_out() {
        return Some(format!(
            "timed out after {} s and was killed; tests that had not finished score 0",
            timeout.as_secs()
        ));
    }
    if run.summary.is_some() {
        return None;
    }
    let status = captured
        .status
        .map_or_else(|| "killed".to_string(), |s| s.to_string());
    Some(format!(
        "the test run ended without a summary ({status}); tests that had not finished score 0:\n{}",
        cargo::tail(&captured.stderr, 4)
    ))
}

/// A chapter's results, computed from libtest's output alone.
#[derive(Debug)]
pub struct Scored {
    pub tests: Vec<TestResult>,
    pub unlisted: Vec<String>,
    pub problem: Option<String>,
}

/// Scores `entries` from a parsed run. Points go only to tests with exactly
/// one `ok` line, and only if the `ok` lines agree with libtest's summary.
pub fn score(entries: &[Entry], run: &TestRun, interrupted: Option<&str>) -> Scored {
    let ok_lines = run
        .outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Ok)
        .count();
    let inconsistent = run.summary.is_some_and(|s| s.passed != ok_lines);
    let problem = inconsistent.then(|| {
        format!(
            "libtest's output is inconsistent ({ok_lines} `ok` lines, but its summary says {} \
             passed); no points awarded. Does the code print to stdout?",
            run.summary.map_or(0, |s| s.passed)
        )
    });
    let not_run = interrupted.map_or("did not run", |_| "did not finish");
    let tests = entries
        .iter()
        .map(|entry| {
            let mut result = score_one(entry, run, not_run);
            if inconsistent && result.status == Status::Passed {
                result.status = Status::DidNotRun("not counted: output inconsistent".into());
            }
            result
        })
        .collect();
    let mut unlisted: Vec<String> = Vec::new();
    for (name, _) in &run.outcomes {
        if !entries.iter().any(|e| &e.test == name) && !unlisted.contains(name) {
            unlisted.push(name.clone());
        }
    }
    Scored {
        tests,
        unlisted,
        problem,
    }
}

fn score_one(entry: &Entry, run: &TestRun, not_run: &str) -> TestResult {
    let (status, output) = match run.outcomes_of(&entry.test).as_slice() {
        [] => (Status::DidNotRun(not_run.into()), String::new()),
        [Outcome::Ok] => (Status::Passed, String::new()),
        [Outcome::Ignored] => (Status::Ignored, String::new()),
        [Outcome::Failed] => {
            let output = run.failures.get(&entry.test).cloned();
            (
                Status::Failed,
                output.unwrap_or_else(|| "(no output captured)".into()),
            )
        }
        _ => (
            Status::DidNotRun("reported more than once; not counted".into()),
            String::new(),
        ),
    };
    TestResult {
        entry: entry.clone(),
        status,
        output,
    }
}

/// Parsed command line.
struct Options {
    selectors: Vec<String>,
    mode: Mode,
    json: Option<PathBuf>,
    timeout: Duration,
}

fn parse_args(args: &[String]) -> Result<Options> {
    help_requested(args, USAGE)?;
    let mut options = Options {
        selectors: Vec::new(),
        mode: Mode::Cumulative,
        json: None,
        timeout: TIMEOUT_DEFAULT,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--isolated" | "--reference" if options.mode != Mode::Cumulative => {
                return Err(usage_error(
                    "--isolated and --reference exclude each other",
                    USAGE,
                ));
            }
            "--isolated" => options.mode = Mode::Isolated,
            "--reference" => options.mode = Mode::Reference,
            "--json" => {
                let file = iter
                    .next()
                    .ok_or_else(|| usage_error("--json needs a FILE", USAGE))?;
                options.json = Some(PathBuf::from(file));
            }
            "--timeout" => {
                let secs = iter
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| *s > 0);
                let secs = secs.ok_or_else(|| usage_error("--timeout needs SECS > 0", USAGE))?;
                options.timeout = Duration::from_secs(secs);
            }
            flag if flag.starts_with('-') => {
                return Err(usage_error(format!("unknown option `{flag}`"), USAGE));
            }
            selector => options.selectors.push(selector.to_string()),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let ws = Workspace::locate()?;
    let all = ws.chapters()?;
    let selected = workspace::select(&all, &options.selectors, USAGE)?;
    let points = points::load(&ws)?;
    let mut grader = Grader::new(&ws, &points);
    grader.timeout = options.timeout;
    let mut reports = Vec::new();
    for chapter in &selected {
        let features = options.mode.features(chapter, &all);
        reports.push(grader.grade(chapter, &features)?);
    }
    let starts_at_first = selected.first() == all.first();
    let board = scoreboard(options.mode, &reports, starts_at_first);
    println!("{board}");
    if let Some(path) = &options.json {
        let json = results_json(&reports, &board).render();
        workspace::write(path, json.as_bytes())?;
        println!("wrote {}", path.display());
    }
    reference_verdict(options.mode, &reports)
}

/// `--reference` must score 100% with no unlisted tests.
fn reference_verdict(mode: Mode, reports: &[ChapterReport]) -> Result<()> {
    if mode != Mode::Reference {
        return Ok(());
    }
    let points: u32 = reports.iter().map(ChapterReport::points).sum();
    let max: u32 = reports.iter().map(ChapterReport::max_points).sum();
    let unlisted = reports.iter().any(|r| !r.unlisted.is_empty());
    if points < max || max == 0 || unlisted {
        return Err(failed(format!(
            "the reference scored {points}/{max}; it must score 100% with every test in {}",
            points::PATH
        )));
    }
    Ok(())
}

/// The scoreboard text. `starts_at_first`: the graded chapters begin with
/// the workbook's first chapter (so "start here" can point at it).
pub fn scoreboard(mode: Mode, reports: &[ChapterReport], starts_at_first: bool) -> String {
    let mut out = format!("lsm-workbook grade — mode: {}\n\n", mode.describe());
    let width = reports
        .iter()
        .map(|r| r.chapter.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    out.push_str(&format!(
        "  {:width$}  {:>9}  {:>10}\n",
        "chapter", "tests", "points"
    ));
    let nothing_passed = reports.iter().all(|r| r.passed() == 0);
    let mut previous_problem = None;
    for (index, report) in reports.iter().enumerate() {
        let start_here = index == 0 && starts_at_first && nothing_passed && mode != Mode::Reference;
        // One compile error breaks every chapter: say it once.
        let repeated = report.problem.is_some() && report.problem == previous_problem;
        out.push_str(&chapter_row(report, width, start_here, repeated));
        previous_problem.clone_from(&report.problem);
    }
    let points: u32 = reports.iter().map(ChapterReport::points).sum();
    let max: u32 = reports.iter().map(ChapterReport::max_points).sum();
    let passed: usize = reports.iter().map(ChapterReport::passed).sum();
    let total: usize = reports.iter().map(|r| r.tests.len()).sum();
    let percent = (points * 100).checked_div(max).unwrap_or(0);
    out.push_str(&format!(
        "  {:width$}  {:>9}  {:>10}  ({percent}%)\n",
        "total",
        format!("{passed}/{total}"),
        format!("{points}/{max}")
    ));
    out
}

fn chapter_row(report: &ChapterReport, width: usize, start_here: bool, repeated: bool) -> String {
    let chapter = &report.chapter;
    let tests = format!("{}/{}", report.passed(), report.tests.len());
    let points = format!("{}/{}", report.points(), report.max_points());
    let complete = report.first_failure().is_none() && !report.tests.is_empty();
    let mark = if complete { "✓" } else { "✗" };
    let mut out = format!("{mark} {:width$}  {tests:>9}  {points:>10}\n", chapter.name);
    let pad = " ".repeat(6);
    if start_here {
        out.push_str(&format!(
            "{pad}start here: read book §{}, then edit {}\n",
            chapter.number,
            chapter.starter_display()
        ));
    }
    if report.tests.is_empty() {
        out.push_str(&format!(
            "{pad}no graded tests for {} in {}\n",
            chapter.name,
            points::PATH
        ));
    }
    for name in &report.unlisted {
        out.push_str(&format!(
            "{pad}error: test `{name}` ran but is not in {}\n",
            points::PATH
        ));
    }
    if repeated {
        out.push_str(&format!("{pad}(the same problem as above)\n"));
    } else if let Some(problem) = &report.problem {
        for line in problem.lines() {
            out.push_str(&format!("{pad}{line}\n"));
        }
    }
    if let Some(first) = report.first_failure() {
        out.push_str(&failure_lines(first, &pad));
    }
    out
}

/// The first failing test: name, a few lines of its message, the section.
fn failure_lines(test: &TestResult, pad: &str) -> String {
    if test.status == Status::NotCompiled {
        return String::new();
    }
    let mut out = format!(
        "{pad}first failing test: {} ({})\n",
        test.entry.test,
        test.status_text()
    );
    for line in libtest::excerpt(&test.output, 6) {
        out.push_str(&format!("{pad}  │ {line}\n"));
    }
    out.push_str(&format!("{pad}read book §{}\n", test.entry.section));
    out
}

/// Gradescope's results.json.
pub fn results_json(reports: &[ChapterReport], board: &str) -> Value {
    let mut tests = Vec::new();
    for report in reports {
        for (index, test) in report.tests.iter().enumerate() {
            tests.push(test_json(report, index, test));
        }
    }
    let points: u32 = reports.iter().map(ChapterReport::points).sum();
    let max: u32 = reports.iter().map(ChapterReport::max_points).sum();
    Value::object([
        ("score", Value::Number(f64::from(points))),
        ("max_score", Value::Number(f64::from(max))),
        ("output", Value::string(board)),
        ("tests", Value::Array(tests)),
    ])
}

fn test_json(report: &ChapterReport, index: usize, test: &TestResult) -> Value {
    let mut output = format!("{} — book §{}", test.status_text(), test.entry.section);
    if !test.output.is_empty() {
        output.push_str("\n\n");
        output.push_str(&shorten(&test.output, 4000));
    }
    let status = if test.status == Status::Passed {
        "passed"
    } else {
        "failed"
    };
    Value::object([
        ("name", Value::string(test.entry.test.as_str())),
        (
            "number",
            Value::string(format!("{}.{}", report.chapter.number, index + 1)),
        ),
        ("score", Value::Number(f64::from(test.earned()))),
        ("max_score", Value::Number(f64::from(test.entry.points))),
        ("status", Value::string(status)),
        ("output", Value::string(output)),
        (
            "tags",
            Value::Array(vec![Value::string(report.chapter.tag())]),
        ),
        ("visibility", Value::string("visible")),
    ])
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}\n… (cut)", &text[..index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(test: &str, points: u32) -> Entry {
        Entry {
            test: test.into(),
            points,
            section: "1.2".into(),
            line: 1,
        }
    }

    fn chapter(number: u32, name: &str) -> Chapter {
        Chapter {
            number,
            name: name.into(),
            is_dir: false,
        }
    }

    const RUN: &str = "running 3 tests\ntest a ... ok\ntest b ... FAILED\ntest extra ... ok\n\nfailures:\n\n---- b stdout ----\nthread 'b' (1) panicked at x.rs:1:1:\nnot yet implemented: ch01: b\n\nfailures:\n    b\n\ntest result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";

    #[test]
    fn points_only_for_ok_lines() {
        let entries = [entry("a", 2), entry("b", 3), entry("c", 5)];
        let scored = score(&entries, &libtest::parse(RUN), None);
        let statuses: Vec<&Status> = scored.tests.iter().map(|t| &t.status).collect();
        let did_not_run = Status::DidNotRun("did not run".into());
        assert_eq!(
            statuses,
            vec![&Status::Passed, &Status::Failed, &did_not_run]
        );
        assert_eq!(scored.tests.iter().map(TestResult::earned).sum::<u32>(), 2);
        assert!(scored.tests[1].output.contains("not yet implemented: ch01"));
        assert_eq!(scored.unlisted, vec!["extra"]);
        assert_eq!(scored.problem, None);
    }

    #[test]
    fn inconsistent_output_earns_nothing() {
        let forged = "test a ... ok\ntest a ... ok\ntest b ... ok\ntest result: ok. 1 passed; 0 failed; 0 ignored\n";
        let scored = score(
            &[entry("a", 1), entry("b", 1)],
            &libtest::parse(forged),
            None,
        );
        assert!(scored.problem.is_some());
        assert!(
            scored.tests.iter().all(|t| t.earned() == 0),
            "{:?}",
            scored.tests
        );
    }

    #[test]
    fn duplicate_results_are_not_counted() {
        let forged = "test a ... ok\ntest a ... FAILED\n";
        let scored = score(&[entry("a", 1)], &libtest::parse(forged), Some("timed out"));
        assert_eq!(scored.tests[0].earned(), 0);
        let cut = score(&[entry("b", 1)], &libtest::parse(forged), Some("timed out"));
        assert_eq!(
            cut.tests[0].status,
            Status::DidNotRun("did not finish".into())
        );
    }

    #[test]
    fn isolated_features_skip_the_graded_chapter() {
        let all = [
            chapter(1, "ch01_a"),
            chapter(2, "ch02_b"),
            chapter(3, "ch03_c"),
        ];
        assert_eq!(
            isolated_features(&all[1], &all),
            vec!["ref-ch01", "ref-ch03"]
        );
        assert_eq!(Mode::Reference.features(&all[0], &all), vec!["solutions"]);
        assert!(Mode::Cumulative.features(&all[0], &all).is_empty());
    }

    fn report() -> ChapterReport {
        let entries = [entry("a", 2), entry("b", 3)];
        let scored = score(&entries, &libtest::parse(RUN), None);
        ChapterReport {
            chapter: chapter(1, "ch01_memtable"),
            tests: scored.tests,
            problem: None,
            unlisted: Vec::new(),
        }
    }

    #[test]
    fn scoreboard_shows_first_failure_and_section() {
        let board = scoreboard(Mode::Cumulative, &[report()], true);
        assert!(board.contains("ch01_memtable"), "{board}");
        assert!(board.contains("1/2"), "{board}");
        assert!(board.contains("2/5"), "{board}");
        assert!(board.contains("first failing test: b"), "{board}");
        assert!(board.contains("│ not yet implemented: ch01: b"), "{board}");
        assert!(board.contains("read book §1.2"), "{board}");
        assert!(!board.contains("start here"), "{board}");
    }

    #[test]
    fn scoreboard_says_where_to_start() {
        let mut untouched = report();
        for test in &mut untouched.tests {
            test.status = Status::Failed;
        }
        let board = scoreboard(Mode::Cumulative, &[untouched], true);
        assert!(board.contains("start here: read book §1, then edit chapters/ch01_memtable.rs"));
    }

    #[test]
    fn results_json_numbers_tests_by_chapter() {
        let json = results_json(&[report()], "board").render();
        assert!(json.contains("\"score\": 2.0"), "{json}");
        assert!(json.contains("\"max_score\": 5.0"), "{json}");
        assert!(json.contains("\"number\": \"1.2\""), "{json}");
        assert!(
            json.contains("\"tags\": [\n        \"ch01\"\n      ]"),
            "{json}"
        );
        assert!(json.contains("\"visibility\": \"visible\""), "{json}");
    }

    #[test]
    fn compile_errors_keep_error_lines() {
        let stderr = "   Compiling x\nsrc/a.rs:1:2: warning: unused\nsrc/a.rs:3:4: error[E0425]: cannot find value `y`\nerror: could not compile `x` (lib) due to 1 previous error\n";
        assert_eq!(
            compile_errors(stderr),
            "src/a.rs:3:4: error[E0425]: cannot find value `y`"
        );
    }

    #[test]
    fn options_parse() {
        let args: Vec<String> = ["2", "--isolated", "--json", "r.json", "ch03"]
            .map(String::from)
            .into();
        let options = parse_args(&args).unwrap();
        assert_eq!(options.mode, Mode::Isolated);
        assert_eq!(options.selectors, vec!["2", "ch03"]);
        assert_eq!(options.json, Some(PathBuf::from("r.json")));
        for bad in [
            &["--json"][..],
            &["--isolated", "--reference"],
            &["--fast"],
            &["--timeout", "0"],
        ] {
            let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(
                matches!(parse_args(&bad), Err(crate::Failure::Usage { .. })),
                "{bad:?}"
            );
        }
    }
}
