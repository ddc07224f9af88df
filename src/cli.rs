//! Command line: flags, environment, dispatch and exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// Keeps a Port software catalog in sync with AWS accounts, ACM certificates and secrets.
#[derive(Debug, Parser)]
#[command(name = "port-aws-sync", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub files: ConfigFiles,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the mapping and the blueprints live.
#[derive(Debug, Clone, Args)]
pub struct ConfigFiles {
    /// Ocean port-app-config YAML with the jq mappings.
    #[arg(
        long,
        env = "MAPPING_FILE",
        default_value = "mapping/port-app-config.yml",
        global = true
    )]
    pub mapping: PathBuf,
    /// Directory of Port blueprint JSON files the mapping writes to.
    #[arg(
        long,
        env = "BLUEPRINTS_DIR",
        default_value = "blueprints",
        global = true
    )]
    pub blueprints: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One full sync: write what changed in AWS to Port and delete what went stale;
    /// with --dry-run, print the entities as NDJSON on stdout instead.
    Resync(ResyncArgs),
    /// Load the mapping and blueprints, compile every expression and check they fit together.
    Validate,
}

#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// Print the entities instead of writing them to Port; needs no Port credentials.
    #[arg(long)]
    pub dry_run: bool,
}

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything synced.
    Success = 0,
    /// Finished, but some scope, item or write failed.
    Failures = 1,
    /// Bad configuration or usage; nothing was fetched or written.
    Config = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

pub async fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Validate => commands::validate::run(&cli.files),
        Command::Resync(args) if args.dry_run => commands::dry_run::run(&cli.files).await,
        Command::Resync(_) => commands::resync::run(&cli.files).await,
    }
}
