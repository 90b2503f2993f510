//! Jobs and their schedules: the job file, cron times, running a job, and the daemon.
//!
//! A *job* names a source, its destinations and their options; running it scans the source once
//! and syncs it to each destination through the one sync path ([`crate::sync`]). The rooms,
//! lowest first:
//!
//! - [`cron`]: cron expressions and time zones to next fire times (pure);
//! - [`jobfile`]: the TOML job file, parsed and validated into [`jobfile::Job`]s;
//! - [`health`]: pings of a job's `healthcheck_url` when a run starts, succeeds or fails;
//! - [`history`], [`log`]: the run history (JSON lines) and the daemon's log lines;
//! - [`run`]: one run of one job (`tern run` and every daemon firing): scan, sync each
//!   destination with retries, record, hooks;
//! - [`live`]: a watch job (`mode = "watch"`): replicated as it changes, from the daemon's start;
//! - [`metrics`]: the jobs' Prometheus metrics, rendered from the history (pure);
//! - [`daemon`]: every scheduled job on its schedule until a signal stops it.

pub mod cron;
pub mod daemon;
pub mod health;
pub mod history;
pub mod jobfile;
pub mod live;
pub mod log;
pub mod metrics;
pub mod run;
