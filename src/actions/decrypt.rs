//! Port's encrypted inputs (`"encryption": "aes256-gcm"`): base64 of IV (16 bytes) ‖
//! ciphertext ‖ tag (16 bytes), AES-256-GCM keyed with the first 32 bytes of the client secret.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::port::Secret;

const IV_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
const KEY_BYTES: usize = 32;

/// AES-256-GCM with Port's 16-byte nonce.
type PortCipher = AesGcm<Aes256, U16>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("PORT_CLIENT_SECRET is shorter than 32 bytes, so it cannot be Port's encryption key")]
    ShortKey,
    #[error("input {0:?} is encrypted but its value is not a string")]
    NotAString(String),
    #[error("input {0:?} is not base64 of IV, ciphertext and tag")]
    Malformed(String),
    #[error(
        "input {0:?} could not be decrypted: it was not encrypted with this PORT_CLIENT_SECRET, or it was altered"
    )]
    Rejected(String),
    #[error("input {0:?} decrypted to bytes that are not UTF-8 text")]
    NotText(String),
}

/// Decrypts one input's value. `field` only names it in errors.
pub fn decrypt(field: &str, value: &str, client_secret: &Secret) -> Result<Secret, DecryptError> {
    let key = client_secret
        .expose()
        .as_bytes()
        .get(..KEY_BYTES)
        .ok_or(DecryptError::ShortKey)?;
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|_| DecryptError::Malformed(field.to_owned()))?;
    if bytes.len() < IV_BYTES + TAG_BYTES {
        return Err(DecryptError::Malformed(field.to_owned()));
    }
    let (iv, sealed) = bytes.split_at(IV_BYTES);
    let cipher = PortCipher::new_from_slice(key).map_err(|_| DecryptError::ShortKey)?;
    let nonce =
        Nonce::<U16>::try_from(iv).map_err(|_| DecryptError::Malformed(field.to_owned()))?;
    let plain = cipher
        .decrypt(&nonce, sealed)
        .map_err(|_| DecryptError::Rejected(field.to_owned()))?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| DecryptError::NotText(field.to_owned()))
}

/// Encrypts `plain` as Port does, with `iv`; for the tests, which play Port.
pub fn encrypt(plain: &str, client_secret: &str, iv: [u8; IV_BYTES]) -> String {
    let cipher =
        PortCipher::new_from_slice(&client_secret.as_bytes()[..KEY_BYTES]).expect("a 32-byte key");
    let nonce = Nonce::<U16>::from(iv);
    let sealed = cipher
        .encrypt(&nonce, plain.as_bytes())
        .expect("AES-GCM encrypts any short message");
    let mut out = iv.to_vec();
    out.extend_from_slice(&sealed);
    STANDARD.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdefEXTRA";

    #[test]
    fn round_trip_uses_only_the_first_32_bytes_of_the_secret() {
        let sealed = encrypt("hunter2", SECRET, [7; 16]);
        let other_tail = Secret::new("0123456789abcdef0123456789abcdefOTHER");
        assert_eq!(
            decrypt("secretValue", &sealed, &other_tail)
                .unwrap()
                .expose(),
            "hunter2"
        );
    }

    #[test]
    fn known_vector_from_an_independent_implementation() {
        // OpenSSL through Python's `cryptography`, key b"0"*32, IV bytes 0..16:
        // iv + AESGCM(key).encrypt(iv, b"hello", None), base64
        let sealed = "AAECAwQFBgcICQoLDA0OD8/8tssycRwsNi76nK/wikNIJBmMTw==";
        let key = Secret::new("0".repeat(32));
        assert_eq!(decrypt("v", sealed, &key).unwrap().expose(), "hello");
    }

    #[test]
    fn failures_are_named_never_guessed() {
        let key = Secret::new(SECRET);
        let sealed = encrypt("value", SECRET, [1; 16]);
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        tampered[20] ^= 1;
        assert_eq!(
            decrypt("secretValue", &STANDARD.encode(tampered), &key),
            Err(DecryptError::Rejected("secretValue".into()))
        );
        assert_eq!(
            decrypt("secretValue", "plain text!", &key),
            Err(DecryptError::Malformed("secretValue".into()))
        );
        assert_eq!(
            decrypt("secretValue", &sealed, &Secret::new("short")),
            Err(DecryptError::ShortKey)
        );
        let wrong = Secret::new("x".repeat(32));
        assert_eq!(
            decrypt("secretValue", &sealed, &wrong),
            Err(DecryptError::Rejected("secretValue".into()))
        );
    }
}
