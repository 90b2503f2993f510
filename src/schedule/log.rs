//! Daemon and job logs on stderr: one line per event, human-readable or JSON, with the job and
//! destination in every line.

use crate::util::timefmt;
use std::io::Write;
use std::time::SystemTime;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Writes log lines to stderr.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub format: LogFormat,
}

impl Logger {
    pub fn event(&self, level: &str, job: Option<&str>, dest: Option<&str>, msg: &str) {
        let line = match self.format {
            LogFormat::Human => {
                let mut s = format!("{} {level:<5}", timefmt::rfc3339(SystemTime::now()));
                if let Some(j) = job {
                    s.push_str(&format!(" job={j}"));
                }
                if let Some(d) = dest {
                    s.push_str(&format!(" dest={d}"));
                }
                format!("{s} {}", msg.replace('\n', "\\n"))
            }
            LogFormat::Json => serde_json::json!({
                "ts": timefmt::rfc3339(SystemTime::now()),
                "level": level,
                "job": job,
                "destination": dest,
                "msg": msg,
            })
            .to_string(),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    pub fn info(&self, job: Option<&str>, dest: Option<&str>, msg: &str) {
        self.event("info", job, dest, msg);
    }

    pub fn warn(&self, job: Option<&str>, dest: Option<&str>, msg: &str) {
        self.event("warn", job, dest, msg);
    }

    pub fn error(&self, job: Option<&str>, dest: Option<&str>, msg: &str) {
        self.event("error", job, dest, msg);
    }
}
