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

/// The regions enabled in the account `config` reads (Account ListRegions with
/// ENABLED and ENABLED_BY_DEFAULT, every page), sorted. Called in `home_region`: the
/// Account API is global.
pub(crate) async fn enabled_regions(
    config: &aws_types::SdkConfig,
    home_region: &str,
) -> Result<Vec<String>, super::errors::AwsFailure> {
    use aws_sdk_account::types::RegionOptStatus;
    let client = super::calls::counted_client!(aws_sdk_account, config, home_region);
    let mut pages = client
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| super::errors::sdk_failure("ListRegions", &error))?;
        names.extend(enabled_region_names(page.regions()));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The names of the enabled regions of a ListRegions page. The request already asks
/// for enabled ones only; the status is checked again so a region being disabled or
/// enabled (ENABLING, DISABLING) is never read half-way. Unknown shapes are dropped.
pub(crate) fn enabled_region_names(regions: &[aws_sdk_account::types::Region]) -> Vec<String> {
    use aws_sdk_account::types::RegionOptStatus;
    regions
        .iter()
        .filter(|region| {
            matches!(
                region.region_opt_status(),
                Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault) | None
            )
        })
        .filter_map(|region| region.region_name())
        .filter(|name| {
            let valid = is_valid_region_name(name);
            if !valid {
                tracing::warn!(
                    region = name,
                    "ListRegions returned an unexpected region name; skipped"
                );
            }
            valid
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{enabled_region_names, is_valid_region_name};

    #[test]
    fn list_regions_keeps_enabled_regions_only() {
        use aws_sdk_account::types::{Region, RegionOptStatus};
        let region = |name: &str, status: RegionOptStatus| {
            Region::builder()
                .region_name(name)
                .region_opt_status(status)
                .build()
        };
        let page = [
            region("us-east-1", RegionOptStatus::EnabledByDefault),
            region("af-south-1", RegionOptStatus::Enabled),
            region("ap-east-1", RegionOptStatus::Disabled),
            region("me-south-1", RegionOptStatus::Enabling),
            region("eu-south-1", RegionOptStatus::Disabling),
            region("not-a-region", RegionOptStatus::Enabled),
        ];
        assert_eq!(enabled_region_names(&page), ["us-east-1", "af-south-1"]);
    }

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
