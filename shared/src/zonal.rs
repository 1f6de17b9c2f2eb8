//! The zonal rule: when the failing targets behind a load balancer are one zone's
//! problem rather than its instances' or the whole fleet's (DESIGN.md invariant 15).
//!
//! Both zone-aware kinds read it: the zone kind evacuates a zone that is the isolated
//! outlier, and target groups hold (never replace) the instances of a zone that looks
//! like one, because a replacement launched into a grey zone fails too and only churns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Env, Variable};
use crate::ids::AvailabilityZone;

/// A zone needs at least this many unhealthy targets to be an outlier: one bad instance
/// is an instance incident, however small its zone.
pub const MIN_UNHEALTHY_IN_ZONE: usize = 2;

pub const ZONE_IMPAIRED_PERCENT: Variable = Variable::number(
    "ZONE_IMPAIRED_PERCENT",
    50,
    1,
    100,
    "percent",
    "A zone is impaired when at least this share of its targets (and at least two) are unhealthy while every other zone stays below ZONE_HEALTHY_PERCENT.",
);
pub const ZONE_HEALTHY_PERCENT: Variable = Variable::number(
    "ZONE_HEALTHY_PERCENT",
    10,
    1,
    99,
    "percent",
    "Every other zone's unhealthy share must stay below this for one zone to be the isolated outlier; must be below ZONE_IMPAIRED_PERCENT.",
);

/// The rule's two thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonalRule {
    pub impaired_percent: u32,
    pub healthy_percent: u32,
}

impl Default for ZonalRule {
    fn default() -> Self {
        Self {
            impaired_percent: 50,
            healthy_percent: 10,
        }
    }
}

impl ZonalRule {
    pub const VARIABLES: &'static [Variable] = &[ZONE_IMPAIRED_PERCENT, ZONE_HEALTHY_PERCENT];

    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let rule = Self {
            impaired_percent: env.count(&ZONE_IMPAIRED_PERCENT)?,
            healthy_percent: env.count(&ZONE_HEALTHY_PERCENT)?,
        };
        if rule.healthy_percent >= rule.impaired_percent {
            // Name the one that was set (the healthy share when both were).
            return Err(if env.is_set(&ZONE_HEALTHY_PERCENT) {
                ConfigError::Invalid {
                    name: ZONE_HEALTHY_PERCENT.name,
                    value: rule.healthy_percent.to_string(),
                    expected: format!(
                        "a share below ZONE_IMPAIRED_PERCENT ({})",
                        rule.impaired_percent
                    ),
                }
            } else {
                ConfigError::Invalid {
                    name: ZONE_IMPAIRED_PERCENT.name,
                    value: rule.impaired_percent.to_string(),
                    expected: format!(
                        "a share above ZONE_HEALTHY_PERCENT ({})",
                        rule.healthy_percent
                    ),
                }
            });
        }
        Ok(rule)
    }
}

/// One zone's targets as the rule counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCount {
    pub zone: AvailabilityZone,
    /// Targets taking part in serving (healthy or failing).
    pub targets: usize,
    pub unhealthy: usize,
}

impl ZoneCount {
    fn share_at_least(&self, percent: u32) -> bool {
        self.unhealthy.saturating_mul(100) >= (percent as usize).saturating_mul(self.targets)
    }

    fn share_below(&self, percent: u32) -> bool {
        self.unhealthy.saturating_mul(100) < (percent as usize).saturating_mul(self.targets)
    }

    /// Every target serving is healthy, and there is at least one.
    pub fn all_healthy(&self) -> bool {
        self.targets > 0 && self.unhealthy == 0
    }

    /// "2 of 2 unhealthy in us-east-1b".
    pub fn describe(&self) -> String {
        format!(
            "{} of {} targets unhealthy in {}",
            self.unhealthy, self.targets, self.zone
        )
    }
}

/// Counts targets per zone: each `(zone, unhealthy)` is one serving target. The result
/// is ordered by zone.
pub fn count<'a>(
    targets: impl IntoIterator<Item = (&'a AvailabilityZone, bool)>,
) -> Vec<ZoneCount> {
    let mut zones: BTreeMap<&AvailabilityZone, (usize, usize)> = BTreeMap::new();
    for (zone, unhealthy) in targets {
        let entry = zones.entry(zone).or_default();
        entry.0 += 1;
        entry.1 += usize::from(unhealthy);
    }
    zones
        .into_iter()
        .map(|(zone, (targets, unhealthy))| ZoneCount {
            zone: zone.clone(),
            targets,
            unhealthy,
        })
        .collect()
}

/// The zone that is the isolated outlier, if one is: at least two of its targets and at
/// least the impaired share unhealthy, while every other zone that serves stays below
/// the healthy share — and there is another zone to serve at all. A failure spanning
/// zones, or a single bad instance, is no zone's.
pub fn outlier<'a>(counts: &'a [ZoneCount], rule: &ZonalRule) -> Option<&'a ZoneCount> {
    let mut impaired = counts.iter().filter(|c| {
        c.targets > 0
            && c.unhealthy >= MIN_UNHEALTHY_IN_ZONE
            && c.share_at_least(rule.impaired_percent)
    });
    let candidate = impaired.next()?;
    if impaired.next().is_some() {
        return None;
    }
    let others: Vec<&ZoneCount> = counts
        .iter()
        .filter(|c| c.zone != candidate.zone && c.targets > 0)
        .collect();
    let isolated = !others.is_empty() && others.iter().all(|c| c.share_below(rule.healthy_percent));
    isolated.then_some(candidate)
}

/// Whether failures span zones: more than one zone has an unhealthy share at or above
/// the healthy one.
pub fn spread(counts: &[ZoneCount], rule: &ZonalRule) -> bool {
    counts
        .iter()
        .filter(|c| c.targets > 0 && c.unhealthy > 0 && !c.share_below(rule.healthy_percent))
        .count()
        > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str, targets: usize, unhealthy: usize) -> ZoneCount {
        ZoneCount {
            zone: AvailabilityZone::parse(name).unwrap(),
            targets,
            unhealthy,
        }
    }

    fn outlier_of(counts: &[ZoneCount]) -> Option<String> {
        outlier(counts, &ZonalRule::default()).map(|c| c.zone.to_string())
    }

    #[test]
    fn one_zone_failing_while_the_others_serve_is_the_outlier() {
        let counts = [zone("us-east-1a", 2, 0), zone("us-east-1b", 2, 2)];
        assert_eq!(outlier_of(&counts).as_deref(), Some("us-east-1b"));
        let counts = [
            zone("us-east-1a", 10, 0),
            zone("us-east-1b", 4, 2),
            zone("us-east-1c", 10, 0),
        ];
        assert_eq!(outlier_of(&counts).as_deref(), Some("us-east-1b"));
    }

    #[test]
    fn two_zones_failing_is_no_zone_s_problem() {
        let counts = [
            zone("us-east-1a", 4, 3),
            zone("us-east-1b", 4, 4),
            zone("us-east-1c", 4, 0),
        ];
        assert_eq!(outlier_of(&counts), None);
        assert!(spread(&counts, &ZonalRule::default()));
    }

    #[test]
    fn every_zone_failing_is_systemic_not_zonal() {
        let counts = [zone("us-east-1a", 2, 2), zone("us-east-1b", 2, 2)];
        assert_eq!(outlier_of(&counts), None);
    }

    #[test]
    fn a_single_bad_instance_is_an_instance_incident_even_alone_in_its_zone() {
        let counts = [zone("us-east-1a", 3, 0), zone("us-east-1b", 1, 1)];
        assert_eq!(outlier_of(&counts), None);
        assert!(!spread(&counts, &ZonalRule::default()));
    }

    #[test]
    fn another_zone_above_the_low_share_breaks_the_isolation() {
        let counts = [zone("us-east-1a", 10, 1), zone("us-east-1b", 4, 4)];
        assert_eq!(outlier_of(&counts), None);
        let counts = [zone("us-east-1a", 11, 1), zone("us-east-1b", 4, 4)];
        assert_eq!(outlier_of(&counts).as_deref(), Some("us-east-1b"));
    }

    #[test]
    fn a_zone_below_the_impaired_share_is_not_impaired() {
        let counts = [zone("us-east-1a", 10, 0), zone("us-east-1b", 10, 4)];
        assert_eq!(outlier_of(&counts), None);
    }

    #[test]
    fn a_lone_zone_has_nowhere_to_shift_to() {
        let counts = [zone("us-east-1a", 4, 4), zone("us-east-1b", 0, 0)];
        assert_eq!(outlier_of(&counts), None);
    }

    #[test]
    fn targets_are_counted_per_zone_in_zone_order() {
        let a = AvailabilityZone::parse("us-east-1a").unwrap();
        let b = AvailabilityZone::parse("us-east-1b").unwrap();
        let counts = count([(&b, true), (&a, false), (&b, false)]);
        assert_eq!(
            counts,
            vec![zone("us-east-1a", 1, 0), zone("us-east-1b", 2, 1)]
        );
    }

    #[test]
    fn the_healthy_share_must_stay_below_the_impaired_one() {
        let vars = [
            ("ZONE_IMPAIRED_PERCENT", "40"),
            ("ZONE_HEALTHY_PERCENT", "40"),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let err = ZonalRule::read(&Env::new(&lookup)).unwrap_err();
        assert!(err.to_string().contains("ZONE_HEALTHY_PERCENT"), "{err}");
    }
}
