//! A resilience drill under way on a resource, as `rebound drill` marks it in the
//! incidents table: an incident that opens on the resource meanwhile is the drill's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a running drill leaves on each resource it may disturb. It carries its own end:
/// a drill that dies without clearing it (killed, the machine lost) stops marking new
/// incidents at `until`, so real incidents are never hidden for long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillMark {
    /// The drill's id, e.g. `drill-20261126T101500Z-3f9a1c2b`.
    pub id: String,
    pub until: DateTime<Utc>,
}

impl DrillMark {
    /// Still marking incidents at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_stops_marking_at_its_end() {
        let until = Utc::now();
        let mark = DrillMark {
            id: "drill-1".into(),
            until,
        };
        assert!(mark.active(until - chrono::Duration::seconds(1)));
        assert!(!mark.active(until));
    }
}
