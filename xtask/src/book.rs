//! `cargo xtask book [--open]`: build `book/` into `book/build` with mdBook's
//! library, failing on any warning or error mdBook logs.
//!
//! mdBook is only compiled with this crate's `book` feature. Without it, the
//! command re-invokes itself as
//! `cargo run --quiet --package xtask --features book -- book …`, so that a
//! learner's `cargo xtask grade` never compiles a markdown renderer.

use std::path::Path;
use std::process::Command;

use crate::workspace::Workspace;
use crate::{Result, failed, help_requested, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask book [--open]

Builds the book (book/) into book/build with mdBook and prints the path of
its index.html. Any warning or error mdBook reports fails the build.
The first run compiles mdBook's library, which takes a few minutes.

  --open   open the built book in a browser";

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    let open = match args {
        [] => false,
        [flag] if flag == "--open" => true,
        _ => return Err(usage_error(format!("unexpected arguments {args:?}"), USAGE)),
    };
    let index = build(args)?;
    if open {
        open_in_browser(&index)?;
    }
    Ok(())
}

/// Builds the book; returns the path of index.html. (`args` are passed on
/// when this build has no mdBook and re-invokes itself.)
#[cfg(feature = "book")]
pub fn build(_args: &[String]) -> Result<std::path::PathBuf> {
    let ws = Workspace::locate()?;
    let index = render::build(&ws.root.join("book"))?;
    println!("book built: {}", index.display());
    Ok(index)
}

/// Builds the book by running this tool again with the `book` feature. The
/// child prints the result (and opens it); the path is computed here.
#[cfg(not(feature = "book"))]
pub fn build(args: &[String]) -> Result<std::path::PathBuf> {
    let ws = Workspace::locate()?;
    // `--open` is handled by the caller, once.
    let mut rerun = vec!["book".to_string()];
    rerun.extend(args.iter().filter(|a| *a != "--open").cloned());
    eprintln!("  building xtask with mdBook (`--features book`; slow the first time) …");
    let code = crate::rerun::with_feature("book", &rerun)?;
    if code != 0 {
        // `check` shows this as the step's problem; the child's own output
        // is above it.
        return Err(failed(format!(
            "`xtask book` (with --features book) failed, exit code {code}; see above"
        )));
    }
    Ok(ws.root.join("book").join("build").join("index.html"))
}

fn open_in_browser(index: &Path) -> Result<()> {
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut command = Command::new("cmd");
        command.args(["/C", "start", ""]);
        command
    } else {
        Command::new("xdg-open")
    };
    let status = command.arg(index).status().map_err(|e| {
        failed(format!(
            "cannot open a browser ({e}); open {}",
            index.display()
        ))
    })?;
    if !status.success() {
        return Err(failed(format!(
            "cannot open a browser; open {}",
            index.display()
        )));
    }
    Ok(())
}

/// The mdBook build and the collectors that turn its warnings into failure.
#[cfg(feature = "book")]
mod render {
    use std::fmt::Debug;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mdbook_driver::MDBook;
    use mdbook_driver::config::Config;
    use mdbook_preprocessor::book::Book;
    use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use crate::{Result, failed};

    /// Warnings and errors reported during the build, by `tracing` (mdBook)
    /// or `log` (handlebars, html5ever).
    static REPORTED: AtomicUsize = AtomicUsize::new(0);

    pub fn build(book_root: &Path) -> Result<PathBuf> {
        install_collectors();
        let before = REPORTED.load(Ordering::SeqCst);
        let book = load(book_root)?;
        book.build()
            .map_err(|e| failed(format!("mdBook failed: {e:#}")))?;
        let reported = REPORTED.load(Ordering::SeqCst) - before;
        if reported > 0 {
            return Err(failed(format!(
                "mdBook reported {reported} warning(s)/error(s) (above); the book must build cleanly"
            )));
        }
        Ok(book.build_dir_for("html").join("index.html"))
    }

    /// book.toml, then our fixed choices: output in `book/build`, and a
    /// chapter missing from src/ is an error instead of a created stub.
    fn load(book_root: &Path) -> Result<MDBook> {
        let toml = book_root.join("book.toml");
        let mut config = Config::from_disk(&toml)
            .map_err(|e| failed(format!("cannot read {}: {e:#}", toml.display())))?;
        config
            .update_from_env()
            .map_err(|e| failed(format!("MDBOOK_* environment: {e:#}")))?;
        config.build.build_dir = PathBuf::from("build");
        config.build.create_missing = false;
        let mut book = MDBook::load_with_config(book_root, config)
            .map_err(|e| failed(format!("cannot load the book: {e:#}")))?;
        book.with_preprocessor(StripMarkers);
        Ok(book)
    }

    /// Removes the starter generator's marker lines (`// BEGIN SOLUTION …`,
    /// `// END SOLUTION`, `// STARTER: …`) from code the book includes from
    /// `solutions/`: they steer `cargo xtask starter`, they teach nothing.
    /// Registered after mdBook's own preprocessors, so it sees the text that
    /// `{{#include}}` inserted.
    struct StripMarkers;

    impl Preprocessor for StripMarkers {
        fn name(&self) -> &str {
            "strip-solution-markers"
        }

        fn run(
            &self,
            _ctx: &PreprocessorContext,
            mut book: Book,
        ) -> mdbook_preprocessor::errors::Result<Book> {
            book.for_each_chapter_mut(|chapter| {
                chapter.content = crate::starter::strip_markers(&chapter.content, true);
            });
            Ok(book)
        }
    }

    fn install_collectors() {
        // Both fail only if a collector is already installed (a second
        // build in one process), and then ours is the one installed.
        let _ = tracing::subscriber::set_global_default(Collector);
        if log::set_logger(&LOG_COLLECTOR).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
    }

    fn report(level: &str, message: &str) {
        REPORTED.fetch_add(1, Ordering::SeqCst);
        eprintln!("{level}: {message}");
    }

    /// A `tracing` subscriber that prints and counts WARN and ERROR events.
    struct Collector;

    impl Subscriber for Collector {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            *metadata.level() <= Level::WARN
        }

        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::WARN)
        }

        fn new_span(&self, _span: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _span: &Id, _values: &Record<'_>) {}

        fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut text = EventText::default();
            event.record(&mut text);
            let level = if *event.metadata().level() == Level::ERROR {
                "error"
            } else {
                "warning"
            };
            report(level, &format!("{}{}", text.message, text.fields));
        }

        fn enter(&self, _span: &Id) {}

        fn exit(&self, _span: &Id) {}
    }

    /// An event's message and its other fields.
    #[derive(Default)]
    struct EventText {
        message: String,
        fields: String,
    }

    impl Visit for EventText {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message = value.to_string();
            } else {
                self.fields.push_str(&format!(" {}={value}", field.name()));
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            if field.name() == "message" {
                self.message = format!("{value:?}");
            } else {
                self.fields
                    .push_str(&format!(" {}={value:?}", field.name()));
            }
        }
    }

    /// A `log` logger that prints and counts WARN and ERROR records.
    struct LogCollector;

    static LOG_COLLECTOR: LogCollector = LogCollector;

    impl log::Log for LogCollector {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Warn
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                let level = if record.level() == log::Level::Error {
                    "error"
                } else {
                    "warning"
                };
                report(level, &format!("{} ({})", record.args(), record.target()));
            }
        }

        fn flush(&self) {}
    }
}
