//! `tern daemon`: every scheduled job on its cron schedule, and every watch job watched, until
//! SIGTERM or SIGINT.
//!
//! A watch job (`mode = "watch"`) runs [`crate::schedule::live`] on a blocking thread from the
//! daemon's start; stopping the daemon (or a reload) sends it a stop, and one that ends with an
//! error (its source unmounted, say) is started again a minute later.
//!
//! Each job has one task on a tokio runtime. It asks [`crate::schedule::cron`] (pure) for the next
//! fire time, sleeps until then on the wall clock (in short steps, so a suspended machine or a
//! clock change is noticed), and runs the job on a blocking thread through
//! [`crate::schedule::run`], the same path as `tern run`. A job runs to completion before its next
//! time is computed, so runs never overlap; fire times that pass meanwhile are recorded as skipped.
//! Why not tokio-cron-scheduler: see `docs/decisions.md`.
//!
//! Signals: SIGTERM/SIGINT stop scheduling, give running jobs a grace period, then stop their
//! transfers at the next file (before any commit) and exit 0. SIGHUP reloads the job file; a bad
//! file is reported and the old jobs keep running.

use crate::exit::Status;
use crate::schedule::history::{self, Outcome, Record};
use crate::schedule::jobfile::{self, Job, JobFile};
use crate::schedule::log::Logger;
use crate::schedule::run;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long running jobs may go on after SIGTERM before their transfers are stopped.
const GRACE: Duration = Duration::from_secs(3);
/// Longest single sleep while waiting for a fire time: the wall clock is re-read this often.
const TICK: Duration = Duration::from_secs(5);

/// Where the daemon finds its jobs and keeps its history.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub history: PathBuf,
    pub log: Logger,
    /// The metrics of the loaded job file, if it names a file or they are served.
    pub metrics: Option<Arc<Metrics>>,
    /// `--metrics-listen`: where to serve the metrics over HTTP.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The jobs' metrics, rendered again when a run starts and when it ends: into the job file's
/// `metrics_file`, and for the `--metrics-listen` server.
#[derive(Debug)]
pub struct Metrics {
    file: Option<PathBuf>,
    served: Option<crate::schedule::metrics::Latest>,
    jobs: Vec<Job>,
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Metrics {
    /// Mark `job` running or not, and write the metrics again from `history`. A file that cannot
    /// be written is a warning in the log; the jobs go on.
    fn update(&self, job: Option<&str>, running: bool, history: &Path, log: &Logger) {
        let text = {
            let mut set = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(job) = job {
                if running {
                    set.insert(job.to_string());
                } else {
                    set.remove(job);
                }
            }
            let records = history::read(history).unwrap_or_default();
            crate::schedule::metrics::render(&self.jobs, &records, &set)
        };
        if let Some(file) = &self.file
            && let Err(e) = crate::tree::manifest::write_atomic(file, text.as_bytes())
        {
            let msg = format!("cannot write the metrics file {}: {e}", file.display());
            log.warn(job, None, &msg);
        }
        if let Some(served) = &self.served {
            *served.lock().unwrap_or_else(|e| e.into_inner()) = text;
        }
    }
}

/// Run until a terminating signal.
pub fn run(opts: Options) -> anyhow::Result<Status> {
    let file = jobfile::load(&opts.config)?;
    let served = crate::schedule::metrics::Latest::default();
    let server = match opts.metrics_listen {
        Some(addr) => Some(crate::schedule::metrics::serve(addr, served.clone())?),
        None => None,
    };
    if let Some(s) = &server {
        opts.log.info(None, None, &format!("metrics at http://{}/metrics", s.addr));
    }
    // One thread suffices for the timers and signals; runs go to blocking threads.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = rt.block_on(main_loop(file, opts, server.is_some().then_some(served)));
    // Jobs still on blocking threads were told to stop; do not wait for them forever.
    rt.shutdown_timeout(Duration::from_secs(5));
    status
}

async fn main_loop(
    mut file: JobFile,
    opts: Options,
    served: Option<crate::schedule::metrics::Latest>,
) -> anyhow::Result<Status> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let cancel = Arc::new(AtomicBool::new(false));
    let mut startup = true;
    let mut opts = opts;
    loop {
        opts.metrics = (file.metrics_file.is_some() || served.is_some()).then(|| {
            Arc::new(Metrics {
                file: file.metrics_file.clone(),
                served: served.clone(),
                jobs: file.jobs.clone(),
                running: Default::default(),
            })
        });
        if let Some(m) = &opts.metrics {
            m.update(None, false, &opts.history, &opts.log);
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let scheduled: Vec<&Job> = file
            .jobs
            .iter()
            .filter(|j| j.watch.is_none() && (j.schedule.is_some() || j.at_start))
            .collect();
        let watched: Vec<&Job> = file.jobs.iter().filter(|j| j.watch.is_some()).collect();
        opts.log.info(
            None,
            None,
            &format!(
                "daemon running {} scheduled and {} watch jobs from {}",
                scheduled.len(),
                watched.len(),
                file.path.display()
            ),
        );
        for job in watched {
            tasks.spawn(watch_loop(job.clone(), stop_rx.clone(), cancel.clone(), opts.clone()));
        }
        for job in scheduled {
            tasks.spawn(job_loop(
                job.clone(),
                stop_rx.clone(),
                cancel.clone(),
                opts.clone(),
                startup,
            ));
        }
        startup = false;
        loop {
            tokio::select! {
                _ = term.recv() => return shutdown(&opts, stop_tx, tasks, &cancel, "SIGTERM").await,
                _ = int.recv() => return shutdown(&opts, stop_tx, tasks, &cancel, "SIGINT").await,
                _ = hup.recv() => match jobfile::load(&opts.config) {
                    Ok(new) => {
                        opts.log.info(None, None, "SIGHUP: reloading the job file; running jobs finish first");
                        let _ = stop_tx.send(true);
                        while tasks.join_next().await.is_some() {}
                        file = new;
                        break;
                    }
                    Err(e) => {
                        for line in e.to_string().lines() {
                            opts.log.error(None, None, &format!("SIGHUP: {line}; keeping the jobs already loaded"));
                        }
                    }
                },
            }
        }
    }
}

async fn shutdown(
    opts: &Options,
    stop_tx: watch::Sender<bool>,
    mut tasks: JoinSet<()>,
    cancel: &AtomicBool,
    why: &str,
) -> anyhow::Result<Status> {
    opts.log.info(None, None, &format!("{why}: stopping; no new runs will start"));
    let _ = stop_tx.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drain).await.is_err() {
        opts.log.info(
            None,
            None,
            "stopping running transfers before their commit (safe: nothing half-written)",
        );
        cancel.store(true, Ordering::Relaxed);
        let drain = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    }
    opts.log.info(None, None, "stopped");
    Ok(Status::Success)
}

/// When `job` last started a run (from the history), if ever.
fn last_run(history_file: &Path, job: &str) -> Option<DateTime<Utc>> {
    history::read(history_file)
        .ok()?
        .iter()
        .rev()
        .filter(|r| r.job == job && r.outcome != Outcome::Skipped)
        .find_map(|r| DateTime::parse_from_rfc3339(&r.started).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Sleep until `until` on the wall clock; false if told to stop first.
async fn sleep_until(until: DateTime<Utc>, stop: &mut watch::Receiver<bool>) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        let now = Utc::now();
        if now >= until {
            return true;
        }
        let wait = (until - now).to_std().unwrap_or_default().min(TICK);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return false,
        }
    }
}

async fn run_now(job: &Job, trigger: &'static str, cancel: &Arc<AtomicBool>, opts: &Options) {
    let (job, cancel, log, history) = (job.clone(), cancel.clone(), opts.log, opts.history.clone());
    let metrics = opts.metrics.clone();
    let run = tokio::task::spawn_blocking(move || {
        let name = Some(job.name.as_str());
        if let Some(m) = &metrics {
            m.update(name, true, &history, &log);
        }
        let records = run::run_job(&job, trigger, &cancel, &log, &history);
        if let Some(m) = &metrics {
            m.update(name, false, &history, &log);
        }
        records
    });
    if let Err(e) = run.await {
        opts.log.error(None, None, &format!("a job run failed to finish: {e}"));
    }
}

/// How long a watch job that ended with an error waits before it is started again.
const WATCH_RESTART: Duration = Duration::from_secs(60);

/// A watch job, until the daemon stops or reloads: watched on a blocking thread, told to stop
/// through its channel, started again after an error.
async fn watch_loop(
    job: Job,
    mut stop: watch::Receiver<bool>,
    cancel: Arc<AtomicBool>,
    opts: Options,
) {
    let Some(delay) = job.watch else { return };
    let name = Some(job.name.as_str());
    loop {
        let (tx, rx) = crate::watch::channel();
        let stopper = tx.clone();
        let (j, c, log, history) = (job.clone(), cancel.clone(), opts.log, opts.history.clone());
        let metrics = opts.metrics.clone();
        let mut running = tokio::task::spawn_blocking(move || {
            // Watched is running, for the metrics; they are written again after each batch.
            let update = |running: bool| {
                if let Some(m) = &metrics {
                    m.update(Some(j.name.as_str()), running, &history, &log);
                }
            };
            update(true);
            let watched =
                crate::schedule::live::run(&j, delay, (tx, rx), &c, &log, &history, &|| {
                    update(true)
                });
            update(false);
            watched
        });
        let ended = tokio::select! {
            ended = &mut running => ended,
            _ = stop.changed() => {
                let _ = stopper.send(crate::watch::kernel::Signal::Stop);
                let _ = running.await;
                return;
            }
        };
        match ended {
            Ok(Ok(())) => return,
            Ok(Err(e)) => opts.log.error(
                name,
                None,
                &format!("the watch ended: {e}; starting it again in {}s", WATCH_RESTART.as_secs()),
            ),
            Err(e) => opts.log.error(name, None, &format!("the watch failed to finish: {e}")),
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_RESTART) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn job_loop(
    job: Job,
    mut stop: watch::Receiver<bool>,
    cancel: Arc<AtomicBool>,
    opts: Options,
    startup: bool,
) {
    if job.at_start {
        // `@reboot`: once when the daemon starts, not again when the job file is reloaded.
        if startup {
            run_now(&job, "start", &cancel, &opts).await;
        }
        return;
    }
    let Some(schedule) = job.schedule.clone() else { return };
    let name = Some(job.name.as_str());
    let mut after = Utc::now();
    if startup
        && job.catch_up
        && let Some(last) = last_run(&opts.history, &job.name)
        && schedule.due_between(last, after)
    {
        // Missed while the daemon was down: run once now, never a burst.
        opts.log.info(
            name,
            None,
            "a scheduled run was missed while the daemon was down; running it now",
        );
        run_now(&job, "catch-up", &cancel, &opts).await;
        after = Utc::now();
    }
    loop {
        let Some(next) = schedule.next_after(after) else {
            opts.log.info(name, None, "the schedule has no future fire times");
            return;
        };
        if !sleep_until(next, &mut stop).await {
            return;
        }
        if !job.jitter.is_zero() {
            let extra = Duration::from_millis(fastrand::u64(0..=job.jitter.as_millis() as u64));
            let until = Utc::now() + chrono::Duration::from_std(extra).unwrap_or_default();
            if !sleep_until(until, &mut stop).await {
                return;
            }
        }
        run_now(&job, "schedule", &cancel, &opts).await;
        if *stop.borrow() {
            return;
        }
        let ended = Utc::now();
        // No overlap: fire times that passed during the run are skipped, and recorded.
        let mut missed = 0u32;
        let mut t = next;
        while let Some(n) = schedule.next_after(t) {
            if n > ended {
                break;
            }
            missed += 1;
            t = n;
        }
        if missed > 0 {
            let msg =
                format!("{missed} scheduled runs skipped: the previous run was still running");
            opts.log.warn(name, None, &msg);
            let now = std::time::SystemTime::now();
            let records: Vec<Record> = job
                .destinations
                .iter()
                .map(|(d, _)| {
                    let skipped = Outcome::Skipped;
                    let r =
                        Record::new(&job.name, d, "schedule", now, now, Duration::ZERO, skipped);
                    Record { error: Some(msg.clone()), ..r }
                })
                .collect();
            let _ = history::append(&opts.history, &records);
        }
        after = ended;
    }
}
