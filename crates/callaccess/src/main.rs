//! The `callaccess` binary: parses arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = callaccess::cli::Cli::parse();
    callaccess::cli::run(cli)
}
