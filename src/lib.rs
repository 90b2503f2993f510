//! tern: replicate file trees by diffing manifests, sending only the chunks a destination lacks.
//!
//! The data flows one way, each step a module that owns one thing:
//!
//! ```text
//! scan (source walk + hash cache) ─> Manifest(src) ─┐
//!                                                   ├─> plan (pure diff) + guard ─┬─> report (tern plan)
//! Transport::read_manifest ─────────────────────────┘                             └─> transfer ─> Transport ─> commit
//! schedule (pure cron) ─> daemon ─> runner ─> engine (the one sync path)
//! ```
//!
//! - `cli` parses, `config`/`jobs` resolve and validate, `app` runs and decides the exit status
//!   (via `exit`); the core modules never import clap.
//! - `engine` is the one sync path used by `sync`, `apply`, `run` and the daemon.
//! - `transport` is the destination interface: `local` (the crash-safe writer, also used by the
//!   remote agent), `ssh` (libssh2 + agent, with `known_hosts`), `sftp` (fallback).
//! - `remote` is the wire protocol and the agent; `delta` the manifest deltas it commits.
//! - `manifest`, `chunk`, `hash`, `path`, `codec` are the data types and their encodings;
//!   `saved` is the saved-plan format; `sorted` the keep-the-last-report rule; `maintain`
//!   verify/trash/undo; `history` and `log` the daemon's records.

#![forbid(unsafe_code)]

pub mod app;
pub mod chunk;
pub mod cli;
pub mod codec;
pub mod config;
pub mod daemon;
pub mod delta;
pub mod engine;
pub mod exit;
pub mod failpoint;
pub mod filter;
pub mod guard;
pub mod hash;
pub mod history;
pub mod jobs;
pub mod log;
pub mod maintain;
pub mod manifest;
pub mod path;
pub mod plan;
pub mod remote;
pub mod report;
pub mod runner;
pub mod saved;
pub mod scan;
pub mod schedule;
pub mod sorted;
pub mod store;
pub mod timefmt;
pub mod transfer;
pub mod transport;
