//! Run history: one JSON line per job, destination and run, in the user's state directory.
//!
//! Appends are single `write` calls on an `O_APPEND` file, so the daemon and a manual `tern run`
//! can record at the same time. The file is kept bounded: past [`MAX_BYTES`] it is rewritten with
//! its newer half, under a lock.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Size past which the history is trimmed to its newer half.
pub const MAX_BYTES: u64 = 4 << 20;

/// How a run of one job to one destination ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    /// Completed, but some source entries were skipped.
    Partial,
    Failed,
    /// A guard refused the plan; nothing was written.
    Refused,
    /// Stopped before the commit (daemon shutdown); nothing was changed.
    Interrupted,
    /// A scheduled time passed while the previous run was still going.
    Skipped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Interrupted => "interrupted",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub job: String,
    pub destination: String,
    /// `schedule`, `catch-up`, `start` (`@reboot`) or `manual`.
    pub trigger: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub ended: String,
    pub duration_ms: u64,
    pub outcome: Outcome,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub deleted: u64,
    #[serde(default)]
    pub bytes_sent: u64,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Record {
    /// A record of `job` to `destination` with nothing counted yet: the run started and ended
    /// at these wall-clock times and took `took` (measured on a monotonic clock).
    pub fn new(
        job: &str,
        destination: &str,
        trigger: &str,
        started: SystemTime,
        ended: SystemTime,
        took: Duration,
        outcome: Outcome,
    ) -> Record {
        Record {
            job: job.to_string(),
            destination: destination.to_string(),
            trigger: trigger.to_string(),
            started: crate::util::timefmt::rfc3339(started),
            ended: crate::util::timefmt::rfc3339(ended),
            duration_ms: took.as_millis() as u64,
            outcome,
            created: 0,
            updated: 0,
            deleted: 0,
            bytes_sent: 0,
            attempts: 0,
            error: None,
        }
    }
}

/// `$TERN_STATE_DIR/history.jsonl`, else `~/.local/state/tern/history.jsonl`.
pub fn default_path() -> PathBuf {
    let dir = std::env::var_os("TERN_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::state_dir().map(|d| d.join("tern")))
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state/tern")))
        .unwrap_or_else(|| PathBuf::from(".tern-state"));
    dir.join("history.jsonl")
}

/// Append records, then trim the file if it grew too large.
pub fn append(path: &Path, records: &[Record]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let mut f = OpenOptions::new().append(true).create(true).open(path)?;
    f.write_all(text.as_bytes())?;
    if f.metadata()?.len() > MAX_BYTES {
        trim(path)?;
    }
    Ok(())
}

/// Keep the newer half of the history.
fn trim(path: &Path) -> std::io::Result<()> {
    let lock = File::create(path.with_extension("lock"))?;
    lock.lock()?;
    let data = std::fs::read(path)?;
    let cut = data.len() / 2;
    let start = data[cut..].iter().position(|&b| b == b'\n').map_or(data.len(), |i| cut + i + 1);
    crate::tree::manifest::write_atomic(path, &data[start..])
}

/// Every readable record, oldest first (lines that do not parse are skipped).
pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
    let Some(f) = crate::tree::manifest::open_if_exists(path)? else {
        return Ok(Vec::new());
    };
    Ok(BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(job: &str, outcome: Outcome) -> Record {
        Record {
            job: job.into(),
            destination: "/d".into(),
            trigger: "manual".into(),
            started: "2026-11-26T04:00:00Z".into(),
            ended: "2026-11-26T04:00:01Z".into(),
            duration_ms: 1000,
            outcome,
            created: 1,
            updated: 0,
            deleted: 0,
            bytes_sent: 10,
            attempts: 1,
            error: None,
        }
    }

    #[test]
    fn append_read_and_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h/history.jsonl");
        append(&path, &[rec("a", Outcome::Success), rec("b", Outcome::Failed)]).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, vec![rec("a", Outcome::Success), rec("b", Outcome::Failed)]);
        // garbage lines are skipped
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{oops\n")
            .unwrap();
        assert_eq!(read(&path).unwrap().len(), 2);
        // the file never grows far past its bound
        let many: Vec<Record> =
            (0..2000).map(|i| rec(&format!("job{i}"), Outcome::Success)).collect();
        for _ in 0..20 {
            append(&path, &many).unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= MAX_BYTES, "{len}");
        let last = read(&path).unwrap().pop().unwrap();
        assert_eq!(last.job, "job1999");
    }
}
