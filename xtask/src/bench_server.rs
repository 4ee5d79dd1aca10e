//! `cargo xtask bench --server`: `redis-benchmark -t set,get` against our
//! `lsm-server` (release, the reference engine) and against a real
//! `redis-server` on the same machine, in the same run, without and with
//! pipelining; a table of requests/s and the ratio.
//!
//! How: install `redis-server` and `redis-tools` with apt-get if either
//! binary is missing (with `sudo -n` when not root); build `lsm-server`
//! with `cargo build --release -p lsm-server --features reference`; start
//! it on `127.0.0.1:0` in a new temporary directory (its port is read from
//! its `listening on` line) and `redis-server --port P --save ''
//! --appendonly no` on a free 127.0.0.1 port (no persistence: Redis's
//! fastest setting; our server writes its log, unsynced, as chapter 7's
//! `put` does); then, for each pipeline depth, run `redis-benchmark` on
//! Redis, then on ours, one after the other (never at the same time: the
//! machine's cores are shared). Both servers are killed and the temporary
//! directories removed at the end, also on an error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cargo::{capture, cargo};
use crate::workspace::Workspace;
use crate::{Result, failed, help_requested, usage_error};

pub const USAGE: &str = "\
usage: cargo xtask bench --server [--requests N] [--clients C] [--pipeline P]
                                  [--dir DIR]

Runs `redis-benchmark -t set,get -n N -c C -q`, without pipelining and with
`-P P`, against lsm-server (release, --features reference: the reference
engine) and against a real redis-server (--save '' --appendonly no), both
on 127.0.0.1, and prints requests/s for both and lsm-server/redis-server.
Installs redis-server and redis-tools with apt-get if they are missing.

  --requests N   requests per test (default 100000)
  --clients C    parallel connections (default 50)
  --pipeline P   the pipelined runs' depth (default 16)
  --dir DIR      where lsm-server's temporary database goes (default: the
                 system's temporary directory; use a real disk, not tmpfs)

Compare ratios within one run: the machine's speed varies from run to run.";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `redis-benchmark` run may take.
const BENCHMARK_TIMEOUT: Duration = Duration::from_secs(600);
/// How long each apt-get step may take.
const APT_TIMEOUT: Duration = Duration::from_secs(300);

struct Args {
    requests: u64,
    clients: u64,
    pipeline: u64,
    dir: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        requests: 100_000,
        clients: 50,
        pipeline: 16,
        dir: None,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| usage_error(format!("{arg} needs a value"), USAGE))
        };
        match arg.as_str() {
            "--server" => {}
            "--requests" | "--clients" | "--pipeline" => {
                let text = value()?;
                let n: u64 = match text.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(usage_error(
                            format!("{arg} takes a positive number, not {text:?}"),
                            USAGE,
                        ));
                    }
                };
                match arg.as_str() {
                    "--requests" => parsed.requests = n,
                    "--clients" => parsed.clients = n,
                    _ => parsed.pipeline = n,
                }
            }
            "--dir" => parsed.dir = Some(PathBuf::from(value()?)),
            other => {
                return Err(usage_error(
                    format!("unknown option `{other}` for bench --server"),
                    USAGE,
                ));
            }
        }
    }
    Ok(parsed)
}

pub fn run(args: &[String]) -> Result<()> {
    help_requested(args, USAGE)?;
    let args = parse(args)?;
    let ws = Workspace::locate()?;
    ensure_redis()?;
    let lsm_server = build(&ws)?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch::create(&base)?;

    let redis = start_redis(&scratch.path.join("redis"))?;
    let ours = start_lsm_server(&lsm_server, &scratch.path.join("lsm"))?;
    eprintln!(
        "redis-server on {}, lsm-server on {} ({})",
        redis.addr,
        ours.addr,
        scratch.path.display()
    );

    let mut rows = Vec::new();
    for pipeline in [1, args.pipeline] {
        let theirs = benchmark(&args, redis.addr, pipeline, "redis-server")?;
        let mine = benchmark(&args, ours.addr, pipeline, "lsm-server")?;
        for test in ["SET", "GET"] {
            rows.push(Row {
                test,
                pipeline,
                redis: theirs.iter().find(|(t, _)| t == test).map(|(_, r)| *r),
                ours: mine.iter().find(|(t, _)| t == test).map(|(_, r)| *r),
            });
        }
    }
    drop(ours);
    drop(redis);
    print!("{}", render(&args, &redis_version(), &rows));
    Ok(())
}

/// One line of the table.
struct Row {
    test: &'static str,
    pipeline: u64,
    redis: Option<f64>,
    ours: Option<f64>,
}

fn render(args: &Args, version: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "\nredis-benchmark -t set,get -n {} -c {} -q, on 127.0.0.1 ({version}; lsm-server: the reference engine)\n\n",
        args.requests, args.clients
    );
    out.push_str(&format!(
        "{:<5} {:>8} {:>16} {:>16} {:>11}\n",
        "test", "pipeline", "redis-server r/s", "lsm-server r/s", "lsm/redis"
    ));
    let figure = |rate: Option<f64>| rate.map_or("-".to_string(), |r| format!("{r:.0}"));
    for row in rows {
        let ratio = match (row.ours, row.redis) {
            (Some(ours), Some(redis)) if redis > 0.0 => format!("{:.2}", ours / redis),
            _ => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<5} {:>8} {:>16} {:>16} {:>11}\n",
            row.test,
            row.pipeline,
            figure(row.redis),
            figure(row.ours),
            ratio
        ));
    }
    out
}

/// `redis-server --version`'s first words, for the table's heading.
fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .and_then(|text| {
            text.split_whitespace()
                .find(|word| word.starts_with("v="))
                .map(|v| format!("redis-server {}", &v[2..]))
        })
        .unwrap_or_else(|| "redis-server".to_string())
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian's redis-server and redis-tools unless both binaries
/// are there.
fn ensure_redis() -> Result<()> {
    if on_path("redis-server") && on_path("redis-benchmark") {
        return Ok(());
    }
    if !on_path("apt-get") {
        return Err(failed(
            "redis-server or redis-benchmark is missing and there is no apt-get: \
             install Redis (redis-server, redis-benchmark) yourself",
        ));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| -> Result<bool> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let out = capture(command, Some(APT_TIMEOUT))?;
        if !out.success() {
            let tail: Vec<&str> = out.stderr.lines().rev().take(5).collect();
            eprintln!("apt-get {}: failed: {}", args.join(" "), tail.join(" | "));
        }
        Ok(out.success())
    };
    let install = ["install", "-y", "-q", "redis-server", "redis-tools"];
    eprintln!(
        "installing redis-server and redis-tools: apt-get install -y redis-server redis-tools"
    );
    let installed = apt(&install)? || (apt(&["update", "-q"])? && apt(&install)?);
    if !installed {
        return Err(failed(
            "cannot install redis-server and redis-tools with apt-get (see above)",
        ));
    }
    if !(on_path("redis-server") && on_path("redis-benchmark")) {
        return Err(failed(
            "apt-get installed redis-server and redis-tools, but redis-server or \
             redis-benchmark is still not on PATH",
        ));
    }
    Ok(())
}

/// `cargo build --release -p lsm-server --features reference`: the binary.
fn build(ws: &Workspace) -> Result<PathBuf> {
    eprintln!(
        "building: cargo build --release -p lsm-server --bin lsm-server --features reference"
    );
    let status = cargo(&ws.root)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "lsm-server",
            "--bin",
            "lsm-server",
            "--features",
            "reference",
        ])
        .status()
        .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(failed(
            "lsm-server (--features reference) does not build: see the errors above",
        ));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.root.join("target"));
    Ok(target
        .join("release")
        .join(format!("lsm-server{}", std::env::consts::EXE_SUFFIX)))
}

/// A temporary directory, removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn create(base: &Path) -> Result<Scratch> {
        let path = base.join(format!("xtask-bench-server-{}", std::process::id()));
        for dir in [path.join("redis"), path.join("lsm")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A server process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our server on an ephemeral port: its `listening on ADDR` line says which.
fn start_lsm_server(binary: &Path, dir: &Path) -> Result<Server> {
    let mut child = Command::new(binary)
        .args(["--bind", "127.0.0.1:0"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", binary.display())))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(failed("lsm-server's stdout is not piped"));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some(addr) = line.strip_prefix("lsm-server: listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let line = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
        failed(format!(
            "lsm-server printed no `listening on` line within {START_TIMEOUT:?}"
        ))
    })?;
    server.addr = line
        .parse()
        .map_err(|e| failed(format!("lsm-server's address {line:?}: {e}")))?;
    wait_for_pong(server.addr, "lsm-server")?;
    Ok(server)
}

/// A real Redis on a free 127.0.0.1 port, without persistence.
fn start_redis(dir: &Path) -> Result<Server> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| failed(format!("cannot find a free port: {e}")))?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failed(format!("cannot start redis-server: {e}")))?;
    let server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    wait_for_pong(server.addr, "redis-server")?;
    Ok(server)
}

/// Until `addr` answers an inline PING with +PONG.
fn wait_for_pong(addr: SocketAddr, name: &str) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let answered =
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                s.write_all(b"PING\r\n")?;
                let mut reply = [0u8; 7];
                s.read_exact(&mut reply)?;
                Ok(&reply == b"+PONG\r\n")
            });
        if answered.is_ok_and(|pong| pong) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failed(format!(
                "{name} on {addr} did not answer PING within {START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `redis-benchmark` run: requests/s per test (`SET`, `GET`).
fn benchmark(
    args: &Args,
    addr: SocketAddr,
    pipeline: u64,
    name: &str,
) -> Result<Vec<(String, f64)>> {
    let mut command = Command::new("redis-benchmark");
    command.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()]);
    command.args(["-t", "set,get", "-q"]);
    command.args([
        "-n",
        &args.requests.to_string(),
        "-c",
        &args.clients.to_string(),
    ]);
    if pipeline > 1 {
        command.args(["-P", &pipeline.to_string()]);
    }
    let shown = format!(
        "redis-benchmark -p {} -t set,get -n {} -c {} -q{}",
        addr.port(),
        args.requests,
        args.clients,
        if pipeline > 1 {
            format!(" -P {pipeline}")
        } else {
            String::new()
        }
    );
    eprintln!("{name}: {shown}");
    let out = capture(command, Some(BENCHMARK_TIMEOUT))?;
    if !out.success() {
        return Err(failed(format!(
            "`{shown}` against {name} failed ({}): {}",
            out.killed
                .map_or_else(|| format!("{:?}", out.status), |k| format!("killed: {k:?}")),
            last_lines(&format!("{}{}", out.stdout, out.stderr), 5)
        )));
    }
    let rates = parse_rates(&out.stdout);
    for (test, rate) in &rates {
        eprintln!("  {test}: {rate:.0} requests/s");
    }
    if rates.is_empty() {
        return Err(failed(format!(
            "`{shown}` against {name} printed no `requests per second`: {}",
            last_lines(&out.stdout, 5)
        )));
    }
    Ok(rates)
}

/// `SET: 123456.79 requests per second, p50=0.215 msec` lines (progress
/// lines end in `\r`, so both separators split).
fn parse_rates(text: &str) -> Vec<(String, f64)> {
    text.split(['\r', '\n'])
        .filter_map(|line| {
            let (test, rest) = line.split_once(": ")?;
            let (rate, _) = rest.split_once(" requests per second")?;
            Some((test.trim().to_string(), rate.trim().parse().ok()?))
        })
        .collect()
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_from_quiet_output_with_progress_lines() {
        let text = "SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r\
                    SET: 98231.83 requests per second, p50=0.255 msec\n\
                    GET: 101936.80 requests per second, p50=0.247 msec\n\n";
        let rates = parse_rates(text);
        assert_eq!(
            rates,
            vec![
                ("SET".to_string(), 98231.83),
                ("GET".to_string(), 101936.80)
            ],
            "one rate per test, the progress lines skipped"
        );
    }
}
