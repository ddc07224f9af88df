//! Region names: a strict shape check so a typo fails at start-up instead of as a
//! per-region DNS or endpoint error minutes into a resync.

use std::sync::LazyLock;

use regex::Regex;

/// `<partition prefix>-<direction>-<number>`, e.g. `eu-west-1`, `us-gov-west-1`,
/// `us-isob-east-1`, `eusc-de-east-1`. New regions keep this shape, so they pass
/// without a code change; misspellings (`us-easy-1`, `eu-west`, `EU-WEST-1`) do not.
static REGION_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob|us-isof|eu-isoe|eusc-de)-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9][0-9]?$",
    )
    .expect("region pattern is a valid regex")
});

/// True when `name` has the shape of an AWS region name.
pub fn is_valid_region_name(name: &str) -> bool {
    REGION_NAME.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::is_valid_region_name;

    #[test]
    fn accepts_real_regions_of_every_partition() {
        for name in [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "ap-southeast-7",
            "ap-northeast-3",
            "ap-south-2",
            "ap-east-2",
            "sa-east-1",
            "ca-central-1",
            "ca-west-1",
            "me-central-1",
            "af-south-1",
            "il-central-1",
            "mx-central-1",
            "cn-north-1",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-gov-east-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "us-isof-south-1",
            "eu-isoe-west-1",
            "eusc-de-east-1",
        ] {
            assert!(is_valid_region_name(name), "{name} should be accepted");
        }
    }

    #[test]
    fn accepts_future_regions_of_the_same_shape() {
        for name in ["eu-southwest-1", "ap-northwest-12", "us-central-1"] {
            assert!(is_valid_region_name(name), "{name} should be accepted");
        }
    }

    #[test]
    fn rejects_typos_and_other_shapes() {
        for name in [
            "",
            "us-easy-1",
            "eu-west",
            "EU-WEST-1",
            "eu-west-0",
            "eu-west-100",
            "euwest1",
            "eu_west_1",
            " eu-west-1",
            "eu-west-1 ",
            "xx-west-1",
            "us-gov-1",
            "global",
            "aws-global",
            "eu-west-1a",
        ] {
            assert!(!is_valid_region_name(name), "{name:?} should be rejected");
        }
    }
}
