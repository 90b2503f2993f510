//! Every exit status tern can return, decided here and nowhere else.

use std::process::ExitCode;

/// How a command ended, as far as the exit status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything asked for was done (or, for a plan, nothing needs doing).
    Success,
    /// The run failed; the destination is consistent.
    Error,
    /// A plan with `--detailed-exitcode` found changes to make.
    ChangesPending,
    /// The run completed but skipped entries it could not read or send.
    Partial,
    /// `tern verify` found the destination different from its manifest (or source).
    Differences,
    /// A two-way sync or plan met conflicts (a sync decided them, keeping both versions).
    Conflicts,
    /// The command line was wrong.
    Usage,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Error => 1,
            Status::ChangesPending => 2,
            Status::Partial => 3,
            Status::Differences => 4,
            Status::Conflicts => 5,
            Status::Usage => 64,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s.code())
    }
}
