//! Running one job: scan its source once, replicate to every destination in parallel (each with
//! its own plan, retries and outcome), record the history, and run the job's hooks.
//!
//! Used by `tern run` and by the daemon; both go through [`crate::sync`], the one sync path.

use crate::schedule::health;
use crate::schedule::history::{self, Outcome, Record};
use crate::schedule::jobfile::{Job, TwoWayJob};
use crate::schedule::log::Logger;
use crate::sync::spec::Destination;
use crate::sync::twoway::{self, TwoWaySpec};
use crate::sync::{self, OnChange, SyncError};
use crate::transport::TransportError;
use crate::tree::scan::{Scan, scan};
use crate::util::progress::Progress;
use crate::util::timefmt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Run `job` now. `trigger` says why (`manual`, `schedule`, `catch-up`). Returns one record per
/// destination, already appended to the history at `history_file`.
pub fn run_job(
    job: &Job,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
    history_file: &Path,
) -> Vec<Record> {
    let name = Some(job.name.as_str());
    let started = SystemTime::now();
    let clock = Instant::now();
    log.info(
        name,
        None,
        &format!("run started ({trigger}), {} destinations", job.destinations.len()),
    );
    let ping = |event, body: &str| {
        if let Some(url) = &job.healthcheck_url
            && let Err(e) = health::ping(url, event, body)
        {
            log.warn(name, None, &e);
        }
    };
    ping(health::Event::Start, &format!("{} run started ({trigger})", job.name));
    let records: Vec<Record> = if let Some(two_way) = job.two_way {
        two_way_records(job, two_way, trigger, cancel, log)
    } else {
        one_way_records(job, trigger, cancel, log, started, clock)
    };
    finish(job, records, history_file, log, ping)
}

/// Scan the source once and replicate it to every destination in parallel.
fn one_way_records(
    job: &Job,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
    started: SystemTime,
    clock: Instant,
) -> Vec<Record> {
    let name = Some(job.name.as_str());
    match scan(&job.source, &job.scan_options(), &Progress::hidden()) {
        Err(e) => {
            log.error(name, None, &format!("{e:#}"));
            let failed = |(d, _): &(String, _)| {
                failed_record(job, d, trigger, started, clock.elapsed(), e.to_string())
            };
            job.destinations.iter().map(failed).collect()
        }
        Ok(scanned) => {
            for issue in &scanned.issues {
                log.warn(
                    name,
                    None,
                    &format!(
                        "cannot read {}: {}; its destination copies are kept",
                        issue.path.display(),
                        issue.message
                    ),
                );
            }
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..job.destinations.len())
                    .map(|i| {
                        let scanned = &scanned;
                        s.spawn(move || sync_destination(job, i, scanned, trigger, cancel, log))
                    })
                    .collect();
                handles
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| {
                        h.join().unwrap_or_else(|_| {
                            let d = &job.destinations[i].0;
                            let error = "internal error: the sync thread panicked".to_string();
                            failed_record(job, d, trigger, started, clock.elapsed(), error)
                        })
                    })
                    .collect()
            })
        }
    }
}

/// Record the run, ping the health check with its outcome, run the hooks.
fn finish(
    job: &Job,
    records: Vec<Record>,
    history_file: &Path,
    log: &Logger,
    ping: impl Fn(health::Event, &str),
) -> Vec<Record> {
    let name = Some(job.name.as_str());
    if let Err(e) = history::append(history_file, &records) {
        log.error(name, None, &format!("cannot record history in {}: {e}", history_file.display()));
    }
    let summary: Vec<String> = records
        .iter()
        .map(|r| {
            let error = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            format!("{}: {}{error}", r.destination, r.outcome.name())
        })
        .collect();
    let event = if records.iter().all(|r| r.outcome.is_ok()) {
        health::Event::Success
    } else {
        health::Event::Failure
    };
    ping(event, &summary.join("\n"));
    for r in &records {
        let hook = if r.outcome.is_ok() { &job.on_success } else { &job.on_failure };
        if let Some(cmd) = hook {
            run_hook(cmd, r, log);
        }
    }
    records
}

/// A two-way job: the source and its destination, or (mesh) the source as the hub and each
/// destination in turn, then again all but the last, so a change made at any replica reaches
/// every other. One record per destination: its last pair run's outcome, with the counts of
/// both.
fn two_way_records(
    job: &Job,
    two_way: TwoWayJob,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
) -> Vec<Record> {
    let n = job.destinations.len();
    let mut records: Vec<Option<Record>> = vec![None; n];
    let second = if two_way.mesh { n.saturating_sub(1) } else { 0 };
    for i in (0..n).chain(0..second) {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let mut rec = two_way_pair(job, two_way, i, trigger, cancel, log);
        // A replica's second pass adds to its first: the record counts what both did.
        if let Some(first) = records[i].take() {
            rec.created += first.created;
            rec.updated += first.updated;
            rec.deleted += first.deleted;
            rec.bytes_sent += first.bytes_sent;
            rec.attempts += first.attempts;
            rec.started = first.started;
            rec.duration_ms += first.duration_ms;
        }
        records[i] = Some(rec);
    }
    records.into_iter().flatten().collect()
}

/// One two-way run between the job's source and its destination `i`, retried as a one-way
/// sync is.
fn two_way_pair(
    job: &Job,
    two_way: TwoWayJob,
    i: usize,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
) -> Record {
    let spec = TwoWaySpec {
        a: Destination::Local(job.source.clone()),
        b: job.destinations[i].1.clone(),
        scan: job.scan_options(),
        cache: true,
        ssh: job.ssh.clone(),
        policy: two_way.policy,
        keep_trash: job.keep_trash,
    };
    let dest_name = job.destinations[i].0.as_str();
    let (name, dest) = (Some(job.name.as_str()), Some(dest_name));
    let attempt =
        |run_id: &str| twoway::sync(&spec, &job.guards, run_id, cancel, &Progress::hidden());
    let (result, mut rec) = with_retries(job, dest_name, trigger, cancel, log, attempt);
    match result {
        Ok(run) => {
            let (p, applied) = (&run.plan, &run.applied);
            for plan in [&p.to_a, &p.to_b] {
                rec.created += plan.stats.created;
                rec.updated += plan.stats.updated;
                rec.deleted += plan.stats.deleted;
            }
            rec.bytes_sent = applied.each().map(|a| a.bytes_sent).sum();
            let skipped: usize = applied.each().map(|a| a.skipped.len()).sum();
            for c in &p.reconciled.conflicts {
                log.warn(name, dest, &format!("conflict: {c}"));
            }
            for (side, issue) in &p.issues {
                log.warn(name, dest, &twoway::issue_line(*side, issue));
            }
            if skipped > 0 || !p.issues.is_empty() {
                rec.outcome = Outcome::Partial;
                let unreadable = p.issues.len();
                rec.error =
                    Some(format!("{unreadable} entries unreadable, {skipped} files skipped"));
            }
            log.info(
                name,
                dest,
                &format!(
                    "two-way {}: {} created, {} updated, {} deleted, {} conflicts, {} bytes sent in {:.2}s",
                    rec.outcome.name(),
                    rec.created,
                    rec.updated,
                    rec.deleted,
                    p.reconciled.conflicts.len(),
                    rec.bytes_sent,
                    rec.duration_ms as f64 / 1000.0
                ),
            );
        }
        Err(e) => failed_outcome(&mut rec, e, log, name, dest),
    }
    rec
}

/// Run `attempt` (given the run's id) until it succeeds, fails for good, or has used the job's
/// retries on transient errors, waiting out a doubling delay between tries; a wait that
/// `cancel` cuts short ends the run as interrupted. Returns the outcome and the destination's
/// record, counted as a success so far, with its times and attempts.
fn with_retries<T>(
    job: &Job,
    dest_name: &str,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
    mut attempt: impl FnMut(&str) -> Result<T, SyncError>,
) -> (Result<T, SyncError>, Record) {
    let (name, dest) = (Some(job.name.as_str()), Some(dest_name));
    let started = SystemTime::now();
    let clock = Instant::now();
    let run_id = timefmt::run_id(started);
    let mut attempts = 0u32;
    let result = loop {
        attempts += 1;
        let e = match attempt(&run_id) {
            Err(e) => e,
            done => break done,
        };
        if !e.is_transient() || attempts > job.retries {
            break Err(e);
        }
        let delay = job.retry_delay.saturating_mul(1 << (attempts - 1).min(16));
        log.warn(
            name,
            dest,
            &format!(
                "attempt {attempts} failed: {}; retrying in {}s",
                e.one_line(),
                delay.as_secs()
            ),
        );
        if !sleep_unless(cancel, delay) {
            let interrupted = Box::new(TransportError::Interrupted);
            break Err(SyncError::Transport { dest: dest_name.into(), source: interrupted });
        }
    };
    let mut rec = Record::new(
        &job.name,
        dest_name,
        trigger,
        started,
        SystemTime::now(),
        clock.elapsed(),
        Outcome::Success,
    );
    rec.attempts = attempts;
    (result, rec)
}

/// Record a failed run: refused, interrupted or failed, with its error.
fn failed_outcome(
    rec: &mut Record,
    e: SyncError,
    log: &Logger,
    name: Option<&str>,
    dest: Option<&str>,
) {
    rec.outcome = match &e {
        SyncError::Refused(_) => Outcome::Refused,
        SyncError::Transport { source, .. } if matches!(**source, TransportError::Interrupted) => {
            Outcome::Interrupted
        }
        _ => Outcome::Failed,
    };
    let msg = e.one_line();
    log.error(name, dest, &format!("{}: {msg}", rec.outcome.name()));
    rec.error = Some(msg);
}

/// The record of a destination that failed before its sync could start, ending now.
fn failed_record(
    job: &Job,
    dest: &str,
    trigger: &str,
    started: SystemTime,
    took: Duration,
    error: String,
) -> Record {
    let now = SystemTime::now();
    let failed = Record::new(&job.name, dest, trigger, started, now, took, Outcome::Failed);
    Record { error: Some(error), ..failed }
}

/// Sleep `d`, waking early if `cancel` is set. Returns false when cancelled.
fn sleep_unless(cancel: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
    }
    !cancel.load(Ordering::Relaxed)
}

/// Replicate to destination `i`, retrying transient failures with exponential backoff.
fn sync_destination(
    job: &Job,
    i: usize,
    scanned: &Scan,
    trigger: &str,
    cancel: &AtomicBool,
    log: &Logger,
) -> Record {
    let spec = job.spec(i);
    let dest_name = job.destinations[i].0.as_str();
    let (name, dest) = (Some(job.name.as_str()), Some(dest_name));
    let attempt = |run_id: &str| {
        let mut transport = sync::open(&spec)?;
        let planned = sync::plan_for(&spec, scanned, transport.as_mut())?;
        let hidden = Progress::hidden();
        sync::apply_planned(
            &spec,
            &scanned.issues,
            transport.as_mut(),
            planned,
            OnChange::Replan,
            run_id,
            cancel,
            &hidden,
        )
    };
    let (result, mut rec) = with_retries(job, dest_name, trigger, cancel, log, attempt);
    match result {
        Ok(synced) => {
            let s = &synced.planned.plan.stats;
            rec.created = s.created;
            rec.updated = s.updated;
            rec.deleted = s.deleted;
            let skipped = synced.applied.as_ref().map_or(0, |a| a.skipped.len());
            rec.bytes_sent = synced.applied.as_ref().map_or(0, |a| a.bytes_sent);
            let unkept = synced.applied.as_ref().map(|a| &a.commit.unkept);
            if let Some(w) = unkept.and_then(|u| u.warning(&spec.dest.to_string())) {
                log.warn(name, dest, &w);
            }
            if !scanned.issues.is_empty() || skipped > 0 {
                rec.outcome = Outcome::Partial;
                rec.error = Some(format!(
                    "{} source entries unreadable, {skipped} files skipped",
                    scanned.issues.len()
                ));
            }
            log.info(
                name,
                dest,
                &format!(
                    "{}: {} created, {} updated, {} deleted, {} bytes sent in {:.2}s",
                    rec.outcome.name(),
                    rec.created,
                    rec.updated,
                    rec.deleted,
                    rec.bytes_sent,
                    rec.duration_ms as f64 / 1000.0
                ),
            );
        }
        Err(e) => failed_outcome(&mut rec, e, log, name, dest),
    }
    rec
}

/// Run a hook with the run's facts in its environment; its failure is logged, not fatal.
fn run_hook(cmd: &str, r: &Record, log: &Logger) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("TERN_JOB", &r.job)
        .env("TERN_DESTINATION", &r.destination)
        .env("TERN_OUTCOME", r.outcome.name())
        .env("TERN_TRIGGER", &r.trigger)
        .env("TERN_STARTED", &r.started)
        .env("TERN_ENDED", &r.ended)
        .env("TERN_DURATION_MS", r.duration_ms.to_string())
        .env("TERN_CREATED", r.created.to_string())
        .env("TERN_UPDATED", r.updated.to_string())
        .env("TERN_DELETED", r.deleted.to_string())
        .env("TERN_BYTES_SENT", r.bytes_sent.to_string())
        .env("TERN_ERROR", r.error.as_deref().unwrap_or(""))
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            log.warn(Some(&r.job), Some(&r.destination), &format!("hook `{cmd}` exited with {s}"))
        }
        Err(e) => log.warn(
            Some(&r.job),
            Some(&r.destination),
            &format!("hook `{cmd}` could not run: {e}"),
        ),
    }
}
