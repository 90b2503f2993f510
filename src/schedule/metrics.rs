//! Prometheus metrics of the daemon's jobs, as a node_exporter textfile (`metrics_file` in the
//! job file) and over HTTP (`tern daemon --metrics-listen ADDR`, at `/metrics`): rendered from
//! the run history by a pure function around every run; the file is written atomically, so a
//! scrape never reads half of it, and the server answers with the latest rendering.
//!
//! Every series is a gauge, labelled by job and destination: the history is bounded (trimmed to
//! its newer half), so a count kept in it could go down, which a Prometheus counter must not.

use crate::schedule::history::{Outcome, Record};
use crate::schedule::jobfile::Job;
use std::collections::HashSet;
use std::fmt::Write;

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Seconds since the epoch of an RFC 3339 time, if it is one.
fn epoch(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp_millis() as f64 / 1000.0)
}

/// The metrics of `jobs` from `records` (oldest first, as the history holds them), `running`
/// naming the jobs running now.
pub fn render(jobs: &[Job], records: &[Record], running: &HashSet<String>) -> String {
    let series: [(&str, &str); 7] = [
        ("tern_last_run_timestamp_seconds", "When the last run ended (Unix time)."),
        ("tern_last_success_timestamp_seconds", "When the last successful run ended (Unix time)."),
        ("tern_last_run_success", "Whether the last run succeeded (1) or not (0)."),
        ("tern_last_run_duration_seconds", "How long the last run took."),
        ("tern_last_run_bytes_sent", "Content bytes the last run sent."),
        ("tern_last_run_files_changed", "Entries the last run created, updated or deleted."),
        ("tern_consecutive_failures", "Runs that did not succeed since the last that did."),
    ];
    let mut values: Vec<Vec<(String, f64)>> = vec![Vec::new(); series.len()];
    for job in jobs {
        for (dest, _) in &job.destinations {
            let mine: Vec<&Record> = records
                .iter()
                .filter(|r| r.job == job.name && &r.destination == dest)
                .filter(|r| r.outcome != Outcome::Skipped)
                .collect();
            let Some(last) = mine.last() else { continue };
            let labels = format!("job=\"{}\",destination=\"{}\"", label(&job.name), label(dest));
            let success = mine.iter().rev().find(|r| r.outcome.is_ok());
            let failures = mine.iter().rev().take_while(|r| !r.outcome.is_ok()).count();
            let mut put = |i: usize, v: Option<f64>| {
                if let Some(v) = v {
                    values[i].push((labels.clone(), v));
                }
            };
            put(0, epoch(&last.ended));
            put(1, success.and_then(|r| epoch(&r.ended)));
            put(2, Some(f64::from(u8::from(last.outcome.is_ok()))));
            put(3, Some(last.duration_ms as f64 / 1000.0));
            put(4, Some(last.bytes_sent as f64));
            put(5, Some((last.created + last.updated + last.deleted) as f64));
            put(6, Some(failures as f64));
        }
    }
    let mut out = String::new();
    for ((name, help), values) in series.iter().zip(&values) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in values {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
    let _ = writeln!(out, "# HELP tern_job_running Whether the job is running now.");
    let _ = writeln!(out, "# TYPE tern_job_running gauge");
    for job in jobs {
        let on = u8::from(running.contains(&job.name));
        let _ = writeln!(out, "tern_job_running{{job=\"{}\"}} {on}", label(&job.name));
    }
    out
}

/// The latest rendering, shared between the daemon (which writes it) and the server.
pub type Latest = std::sync::Arc<std::sync::Mutex<String>>;

/// Why the metrics cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for --metrics-listen: {message}; choose a free address and port")]
pub struct ListenError {
    addr: std::net::SocketAddr,
    message: String,
}

/// The HTTP server of `--metrics-listen`, on a thread of its own; stopped when dropped.
pub struct Server {
    server: std::sync::Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub addr: std::net::SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `latest` at `http://ADDR/metrics` (Prometheus' text format); `/` says where they are,
/// anything else is 404, any method but GET and HEAD 405.
pub fn serve(addr: std::net::SocketAddr, latest: Latest) -> Result<Server, ListenError> {
    let server =
        tiny_http::Server::http(addr).map_err(|e| ListenError { addr, message: e.to_string() })?;
    let addr = server.server_addr().to_ip().unwrap_or(addr);
    let server = std::sync::Arc::new(server);
    let serving = server.clone();
    let thread = std::thread::Builder::new()
        .name("tern-metrics".into())
        .spawn(move || {
            for request in serving.incoming_requests() {
                let (status, body, kind) = answer(request.method(), request.url(), &latest);
                let header = tiny_http::Header::from_bytes("Content-Type", kind);
                let mut response = tiny_http::Response::from_string(body).with_status_code(status);
                if let Ok(h) = header {
                    response = response.with_header(h);
                }
                // A client that went away is its own problem.
                let _ = request.respond(response);
            }
        })
        .map_err(|e| ListenError { addr, message: e.to_string() })?;
    Ok(Server { server, thread: Some(thread), addr })
}

/// Status, body and content type for a request.
fn answer(method: &tiny_http::Method, url: &str, latest: &Latest) -> (u16, String, &'static str) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
        return (405, "only GET\n".into(), TEXT);
    }
    match url.split('?').next().unwrap_or_default() {
        "/metrics" => {
            let body = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
            (200, body, "text/plain; version=0.0.4; charset=utf-8")
        }
        "/" => (200, "tern daemon: metrics at /metrics\n".into(), TEXT),
        _ => (404, "not found: metrics are at /metrics\n".into(), TEXT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn record(job: &str, dest: &str, ended_secs: u64, outcome: Outcome, sent: u64) -> Record {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(ended_secs);
        let r = Record::new(job, dest, "schedule", at, at, Duration::from_millis(1500), outcome);
        Record { bytes_sent: sent, created: 2, updated: 1, ..r }
    }

    #[test]
    fn the_last_run_and_the_last_success_of_each_destination() {
        let text = "[[job]]\nname = \"site\"\nsource = \"/\"\ndestinations = [\"/a\", \"h:/b\"]\n";
        let file = crate::schedule::jobfile::parse(std::path::Path::new("/t.toml"), text);
        let jobs = file.map(|f| f.jobs).unwrap_or_default();
        assert_eq!(jobs.len(), 1, "the test's job file");
        let records = vec![
            record("site", "/a", 100, Outcome::Success, 10),
            record("site", "/a", 200, Outcome::Failed, 0),
            record("site", "/a", 300, Outcome::Failed, 0),
            record("site", "/a", 400, Outcome::Skipped, 0),
            record("other", "/a", 500, Outcome::Success, 1),
        ];
        let running: HashSet<String> = ["site".to_string()].into();
        let m = render(&jobs, &records, &running);
        let a = "{job=\"site\",destination=\"/a\"}";
        assert!(m.contains(&format!("tern_last_run_timestamp_seconds{a} 300\n")), "{m}");
        assert!(m.contains(&format!("tern_last_success_timestamp_seconds{a} 100\n")), "{m}");
        assert!(m.contains(&format!("tern_last_run_success{a} 0\n")), "{m}");
        assert!(m.contains(&format!("tern_consecutive_failures{a} 2\n")), "{m}");
        assert!(m.contains(&format!("tern_last_run_duration_seconds{a} 1.5\n")), "{m}");
        assert!(m.contains(&format!("tern_last_run_files_changed{a} 3\n")), "{m}");
        assert!(m.contains("tern_job_running{job=\"site\"} 1\n"), "{m}");
        // A destination that never ran has no series; another job's records are not counted.
        assert!(!m.contains("destination=\"h:/b\""), "{m}");
        assert!(!m.contains("other"), "{m}");
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
