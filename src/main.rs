use std::process::ExitCode;

// jaq allocates a small object per JSON string and node; mimalloc makes the mapping stage
// several times faster than the system allocator does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use port_aws_sync::cli::Cli;
use port_aws_sync::commands;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    port_aws_sync::logging::init();
    commands::report(commands::dispatch(cli).await).into()
}
