//! tern: replicate file trees by diffing manifests, sending only the chunks a destination lacks.
//!
//! The data flows one way, each step a module that owns one thing:
//!
//! ```text
//! scan (source walk) ──> Manifest(src) ─┐
//!                                       ├─> plan (pure diff) ─┬─> report (tern plan)
//! Transport::read_manifest ─────────────┘                     └─> transfer ─> Transport ─> commit
//! ```
//!
//! `cli` parses, `config` resolves and validates, `app` runs and decides the exit status (via
//! `exit`). The core modules never import clap.

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
pub mod timefmt;
pub mod transfer;
pub mod transport;
