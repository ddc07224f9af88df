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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `plan` exits 1 on any error: 2 means "changes" there.
            let args: Vec<String> = std::env::args().skip(1).collect();
            let code = match e.exit_code() {
                2 if port_aws_sync::cli::names_plan(&args) => 1,
                code => code,
            };
            return ExitCode::from(code as u8);
        }
    };
    port_aws_sync::logging::init();
    commands::report(commands::dispatch(cli).await).into()
}
