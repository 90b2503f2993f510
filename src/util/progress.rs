//! Progress and notes: the one sink the core is handed for everything it has to tell a person
//! while it works.
//!
//! The scan and the transfer count bytes and files into it, name the phase they are in (scan,
//! send, commit), and say a line when something goes wrong with one entry (a file that vanished,
//! a cache that could not be read). The caller decides where that goes: `app` hands in one that
//! draws a line per phase on a terminal (or, with `--progress`, prints one a second to a log),
//! the daemon and the tests a hidden one. Notes are printed to stderr either way, above the
//! line, so it never garbles them.

use indicatif::ProgressBar;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Files done and to do in the current phase, read by the drawn line.
#[derive(Default)]
pub struct Files {
    pub done: AtomicU64,
    /// 0: not known.
    pub total: AtomicU64,
}

/// Makes the line of a phase: its name, and the files counter it shows.
pub type LineMaker = dyn Fn(&'static str, Arc<Files>) -> ProgressBar + Send + Sync;

struct Inner {
    bar: Mutex<ProgressBar>,
    files: Mutex<Arc<Files>>,
    /// `None`: hidden, nothing is drawn.
    make: Option<Box<LineMaker>>,
}

/// A run's progress (bytes and files done, by phase) and its notes to the user.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

impl Progress {
    /// No line; notes still go to stderr.
    pub fn hidden() -> Progress {
        Progress(Arc::new(Inner {
            bar: Mutex::new(ProgressBar::hidden()),
            files: Mutex::new(Arc::default()),
            make: None,
        }))
    }

    /// Draw a line per phase, each made by `make`; the first phase is `first`.
    pub fn with_lines(first: &'static str, make: Box<LineMaker>) -> Progress {
        let files = Arc::new(Files::default());
        let bar = make(first, files.clone());
        Progress(Arc::new(Inner {
            bar: Mutex::new(bar),
            files: Mutex::new(files),
            make: Some(make),
        }))
    }

    fn bar(&self) -> ProgressBar {
        self.0.bar.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn files(&self) -> Arc<Files> {
        self.0.files.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether anything is drawn (so counting what to show is worth its cost).
    pub fn is_visible(&self) -> bool {
        self.0.make.is_some()
    }

    /// Print one line to stderr without tearing the progress line, and print it even when
    /// nothing is drawn (not a terminal), where `ProgressBar::println` would drop it.
    pub fn note(&self, line: impl AsRef<str>) {
        self.bar().suspend(|| eprintln!("{}", line.as_ref()));
    }

    /// `n` more bytes done.
    pub fn inc(&self, n: u64) {
        // Called per file from the scan's threads: a hidden sink takes no lock for it.
        if self.is_visible() {
            self.bar().inc(n);
        }
    }

    /// `n` more bytes to do.
    pub fn inc_length(&self, n: u64) {
        if self.is_visible() {
            self.bar().inc_length(n);
        }
    }

    /// One more file done.
    pub fn file_done(&self) {
        if self.is_visible() {
            self.files().done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Start over in the same phase: `total` bytes and `files` files to do (0: not known).
    pub fn restart(&self, total: u64, files: u64) {
        let f = self.files();
        f.done.store(0, Ordering::Relaxed);
        f.total.store(files, Ordering::Relaxed);
        let bar = self.bar();
        bar.set_length(total);
        bar.set_position(0);
    }

    /// End the current phase, leaving its line as it stands, and start the line of `name`
    /// with `files` to do (0: not known).
    pub fn phase(&self, name: &'static str, files: u64) {
        let Some(make) = &self.0.make else { return };
        let mut bar = self.0.bar.lock().unwrap_or_else(|p| p.into_inner());
        // The old line is finished (and, in a log, printed) before the new one draws.
        let old = std::mem::replace(&mut *bar, ProgressBar::hidden());
        old.finish();
        drop(old);
        let counter = Arc::new(Files::default());
        counter.total.store(files, Ordering::Relaxed);
        *bar = make(name, counter.clone());
        *self.0.files.lock().unwrap_or_else(|p| p.into_inner()) = counter;
    }

    /// End the current phase, leaving its line: what is printed next comes after it.
    pub fn finish(&self) {
        let mut bar = self.0.bar.lock().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::replace(&mut *bar, ProgressBar::hidden());
        old.finish();
    }
}
