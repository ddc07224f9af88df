//! Runs the Port API emulator as a process, for demos and manual testing.
//!
//! Request counts: `GET /_emulator/requests` at any time; printed on Ctrl-C as well.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use port_emulator::{DEFAULT_SEED_DATASOURCE, Emulator, Faults, RateLimitHint, read_json};
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(
    name = "port-emulator",
    about = "Emulates the Port REST API subset port-aws-sync uses"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "PORT_EMULATOR_BIND", default_value = "127.0.0.1:5555")]
    bind: SocketAddr,
    /// Accepted client credentials as CLIENT_ID:CLIENT_SECRET (repeatable).
    #[arg(
        long = "credentials",
        env = "PORT_EMULATOR_CREDENTIALS",
        value_delimiter = ','
    )]
    credentials: Vec<String>,
    /// Token lifetime in seconds (Port: about 3 hours).
    #[arg(
        long,
        env = "PORT_EMULATOR_TOKEN_LIFETIME_SECS",
        default_value_t = 10800
    )]
    token_lifetime_secs: u64,
    /// Directory of blueprint JSON files to load at start.
    #[arg(long, env = "PORT_EMULATOR_BLUEPRINTS_DIR")]
    blueprints_dir: Option<PathBuf>,
    /// JSON file with an array of entities to seed; each carries a `blueprint` key.
    #[arg(long, env = "PORT_EMULATOR_ENTITIES")]
    entities: Option<PathBuf>,
    /// `$datasource` recorded for seeded entities.
    #[arg(long, env = "PORT_EMULATOR_SEED_DATASOURCE", default_value = DEFAULT_SEED_DATASOURCE)]
    seed_datasource: String,
    /// Request body limit in bytes (Port: 1 MiB).
    #[arg(long, env = "PORT_EMULATOR_BODY_LIMIT", default_value_t = port_emulator::PORT_BODY_LIMIT)]
    body_limit: usize,
    /// Latency added to every request, in milliseconds.
    #[arg(long, env = "PORT_EMULATOR_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Probability (0..1) of answering a 5xx.
    #[arg(long, env = "PORT_EMULATOR_ERROR_RATE", default_value_t = 0.0)]
    error_rate: f64,
    /// Probability (0..1) of answering 429.
    #[arg(long, env = "PORT_EMULATOR_RATE_LIMIT_RATE", default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Answer 429 to the next N requests.
    #[arg(long, env = "PORT_EMULATOR_RATE_LIMIT_NEXT", default_value_t = 0)]
    rate_limit_next: u32,
    /// Seconds a 429 asks to wait (Retry-After and x-ratelimit-reset).
    #[arg(long, env = "PORT_EMULATOR_RETRY_AFTER_SECS", default_value_t = 1)]
    retry_after_secs: u64,
    /// Seed of the fault draws.
    #[arg(long, env = "PORT_EMULATOR_FAULT_SEED", default_value_t = 0)]
    fault_seed: u64,
}

fn seed_entities(emu: &Emulator, file: &Path, datasource: &str) -> Result<(), String> {
    let Value::Array(entities) = read_json(file)? else {
        return Err(format!(
            "{} must hold a JSON array of entities",
            file.display()
        ));
    };
    for entity in entities {
        let blueprint = entity["blueprint"]
            .as_str()
            .ok_or_else(|| format!("entity without a blueprint key: {entity}"))?
            .to_string();
        emu.seed_entities(&blueprint, [entity], datasource)?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "port_emulator=info".into()),
        )
        .init();
    let args = Args::parse();
    let mut builder = Emulator::builder()
        .bind(args.bind)
        .token_lifetime(Duration::from_secs(args.token_lifetime_secs))
        .body_limit(args.body_limit)
        .faults(Faults {
            latency_ms: args.latency_ms,
            server_error_rate: args.error_rate,
            rate_limit_rate: args.rate_limit_rate,
            rate_limit_next: args.rate_limit_next,
            retry_after_secs: args.retry_after_secs,
            rate_limit_hint: RateLimitHint::Both,
            seed: args.fault_seed,
            ..Faults::default()
        });
    for pair in &args.credentials {
        let (id, secret) = pair
            .split_once(':')
            .ok_or("--credentials takes CLIENT_ID:CLIENT_SECRET")?;
        builder = builder.credentials(id, secret);
    }
    if let Some(dir) = &args.blueprints_dir {
        builder = builder.blueprints_dir(dir);
    }
    let emu = builder.try_start().await?;
    if let Some(file) = &args.entities {
        seed_entities(&emu, file, &args.seed_datasource)?;
    }
    // The secret is the operator's own test credential, but stays out of the log all the same.
    println!(
        "port-emulator listening on {} (client id {}); counts at {}/_emulator/requests",
        emu.base_url(),
        emu.client_id(),
        emu.base_url()
    );
    tokio::signal::ctrl_c().await?;
    println!("{}", emu.request_counts());
    emu.shutdown().await;
    Ok(())
}
