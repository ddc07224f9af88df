//! Deterministic stand-ins for AWS's random parts (UUIDs, the 6-character secret ARN
//! suffix): a hash of what the item is, so the same item always gets the same values.

/// 2025-01-01T00:00:00Z: every timestamp is a fixed offset from it, so two listings agree.
pub const EPOCH: i64 = 1_735_689_600;

/// When item `index` was created: up to about 700 days before [`EPOCH`], ten minutes apart.
pub fn created_at(index: usize) -> i64 {
    EPOCH - (index as i64 % 100_000) * 600
}

/// SplitMix64's finaliser: well mixed 64 bits from any input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a string, to fold a region name into a seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The seed of one item: what kind of value it is for, its region and its index.
pub fn seed(purpose: &str, region: &str, index: usize) -> u64 {
    mix(fnv1a(purpose) ^ mix(fnv1a(region) ^ index as u64))
}

/// A lowercase UUID-shaped string (8-4-4-4-12 hex digits).
pub fn uuid(seed: u64) -> String {
    let high = mix(seed);
    let low = mix(high);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

/// Six characters of `[A-Za-z0-9]`, like the suffix Secrets Manager appends to a secret's ARN.
pub fn arn_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bits = mix(seed);
    (0..6)
        .map(|_| {
            let c = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_item_same_values_other_item_other_values() {
        assert_eq!(
            seed("secret", "eu-west-1", 7),
            seed("secret", "eu-west-1", 7)
        );
        assert_ne!(
            seed("secret", "eu-west-1", 7),
            seed("secret", "eu-west-1", 8)
        );
        assert_ne!(
            seed("secret", "eu-west-1", 7),
            seed("secret", "us-east-1", 7)
        );
        assert_ne!(
            seed("secret", "eu-west-1", 7),
            seed("version", "eu-west-1", 7)
        );
    }

    #[test]
    fn shapes_of_uuid_and_suffix() {
        let id = uuid(seed("certificate", "eu-west-1", 0));
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let suffix = arn_suffix(seed("secret", "eu-west-1", 0));
        assert_eq!(suffix.len(), 6);
        assert!(
            suffix.chars().all(|c| c.is_ascii_alphanumeric()),
            "{suffix}"
        );
    }
}
