//! The job commands: `config check`, `jobs`, `run`, `daemon`, `status`.

use super::write_or_pipe_closed;
use crate::cli::{JobFileArg, LogFormatArg};
use crate::exit::Status;
use crate::schedule::history::{self, Outcome, Record};
use crate::schedule::jobfile::{self, JobFile};
use crate::schedule::log::{LogFormat, Logger};
use crate::schedule::{daemon, run};
use chrono::Utc;
use indicatif::HumanBytes;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

fn config_path(arg: &JobFileArg) -> PathBuf {
    arg.config.clone().unwrap_or_else(jobfile::default_path)
}

fn load(arg: &JobFileArg) -> anyhow::Result<JobFile> {
    Ok(jobfile::load(&config_path(arg))?)
}

fn logger(f: LogFormatArg) -> Logger {
    Logger { format: if f == LogFormatArg::Json { LogFormat::Json } else { LogFormat::Human } }
}

pub(super) fn config_check(arg: &JobFileArg) -> anyhow::Result<Status> {
    let path = config_path(arg);
    match jobfile::load(&path) {
        Ok(file) => {
            let watched = file.jobs.iter().filter(|j| j.watch.is_some()).count();
            let scheduled = file
                .jobs
                .iter()
                .filter(|j| j.watch.is_none() && (j.schedule.is_some() || j.at_start))
                .count();
            let n = file.jobs.len();
            let jobs = if n == 1 { "job" } else { "jobs" };
            let watched = if watched > 0 { format!(", {watched} watched") } else { String::new() };
            println!("{}: ok, {n} {jobs} ({scheduled} scheduled{watched})", path.display());
            Ok(Status::Success)
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("tern: error: {e}");
            }
            Ok(Status::Error)
        }
    }
}

pub(super) fn list_jobs(arg: &JobFileArg, next: usize) -> anyhow::Result<Status> {
    let file = load(arg)?;
    let mut out = String::new();
    let now = Utc::now();
    for job in &file.jobs {
        let _ = writeln!(out, "{}", job.name);
        let _ = writeln!(out, "  source:       {}", job.source.display());
        for (d, _) in &job.destinations {
            let _ = writeln!(out, "  destination:  {d}");
        }
        if let Some(delay) = job.watch {
            let _ = writeln!(
                out,
                "  mode:         watch (changes replicated {} ms after the tree is quiet)",
                delay.as_millis()
            );
        }
        match &job.schedule {
            Some(s) => {
                let what = if job.watch.is_some() { "whole passes" } else { "schedule" };
                let _ = writeln!(
                    out,
                    "  {:<13} {} ({}) in {}",
                    format!("{what}:"),
                    s.expr(),
                    s.describe(),
                    s.tz()
                );
                for t in s.upcoming(now, next) {
                    let _ =
                        writeln!(out, "  next:         {}", t.format("%Y-%m-%d %H:%M:%S %Z (%:z)"));
                }
            }
            None if job.at_start => {
                let _ = writeln!(out, "  schedule:     @reboot (once, when the daemon starts)");
            }
            None if job.watch.is_some() => {}
            None => {
                let _ = writeln!(out, "  schedule:     none (run it with `tern run {}`)", job.name);
            }
        }
    }
    write_or_pipe_closed(&mut std::io::stdout().lock(), out.as_bytes())?;
    Ok(Status::Success)
}

pub(super) fn run_job(
    arg: &JobFileArg,
    name: &str,
    log: LogFormatArg,
    quiet: bool,
) -> anyhow::Result<Status> {
    let file = load(arg)?;
    let Some(job) = file.job(name) else {
        let known: Vec<&str> = file.jobs.iter().map(|j| j.name.as_str()).collect();
        anyhow::bail!(
            "no job named {name:?} in {}; the jobs are: {}",
            file.path.display(),
            known.join(", ")
        );
    };
    let never = AtomicBool::new(false);
    let records = run::run_job(job, "manual", &never, &logger(log), &history::default_path());
    if !quiet {
        let mut out = String::new();
        for r in &records {
            let _ = writeln!(out, "{}", status_line(r));
        }
        write_or_pipe_closed(&mut std::io::stdout().lock(), out.as_bytes())?;
    }
    Ok(if records.iter().all(|r| r.outcome == Outcome::Success) {
        Status::Success
    } else if records.iter().all(|r| matches!(r.outcome, Outcome::Success | Outcome::Partial)) {
        Status::Partial
    } else {
        Status::Error
    })
}

fn status_line(r: &Record) -> String {
    let mut s = format!(
        "{} -> {}: {} ({}, {:.1}s)",
        r.job,
        r.destination,
        r.outcome.name(),
        counts(r),
        r.duration_ms as f64 / 1000.0
    );
    if let Some(e) = &r.error {
        let _ = write!(s, ": {e}");
    }
    s
}

/// What a run changed: `3 created, 1 updated, 0 deleted, 12.0 KiB sent`.
fn counts(r: &Record) -> String {
    format!(
        "{} created, {} updated, {} deleted, {} sent",
        r.created,
        r.updated,
        r.deleted,
        HumanBytes(r.bytes_sent)
    )
}

pub(super) fn run_daemon(
    arg: &JobFileArg,
    log: LogFormatArg,
    metrics_listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<Status> {
    daemon::run(daemon::Options {
        config: config_path(arg),
        history: history::default_path(),
        log: logger(log),
        metrics: None,
        metrics_listen,
    })
}

#[derive(Serialize)]
struct StatusRow<'a> {
    job: &'a str,
    destination: &'a str,
    last_run: Option<&'a Record>,
    next_run: Option<String>,
    /// A watch job's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    watch: Option<crate::schedule::live::WatchState>,
    /// The job's time zone, which the text shows both times in.
    #[serde(skip)]
    zone: chrono_tz::Tz,
}

pub(super) fn status(arg: &JobFileArg, json: bool) -> anyhow::Result<Status> {
    let file = load(arg)?;
    let history_file = history::default_path();
    let records = history::read(&history_file)?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for job in &file.jobs {
        let zone = job.schedule.as_ref().map_or_else(crate::schedule::cron::local_tz, |s| s.tz());
        let next_run = job
            .schedule
            .as_ref()
            .and_then(|s| Some(s.next_after(now)?.with_timezone(&s.tz()).to_rfc3339()));
        for (d, _) in &job.destinations {
            let last = records.iter().rev().find(|r| {
                r.job == job.name && &r.destination == d && r.outcome != Outcome::Skipped
            });
            rows.push(StatusRow {
                job: &job.name,
                destination: d,
                last_run: last,
                next_run: next_run.clone(),
                watch: job.watch.map(|_| {
                    crate::schedule::live::read_state(&history_file, &job.name).unwrap_or_default()
                }),
                zone,
            });
        }
    }
    let text = if json {
        let mut t = serde_json::to_string_pretty(&rows)?;
        t.push('\n');
        t
    } else {
        let mut t = String::new();
        for r in &rows {
            // Both times in the job's zone, named: the history keeps UTC, schedules are local.
            let shown = |at: &str| {
                chrono::DateTime::parse_from_rfc3339(at).map_or_else(
                    |_| at.to_string(),
                    |d| d.with_timezone(&r.zone).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
                )
            };
            let _ = writeln!(t, "{} -> {}", r.job, r.destination);
            match r.last_run {
                Some(l) => {
                    let _ = writeln!(
                        t,
                        "  last run: {} {} in {:.1}s, {}",
                        shown(&l.started),
                        l.outcome.name(),
                        l.duration_ms as f64 / 1000.0,
                        counts(l)
                    );
                    if let Some(e) = &l.error {
                        let _ = writeln!(t, "  error:    {e}");
                    }
                }
                None => {
                    let _ = writeln!(t, "  last run: never");
                }
            }
            if let Some(w) = &r.watch {
                let state = match w.state.as_str() {
                    "" => "not started (the daemon watches it)".to_string(),
                    s => format!("{s} since {}, {} entries", shown(&w.since), w.entries),
                };
                let _ = writeln!(t, "  watch:    {state}");
                if let Some(b) = &w.last_batch {
                    let _ = writeln!(
                        t,
                        "  batch:    {} to {}: {} changes, {} sent, {:.2}s after the change",
                        shown(&b.at),
                        b.destination,
                        b.changes,
                        HumanBytes(b.bytes_sent),
                        b.lag_ms as f64 / 1000.0
                    );
                }
                if let Some(e) = &w.error {
                    let _ = writeln!(t, "  error:    {e}");
                }
                if r.next_run.is_none() {
                    continue;
                }
            }
            let next = r.next_run.as_deref().map_or_else(|| "not scheduled".to_string(), shown);
            let what = if r.watch.is_some() { "next whole pass" } else { "next run" };
            let _ = writeln!(t, "  {what}: {next}");
        }
        t
    };
    write_or_pipe_closed(&mut std::io::stdout().lock(), text.as_bytes())?;
    Ok(Status::Success)
}
