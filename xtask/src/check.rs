//! `cargo xtask check`: the teaching contract, step by step. Every step runs
//! (a failure does not stop the next one); the command fails if any did.
//!
//! a. formatting   b. starter is current   c. clippy (starter; solutions,
//! tests, xtask)   d. points.toml = each target's tests   e. the reference
//! passes   f. the starter fails, at a todo!() of its own chapter
//! g. the book's pages, includes and task lists   h. the book builds cleanly

use std::path::PathBuf;
use std::process::Command;

use crate::cargo::{self, Captured};
use crate::grade::{self, Grader, Status};
use crate::points::{self, Points};
use crate::workspace::{self, Chapter, Workspace};
use crate::{Result, book, bookcheck, failed, help_requested, libtest, starter, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask check

Checks the teaching contract (run in CI):
  a. rustfmt: cargo fmt --check, and every .rs file in solutions/ and chapters/
  b. chapters/ equals the starter generated from solutions/
  c. clippy -D warnings: the starter (default features); solutions, tests, xtask
  d. tests/points.toml lists exactly the tests of each chapter's target
  e. every test passes on the reference (--features solutions)
  f. on the starter of chapter N (reference for the others), every test of
     chapter N fails at a todo!() of chapter N
  g. the book: a page per chapter, includes resolve, task lists name real tests
  h. the book builds without warnings";

/// What every step can look at.
struct Context {
    ws: Workspace,
    chapters: Vec<Chapter>,
    points: std::result::Result<Points, String>,
}

impl Context {
    fn points(&self) -> Result<&Points> {
        self.points.as_ref().map_err(|e| failed(e.clone()))
    }
}

type Step = fn(&Context) -> Result<Vec<String>>;

const STEPS: [(&str, Step); 8] = [
    ("a. formatting (rustfmt)", formatting),
    ("b. chapters/ is the generated starter", starter_current),
    ("c. clippy -D warnings", clippy),
    ("d. points.toml lists exactly the tests", points_match_tests),
    ("e. the reference passes every test", reference_passes),
    ("f. the starter fails at its own todo!()s", starter_fails),
    ("g. the book: pages, includes, task lists", book_contents),
    ("h. the book builds without warnings", book_builds),
];

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    if let Some(arg) = args.first() {
        return Err(usage_error(format!("unexpected argument `{arg}`"), USAGE));
    }
    let ws = Workspace::locate()?;
    let chapters = ws.chapters()?;
    let points = match points::load(&ws) {
        Ok(points) => Ok(points),
        Err(crate::Failure::Failed(message)) => Err(message),
        Err(other) => return Err(other),
    };
    let context = Context {
        ws,
        chapters,
        points,
    };
    let mut failed_steps = Vec::new();
    for (name, step) in STEPS {
        println!("▸ {name}");
        let problems = match step(&context) {
            Ok(problems) => problems,
            Err(crate::Failure::Failed(message)) => vec![message],
            Err(other) => return Err(other),
        };
        if problems.is_empty() {
            println!("✓ {name}");
        } else {
            for problem in &problems {
                println!("    {}", problem.replace('\n', "\n    "));
            }
            println!("✗ {name} ({} problems)", problems.len());
            failed_steps.push(name);
        }
    }
    summarize(&failed_steps)
}

fn summarize(failed_steps: &[&str]) -> Result<()> {
    println!();
    if failed_steps.is_empty() {
        println!("check: all {} steps passed", STEPS.len());
        return Ok(());
    }
    Err(failed(format!(
        "{} of {} steps failed: {}",
        failed_steps.len(),
        STEPS.len(),
        failed_steps.join("; ")
    )))
}

/// Which output lines of a failed tool are worth showing.
#[derive(Clone, Copy)]
enum Show {
    /// rustfmt: the `Diff in FILE:LINE:` headers.
    DiffHeaders,
    /// cargo/clippy: the error and warning lines.
    Diagnostics,
}

/// Runs a command; a failure becomes one problem with up to 30 lines of
/// its output.
fn run_tool(command: Command, label: &str, show: Show) -> Result<Vec<String>> {
    let captured = cargo::capture(command, None)?;
    if captured.success() {
        return Ok(Vec::new());
    }
    Ok(vec![format!(
        "`{label}` failed:\n{}",
        output_excerpt(&captured, show)
    )])
}

/// The interesting lines of a failed tool's output, else its end.
fn output_excerpt(captured: &Captured, show: Show) -> String {
    let both = format!("{}\n{}", captured.stdout, captured.stderr);
    let keep = |line: &&str| match show {
        Show::DiffHeaders => line.starts_with("Diff in "),
        Show::Diagnostics => {
            (line.starts_with("error") || line.contains(": error") || line.contains(": warning"))
                && !line.starts_with("error: could not compile")
        }
    };
    let picked: Vec<String> = both
        .lines()
        .filter(keep)
        .take(30)
        .map(|line| line.replace("src/../", ""))
        .collect();
    if picked.is_empty() {
        cargo::tail(&both, 30)
    } else {
        picked.join("\n")
    }
}

fn formatting(cx: &Context) -> Result<Vec<String>> {
    let mut command = cargo::cargo(&cx.ws.root);
    command.args(["fmt", "--all", "--", "--check"]);
    let mut problems = run_tool(command, "cargo fmt --all -- --check", Show::DiffHeaders)?;
    // `cargo fmt` may not follow modules routed by `#[cfg_attr(…, path)]`, so
    // every chapter file is checked directly as well.
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [cx.ws.solutions(), cx.ws.chapters_dir()] {
        let rs = workspace::walk_files(&dir)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"));
        files.extend(rs.map(|relative| dir.join(relative)));
    }
    if !files.is_empty() {
        let mut command = Command::new("rustfmt");
        command
            .args(["--edition", "2024", "--check"])
            .args(&files)
            .current_dir(&cx.ws.root);
        problems.extend(run_tool(
            command,
            "rustfmt --edition 2024 --check solutions/ chapters/",
            Show::DiffHeaders,
        )?);
    }
    if let Some(last) = problems.last_mut() {
        last.push_str("\nfix: `cargo fmt --all`; `rustfmt --edition 2024 FILE` for chapter files");
    }
    Ok(problems)
}

fn starter_current(cx: &Context) -> Result<Vec<String>> {
    let (problems, file_count) = starter::check(&cx.ws)?;
    if problems.is_empty() {
        println!("    chapters/ is up to date ({file_count} files)");
    }
    Ok(problems)
}

fn clippy(cx: &Context) -> Result<Vec<String>> {
    let runs: [&[&str]; 2] = [
        // The starter, as a learner first builds it: warning-free.
        &["clippy", "--package", "lsm-workbook", "--lib", "--no-deps"],
        // The reference, the tests and xtask itself.
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            "lsm-workbook/solutions,xtask/dump",
        ],
    ];
    let mut problems = Vec::new();
    for args in runs {
        let mut command = cargo::cargo(&cx.ws.root);
        command
            .args(args)
            .args(["--message-format", "short", "--", "-D", "warnings"]);
        let label = format!("cargo {} -- -D warnings", args.join(" "));
        problems.extend(run_tool(command, &label, Show::Diagnostics)?);
    }
    Ok(problems)
}

fn points_match_tests(cx: &Context) -> Result<Vec<String>> {
    let points = cx.points()?;
    let mut problems = Vec::new();
    for target in &points.targets {
        if !cx.chapters.iter().any(|c| c.name == target.name) {
            problems.push(format!(
                "{}:{}: [{}] is not a chapter's test target",
                points::PATH,
                target.line,
                target.name
            ));
        }
    }
    for chapter in &cx.chapters {
        problems.extend(compare_listed(cx, chapter, points)?);
    }
    Ok(problems)
}

/// `cargo test --test NAME -- --list` against the chapter's points entries.
fn compare_listed(cx: &Context, chapter: &Chapter, points: &Points) -> Result<Vec<String>> {
    let mut command = cargo::cargo(&cx.ws.root);
    command
        .args(["test", "--test", &chapter.name, "--features", "solutions"])
        .args(["--message-format", "short", "--", "--list"]);
    let captured = cargo::capture(command, None)?;
    if !captured.success() {
        return Ok(vec![format!(
            "{}: cannot list its tests:\n{}",
            chapter.name,
            grade::compile_errors(&captured.stderr)
        )]);
    }
    let listed = libtest::parse_list(&captured.stdout);
    let entries = points.entries(&chapter.name);
    let mut problems = Vec::new();
    for name in &listed {
        if !entries.iter().any(|e| &e.test == name) {
            problems.push(format!(
                "tests/{}.rs: test `{name}` has no entry in [{}] of {}",
                chapter.name,
                chapter.name,
                points::PATH
            ));
        }
    }
    for entry in entries {
        if !listed.contains(&entry.test) {
            problems.push(format!(
                "{}:{}: `{}` names no test of tests/{}.rs",
                points::PATH,
                entry.line,
                entry.test,
                chapter.name
            ));
        }
    }
    Ok(problems)
}

fn reference_passes(cx: &Context) -> Result<Vec<String>> {
    let points = cx.points()?;
    let mut grader = Grader::new(&cx.ws, points);
    let features = vec!["solutions".to_string()];
    let mut problems = Vec::new();
    for chapter in &cx.chapters {
        let report = grader.grade(chapter, &features)?;
        if let Some(problem) = &report.problem {
            problems.push(format!("{}: {problem}", chapter.name));
        }
        for test in report.tests.iter().filter(|t| t.status != Status::Passed) {
            let mut problem = format!(
                "{}::{}: {}",
                chapter.name,
                test.entry.test,
                test.status_text()
            );
            for line in libtest::excerpt(&test.output, 6) {
                problem.push_str(&format!("\n  {line}"));
            }
            problems.push(problem);
        }
    }
    Ok(problems)
}

fn starter_fails(cx: &Context) -> Result<Vec<String>> {
    let points = cx.points()?;
    let mut grader = Grader::new(&cx.ws, points);
    let mut problems = Vec::new();
    for chapter in &cx.chapters {
        let features = grade::isolated_features(chapter, &cx.chapters);
        let report = grader.grade(chapter, &features)?;
        let expected = format!("not yet implemented: {}:", chapter.tag());
        if report.tests.iter().any(|t| t.status == Status::NotCompiled) {
            let problem = report.problem.unwrap_or_default();
            problems.push(format!("{}: the starter {problem}", chapter.name));
            continue;
        }
        for test in &report.tests {
            let verdict = match &test.status {
                Status::Failed if test.output.contains(&expected) => continue,
                Status::Passed => "passes on the starter, so it grades nothing".to_string(),
                Status::Failed => format!(
                    "fails, but not at a todo!() of {} (no `{expected}`):\n{}",
                    chapter.tag(),
                    libtest::excerpt(&test.output, 6).join("\n")
                ),
                Status::Crashed(how) => format!(
                    "{how} instead of failing at a todo!():\n{}",
                    libtest::excerpt(&test.output, 6).join("\n")
                ),
                other => format!("{} instead of failing at a todo!()", describe(other)),
            };
            problems.push(format!("{}::{}: {verdict}", chapter.name, test.entry.test));
        }
    }
    Ok(problems)
}

fn describe(status: &Status) -> String {
    match status {
        Status::DidNotRun(reason) | Status::Crashed(reason) => reason.clone(),
        Status::Ignored => "is ignored".into(),
        other => format!("{other:?}"),
    }
}

fn book_contents(cx: &Context) -> Result<Vec<String>> {
    let points = cx.points()?;
    bookcheck::check(&cx.ws, &cx.chapters, points)
}

fn book_builds(_cx: &Context) -> Result<Vec<String>> {
    book::build(&[])?;
    Ok(Vec::new())
}
