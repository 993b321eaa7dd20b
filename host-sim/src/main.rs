//! The `host-sim` command; see `host-sim --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap prints its own errors and exits with status 2; `--help` exits with 0.
    let args = host_sim::cli::Args::parse();
    match host_sim::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the error's context chain on one line.
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
