//! The integration suite: one test binary that runs the real `tern`.

#![allow(clippy::unwrap_used)]

mod agent;
mod architecture;
mod build;
mod confinement;
mod crash;
mod daemon;
mod docs;
mod errors;
mod format;
mod harness;
mod metadata;
mod plans;
mod properties;
mod safety;
mod ssh;
mod sshd;
mod sync;
mod twoway;
mod watch;
