//! Chapter 11 — the server: the Redis protocol. (Work in progress on the
//! `ch11` branch: see /tmp/brief/ch11plan.md.)
