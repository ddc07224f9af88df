//! Command line: the flags and subcommands, as clap types (dispatch is in `commands`).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::app::settings::{DEFAULT_BLUEPRINTS_DIR, DEFAULT_MAPPING_FILE};

/// Keeps a Port software catalog in sync with AWS accounts, ACM certificates and secrets.
#[derive(Debug, Parser)]
#[command(name = "port-aws-sync", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub files: ConfigFiles,
    /// Use the integration's mapping stored in Port instead of the mapping file
    /// (`resync --dry-run`, `map`, `validate`; needs the Port settings).
    #[arg(long, global = true)]
    pub mapping_from_port: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the mapping and the blueprints live. `None` when neither the flag nor its
/// environment variable is given, so that `run`'s config file can still set them.
#[derive(Debug, Clone, Args)]
pub struct ConfigFiles {
    /// Ocean port-app-config YAML with the jq mappings [default: mapping/port-app-config.yml].
    #[arg(long = "mapping", env = "MAPPING_FILE", global = true)]
    pub given_mapping: Option<PathBuf>,
    /// Directory of Port blueprint JSON files the mapping writes to [default: blueprints].
    #[arg(long = "blueprints", env = "BLUEPRINTS_DIR", global = true)]
    pub given_blueprints: Option<PathBuf>,
}

impl ConfigFiles {
    pub fn mapping(&self) -> &Path {
        self.given_mapping
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_MAPPING_FILE))
    }

    pub fn blueprints(&self) -> &Path {
        self.given_blueprints
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_BLUEPRINTS_DIR))
    }
}

/// Whether the command line (without the program name) runs `plan`: the subcommand is the
/// first word that is neither a flag nor the value of a global flag.
pub fn names_plan(args: &[String]) -> bool {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--mapping" | "--blueprints" => {
                words.next();
            }
            flag if flag.starts_with('-') => {}
            subcommand => return subcommand == "plan",
        }
    }
    false
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One full sync: write what changed in AWS to Port and delete what went stale;
    /// with --dry-run, print the entities as NDJSON on stdout instead.
    Resync(ResyncArgs),
    /// Read Port and AWS, write nothing, and print what a resync would do. Exit 0: no
    /// changes; 2: changes; 1: any error (configuration errors included).
    Plan(PlanArgs),
    /// Load the mapping and blueprints, compile every expression and check they fit together.
    Validate,
    /// Map raw items (NDJSON, e.g. from `resync --dry-run --dump-raw`) offline; print entities.
    Map(MapArgs),
    /// The daemon: resync at start and on a schedule; health, metrics and on-demand resyncs
    /// over HTTP; stops cleanly on SIGTERM/SIGINT.
    Run(RunArgs),
    /// Exit 0 when a local daemon answers on /health/live (for container HEALTHCHECKs).
    Healthcheck(HealthcheckArgs),
    /// Only the self-service actions webhook (WEBHOOK_* settings), without resyncs.
    ServeActions(ServeActionsArgs),
    /// Only the live events (LIVE_EVENTS_QUEUE_URL), without resyncs.
    ServeEvents(ServeEventsArgs),
}

/// Flags of `serve-events`; each beats its environment variable, which beats the config file.
#[derive(Debug, Args)]
pub struct ServeEventsArgs {
    /// YAML file of settings (setting names as keys), below flags and environment.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the health server (LISTEN_ADDR).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Flags of `serve-actions`; each beats its environment variable, which beats the config file.
#[derive(Debug, Args)]
pub struct ServeActionsArgs {
    /// YAML file of settings (setting names as keys), below flags and environment.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP server (LISTEN_ADDR).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Flags of `run`; each beats its environment variable, which beats the config file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// YAML file of settings (setting names as keys), below flags and environment.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// 5-field cron expression in UTC (SCHEDULE).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Minutes between resyncs (RESYNC_INTERVAL_MINUTES).
    #[arg(long, value_name = "MINUTES")]
    pub interval_minutes: Option<String>,
    /// Address of the HTTP server (LISTEN_ADDR).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Do not resync at start (RESYNC_ON_START=false).
    #[arg(long)]
    pub no_resync_on_start: bool,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL to GET; default http://127.0.0.1:<LISTEN_ADDR port>/health/live.
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// Print the entities instead of writing them to Port; needs no Port credentials.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the raw items of each kind to DIR/<kind with :: as _>.ndjson (dry-run only).
    #[arg(long, value_name = "DIR", requires = "dry_run")]
    pub dump_raw: Option<PathBuf>,
    /// Only fetch and map this kind (repeatable; dry-run only). Default: every mapped kind.
    #[arg(long = "kind", value_name = "KIND", requires = "dry_run")]
    pub kinds: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_subcommand_is_told_from_the_first_word_that_is_not_a_flag() {
        let args = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        assert!(names_plan(&args(&["plan", "--limit", "x"])));
        assert!(names_plan(&args(&[
            "--mapping",
            "m.yml",
            "--mapping-from-port",
            "plan"
        ])));
        assert!(!names_plan(&args(&["--mapping", "plan", "resync"])));
        assert!(!names_plan(&args(&["resync", "plan"])));
    }
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanOutput {
    /// For people: the summary, then the entities per blueprint.
    Text,
    /// For machines: one JSON document (layout in the README).
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// text or json.
    #[arg(long, value_enum, default_value = "text")]
    pub output: PlanOutput,
    /// At most this many entities listed per blueprint and section in the text output.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// The kind the raw items are, e.g. AWS::ACM::Certificate: its resources are applied.
    #[arg(long, value_name = "KIND")]
    pub kind: String,
    /// NDJSON file of raw items, one per line; `-` is stdin.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub input: PathBuf,
}
