//! `smsgate` command line: parse arguments, then call the library.
mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes joined, for scripts and operators alike.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
