//! What the user chose: which regions to read and how many at once.

use super::errors::AwsSetupError;

/// User settings for the sources (the CLI fills it from env/flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Regions to read ACM and Secrets Manager in; None = the SDK's configured region
    /// (AWS_REGION, the profile's region…).
    pub regions: Option<Vec<String>>,
    /// How many regions are fetched at the same time.
    pub region_concurrency: usize,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            regions: None,
            region_concurrency: Self::DEFAULT_REGION_CONCURRENCY,
        }
    }
}

impl AwsSettings {
    pub const DEFAULT_REGION_CONCURRENCY: usize = 4;
    pub const REGIONS_VAR: &'static str = "AWS_REGIONS";
    pub const REGION_CONCURRENCY_VAR: &'static str = "AWS_REGION_CONCURRENCY";

    /// Reads `AWS_REGIONS` (comma-separated) and `AWS_REGION_CONCURRENCY`. Region names
    /// are checked later, by [`super::AwsSources::load`], together with AWS_REGION.
    pub fn from_env() -> Result<Self, AwsSetupError> {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// [`Self::from_env`] with the variables read through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AwsSetupError> {
        let regions = lookup(Self::REGIONS_VAR).and_then(|list| parse_region_list(&list));
        let region_concurrency = match lookup(Self::REGION_CONCURRENCY_VAR) {
            None => Self::DEFAULT_REGION_CONCURRENCY,
            Some(value) if value.trim().is_empty() => Self::DEFAULT_REGION_CONCURRENCY,
            Some(value) => parse_region_concurrency(&value)?,
        };
        Ok(Self {
            regions,
            region_concurrency,
        })
    }
}

/// `" eu-west-1, us-east-1,,eu-west-1"` → `["eu-west-1", "us-east-1"]`: trimmed, empty
/// entries dropped, duplicates dropped keeping the first. None when nothing is left,
/// so an empty AWS_REGIONS means "the configured region" rather than "no region".
pub fn parse_region_list(list: &str) -> Option<Vec<String>> {
    let mut regions: Vec<String> = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if !regions.iter().any(|seen| seen == name) {
            regions.push(name.to_owned());
        }
    }
    (!regions.is_empty()).then_some(regions)
}

fn parse_region_concurrency(value: &str) -> Result<usize, AwsSetupError> {
    match value.trim().parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(AwsSetupError::InvalidSetting {
            name: AwsSettings::REGION_CONCURRENCY_VAR,
            value: value.to_owned(),
            reason: "expected a whole number of at least 1",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<AwsSettings, AwsSetupError> {
        AwsSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(settings(&[]).unwrap(), AwsSettings::default());
        assert_eq!(AwsSettings::default().region_concurrency, 4);
    }

    #[test]
    fn region_list_is_trimmed_deduplicated_and_ordered() {
        let parsed = settings(&[("AWS_REGIONS", " eu-west-1, us-east-1,,eu-west-1 ,")]).unwrap();
        assert_eq!(
            parsed.regions,
            Some(vec!["eu-west-1".to_owned(), "us-east-1".to_owned()])
        );
    }

    #[test]
    fn empty_region_list_means_configured_region() {
        assert_eq!(settings(&[("AWS_REGIONS", " , ")]).unwrap().regions, None);
        assert_eq!(settings(&[("AWS_REGIONS", "")]).unwrap().regions, None);
    }

    #[test]
    fn region_concurrency_is_parsed_and_checked() {
        assert_eq!(
            settings(&[("AWS_REGION_CONCURRENCY", " 8 ")])
                .unwrap()
                .region_concurrency,
            8
        );
        for bad in ["0", "-1", "four", "2.5"] {
            let error = settings(&[("AWS_REGION_CONCURRENCY", bad)]).unwrap_err();
            assert!(
                matches!(
                    error,
                    AwsSetupError::InvalidSetting {
                        name: "AWS_REGION_CONCURRENCY",
                        ..
                    }
                ),
                "{bad}: {error}"
            );
        }
    }
}
