use std::process::ExitCode;

use clap::Parser;
use port_aws_sync::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    port_aws_sync::logging::init();
    run(cli).await.into()
}
