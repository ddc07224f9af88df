//! Mapping-stage throughput on synthetic ACM items with the shipped mapping.
//!
//! `cargo bench --bench mapping [-- ITEMS]` prints entities per second; it asserts nothing.
//! `cargo bench --bench mapping -- --emit N` instead writes N of the synthetic items as NDJSON
//! on stdout, the input of `scripts/bench-map.sh` (the `map` command against the jq CLI).

use std::path::Path;
use std::time::Instant;

use port_aws_sync::mapping::{Mapping, Outcome, Transformer, jq};
use serde_json::{Value, json};

// The same allocator as the binary, so the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn certificate(i: usize) -> Value {
    let region = ["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3];
    let arn =
        format!("arn:aws:acm:{region}:123456789012:certificate/{i:08x}-1f2e-4d3c-9b8a-{i:012x}");
    let status = ["ISSUED", "PENDING_VALIDATION", "EXPIRED"][i % 3];
    let key_algorithm = ["RSA_2048", "EC_prime256v1", "RSA_4096"][i % 3];
    json!({
        "CertificateArn": arn,
        "DomainName": format!("svc-{i}.example.com"),
        "SubjectAlternativeNameSummaries": [format!("svc-{i}.example.com"), format!("www.svc-{i}.example.com")],
        "HasAdditionalSubjectAlternativeNames": false,
        "Status": status,
        "Type": if i.is_multiple_of(2) { "AMAZON_ISSUED" } else { "IMPORTED" },
        "KeyAlgorithm": key_algorithm,
        "KeyUsages": ["DIGITAL_SIGNATURE", "KEY_ENCIPHERMENT"],
        "ExtendedKeyUsages": ["TLS_WEB_SERVER_AUTHENTICATION", "TLS_WEB_CLIENT_AUTHENTICATION"],
        "ExportOption": "DISABLED",
        "InUse": i.is_multiple_of(4),
        "Exported": false,
        "RenewalEligibility": if i.is_multiple_of(2) { "ELIGIBLE" } else { "INELIGIBLE" },
        "NotBefore": "2025-01-01T00:00:00Z",
        "NotAfter": "2026-01-01T00:00:00Z",
        "CreatedAt": "2024-12-31T23:59:59Z",
        "IssuedAt": "2025-01-01T00:00:00Z",
        "__Kind": "AWS::ACM::Certificate",
        "__AccountId": "123456789012",
        "__Region": region,
        "__ExtraContext": {"AccountId": "123456789012", "Region": region},
    })
}

/// Writes `count` synthetic items, one JSON object per line.
fn emit(count: usize) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..count {
        serde_json::to_writer(&mut out, &certificate(i))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn main() {
    // cargo bench adds `--bench`; everything but `--emit N` and a count is ignored.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--emit") {
        let count = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .expect("--emit takes a number of items");
        emit(count).expect("write the items to stdout");
        return;
    }
    let count: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let mapping = Mapping::load(Path::new("mapping/port-app-config.yml")).expect("shipped mapping");
    let items: Vec<Value> = (0..count).map(certificate).collect();
    let kind = "AWS::ACM::Certificate";

    // Warm-up, then the measured runs; the best run is the least disturbed by the machine.
    let mut best = f64::MAX;
    let mut produced = 0;
    for _ in 0..4 {
        let mut transformer = Transformer::new(&mapping);
        produced = 0;
        let started = Instant::now();
        for item in &items {
            transformer.map_json(kind, item, &mut |outcome| {
                if let Outcome::Entity(entity) = outcome {
                    produced += 1;
                    std::hint::black_box(entity);
                }
            });
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    assert_eq!(produced, count, "every synthetic item maps to one entity");
    println!(
        "mapping: {count} ACM items -> {produced} entities in {:.3} s on one core: {:.0} entities/s",
        best,
        count as f64 / best
    );

    // The JSON-to-jaq conversion alone, to see how much of the time it takes.
    let started = Instant::now();
    for item in &items {
        std::hint::black_box(jq::to_val(item));
    }
    let convert = started.elapsed().as_secs_f64();
    println!(
        "  of which converting raw items to jaq values: {:.3} s ({:.0} items/s)",
        convert,
        count as f64 / convert
    );
}
