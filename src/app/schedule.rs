//! When scheduled resyncs happen: a 5-field cron expression (UTC) or a fixed interval.

use std::time::Duration;

use crate::config::SettingError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// The cron expression as the user wrote it (5 fields) and as tokio-cron-scheduler takes
    /// it (with a leading seconds field).
    Cron {
        expression: String,
        with_seconds: String,
    },
    Every(Duration),
}

impl Schedule {
    /// Checks a standard 5-field cron expression (minute hour day-of-month month day-of-week,
    /// UTC) and converts it to the 6-field form tokio-cron-scheduler wants by firing at second 0.
    pub fn cron(setting: &str, expression: &str) -> Result<Schedule, SettingError> {
        let fail = |why: &str| SettingError {
            name: setting.to_owned(),
            problem: format!("{why}, got {expression:?}"),
        };
        let trimmed = expression.trim();
        let fields = trimmed.split_whitespace().count();
        if trimmed.starts_with('@') {
            return Err(fail(
                "expected a 5-field cron expression (minute hour day-of-month month day-of-week, UTC), not a nickname",
            ));
        }
        if fields != 5 {
            return Err(fail(&format!(
                "expected a 5-field cron expression (minute hour day-of-month month day-of-week, UTC) but it has {fields} field(s)"
            )));
        }
        let with_seconds = format!(
            "0 {}",
            trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        // The scheduler's own parser decides: what it accepts here it accepts at start.
        tokio_cron_scheduler::Job::new_async(with_seconds.as_str(), |_, _| Box::pin(async {}))
            .map_err(|e| fail(&format!("not a valid cron expression ({e})")))?;
        Ok(Schedule::Cron {
            expression: trimmed.to_owned(),
            with_seconds,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { expression, .. } => format!("cron {expression:?} (UTC)"),
            Schedule::Every(every) => format!("every {}", humantime(*every)),
        }
    }
}

fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(3600) && secs > 0 {
        format!("{} h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_fields_get_a_seconds_field() {
        let s = Schedule::cron("SCHEDULE", " */15 * * * 1-5 ").unwrap();
        assert_eq!(
            s,
            Schedule::Cron {
                expression: "*/15 * * * 1-5".into(),
                with_seconds: "0 */15 * * * 1-5".into()
            }
        );
        assert!(Schedule::cron("SCHEDULE", "0 3 * * *").is_ok());
    }

    #[test]
    fn bad_expressions_name_setting_and_value() {
        for bad in [
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "@hourly",
            "a b c d e",
        ] {
            let err = Schedule::cron("SCHEDULE", bad).unwrap_err();
            assert_eq!(err.name, "SCHEDULE");
            assert!(err.problem.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
