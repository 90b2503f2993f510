//! Jobs and the daemon: the job file and its errors, `tern jobs`, `tern run`, `tern status`, and a
//! real `tern daemon` on seconds-level schedules (history, no overlap, fan-out, signals).

use crate::harness::*;
use std::fs;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn history(env: &Env) -> Vec<serde_json::Value> {
    fs::read_to_string(env.path("state/history.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_config(env: &Env, text: &str) -> String {
    let p = env.path("tern.toml");
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn start_daemon(env: &Env, config: &str, extra_env: &[(&str, &str)]) -> Child {
    let mut run = env.tern(["daemon", "--config", config]);
    for (k, v) in extra_env {
        run.cmd.env(k, v);
    }
    run.cmd.stderr(Stdio::piped()).spawn().unwrap()
}

fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM, then wait: the daemon must exit 0 within `limit`. Returns its stderr.
fn stop(mut child: Child, limit: Duration) -> String {
    signal(&child, "TERM");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "daemon exited with {status}:\n{err}");
            return err;
        }
        assert!(start.elapsed() < limit, "daemon did not stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_example_job_file_is_accepted() {
    let env = Env::new();
    let example =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/tern.example.toml"))
            .unwrap();
    // the example's local paths are made real; everything else is checked as written
    let mut text = example.clone();
    for p in ["/var/www/site", "/home/alice", "/mnt/usb", "/mnt/backup"] {
        let real = env.path(p.trim_start_matches('/'));
        fs::create_dir_all(&real).unwrap();
        text = text.replace(p, real.to_str().unwrap());
    }
    let config = write_config(&env, &text);
    env.tern(["config", "check", "--config", &config]).ok().stdout_has("ok, 2 jobs (2 scheduled)");
    let jobs = env
        .tern(["jobs", "--config", &config, "--next", "2"])
        .ok()
        .stdout_has("site")
        .stdout_has("*/15 * * * *")
        .stdout_has("in Europe/Berlin")
        .stdout_has("backup1:/srv/replica/site");
    assert_eq!(jobs.stdout().matches("  next:").count(), 4, "{}", jobs.describe());
}

#[test]
fn job_file_errors_name_file_and_line() {
    let env = Env::new();
    let config = write_config(
        &env,
        "[[job]]\nname = \"a\"\nsource = \"missing\"\ndestinations = [\"d\"]\nschedule = \"*/5 * * *\"\n\
         timezone = \"Mars/Olympus\"\n\n[[job]]\nname = \"a\"\nsource = \".\"\ndestinations = [\"d2\"]\n",
    );
    let done = env.tern(["config", "check", "--config", &config]).code(1);
    let err = done.stderr();
    for want in [
        "tern.toml:3: source",
        "cannot be read",
        "tern.toml:6: unknown time zone \"Mars/Olympus\"",
        "tern.toml:9: job name \"a\" is used twice (first at line 2)",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(err.lines().all(|l| l.starts_with("tern: error: ")), "{err}");
    let config = write_config(
        &env,
        "[[job]]\nname = \"a\"\nsource = \".\"\ndestinations = [\"d\"]\nschedule = \"61 * * * *\"\n",
    );
    env.tern(["config", "check", "--config", &config])
        .code(1)
        .stderr_has("tern.toml:5: cron expression \"61 * * * *\": minute 61 is out of range 0-59");
    let config = write_config(
        &env,
        "[[job]]\nname = \"a\"\nsource = \".\"\ndestinations = [\"d\"]\nretries = \"many\"\n",
    );
    env.tern(["config", "check", "--config", &config])
        .code(1)
        .stderr_has("tern.toml:5: invalid type");
    let config = write_config(
        &env,
        "[[job]]\nname = \"a\"\nsource = \".\"\ndestinations = [\"d\"]\ncolour = \"blue\"\n",
    );
    env.tern(["config", "check", "--config", &config])
        .code(1)
        .stderr_has("tern.toml:5: unknown field `colour`");
    env.tern(["config", "check", "--config", "nope.toml"])
        .code(1)
        .stderr_has("nope.toml:0: cannot read");
}

#[test]
fn jobs_shows_fire_times_in_the_job_time_zone() {
    let env = Env::new();
    let config = write_config(
        &env,
        "[[job]]\nname = \"tokyo\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"0 9 * * Mon-Fri\"\ntimezone = \"Asia/Tokyo\"\n",
    );
    let done = env.tern(["jobs", "--config", &config, "--next", "5"]).ok();
    assert_eq!(done.stdout().matches("09:00:00 JST (+09:00)").count(), 5, "{}", done.describe());
}

#[test]
fn run_replicates_to_every_destination_and_records_history() {
    let env = Env::new();
    env.tree("src").file("a", "1").file("b/c", "2");
    let config = write_config(
        &env,
        "[[job]]\nname = \"site\"\nsource = \"src\"\ndestinations = [\"dst\", \"dst2\", \"ssh://127.0.0.1:1/x\"]\nretries = 1\nretry_delay = \"1s\"\n\
         on_success = \"echo ok $TERN_DESTINATION $TERN_CREATED >> hooks.log\"\non_failure = \"echo fail $TERN_DESTINATION >> hooks.log\"\n",
    );
    // the connection refused is transient: retried once, then given up
    env.tern(["run", "--config", &config, "site"])
        .code(1)
        .stdout_has("site -> dst: success (3 created")
        .stdout_has("site -> ssh://127.0.0.1:1/x: failed")
        .stderr_has("attempt 1 failed")
        .stderr_has("retrying in 1s");
    env.assert_replica();
    assert_same_tree(&env.src(), &env.path("dst2"));
    let h = history(&env);
    assert_eq!(h.len(), 3);
    assert_eq!(h.iter().filter(|r| r["outcome"] == "success").count(), 2);
    let failed = h.iter().find(|r| r["outcome"] == "failed").unwrap();
    assert_eq!(failed["attempts"], 2);
    assert!(failed["error"].as_str().unwrap().contains("cannot connect"));
    let hooks = fs::read_to_string(env.path("hooks.log")).unwrap();
    assert!(hooks.contains("ok dst 3") && hooks.contains("fail ssh://127.0.0.1:1/x"), "{hooks}");
    let status = env.tern(["status", "--config", &config]).ok();
    status
        .stdout_has("site -> dst\n  last run: ")
        .stdout_has("success")
        .stdout_has("next run: not scheduled");
    let json = env.tern(["status", "--config", &config, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[2]["last_run"]["outcome"], "failed");
    env.tern(["run", "--config", &config, "nosuchjob"])
        .code(1)
        .one_line_error()
        .stderr_has("no job named \"nosuchjob\"");
}

#[test]
fn the_daemon_runs_jobs_on_schedule_and_stops_cleanly() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let config = write_config(
        &env,
        "[[job]]\nname = \"tick\"\nsource = \"src\"\ndestinations = [\"dst\", \"ssh://127.0.0.1:1/x\"]\nschedule = \"* * * * * *\"\nretries = 0\n",
    );
    let daemon = start_daemon(&env, &config, &[]);
    wait_for("three runs", Duration::from_secs(15), || {
        history(&env).iter().filter(|r| r["destination"] == "dst").count() >= 3
    });
    let err = stop(daemon, Duration::from_secs(10));
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    assert!(
        err.lines().filter(|l| l.contains("run started")).all(|l| l.contains("job=tick")),
        "{err}"
    );
    env.assert_replica();
    // fan-out: the failing destination does not stop the other
    let h = history(&env);
    assert!(h.iter().filter(|r| r["destination"] == "dst").all(|r| r["outcome"] == "success"));
    assert!(
        h.iter().any(|r| r["destination"] == "ssh://127.0.0.1:1/x" && r["outcome"] == "failed")
    );
    assert!(h.iter().all(|r| r["trigger"] == "schedule"));
}

#[cfg(feature = "failpoints")]
#[test]
fn a_slow_job_never_overlaps_and_skipped_runs_are_recorded() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    // every run changes the source, so every run has a file to stage, slowly
    let config = write_config(
        &env,
        "[[job]]\nname = \"slow\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"* * * * * *\"\n\
         on_success = \"date +%s%N > src/a\"\n",
    );
    let daemon = start_daemon(
        &env,
        &config,
        &[("TERN_FAILPOINT_DELAY", "stage"), ("TERN_FAILPOINT_DELAY_MS", "1800")],
    );
    wait_for("two slow runs", Duration::from_secs(20), || {
        history(&env).iter().filter(|r| r["outcome"] == "success").count() >= 2
    });
    stop(daemon, Duration::from_secs(15));
    let h = history(&env);
    let runs: Vec<(String, String)> = h
        .iter()
        .filter(|r| r["outcome"] != "skipped")
        .map(|r| {
            (r["started"].as_str().unwrap().to_string(), r["ended"].as_str().unwrap().to_string())
        })
        .collect();
    for w in runs.windows(2) {
        assert!(w[1].0 >= w[0].1, "runs overlap: {:?} then {:?}", w[0], w[1]);
    }
    assert!(h.iter().any(|r| r["outcome"] == "skipped"), "no skipped run recorded: {h:#?}");
}

#[cfg(feature = "failpoints")]
#[test]
fn sigterm_during_a_transfer_stops_before_the_commit_and_exits_zero() {
    let env = Env::new();
    let mut t = env.tree("src");
    for i in 0..5 {
        t = t.file(format!("f{i}"), format!("{i}"));
    }
    let config = write_config(
        &env,
        "[[job]]\nname = \"long\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"* * * * * *\"\n",
    );
    let daemon = start_daemon(
        &env,
        &config,
        &[("TERN_FAILPOINT_DELAY", "stage"), ("TERN_FAILPOINT_DELAY_MS", "2000")],
    );
    // wait until the first file is being staged
    wait_for("the transfer to start", Duration::from_secs(10), || {
        env.dst().join(".tern/lock").exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    let err = stop(daemon, Duration::from_secs(12));
    assert!(err.contains("stopping running transfers before their commit"), "{err}");
    let h = history(&env);
    assert_eq!(h.last().unwrap()["outcome"], "interrupted", "{h:#?}");
    // nothing was committed: no manifest, no replicated file
    assert!(!env.dst().join(".tern/manifest").exists());
    assert!(!env.dst().join("f0").exists());
}

#[test]
fn sighup_reloads_and_a_bad_file_keeps_the_old_jobs() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let good = "[[job]]\nname = \"one\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"* * * * * *\"\n";
    let config = write_config(&env, good);
    let daemon = start_daemon(&env, &config, &[]);
    wait_for("a first run", Duration::from_secs(10), || !history(&env).is_empty());
    write_config(&env, "[[job]]\nname = \"one\"\nschedule = \"bogus\"\n");
    signal(&daemon, "HUP");
    std::thread::sleep(Duration::from_millis(1500));
    let runs = history(&env).len();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(history(&env).len() > runs, "the old job stopped after a bad reload");
    write_config(
        &env,
        &format!(
            "{good}\n[[job]]\nname = \"two\"\nsource = \"src\"\ndestinations = [\"dst2\"]\nschedule = \"* * * * * *\"\n"
        ),
    );
    signal(&daemon, "HUP");
    wait_for("the new job", Duration::from_secs(10), || {
        history(&env).iter().any(|r| r["job"] == "two")
    });
    let err = stop(daemon, Duration::from_secs(10));
    assert!(err.contains("keeping the jobs already loaded"), "{err}");
    assert!(err.contains("SIGHUP: reloading"), "{err}");
    assert_same_tree(&env.src(), &env.path("dst2"));
}

#[test]
fn a_run_missed_while_the_daemon_was_down_runs_once_at_start() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    // yearly at new year: the last run, two years ago, makes one run overdue
    fs::create_dir_all(env.path("state")).unwrap();
    fs::write(
        env.path("state/history.jsonl"),
        "{\"job\":\"yearly\",\"destination\":\"dst\",\"trigger\":\"schedule\",\"started\":\"2024-01-01T00:00:00Z\",\"ended\":\"2024-01-01T00:00:01Z\",\"duration_ms\":1000,\"outcome\":\"success\"}\n",
    )
    .unwrap();
    let config = write_config(
        &env,
        "[[job]]\nname = \"yearly\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"@yearly\"\ntimezone = \"UTC\"\n",
    );
    let daemon = start_daemon(&env, &config, &[]);
    wait_for("the catch-up run", Duration::from_secs(10), || history(&env).len() >= 2);
    std::thread::sleep(Duration::from_millis(500));
    stop(daemon, Duration::from_secs(10));
    let h = history(&env);
    assert_eq!(h.len(), 2, "one catch-up run, never a burst: {h:#?}");
    assert_eq!(h[1]["trigger"], "catch-up");
    env.assert_replica();
}

/// `metrics_file` is a node_exporter textfile the daemon rewrites around every run: the last run
/// and last success of each destination, and its failures since.
#[test]
fn the_daemon_writes_prometheus_metrics_for_every_destination() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let config = write_config(
        &env,
        "metrics_file = \"metrics/tern.prom\"\n[[job]]\nname = \"tick\"\nsource = \"src\"\ndestinations = [\"dst\", \"ssh://127.0.0.1:1/x\"]\nschedule = \"* * * * * *\"\nretries = 0\n",
    );
    fs::create_dir_all(env.path("metrics")).unwrap();
    let daemon = start_daemon(&env, &config, &[]);
    let file = env.path("metrics/tern.prom");
    wait_for("metrics of two runs", Duration::from_secs(15), || {
        let text = fs::read_to_string(&file).unwrap_or_default();
        text.contains(
            "tern_consecutive_failures{job=\"tick\",destination=\"ssh://127.0.0.1:1/x\"} 2",
        )
    });
    stop(daemon, Duration::from_secs(10));
    let text = fs::read_to_string(&file).unwrap();
    let ok = "{job=\"tick\",destination=\"dst\"}";
    assert!(text.contains(&format!("tern_last_run_success{ok} 1\n")), "{text}");
    assert!(text.contains(&format!("tern_consecutive_failures{ok} 0\n")), "{text}");
    assert!(text.contains(&format!("tern_last_success_timestamp_seconds{ok} 1")), "{text}");
    let bad = "{job=\"tick\",destination=\"ssh://127.0.0.1:1/x\"}";
    assert!(text.contains(&format!("tern_last_run_success{bad} 0\n")), "{text}");
    assert!(!text.contains(&format!("tern_last_success_timestamp_seconds{bad}")), "{text}");
    assert!(text.contains("# TYPE tern_job_running gauge\ntern_job_running{job=\"tick\"} 0\n"));
    // Every line is a comment or `name{labels} value`, as node_exporter reads it.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with("tern_") && value.parse::<f64>().is_ok(), "{line}");
    }
}

/// A raw HTTP/1.0 request to 127.0.0.1:`port`: the status line and the body.
fn http(port: u16, method: &str, path: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// `--metrics-listen` serves the same metrics over HTTP at /metrics, with no metrics_file in
/// the job file; another path is 404, another method 405; a port in use is a one-line error.
#[test]
fn the_daemon_serves_metrics_over_http() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let config = write_config(
        &env,
        "[[job]]\nname = \"tick\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"* * * * * *\"\n",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = env.tern(["daemon", "--config", &config, "--metrics-listen", &addr]);
    let daemon = run.cmd.stderr(Stdio::piped()).spawn().unwrap();
    let ok = "tern_last_run_success{job=\"tick\",destination=\"dst\"} 1\n";
    wait_for("a run in the served metrics", Duration::from_secs(15), || {
        http(port, "GET", "/metrics").is_some_and(|(_, body)| body.contains(ok))
    });
    let (status, body) = http(port, "GET", "/metrics").unwrap();
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("# TYPE tern_job_running gauge"), "{body}");
    assert!(http(port, "GET", "/nothing").unwrap().0.contains("404"));
    assert!(http(port, "POST", "/metrics").unwrap().0.contains("405"));
    assert!(!env.path("metrics").exists());

    // The port is taken: a second daemon says so and stops.
    let second = env.tern(["daemon", "--config", &config, "--metrics-listen", &addr]).code(1);
    let second = second.one_line_error();
    second.stderr_has(&format!("cannot listen on {addr} for --metrics-listen"));
    let err = stop(daemon, Duration::from_secs(10));
    assert!(err.contains(&format!("metrics at http://{addr}/metrics")), "{err}");
    env.assert_replica();
}

/// Each request's first line and body, as the test server received them.
type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A local HTTP server that answers 200 to everything and keeps each request's line and body.
fn http_server() -> (String, Requests) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut len = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            keep.lock()
                .unwrap()
                .push((first.trim().to_string(), String::from_utf8_lossy(&body).into()));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK");
        }
    });
    (url, seen)
}

#[test]
fn a_run_pings_its_healthcheck_url_at_start_and_end() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let (url, seen) = http_server();
    let config = write_config(
        &env,
        &format!(
            "[[job]]\nname = \"ok\"\nsource = \"src\"\ndestinations = [\"dst\"]\nhealthcheck_url = \"{url}/ping/abc\"\n\
             [[job]]\nname = \"bad\"\nsource = \"src\"\ndestinations = [\"ssh://127.0.0.1:1/x\"]\nretries = 0\nhealthcheck_url = \"{url}/ping/def\"\n"
        ),
    );
    env.tern(["run", "--config", &config, "ok"]).ok();
    env.tern(["run", "--config", &config, "bad"]).code(1);
    let seen = seen.lock().unwrap().clone();
    let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        lines,
        [
            "POST /ping/abc/start HTTP/1.1",
            "POST /ping/abc HTTP/1.1",
            "POST /ping/def/start HTTP/1.1",
            "POST /ping/def/fail HTTP/1.1"
        ]
    );
    assert!(seen[1].1.contains("dst: success"), "{seen:?}");
    assert!(seen[3].1.contains("ssh://127.0.0.1:1/x: failed"), "{seen:?}");
    // A bad URL is an error of the job file, with its line.
    let bad = write_config(
        &env,
        "[[job]]\nname = \"x\"\nsource = \"src\"\ndestinations = [\"dst\"]\nhealthcheck_url = \"hc-ping.com/x\"\n",
    );
    env.tern(["config", "check", "--config", &bad])
        .code(1)
        .stderr_has("tern.toml:5")
        .stderr_has("is not an http:// or https:// URL");
}

/// `config check` counts in words that agree, and `status` shows the last and the next run in
/// the job's time zone, named.
#[test]
fn status_shows_both_times_in_the_jobs_zone() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let config = write_config(
        &env,
        "[[job]]\nname = \"one\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"0 3 * * *\"\ntimezone = \"Asia/Tokyo\"\n",
    );
    env.tern(["config", "check", "--config", &config]).ok().stdout_has("ok, 1 job (1 scheduled)");
    env.tern(["run", "--config", &config, "one"]).ok();
    let out = env.tern(["status", "--config", &config]).ok().stdout();
    let last = out.lines().find(|l| l.contains("last run:")).unwrap_or_default();
    let next = out.lines().find(|l| l.contains("next run:")).unwrap_or_default();
    assert!(last.contains(" JST success"), "{out}");
    assert!(next.ends_with(" 03:00:00 JST"), "{out}");
}

/// `@reboot` runs a job once when the daemon starts, as in crontab(5).
#[test]
fn a_reboot_job_runs_once_when_the_daemon_starts() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let config = write_config(
        &env,
        "[[job]]\nname = \"boot\"\nsource = \"src\"\ndestinations = [\"dst\"]\nschedule = \"@reboot\"\n",
    );
    env.tern(["jobs", "--config", &config])
        .ok()
        .stdout_has("@reboot (once, when the daemon starts)");
    let daemon = start_daemon(&env, &config, &[]);
    wait_for("the start run", Duration::from_secs(15), || !history(&env).is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    stop(daemon, Duration::from_secs(10));
    let h = history(&env);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["trigger"], "start");
    env.assert_replica();
}

/// A watch job in the daemon: replicated from the daemon's start and as it changes, its state
/// and last batch in `tern status`, its batches in the history; a bad `mode` is refused.
#[test]
fn a_watch_job_is_replicated_as_it_changes_and_status_shows_its_last_batch() {
    let env = Env::new();
    env.tree("src").file("a", "1").file("d/b", "2");
    let config = write_config(
        &env,
        &format!(
            "metrics_file = \"{}\"\n[[job]]\nname = \"live\"\nsource = \"{}\"\ndestinations = [\"{}\"]\nmode = \"watch\"\ndelay = \"100ms\"\n",
            env.path("tern.prom").display(),
            env.src().display(),
            env.dst().display()
        ),
    );
    env.tern(["config", "check", "--config", &config])
        .ok()
        .stdout_has("ok, 1 job (0 scheduled, 1 watched)");
    env.tern(["jobs", "--config", &config]).ok().stdout_has("mode:         watch");
    let daemon = start_daemon(&env, &config, &[]);
    let same = || try_snapshot(&env.dst()).ok() == Some(snapshot(&env.src()));
    wait_for("the first pass", Duration::from_secs(60), same);
    wait_for("the watching state", Duration::from_secs(30), || {
        env.tern(["status", "--config", &config])
            .output()
            .stdout()
            .contains("watch:    watching since")
    });
    fs::write(env.src().join("d/b"), "2, changed").unwrap();
    fs::write(env.src().join("new"), "3").unwrap();
    wait_for("the change at the replica", Duration::from_secs(60), same);
    wait_for("the batch in the status", Duration::from_secs(30), || {
        let out = env.tern(["status", "--config", &config]).output().stdout();
        out.contains("batch:") && out.contains("after the change")
    });
    // The metrics follow the batches: the job is running while watched, and the destination's
    // last run is the last batch.
    wait_for("the batch in the metrics", Duration::from_secs(30), || {
        let m = fs::read_to_string(env.path("tern.prom")).unwrap_or_default();
        m.contains("tern_job_running{job=\"live\"} 1")
            && m.contains("tern_last_run_bytes_sent{job=\"live\"")
    });
    let err = stop(daemon, Duration::from_secs(20));
    assert!(err.contains("watching"), "{err}");
    let m = fs::read_to_string(env.path("tern.prom")).unwrap();
    assert!(m.contains("tern_job_running{job=\"live\"} 0"), "{m}");
    let watched = history(&env).into_iter().filter(|r| r["trigger"] == "watch").count();
    assert!(watched >= 1, "no watch batch in the history");
    let json = env.tern(["status", "--json", "--config", &config]).ok().stdout();
    assert!(json.contains("\"state\": \"stopped\""), "{json}");

    let bad = write_config(
        &env,
        &format!(
            "[[job]]\nname = \"x\"\nsource = \"{}\"\ndestinations = [\"{}\"]\nmode = \"live\"\n",
            env.src().display(),
            env.dst().display()
        ),
    );
    env.tern(["config", "check", "--config", &bad])
        .code(1)
        .stderr_has("mode \"live\" is not \"schedule\", \"watch\", \"two-way\" or \"mesh\"");
}
