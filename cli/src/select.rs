//! Which incidents a command looks at: `--open`, `--since DURATION`, `--resource ID`.

use chrono::{DateTime, Duration, Utc};
use rebound::domain::Incident;
use rebound::readable::short_name;

/// `30m`, `12h`, `7d`: a whole number and a unit (`s`, `m`, `h`, `d`, `w`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!("invalid duration {text:?}: expected a whole number and a unit (s, m, h, d, w), like 30m, 12h or 7d")
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| invalid())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    // Ten years is more history than any table keeps; past it is a typo.
    let seconds = n
        .checked_mul(seconds_per_unit)
        .filter(|s| (1..=10 * 365 * 86_400).contains(s))
        .ok_or_else(invalid)?;
    Ok(Duration::seconds(seconds))
}

/// The filters of `rebound incidents`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only incidents not resolved.
    pub open: bool,
    /// Only incidents opened at or after this time.
    pub opened_since: Option<DateTime<Utc>>,
    /// Only incidents of this resource, by id or short name.
    pub resource: Option<String>,
}

impl Selection {
    pub fn matches(&self, incident: &Incident) -> bool {
        (!self.open || !incident.state.is_closed())
            && self
                .opened_since
                .is_none_or(|since| incident.opened_at >= since)
            && self
                .resource
                .as_deref()
                .is_none_or(|wanted| is_resource(incident, wanted))
    }
}

/// The incident is about `wanted`: its resource id (a target group's ARN) or the short
/// name people know it by (`web`).
pub fn is_resource(incident: &Incident, wanted: &str) -> bool {
    let id = incident.resource.id.as_str();
    id == wanted || short_name(id) == wanted
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rebound::domain::{Evidence, IncidentState, Opening, ResourceRef, ResourceType};

    use super::*;

    #[test]
    fn durations_read_as_a_number_and_a_unit() {
        assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_duration("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("2w"), Ok(Duration::weeks(2)));
        assert_eq!(parse_duration("45s"), Ok(Duration::seconds(45)));
        for bad in [
            "",
            "7",
            "d",
            "7 days",
            "-1d",
            "0h",
            "1.5h",
            "99999999999999d",
            "7D",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("like 30m, 12h or 7d"), "{bad}: {err}");
        }
    }

    fn incident(id: &str, opened: DateTime<Utc>, state: IncidentState) -> Incident {
        Incident::open(
            Opening {
                resource: ResourceRef::new(ResourceType::named("target-group"), id),
                trigger: "alarm:x".into(),
                evidence: Evidence::default(),
                summary: "opened".into(),
                rto_s: None,
                drill: None,
            },
            opened,
        )
        .stored_with(|record| record.state = state)
    }

    const WEB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/73e2d6bc24d8a067";
    const API: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/0a1b2c3d4e5f6a7b";

    #[test]
    fn a_resource_is_found_by_its_id_or_its_short_name() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let web = incident(WEB, now, IncidentState::Open);
        for wanted in [WEB, "web"] {
            assert!(is_resource(&web, wanted), "{wanted}");
        }
        for wanted in ["we", API, "api", "targetgroup/web/73e2d6bc24d8a067"] {
            assert!(!is_resource(&web, wanted), "{wanted}");
        }
    }

    #[test]
    fn the_filters_combine() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let recent_open = incident(WEB, now - Duration::hours(2), IncidentState::Escalated);
        let old_open = incident(WEB, now - Duration::days(3), IncidentState::Open);
        let recent_resolved = incident(API, now - Duration::hours(1), IncidentState::Resolved);
        let selection = Selection {
            open: true,
            opened_since: Some(now - Duration::days(1)),
            resource: None,
        };
        assert!(selection.matches(&recent_open));
        assert!(!selection.matches(&old_open), "opened before the window");
        assert!(!selection.matches(&recent_resolved), "resolved");
        let api = Selection {
            resource: Some("api".into()),
            ..Selection::default()
        };
        assert!(api.matches(&recent_resolved));
        assert!(!api.matches(&recent_open));
    }
}
