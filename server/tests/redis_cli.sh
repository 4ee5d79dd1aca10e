#!/usr/bin/env bash
# A scripted `redis-cli` session against an lsm-server already listening
# on 127.0.0.1:PORT (started by tests/redis_cli.rs, which compares what
# this prints with the expected text).
#
#   redis_cli.sh PORT
#
# Installs Debian's redis-tools (apt-get, with sudo only when not root) if
# `redis-cli` is missing. Exit 77 (automake's "skipped") with the reason
# on stderr when it cannot be installed; the test then reports a skip.
# Every step is bounded in time (`timeout`), so a hung server or apt
# cannot hang the test.
set -u

port=${1:?usage: redis_cli.sh PORT}

skip() {
    echo "redis_cli.sh: skipped: $*" >&2
    exit 77
}

if ! command -v redis-cli >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || skip "redis-cli is missing and there is no apt-get"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || skip "redis-cli is missing, not root and no sudo"
        sudo="sudo -n"
    fi
    echo "redis_cli.sh: installing redis-tools (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! timeout 120 $sudo apt-get install -y -q redis-tools >/dev/null 2>&1; then
        timeout 120 $sudo apt-get update -q >/dev/null 2>&1 || skip "apt-get update failed"
        timeout 120 $sudo apt-get install -y -q redis-tools >/dev/null 2>&1 \
            || skip "apt-get install -y redis-tools failed"
    fi
    command -v redis-cli >/dev/null 2>&1 || skip "redis-tools installed no redis-cli"
fi

# --no-raw: the formatted replies a terminal shows ((integer) 1, 1) "a"),
# also on a pipe. One connection for the whole session (MULTI/EXEC needs
# it); redis-cli answers QUIT itself in this mode, so QUIT is sent on a
# connection of its own below.
cli() {
    timeout 20 redis-cli -h 127.0.0.1 -p "$port" --no-raw "$@"
}

cli <<'EOF' || exit $?
PING
PING "hello world"
SET greeting hello
GET greeting
GET absent
SET greeting again NX
SET fresh value XX
MSET user:1 ada user:2 grace user:3 barbara
MGET user:1 user:2 absent user:3
INCR counter
INCR counter
INCR greeting
MULTI
SET inside 1
INCR inside
GET inside
EXEC
EXEC
SCAN 0 MATCH user:* COUNT 100
SCAN 0 COUNT 2
SCAN 1 COUNT 10
DBSIZE
DEL user:1 user:2 absent
EXISTS user:1 user:3
DBSIZE
GETX greeting
INFO server
EOF
cli QUIT
