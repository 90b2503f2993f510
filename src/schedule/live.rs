//! A watch job (`mode = "watch"`) in the daemon: [`crate::watch::watch`] on a thread of its own
//! from the daemon's start, each batch logged, the batches that changed something (and every
//! failure) recorded in the run history, and the watch's state kept in a small JSON file beside
//! the history for `tern status` (watching or scanning, since when, the last batch and its lag).

use crate::schedule::history::{self, Outcome, Record};
use crate::schedule::jobfile::Job;
use crate::schedule::log::Logger;
use crate::sync::SyncError;
use crate::util::progress::Progress;
use crate::util::timefmt;
use crate::watch::kernel::Signal;
use crate::watch::{self, Report, WatchError, WatchOptions};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, SystemTime};

/// A watch job's state, as `tern status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    /// `scanning`, `watching`, `stopped` or `failed`.
    pub state: String,
    /// When it entered that state (RFC 3339 UTC).
    pub since: String,
    /// Entries in the source at the last scan.
    pub entries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_batch: Option<LastBatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last batch that changed a destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastBatch {
    pub at: String,
    pub destination: String,
    /// Paths the kernel named (0: a whole scan).
    pub paths: usize,
    /// Entries created, updated, deleted or with new metadata.
    pub changes: u64,
    pub bytes_sent: u64,
    /// From the batch's oldest change to its commit.
    pub lag_ms: u64,
}

/// Where the state of watch job `job` is kept: beside the history file.
pub fn state_path(history: &Path, job: &str) -> PathBuf {
    history.with_file_name(format!("watch-{job}.json"))
}

/// The state of watch job `job`, if it has run.
pub fn read_state(history: &Path, job: &str) -> Option<WatchState> {
    let text = std::fs::read_to_string(state_path(history, job)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_state(history: &Path, job: &str, state: &WatchState) {
    let Ok(text) = serde_json::to_vec(state) else { return };
    let path = state_path(history, job);
    // Best effort, as the history: a status file never fails a watch.
    let _ = path.parent().map(std::fs::create_dir_all);
    let _ = crate::tree::manifest::write_replacing(&path, &text, false);
}

/// The options of `job`'s watch: its delay, and its schedule (if any) for whole passes.
pub fn options(job: &Job, delay: Duration) -> WatchOptions {
    let mut opts = WatchOptions::with_delay(delay);
    if let Some(schedule) = job.schedule.clone() {
        opts.full_passes = Some(Arc::new(move |t: SystemTime| {
            schedule.next_after(t.into()).map(SystemTime::from)
        }));
    }
    opts
}

/// Watch `job` until [`Signal::Stop`] comes on `chan`; `recorded` is called after each record
/// added to the history (the daemon rewrites its metrics then).
pub fn run(
    job: &Job,
    delay: Duration,
    chan: (Sender<Signal>, Receiver<Signal>),
    cancel: &AtomicBool,
    log: &Logger,
    history_file: &Path,
    recorded: &dyn Fn(),
) -> Result<(), WatchError> {
    let specs: Vec<_> = (0..job.destinations.len()).map(|i| job.spec(i)).collect();
    let name = Some(job.name.as_str());
    let mut state = WatchState { state: "scanning".into(), since: now(), ..Default::default() };
    write_state(history_file, &job.name, &state);
    let mut report = |r: Report<'_>| match r {
        Report::Scanning { reason } => {
            log.info(name, None, &format!("scanning the source whole: {reason}"));
        }
        Report::Watching { entries } => {
            log.info(name, None, &format!("watching {} ({entries} entries)", job.source.display()));
            state = WatchState { state: "watching".into(), since: now(), entries, ..state.clone() };
            write_state(history_file, &job.name, &state);
        }
        Report::Synced { dest, synced, paths, lag } => {
            let Some(applied) = &synced.applied else { return };
            let s = &synced.planned.plan.stats;
            let changes = s.created + s.updated + s.deleted + s.metadata + s.replaced;
            let ended = SystemTime::now();
            let mut rec =
                Record::new(&job.name, dest, "watch", ended - lag, ended, lag, Outcome::Success);
            (rec.created, rec.updated, rec.deleted) = (s.created, s.updated, s.deleted);
            rec.bytes_sent = applied.bytes_sent;
            rec.attempts = 1;
            let _ = history::append(history_file, &[rec]);
            recorded();
            if let Some(w) = applied.commit.unkept.warning(dest) {
                log.warn(name, Some(dest), &w);
            }
            log.info(
                name,
                Some(dest),
                &format!(
                    "batch of {paths} paths: {} created, {} updated, {} deleted, {} bytes sent, {:.2}s after the change",
                    s.created, s.updated, s.deleted, applied.bytes_sent, lag.as_secs_f64()
                ),
            );
            state.last_batch = Some(LastBatch {
                at: now(),
                destination: dest.to_string(),
                paths,
                changes,
                bytes_sent: applied.bytes_sent,
                lag_ms: lag.as_millis() as u64,
            });
            write_state(history_file, &job.name, &state);
        }
        Report::Failed { dest, error, retry_in } => {
            let msg = error.one_line();
            let again =
                retry_in.map_or(String::new(), |w| format!("; trying again in {}s", w.as_secs()));
            log.error(name, Some(dest), &format!("{msg}{again}"));
            let t = SystemTime::now();
            let outcome = match error {
                SyncError::Refused(_) => Outcome::Refused,
                _ => Outcome::Failed,
            };
            let rec = Record {
                error: Some(msg),
                ..Record::new(&job.name, dest, "watch", t, t, Duration::ZERO, outcome)
            };
            let _ = history::append(history_file, &[rec]);
            recorded();
        }
    };
    let hidden = Progress::hidden();
    let result = watch::watch(&specs, &options(job, delay), chan, cancel, &hidden, &mut report);
    state.since = now();
    match &result {
        Ok(()) => state.state = "stopped".into(),
        Err(e) => {
            state.state = "failed".into();
            state.error = Some(e.to_string());
        }
    }
    write_state(history_file, &job.name, &state);
    result
}

fn now() -> String {
    timefmt::rfc3339(SystemTime::now())
}
