use std::process::ExitCode;

// jaq allocates a small object per JSON string and node; mimalloc makes the mapping stage
// several times faster than the system allocator does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use port_aws_sync::cli::Cli;
use port_aws_sync::commands;

/// mimalloc's `mi_option_purge_delay` (libmimalloc-sys does not export it as a constant).
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// A mostly waiting process should hand freed pages back at once, not after mimalloc's
/// default second: the peak of a resync is not kept. `MIMALLOC_PURGE_DELAY` still wins.
fn return_freed_pages_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options; no pointer is involved.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    return_freed_pages_at_once();
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
