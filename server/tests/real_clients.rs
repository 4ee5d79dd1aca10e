//! A maintained Redis client crate (`redis`, sync API) against the real
//! binary on 127.0.0.1, and the server's `--config` file.

mod support;

use support::{Running, TIMEOUT};

fn connect(server: &Running) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{}/", server.addr)).expect("a redis URL");
    let connection = client
        .get_connection_with_timeout(TIMEOUT)
        .expect("the redis crate connects");
    connection
        .set_read_timeout(Some(TIMEOUT))
        .expect("a read timeout");
    connection
}

#[test]
fn the_redis_crate_sets_gets_deletes_and_pipelines() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(dir.path(), &[]);
    let mut con = connect(&server);
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG", "PING through the redis crate");
    let () = redis::cmd("SET")
        .arg("name")
        .arg("lsm")
        .query(&mut con)
        .expect("SET");
    let value: Option<String> = redis::cmd("GET").arg("name").query(&mut con).expect("GET");
    assert_eq!(value.as_deref(), Some("lsm"), "GET reads SET's value");
    let deleted: i64 = redis::cmd("DEL")
        .arg("name")
        .arg("never")
        .query(&mut con)
        .expect("DEL");
    assert_eq!(deleted, 1, "DEL counts the keys that existed");
    let (a, b): (i64, i64) = redis::pipe()
        .cmd("INCR")
        .arg("n")
        .cmd("INCR")
        .arg("n")
        .query(&mut con)
        .expect("a pipeline of INCR");
    assert_eq!((a, b), (1, 2), "pipelined INCRs answer in order");
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg("n")
        .arg("name")
        .query(&mut con)
        .expect("MGET");
    assert_eq!(
        values,
        [Some("2".to_string()), None],
        "MGET: a value and a nil"
    );
}

#[test]
fn a_config_file_sets_the_password_and_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lsm.toml");
    std::fs::write(
        &config,
        "background_threads = 0\nblock_cache_bytes = 0\n[server]\nrequirepass = \"from-file\"\n",
    )
    .unwrap();
    let data = dir.path().join("db");
    let server = Running::start(&data, &["--config", config.to_str().unwrap()]);
    let mut con = connect(&server);
    let refused: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("k").query(&mut con);
    assert!(
        refused.is_err(),
        "the file's requirepass is in force: {refused:?}"
    );
    let () = redis::cmd("AUTH")
        .arg("from-file")
        .query(&mut con)
        .expect("AUTH with the file's password");
    let value: Option<String> = redis::cmd("GET")
        .arg("k")
        .query(&mut con)
        .expect("GET after AUTH");
    assert_eq!(value, None, "then GET is served");
}

#[test]
fn a_bad_config_file_stops_the_server_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lsm.toml");
    std::fs::write(
        &config,
        "[server]\nbind = \"127.0.0.1:0\"\nport = \"6380\"\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lsm-server"))
        .args(["--config", config.to_str().unwrap()])
        .arg(dir.path().join("db"))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an unknown [server] key is an error"
    );
    assert!(
        stderr.contains("lsm.toml:3:") && stderr.contains("port"),
        "the error names the file, line and key: {stderr}"
    );
}
