//! Health pings: a job's `healthcheck_url` is told when a run starts, succeeds or fails, in the
//! convention of healthchecks.io (and of the services that copy it): `URL/start`, `URL`,
//! `URL/fail`, each a POST whose body is a line about the run. A dead-man's switch then alerts
//! when the pings stop, which a cron job that never ran cannot do by itself.
//!
//! A ping that fails is a warning in the log; it never fails the run.

use std::time::Duration;

/// How long one ping may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Start,
    Success,
    Failure,
}

/// The URL a ping of `event` goes to.
pub fn url_for(base: &str, event: Event) -> String {
    let base = base.trim_end_matches('/');
    match event {
        Event::Start => format!("{base}/start"),
        Event::Success => base.to_string(),
        Event::Failure => format!("{base}/fail"),
    }
}

/// Check a `healthcheck_url` when the job file is read: an http or https URL.
pub fn check_url(url: &str) -> Result<(), String> {
    let ok = url
        .parse::<ureq::http::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(format!("healthcheck_url {url:?} is not an http:// or https:// URL"))
    }
}

/// Tell `base` that `event` happened, with `body` (a line about the run) as the request's body.
pub fn ping(base: &str, event: Event, body: &str) -> Result<(), String> {
    let url = url_for(base, event);
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().into();
    match agent.post(&url).send(body) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("cannot ping {url}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_healthchecks_convention() {
        let base = "https://hc-ping.com/0f4c";
        assert_eq!(url_for(base, Event::Start), "https://hc-ping.com/0f4c/start");
        assert_eq!(url_for("https://hc-ping.com/0f4c/", Event::Success), base);
        assert_eq!(url_for(base, Event::Failure), "https://hc-ping.com/0f4c/fail");
        assert!(check_url(base).is_ok());
        for bad in ["hc-ping.com/x", "ftp://h/x", "https://", ""] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
