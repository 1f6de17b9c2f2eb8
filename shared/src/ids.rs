//! Validated identifiers. Parsing happens once at the boundary (event, environment,
//! SDK output); everything past it holds a value that is known to be well formed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string was not accepted as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {why}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
    pub why: &'static str,
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                let check: fn(&str) -> Result<(), &'static str> = $check;
                match check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(why) => Err(InvalidId { kind: $kind, value, why }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

string_id!(
    /// `arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`.
    TargetGroupArn,
    "target group ARN",
    |s| {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "elasticloadbalancing", region, account, resource]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                let segments: Vec<&str> = resource.split('/').collect();
                match segments.as_slice() {
                    ["targetgroup", name, id] if !name.is_empty() && !id.is_empty() => Ok(()),
                    _ => Err("resource must be targetgroup/<name>/<id>"),
                }
            }
            _ => Err("expected arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>"),
        }
    }
);

string_id!(
    /// An EC2 instance id, `i-` followed by hex digits.
    InstanceId,
    "instance id",
    |s| match s.strip_prefix("i-") {
        Some(hex) if !hex.is_empty() && hex.len() <= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => Err("expected i-<hex>"),
    }
);

string_id!(
    /// An Auto Scaling group name (1–255 characters, no colon as in the API's pattern).
    AutoScalingGroupName,
    "Auto Scaling group name",
    |s| {
        if s.is_empty() || s.len() > 255 {
            Err("must be 1 to 255 characters")
        } else if s.contains(':') {
            Err("must not contain ':'")
        } else {
            Ok(())
        }
    }
);

string_id!(
    /// `arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/<app|net|gwy>/<name>/<id>`.
    LoadBalancerArn,
    "load balancer ARN",
    |s| {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", partition, "elasticloadbalancing", region, account, resource]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                let segments: Vec<&str> = resource.split('/').collect();
                match segments.as_slice() {
                    ["loadbalancer", "app" | "net" | "gwy", name, id]
                        if !name.is_empty() && !id.is_empty() => Ok(()),
                    _ => Err("resource must be loadbalancer/<app|net|gwy>/<name>/<id>"),
                }
            }
            _ => Err("expected arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/<type>/<name>/<id>"),
        }
    }
);

string_id!(
    /// An Availability Zone's name as an account sees it (`us-east-1b`): which physical
    /// zone it is differs per account; its [`ZoneId`] does not.
    AvailabilityZone,
    "Availability Zone",
    |s| {
        if s.is_empty() || s.len() > 64 {
            Err("must be 1 to 64 characters")
        } else if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            Err("must contain only lowercase letters, digits and hyphens")
        } else {
            Ok(())
        }
    }
);

string_id!(
    /// An Availability Zone's ID (`use1-az2`): the same physical zone in every account,
    /// and what ARC zonal shift names zones by.
    ZoneId,
    "Availability Zone ID",
    |s| match s.split_once("-az") {
        Some((prefix, number))
            if !prefix.is_empty()
                && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && !number.is_empty()
                && number.len() <= 3
                && number.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err("expected <region code>-az<number>, e.g. use1-az2"),
    }
);

/// RDS identifiers (DB instances and clusters): 1 to 63 letters, digits and hyphens,
/// starting with a letter, with no two hyphens in a row and none at the end.
fn rds_identifier(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 63 {
        Err("must be 1 to 63 characters")
    } else if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Err("must start with a letter")
    } else if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Err("must contain only letters, digits and hyphens")
    } else if s.ends_with('-') || s.contains("--") {
        Err("must not end with a hyphen or contain two in a row")
    } else {
        Ok(())
    }
}

string_id!(
    /// A DB instance identifier (`DBInstanceIdentifier`, the `DBInstanceIdentifier`
    /// dimension of `AWS/RDS` metrics).
    DbInstanceId,
    "DB instance identifier",
    rds_identifier
);

string_id!(
    /// A DB cluster identifier (Aurora, Multi-AZ DB clusters).
    DbClusterId,
    "DB cluster identifier",
    rds_identifier
);

string_id!(
    /// An RDS event id as EventBridge delivers it: `RDS-EVENT-` and four digits.
    RdsEventId,
    "RDS event id",
    |s| match s.strip_prefix("RDS-EVENT-") {
        Some(digits) if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err("expected RDS-EVENT-<4 digits>"),
    }
);

string_id!(
    /// Rebound's own incident id: `inc-<UTC timestamp>-<8 hex>`, sortable by opening time.
    IncidentId,
    "incident id",
    |s| match s.strip_prefix("inc-") {
        Some(rest) if !rest.is_empty() && rest.len() <= 64 && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => Ok(()),
        _ => Err("expected inc-<timestamp>-<suffix>"),
    }
);

string_id!(
    /// An S3 bucket name (general purpose): 3 to 63 lowercase letters, digits, dots and
    /// hyphens, starting and ending with a letter or digit.
    BucketName,
    "S3 bucket name",
    |s| {
        let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&s.len()) {
            Err("expected 3 to 63 characters")
        } else if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
            Err("expected only lowercase letters, digits, dots and hyphens")
        } else if !edge(s.chars().next()) || !edge(s.chars().last()) {
            Err("expected to start and end with a letter or digit")
        } else if s.contains("..") {
            Err("expected no two adjacent dots")
        } else {
            Ok(())
        }
    }
);

impl TargetGroupArn {
    /// Builds the ARN from the `TargetGroup` dimension CloudWatch reports
    /// (`targetgroup/<name>/<id>`) and the account and region the alarm lives in.
    pub fn from_dimension(
        full_name: &str,
        region: &str,
        account: &str,
        partition: &str,
    ) -> Result<Self, InvalidId> {
        Self::parse(format!(
            "arn:{partition}:elasticloadbalancing:{region}:{account}:{full_name}"
        ))
    }

    /// The `targetgroup/<name>/<id>` part, which is also the CloudWatch dimension value.
    pub fn full_name(&self) -> &str {
        self.0.splitn(6, ':').nth(5).unwrap_or(&self.0)
    }
}

impl LoadBalancerArn {
    /// Builds the ARN from the `LoadBalancer` dimension CloudWatch reports
    /// (`app/<name>/<id>`) and the account and region the alarm lives in.
    pub fn from_dimension(
        full_name: &str,
        region: &str,
        account: &str,
        partition: &str,
    ) -> Result<Self, InvalidId> {
        Self::parse(format!(
            "arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/{full_name}"
        ))
    }

    /// The `app/<name>/<id>` part, which is also the CloudWatch dimension value.
    pub fn full_name(&self) -> &str {
        let resource = self.0.splitn(6, ':').nth(5).unwrap_or(&self.0);
        resource.strip_prefix("loadbalancer/").unwrap_or(resource)
    }

    /// The name people gave it.
    pub fn name(&self) -> &str {
        self.full_name().split('/').nth(1).unwrap_or_default()
    }
}

impl IncidentId {
    /// A new id for an incident opened at `opened_at`.
    pub fn generate(opened_at: chrono::DateTime<chrono::Utc>) -> Self {
        Self(format!(
            "inc-{}-{:08x}",
            opened_at.format("%Y%m%dT%H%M%SZ"),
            fastrand::u32(..)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

    #[test]
    fn a_well_formed_target_group_arn_parses_and_keeps_its_full_name() {
        let arn = TargetGroupArn::parse(TG).unwrap();
        assert_eq!(arn.full_name(), "targetgroup/web/73e2d6bc24d8a067");
    }

    #[test]
    fn a_target_group_arn_is_rebuilt_from_the_alarm_dimension() {
        let arn = TargetGroupArn::from_dimension(
            "targetgroup/web/73e2d6bc24d8a067",
            "us-east-1",
            "123456789012",
            "aws",
        )
        .unwrap();
        assert_eq!(arn.as_str(), TG);
    }

    #[test]
    fn malformed_identifiers_are_rejected_with_the_reason() {
        for bad in [
            "",
            "targetgroup/web/1",
            "arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/x/1",
            "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web",
        ] {
            let err = TargetGroupArn::parse(bad).unwrap_err();
            assert_eq!(err.kind, "target group ARN");
        }
        assert!(InstanceId::parse("i-0abc").is_ok());
        assert!(InstanceId::parse("i-").is_err());
        assert!(InstanceId::parse("x-0abc").is_err());
        assert!(InstanceId::parse("i-zz").is_err());
        assert!(AutoScalingGroupName::parse("a:b").is_err());
        assert!(IncidentId::parse("inc-20261126T101500Z-3f9a1c2b").is_ok());
        assert!(IncidentId::parse("incident").is_err());
    }

    #[test]
    fn rds_identifiers_follow_the_rds_naming_rules() {
        for good in ["rebound-demo-db", "a", "db1-x"] {
            assert!(DbInstanceId::parse(good).is_ok(), "{good}");
            assert!(DbClusterId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1db", "db-", "db--x", "db_x", &"a".repeat(64)] {
            assert!(DbInstanceId::parse(bad).is_err(), "{bad}");
        }
        assert!(RdsEventId::parse("RDS-EVENT-0049").is_ok());
        for bad in ["RDS-EVENT-49", "rds-event-0049", "RDS-EVENT-00a9"] {
            assert!(RdsEventId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_balancer_arns_and_zones_parse_and_read_back() {
        let arn = LoadBalancerArn::from_dimension(
            "app/web/50dc6c495c0c9188",
            "us-east-1",
            "123456789012",
            "aws",
        )
        .unwrap();
        assert_eq!(
            arn.as_str(),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
        );
        assert_eq!(arn.full_name(), "app/web/50dc6c495c0c9188");
        assert_eq!(arn.name(), "web");
        assert!(LoadBalancerArn::parse(TG).is_err());
        assert!(AvailabilityZone::parse("us-east-1b").is_ok());
        assert!(AvailabilityZone::parse("US-East").is_err());
        assert!(ZoneId::parse("use1-az2").is_ok());
        for bad in ["use1", "use1-az", "-az1", "use1-azx", "us-east-1b"] {
            assert!(ZoneId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_incident_ids_parse() {
        let id = IncidentId::generate(chrono::Utc::now());
        assert!(IncidentId::parse(id.as_str()).is_ok());
    }

    #[test]
    fn identifiers_round_trip_through_serde_and_reject_bad_input() {
        let arn: TargetGroupArn = serde_json::from_str(&format!("\"{TG}\"")).unwrap();
        assert_eq!(serde_json::to_string(&arn).unwrap(), format!("\"{TG}\""));
        assert!(serde_json::from_str::<InstanceId>("\"nope\"").is_err());
    }
}
