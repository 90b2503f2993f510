//! Test-only crash points.
//!
//! Built with `--features failpoints`, `hit("name")` aborts the process (as abruptly as a
//! `SIGKILL`: no destructors, no flushing) when `TERN_FAILPOINT=name`. Without the feature it
//! compiles to nothing, so release builds carry no trace of it.

/// Sleep `TERN_FAILPOINT_DELAY_MS` milliseconds here if `TERN_FAILPOINT_DELAY=name` (to make a
/// run slow in daemon tests, or to change the tree under a run at a chosen moment). With
/// `TERN_FAILPOINT_SIGNAL=FILE`, FILE is created when the sleep starts, for the test to act on.
#[inline]
pub fn delay(name: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("TERN_FAILPOINT_DELAY").is_ok_and(|v| v == name) {
        if let Some(signal) = std::env::var_os("TERN_FAILPOINT_SIGNAL") {
            let _ = std::fs::write(signal, name);
        }
        let ms = std::env::var("TERN_FAILPOINT_DELAY_MS").ok().and_then(|v| v.parse().ok());
        std::thread::sleep(std::time::Duration::from_millis(ms.unwrap_or(1000)));
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// An injected `ENOSPC` (disk full) when `TERN_FAILPOINT=name`.
#[inline]
pub fn error(name: &str) -> std::io::Result<()> {
    #[cfg(feature = "failpoints")]
    if std::env::var("TERN_FAILPOINT").is_ok_and(|v| v == name) {
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
    }
    let _ = name;
    Ok(())
}

/// Abort here if the failpoint `name` is armed.
#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("TERN_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("tern: failpoint {name}: aborting");
        std::process::abort();
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}
