//! Serves the synthetic AWS endpoint until killed. Settings from the environment:
//! `AWS_SYNTHETIC_BIND` (127.0.0.1:0, any free port), `AWS_SYNTHETIC_ACCOUNT_ID`
//! (123456789012), `AWS_SYNTHETIC_SECRETS_PER_REGION` (1000),
//! `AWS_SYNTHETIC_CERTIFICATES_PER_REGION` (100). Prints its URL on stdout once listening.

use std::io::Write;
use std::process::ExitCode;

use aws_synthetic::server::router;
use aws_synthetic::settings::Settings;

// One thread: a page is generated in well under a millisecond, and the benchmark's cores
// belong to the binary under test.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let settings = match Settings::from_vars(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("aws-synthetic: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("aws-synthetic: cannot listen on {}: {error}", settings.bind);
            return ExitCode::from(2);
        }
    };
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    let catalog = &settings.catalog;
    println!(
        "aws-synthetic listening on http://{address} (account {}, {} secrets and {} \
         certificates per region)",
        catalog.account_id, catalog.secrets_per_region, catalog.certificates_per_region
    );
    let _ = std::io::stdout().flush();
    if let Err(error) = axum::serve(listener, router(settings.catalog)).await {
        eprintln!("aws-synthetic: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
