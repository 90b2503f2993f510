//! tern: replicate file trees by diffing manifests, sending only the chunks a destination lacks.
//!
//! The data flows one way, and each folder is one stage or one concern of it (the full tour is
//! `docs/architecture.md`):
//!
//! ```text
//! tree::scan ─> Manifest(src) ─┐
//!                              ├─> plan (pure) + plan::guard ─┬─> report            (tern plan)
//! Transport::read_manifest ────┘                              └─> sync::transfer ─> Transport
//! schedule::cron (pure) ─> schedule::daemon ─> schedule::run ─> sync (the one sync path)
//! watch::kernel ─> watch::batch (pure) ─> tree::scan::scan_within ─> sync (per batch)
//! ```
//!
//! The folders, lowest first; a module imports only from its own folder or from folders above
//! it in this list (the `architecture` integration test checks it):
//!
//! - [`util`], [`exit`]: helpers with no dependencies inside the crate; every exit status;
//! - [`tree`]: paths, hashes, chunks, manifests and their formats, the source scan;
//! - [`plan`]: pure functions from two manifests to a plan; deltas, guards, saved plans;
//! - [`transport`]: the destination interface and a directory on this machine;
//! - [`remote`]: another machine over SSH: the session, the wire protocol, client and agent,
//!   the SFTP fallback;
//! - [`sync`]: what one sync is asked to do, and the one sync path that executes a plan;
//! - [`watch`]: real-time replication: kernel events batched into partial scans, each synced;
//! - [`report`], [`schedule`]: rendering plans and runs; jobs, cron times and the daemon;
//! - [`cli`], [`app`]: clap types and generated docs; resolving them and running a command.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod exit;
pub mod plan;
pub mod remote;
pub mod report;
pub mod schedule;
pub mod sync;
pub mod transport;
pub mod tree;
pub mod util;
pub mod watch;
