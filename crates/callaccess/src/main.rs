//! The `callaccess` binary: parses arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: each request allocates and
/// frees many small buffers on two runtime threads, and glibc's allocator
/// showed up in the profiles (`malloc_consolidate`, `_int_free`,
/// docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = callaccess::cli::Cli::parse();
    callaccess::cli::run(cli)
}
