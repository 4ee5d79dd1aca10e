//! `lsm-server [--bind ADDR] [--http ADDR] [--config FILE] [--requirepass PASSWORD] DIR`:
//! serves the database in DIR over the Redis protocol (RESP2) on
//! `127.0.0.1:6380` by default, until SIGINT or SIGTERM, then closes it
//! cleanly. `--http ADDR` also serves the HTTP/JSON API (`http.rs`) on
//! ADDR (off by default). `cargo run -p lsm-server -- DIR` runs your chapters;
//! `cargo run -p lsm-server --features reference -- DIR` the reference.
//!
//! `--config FILE` is chapter 10's TOML (`lsm.example.toml`) plus a
//! `[server]` table: `bind = "127.0.0.1:6380"`, `requirepass = "…"`,
//! `http_bind = "127.0.0.1:8080"`. A
//! flag overrides the file. Unless the file sets them, the database opens
//! with 2 background threads and a 64 MiB block cache (chapter 10), and
//! with chapter 9's timeline (for `GET key ASOF unix-ms`).
//!
//! Prints `lsm-server: listening on ADDR` on stdout once it accepts (the
//! tests read the port from it with `--bind 127.0.0.1:0`), and
//! `lsm-server: http on ADDR` before it when `--http` is given.

#[allow(dead_code)]
#[path = "../../src/bin/lsm/config.rs"]
mod config;

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use lsm_server::chapter::{Limits, ServerConfig};
use lsm_server::net::{Server, panic_message};
use lsm_workbook::ch07_engine::{Db, History, Options};
use lsm_workbook::ch09_snapshots::Timeline;

use config::Config;

const USAGE: &str =
    "usage: lsm-server [--bind ADDR] [--http ADDR] [--config FILE] [--requirepass PASSWORD] DIR";
/// Background threads when the config file does not say.
const BACKGROUND_THREADS_DEFAULT: usize = 2;
/// The block cache when the config file does not say.
const BLOCK_CACHE_BYTES_DEFAULT: usize = 64 << 20;

/// What the command line says.
#[derive(Default)]
struct Args {
    bind: Option<String>,
    http: Option<String>,
    config: Option<String>,
    requirepass: Option<String>,
    dir: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--bind" => parsed.bind = Some(value("--bind")?),
            "--http" => parsed.http = Some(value("--http")?),
            "--config" => parsed.config = Some(value("--config")?),
            "--requirepass" => parsed.requirepass = Some(value("--requirepass")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}\n{USAGE}")),
            dir if parsed.dir.is_none() => parsed.dir = Some(dir.to_string()),
            extra => return Err(format!("unexpected argument {extra}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

/// The server's own settings: the `[server]` table, then the flags.
struct Settings {
    bind: SocketAddr,
    requirepass: Option<String>,
    /// The HTTP API's address, if it is on.
    http: Option<SocketAddr>,
}

fn settings(args: &Args, config: &Config) -> Result<Settings, String> {
    let mut bind = "127.0.0.1:6380".to_string();
    let mut requirepass = None;
    let mut http = None;
    for setting in &config.extra {
        let text = match &setting.value {
            config::Value::Text(text) => text.clone(),
            _ => {
                return Err(setting
                    .error(format!(
                        "`{}` must be a string, not {}",
                        setting.key, setting.raw
                    ))
                    .to_string());
            }
        };
        match setting.key.as_str() {
            "bind" => bind = text,
            "requirepass" => requirepass = Some(text),
            "http_bind" => http = Some(text),
            other => {
                return Err(setting
                    .error(format!(
                        "unknown key `{other}` in [server] (known: bind, requirepass, http_bind)"
                    ))
                    .to_string());
            }
        }
    }
    if let Some(flag) = &args.bind {
        bind = flag.clone();
    }
    if let Some(flag) = &args.requirepass {
        requirepass = Some(flag.clone());
    }
    if let Some(flag) = &args.http {
        http = Some(flag.clone());
    }
    let bind = bind.parse().map_err(|error| {
        format!("cannot bind {bind:?}: {error} (an address like 127.0.0.1:6380)")
    })?;
    let http = match http {
        Some(text) => Some(text.parse().map_err(|error| {
            format!("cannot serve HTTP on {text:?}: {error} (an address like 127.0.0.1:8080)")
        })?),
        None => None,
    };
    Ok(Settings {
        bind,
        requirepass,
        http,
    })
}

fn load_config(path: Option<&str>) -> Result<Config, String> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the config file {path}: {error}"))?;
    config::parse_with(&text, path, &["server"]).map_err(|error| error.to_string())
}

/// Opens `dir` with `config`'s options, background threads and a block
/// cache unless it sets them, and a timeline unless it turns it off.
fn open(dir: &str, config: &Config) -> Result<Db, String> {
    let mut config = config.clone();
    if config.line("", "background_threads").is_none() {
        config.background_threads = BACKGROUND_THREADS_DEFAULT;
    }
    if config.line("", "block_cache_bytes").is_none() {
        config.block_cache_bytes = BLOCK_CACHE_BYTES_DEFAULT;
    }
    let options = guarded(|| config.apply(Options::default()))?;
    let history = match config.timeline_enabled {
        true => {
            let fs = Arc::clone(&options.fs);
            let timeline = guarded(|| Timeline::open(fs, Path::new(dir), config.timeline))?
                .map_err(|error| format!("cannot open the timeline in {dir}: {error}"))?;
            Some(timeline as Arc<dyn History>)
        }
        false => None,
    };
    let options = Options { history, ..options };
    guarded(|| Db::open(dir, options))?.map_err(|error| format!("cannot open {dir}: {error}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lsm-server: {message}");
            if let Some(hint) = unfinished_chapter_hint(&message) {
                eprintln!("{hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = parse_args(&args)?;
    let dir = args.dir.clone().ok_or_else(|| USAGE.to_string())?;
    let config = load_config(args.config.as_deref())?;
    let settings = settings(&args, &config)?;
    let db = Arc::new(open(&dir, &config)?);
    let server_config = ServerConfig {
        requirepass: settings.requirepass,
        ..ServerConfig::default()
    };
    let server = Server::bind(
        settings.bind,
        Arc::clone(&db),
        server_config,
        Limits::default(),
    )
    .map_err(|error| format!("cannot bind {}: {error}", settings.bind))?;
    let addr = server.local_addr().map_err(|error| error.to_string())?;
    let handle = server.handle().map_err(|error| error.to_string())?;
    let http = match settings.http {
        Some(http_addr) => Some(start_http(http_addr, Arc::clone(&db))?),
        None => None,
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let loop_thread = std::thread::spawn(move || {
        let result = server.run();
        let _ = done_tx.send(());
        result
    });
    println!("lsm-server: listening on {addr}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the signal handler: {error}"))?;
    let signal = runtime.block_on(wait_for_signal(done_rx))?;
    eprintln!("lsm-server: {signal}: closing");
    handle.shutdown();
    if let Some((stop, http_thread)) = http {
        let _ = stop.send(());
        match http_thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("lsm-server: the HTTP API failed: {error}"),
            Err(_) => eprintln!("lsm-server: the HTTP API panicked"),
        }
    }
    match loop_thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("lsm-server: the network loop failed: {error}"),
        Err(_) => eprintln!("lsm-server: the network loop panicked"),
    }
    let db =
        Arc::try_unwrap(db).map_err(|_| "a connection still holds the database".to_string())?;
    guarded(|| db.close())?.map_err(|error| format!("close: {error}"))?;
    eprintln!("lsm-server: closed");
    Ok(())
}

/// Binds the HTTP API on `addr` and serves it on a thread of its own
/// until the sender is used (or dropped); prints `lsm-server: http on ADDR`.
fn start_http(
    addr: SocketAddr,
    db: Arc<Db>,
) -> Result<
    (
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<std::io::Result<()>>,
    ),
    String,
> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|error| format!("cannot serve HTTP on {addr}: {error}"))?;
    let bound = listener.local_addr().map_err(|error| error.to_string())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        lsm_server::http::serve(listener, db, async move {
            let _ = stop_rx.await;
        })
    });
    println!("lsm-server: http on {bound}");
    Ok((stop_tx, thread))
}

/// Waits for SIGINT, SIGTERM or the loop's end; which one.
async fn wait_for_signal(done: tokio::sync::oneshot::Receiver<()>) -> Result<&'static str, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|error| format!("cannot listen for signals: {error}"));
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
        _ = done => "the network loop stopped",
    })
}

/// `f`'s result, or its panic's message (a `todo!()` of an unfinished
/// chapter names the chapter).
/// For a `todo!()` reached at start-up (`not yet implemented: chNN: …`),
/// what to do about it: the server runs the learner's chapters by default.
fn unfinished_chapter_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("not yet implemented: ch")?;
    let chapter: u32 = rest.get(..2)?.parse().ok()?;
    Some(format!(
        "lsm-server runs your chapters (chapters/), and chapter {chapter} is not done yet: \
         finish it (cargo xtask grade {chapter}), or run the server on the reference for \
         chapters 1–10 and your own chapter 11:\n  \
         cargo run -p lsm-server --features lsm-workbook/ref-upto-ch10 -- DIR\n\
         or on the reference for everything: cargo run -p lsm-server --features reference -- DIR"
    ))
}

fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f))
        .map_err(|payload| panic_message(payload.as_ref()).to_string())
}

#[cfg(test)]
mod tests {
    use super::unfinished_chapter_hint;

    #[test]
    fn a_todo_at_start_up_names_its_chapter_and_the_reference_flags() {
        let hint = unfinished_chapter_hint(
            "not yet implemented: ch10: an empty cache of this capacity — book §10.4, task 2",
        )
        .expect("a chapter's todo!() gets a hint");
        assert!(
            hint.contains("chapter 10 is not done yet")
                && hint.contains("cargo xtask grade 10")
                && hint.contains("--features lsm-workbook/ref-upto-ch10"),
            "the hint names the chapter and how to run on the reference: {hint}"
        );
        assert_eq!(unfinished_chapter_hint("cannot open /tmp/x: denied"), None);
        assert_eq!(unfinished_chapter_hint("not yet implemented"), None);
    }
}
