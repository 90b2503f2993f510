//! Test-only crash points.
//!
//! Built with `--features failpoints`, `hit("name")` aborts the process (as abruptly as a
//! `SIGKILL`: no destructors, no flushing) when `TERN_FAILPOINT=name`. Without the feature it
//! compiles to nothing, so release builds carry no trace of it.

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
