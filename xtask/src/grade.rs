//! `cargo xtask grade [N…] [--isolated] [--reference] [--json FILE]`.
//!
//! For each chapter, in order: compile its test target with the mode's
//! features, run it with a timeout, read libtest's output and award a test's
//! points only if libtest printed `test NAME ... ok` for it in this run.
//! A run that crashes or hangs (no `test result:` line) is re-run one test
//! at a time to find the culprit (see `grade/crash.rs`).
//! Then print a scoreboard (and optionally Gradescope's `results.json`).
//! `cargo xtask check` reuses [`Grader`] for the teaching contract.

mod advice;
mod board;
mod crash;
#[cfg(test)]
mod fixtures;
mod gradescope;
mod score;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::cargo::{self, Captured, Limits};
use crate::libtest;
use crate::points::{self, Entry, Points};
use crate::workspace::{self, Chapter, Workspace};
use crate::{Result, failed, help_requested, usage_error};
use board::scoreboard;
use gradescope::results_json;
pub use score::{ChapterReport, Evidence, Status, TestResult, score};

pub const USAGE: &str = "\
usage: cargo xtask grade [N…] [--isolated] [--reference] [--json FILE]
                         [--timeout SECS] [--test-timeout SECS]

Runs the graded tests of chapters N… (default: all) and prints a scoreboard.

  (default)     your code for every chapter (chapters build on each other)
  --isolated    each chapter graded on top of the reference for all others
  --reference   the reference solutions (must score 100%)
  --json FILE   also write a Gradescope results.json to FILE
  --timeout S   seconds allowed per chapter's test run (default 600); as
                many again for re-running a run that crashed
  --test-timeout S
                seconds one test may run without finishing (default 60)

N is a chapter number (3, 03, ch03) or name (ch03_sstable).

If a chapter's test binary crashes (an abort, a stack overflow, out of
memory) or a test never ends, its tests are re-run one at a time to find
the culprit, which fails with what it printed; the others still count.";

const TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);

/// The reference's slowest test takes under a second in a debug build.
const TEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

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

/// Compiles and runs chapters' test targets; remembers crate-wide compile
/// errors per feature set so they are reported without recompiling.
pub struct Grader<'a> {
    pub ws: &'a Workspace,
    pub points: &'a Points,
    /// Time allowed for a chapter's run (and again for its re-runs).
    pub timeout: Duration,
    /// Time one test may run: a run with no new result for this long is
    /// killed.
    pub test_timeout: Duration,
    crate_errors: HashMap<Vec<String>, String>,
}

impl<'a> Grader<'a> {
    pub fn new(ws: &'a Workspace, points: &'a Points) -> Self {
        Grader {
            ws,
            points,
            timeout: TIMEOUT_DEFAULT,
            test_timeout: TEST_TIMEOUT_DEFAULT,
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
        let limits = Limits {
            total: Some(self.timeout),
            quiet: Some(self.test_timeout),
        };
        let captured = self.run_tests(chapter, features, None, limits)?;
        let run = libtest::parse(&captured.stdout);
        let (evidence, crash_report) = if run.summary.is_some() {
            (Evidence::of_run(run), None)
        } else {
            let (evidence, text) = self.recover(chapter, features, entries.len(), &captured)?;
            (evidence, Some(text))
        };
        let scored = score(entries, &evidence);
        report.tests = scored.tests;
        report.unlisted = scored.unlisted;
        report.problem = match (crash_report, scored.problem) {
            (Some(crash), Some(other)) => Some(format!("{crash}\n{other}")),
            (crash, other) => crash.or(other),
        };
        Ok(report)
    }

    /// After a run that ended without libtest's summary: the evidence of
    /// one-at-a-time re-runs, and the chapter's problem text.
    fn recover(
        &self,
        chapter: &Chapter,
        features: &[String],
        test_count: usize,
        first: &Captured,
    ) -> Result<(Evidence, String)> {
        let end = crash::End::of(first);
        self.progress(&format!(
            "{}: the test run {}; re-running its tests one at a time …",
            chapter.name,
            end.describe()
        ));
        let run = |skip: &[String], time_left| {
            let limits = Limits {
                total: Some(time_left),
                quiet: Some(self.test_timeout),
            };
            self.run_tests(chapter, features, Some(skip), limits)
        };
        let found = |crash: &crash::Crash| {
            self.progress(&format!(
                "{}: {} {}; going on without it …",
                chapter.name, crash.test, crash.what
            ));
        };
        let recovery = crash::recover(test_count + 1, self.timeout, run, found)?;
        let text = crash_problem(&end, &recovery);
        Ok((Evidence::of_recovery(recovery), text))
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

    /// Runs the chapter's tests: in parallel, or with `serial` one at a
    /// time, skipping the tests it names (`--exact` makes each `--skip`
    /// match one whole name, not every name containing it).
    fn run_tests(
        &self,
        chapter: &Chapter,
        features: &[String],
        serial: Option<&[String]>,
        limits: Limits,
    ) -> Result<Captured> {
        let mut command = cargo::cargo(&self.ws.root);
        command
            .args(["test", "--test", &chapter.name])
            .args(cargo::feature_args(features))
            .args(["--no-fail-fast", "--", "--color", "never"])
            // Backtraces only slow the run down; the scoreboard shows the
            // panic message, and `cargo test` shows backtraces on request.
            .env("RUST_BACKTRACE", "0");
        if let Some(skip) = serial {
            command.args(["--test-threads=1", "--exact"]);
            for name in skip {
                command.args(["--skip", name]);
            }
        }
        cargo::capture_limited(command, limits)
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

/// The chapter's problem text after a crash: what happened, each culprit,
/// and why the re-runs stopped early if they did.
fn crash_problem(end: &crash::End, recovery: &crash::Recovery) -> String {
    let mut text = format!(
        "the test run {}; its tests were re-run one at a time (--test-threads=1):",
        end.describe()
    );
    // Culprits that ended the same way are listed together.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for crash in &recovery.crashes {
        let summary = crash.summary();
        match groups.iter_mut().find(|(s, _)| *s == summary) {
            Some((_, tests)) => tests.push(&crash.test),
            None => groups.push((summary, vec![&crash.test])),
        }
    }
    for (summary, tests) in &groups {
        text.push_str(&format!("\n  {}: {summary}", tests[0]));
        let more = &tests[1..];
        if !more.is_empty() {
            let shown = more.len().min(3);
            let mut names = more[..shown].join(", ");
            if more.len() > shown {
                names.push_str(&format!(" and {} more", more.len() - shown));
            }
            text.push_str(&format!("\n  (the same for {names})"));
        }
    }
    match &recovery.stopped {
        Some(why) => text.push_str(&format!("\n  {why}; the tests that had not run score 0")),
        None if recovery.crashes.is_empty() => {
            text.push_str(
                "\n  every test finished this time (the crash needs tests running side by \
                 side?); scored from the re-run",
            );
            if let Some(line) = end.stderr.last() {
                text.push_str(&format!("\n  the first run's last words: {line}"));
            }
        }
        None => {}
    }
    text
}

/// Parsed command line.
struct Options {
    selectors: Vec<String>,
    mode: Mode,
    json: Option<PathBuf>,
    timeout: Duration,
    test_timeout: Duration,
}

fn parse_args(args: &[String]) -> Result<Options> {
    help_requested(args, USAGE)?;
    let mut options = Options {
        selectors: Vec::new(),
        mode: Mode::Cumulative,
        json: None,
        timeout: TIMEOUT_DEFAULT,
        test_timeout: TEST_TIMEOUT_DEFAULT,
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
            "--timeout" | "--test-timeout" => {
                let secs = iter
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|s| *s > 0);
                let secs =
                    secs.ok_or_else(|| usage_error(format!("{arg} needs SECS > 0"), USAGE))?;
                match arg.as_str() {
                    "--timeout" => options.timeout = Duration::from_secs(secs),
                    _ => options.test_timeout = Duration::from_secs(secs),
                }
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
    grader.test_timeout = options.test_timeout;
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

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

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
        let args: Vec<String> = [
            "2",
            "--isolated",
            "--json",
            "r.json",
            "ch03",
            "--test-timeout",
            "9",
        ]
        .map(String::from)
        .into();
        let options = parse_args(&args).unwrap();
        assert_eq!(options.mode, Mode::Isolated);
        assert_eq!(options.test_timeout, Duration::from_secs(9));
        assert_eq!(options.timeout, TIMEOUT_DEFAULT);
        assert_eq!(options.selectors, vec!["2", "ch03"]);
        assert_eq!(options.json, Some(PathBuf::from("r.json")));
        for bad in [
            &["--json"][..],
            &["--isolated", "--reference"],
            &["--fast"],
            &["--timeout", "0"],
            &["--test-timeout"],
        ] {
            let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(
                matches!(parse_args(&bad), Err(crate::Failure::Usage { .. })),
                "{bad:?}"
            );
        }
    }
    #[test]
    fn culprits_that_ended_alike_are_listed_together() {
        let crash = |test: &str, what: &str| crash::Crash {
            test: test.into(),
            what: what.into(),
            output: "memory allocation of 8 bytes failed\nthe test binary died".into(),
        };
        let abort = "crashed the test binary with SIGABRT";
        let recovery = crash::Recovery {
            crashes: vec![
                crash("a", abort),
                crash("b", "timed out"),
                crash("c", abort),
                crash("d", abort),
                crash("e", abort),
                crash("f", abort),
            ],
            stopped: Some("the re-runs ran out of time (600 s allowed)".into()),
            ..Default::default()
        };
        let end = crash::End {
            stderr: Vec::new(),
            status: Some("signal: 6, SIGABRT: process abort signal".into()),
            killed: None,
        };
        assert_eq!(
            crash_problem(&end, &recovery),
            "the test run crashed (signal: 6, SIGABRT: process abort signal); \
             its tests were re-run one at a time (--test-threads=1):
  a: crashed the test binary with SIGABRT: memory allocation of 8 bytes failed
  (the same for c, d, e and 1 more)
  b: timed out: memory allocation of 8 bytes failed
  the re-runs ran out of time (600 s allowed); the tests that had not run score 0"
        );
    }
}
