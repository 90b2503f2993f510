//! Progress and notes: the one sink the core is handed for everything it has to tell a person
//! while it works.
//!
//! The scan and the transfer count bytes into it and say a line when something goes wrong with
//! one entry (a file that vanished, a cache that could not be read). The caller decides where
//! that goes: `app` hands in a progress bar on a terminal, the daemon and the tests a hidden one.
//! Notes are printed to stderr either way, above the bar, so it never garbles them.

use indicatif::ProgressBar;

/// A run's progress (bytes done out of a total) and its notes to the user.
#[derive(Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// No bar; notes still go to stderr.
    pub fn hidden() -> Progress {
        Progress(ProgressBar::hidden())
    }

    /// Report through `bar`, drawn wherever it draws.
    pub fn with_bar(bar: ProgressBar) -> Progress {
        Progress(bar)
    }

    /// Print one line to stderr without tearing the bar, and print it even when the bar is hidden
    /// (not a terminal), where `ProgressBar::println` would drop it.
    pub fn note(&self, line: impl AsRef<str>) {
        self.0.suspend(|| eprintln!("{}", line.as_ref()));
    }

    /// `n` more bytes done.
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// `n` more bytes to do.
    pub fn inc_length(&self, n: u64) {
        self.0.inc_length(n);
    }

    /// Start over: `total` bytes to do, none done.
    pub fn restart(&self, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
