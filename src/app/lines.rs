//! The progress lines a person sees: one line per phase (scanning, sending, committing) with
//! files and bytes done, rate and ETA, drawn in place on a terminal; with `--progress` and no
//! terminal (a log, CI), the same line printed once a second. `NO_COLOR` turns colour off.

use crate::util::progress::{Files, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// When to draw progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// On a terminal only.
    Auto,
    /// Also to a log: a line a second (`--progress`).
    Always,
    /// Never (`--quiet`).
    Never,
}

/// A progress sink starting with phase `first`, shown as `show` says.
pub(crate) fn progress(show: Show, first: &'static str) -> Progress {
    let tty = std::io::stderr().is_terminal();
    if show == Show::Never || (show == Show::Auto && !tty) {
        return Progress::hidden();
    }
    let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    Progress::with_lines(first, Box::new(move |name, files| line(name, files, tty, color)))
}

/// The line of one phase.
fn line(name: &'static str, files: Arc<Files>, tty: bool, color: bool) -> ProgressBar {
    let bar_part = if color { "{bar:24.cyan/blue}" } else { "{bar:24}" };
    let prefix = if color { "{prefix:>10.bold}" } else { "{prefix:>10}" };
    let (template, unit) = match name {
        "committing" => (format!("{prefix} {{spinner}} {{files}}  {{elapsed}}"), "changes"),
        "scanning" => (
            format!(
                "{prefix} {{spinner}} {{files}}  {{bytes}} read  {{bytes_per_sec}}  {{elapsed}}"
            ),
            "files",
        ),
        _ => (
            format!(
                "{prefix} [{bar_part}] {{files}}  {{bytes}}/{{total_bytes}}  {{bytes_per_sec}}  \
                 ETA {{eta}}"
            ),
            "files",
        ),
    };
    let count = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let done = files.done.load(Ordering::Relaxed);
        let _ = match files.total.load(Ordering::Relaxed) {
            0 => write!(w, "{done} {unit}"),
            // A commit is one request: nothing to count while it runs.
            total if unit == "changes" => write!(w, "{total} {unit}"),
            total => write!(w, "{done}/{total} {unit}"),
        };
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("files", count)
        .progress_chars("=> ");
    let target = if tty {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::term_like_with_hz(Box::new(LogLines::new()), 1)
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(style);
    bar.set_prefix(name);
    if tty && name != "sending" {
        // Phases that may count nothing for a while still show they are alive.
        bar.enable_steady_tick(Duration::from_millis(250));
    }
    bar
}

/// A "terminal" that prints a drawing as a line of its own, for logs: at most one a second, the
/// first a second after the phase began, and the last one (the phase's end) when the line is
/// dropped. A phase shorter than a second is one line.
#[derive(Debug)]
struct LogLines(Mutex<Log>);

impl LogLines {
    fn new() -> Self {
        LogLines(Mutex::new(Log { printed: Some(std::time::Instant::now()), ..Log::default() }))
    }
}

#[derive(Debug, Default)]
struct Log {
    /// The drawing being written.
    drawing: String,
    /// The last drawing not printed yet.
    pending: Option<String>,
    printed: Option<std::time::Instant>,
}

impl Drop for LogLines {
    fn drop(&mut self) {
        if let Some(line) = self.0.get_mut().unwrap_or_else(|p| p.into_inner()).pending.take() {
            eprintln!("{line}");
        }
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        120
    }

    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)?;
        self.flush()
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        if s != "\r" {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).drawing.push_str(s);
        }
        Ok(())
    }

    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        let mut log = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let line = std::mem::take(&mut log.drawing).trim().to_string();
        if line.is_empty() {
            return Ok(());
        }
        if log.printed.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            log.pending = Some(line);
        } else {
            eprintln!("{line}");
            log.pending = None;
            log.printed = Some(std::time::Instant::now());
        }
        Ok(())
    }
}
