//! Small helpers that import nothing from the rest of the crate, so every room may use them.
//!
//! - [`failpoint`]: test-only crash points (compiled in with `--features failpoints`);
//! - [`progress`]: the one sink through which the core reports progress and notes;
//! - [`sorted`]: sorting that keeps the last of equal keys;
//! - [`timefmt`]: the time formats tern prints and records.

pub mod failpoint;
pub mod progress;
pub mod sorted;
pub mod timefmt;
