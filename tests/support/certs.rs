//! Self-signed certificates made with the `openssl` command, for seeding ACM.

use std::process::Command;

/// The key of a test certificate.
#[derive(Debug, Clone, Copy)]
pub enum KeySpec {
    /// `EC_prime256v1` in ACM.
    EcP256,
    /// `RSA_<bits>` in ACM.
    Rsa(u32),
}

impl KeySpec {
    /// ACM's name of the key algorithm (`KeyAlgorithm`).
    pub fn acm_name(self) -> String {
        match self {
            KeySpec::EcP256 => "EC_prime256v1".to_owned(),
            KeySpec::Rsa(bits) => format!("RSA_{bits}"),
        }
    }
}

/// A PEM certificate and its unencrypted PEM private key.
pub struct SelfSigned {
    pub certificate_pem: Vec<u8>,
    pub private_key_pem: Vec<u8>,
}

/// A self-signed certificate for `domain` valid for 30 days.
pub fn self_signed(key: KeySpec, domain: &str) -> SelfSigned {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key_path = dir.path().join("key.pem");
    let cert_path = dir.path().join("cert.pem");
    let mut command = Command::new("openssl");
    command.args(["req", "-x509", "-nodes", "-days", "30"]);
    match key {
        KeySpec::EcP256 => {
            command.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        }
        KeySpec::Rsa(bits) => command.args(["-newkey", &format!("rsa:{bits}")]),
    };
    command
        .arg("-subj")
        .arg(format!("/CN={domain}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{domain}"))
        .arg("-keyout")
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path);
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run openssl (apt-get install openssl): {error}"));
    assert!(
        output.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    SelfSigned {
        certificate_pem: std::fs::read(&cert_path).expect("certificate written by openssl"),
        private_key_pem: std::fs::read(&key_path).expect("key written by openssl"),
    }
}
