//! The `tern` binary: parse arguments, run, print the error chain, exit with the decided status.

use clap::Parser;
use std::process::ExitCode;
use tern::exit::Status;

fn main() -> ExitCode {
    let cli = match tern::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Status::Usage } else { Status::Success }.into();
        }
    };
    match tern::app::run(cli) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("tern: error: {e:#}");
            Status::Error.into()
        }
    }
}
