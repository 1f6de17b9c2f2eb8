//! `rebound pause` and `rebound resume`: a person's "not now", written as the tags the
//! functions already read on the resource (`rebound:paused-until`, `-by`,
//! `pause-reason`; see `rebound::pause`), so a pause made here and one tagged by hand
//! (or by a deploy pipeline) are the same thing, and a pause costs the functions no call.

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rebound::pause::{PAUSED_BY_TAG, PAUSED_UNTIL_TAG, PAUSE_REASON_TAG, PAUSE_TAGS};

/// The longest pause the command makes: a forgotten pause must not silence Rebound for
/// good (the same bound as a recovery objective).
pub const MAX_PAUSE: Duration = Duration::days(7);

/// What a pause is put on: the resources Rebound acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paused {
    Group(String),
    DbInstance(String),
    DbCluster(String),
    LoadBalancer(String),
}

pub const FORMS: &str = "auto-scaling-group:NAME, db-instance:ID, db-cluster:ID, \
     load-balancer:ARN, or the resource's ARN";

impl Paused {
    /// `TYPE:ID` with the contract's resource types, or an ARN of one of them.
    pub fn parse(text: &str) -> Result<Paused, String> {
        let text = text.trim();
        let invalid = || format!("{text:?} names no resource Rebound acts on: use {FORMS}");
        if let Some(arn) = text.strip_prefix("arn:") {
            // arn:partition:service:region:account:resource
            let parts: Vec<&str> = arn.splitn(5, ':').collect();
            let [_, service, _, _, resource] = parts.as_slice() else {
                return Err(invalid());
            };
            let named = |prefix: &str| {
                resource
                    .strip_prefix(prefix)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
            };
            return match *service {
                "autoscaling" => resource
                    .split_once("autoScalingGroupName/")
                    .map(|(_, name)| name.to_owned())
                    .filter(|name| !name.is_empty())
                    .map(Paused::Group),
                "rds" => named("db:")
                    .map(Paused::DbInstance)
                    .or_else(|| named("cluster:").map(Paused::DbCluster)),
                "elasticloadbalancing" if resource.starts_with("loadbalancer/") => {
                    Some(Paused::LoadBalancer(text.to_owned()))
                }
                _ => None,
            }
            .ok_or_else(invalid);
        }
        let (kind, id) = text.split_once(':').ok_or_else(invalid)?;
        let id = id.trim();
        if id.is_empty() {
            return Err(invalid());
        }
        match kind {
            "auto-scaling-group" => Ok(Paused::Group(id.to_owned())),
            "db-instance" => Ok(Paused::DbInstance(id.to_owned())),
            "db-cluster" => Ok(Paused::DbCluster(id.to_owned())),
            "load-balancer" if id.starts_with("arn:") => Paused::parse(id),
            _ => Err(invalid()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Paused::Group(name) => format!("auto-scaling-group {name}"),
            Paused::DbInstance(id) => format!("db-instance {id}"),
            Paused::DbCluster(id) => format!("db-cluster {id}"),
            Paused::LoadBalancer(arn) => format!("load-balancer {arn}"),
        }
    }
}

/// A tag value every service takes: RDS allows only letters, digits, spaces and
/// `_.:/=+-@`, and at most 256 characters, so anything else becomes a space.
pub fn tag_value(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    kept.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(256)
        .collect()
}

/// The tags a pause is written as.
pub fn pause_tags(until: DateTime<Utc>, by: &str, reason: &str) -> [(&'static str, String); 3] {
    [
        (
            PAUSED_UNTIL_TAG,
            until.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        (PAUSED_BY_TAG, tag_value(by)),
        (PAUSE_REASON_TAG, tag_value(reason)),
    ]
}

fn sdk_error<E: std::error::Error + 'static>(what: &Paused, error: E) -> String {
    format!("{}: {}", what.describe(), DisplayErrorContext(&error))
}

/// Puts `tags` on the resource (replacing those keys' values).
pub async fn tag(
    sdk: &aws_config::SdkConfig,
    what: &Paused,
    tags: &[(&'static str, String)],
) -> Result<(), String> {
    match what {
        Paused::Group(name) => {
            let tags = tags.iter().map(|(key, value)| {
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .key(*key)
                    .value(value)
                    .propagate_at_launch(false)
                    .build()
            });
            aws_sdk_autoscaling::Client::new(sdk)
                .create_or_update_tags()
                .set_tags(Some(tags.collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
        Paused::DbInstance(_) | Paused::DbCluster(_) => {
            let arn = rds_arn(sdk, what).await?;
            let tags = tags.iter().map(|(key, value)| {
                aws_sdk_rds::types::Tag::builder()
                    .key(*key)
                    .value(value)
                    .build()
            });
            aws_sdk_rds::Client::new(sdk)
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags.collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
        Paused::LoadBalancer(arn) => {
            let tags = tags.iter().map(|(key, value)| {
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key(*key)
                    .value(value)
                    .build()
            });
            aws_sdk_elasticloadbalancingv2::Client::new(sdk)
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(tags.collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
    }
    Ok(())
}

/// Removes the pause's tags (those present; the others are no error).
pub async fn untag(sdk: &aws_config::SdkConfig, what: &Paused) -> Result<(), String> {
    match what {
        Paused::Group(name) => {
            let tags = PAUSE_TAGS.iter().map(|key| {
                aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .key(*key)
                    .build()
            });
            aws_sdk_autoscaling::Client::new(sdk)
                .delete_tags()
                .set_tags(Some(tags.collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
        Paused::DbInstance(_) | Paused::DbCluster(_) => {
            let arn = rds_arn(sdk, what).await?;
            aws_sdk_rds::Client::new(sdk)
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(PAUSE_TAGS.iter().map(|k| (*k).to_owned()).collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
        Paused::LoadBalancer(arn) => {
            aws_sdk_elasticloadbalancingv2::Client::new(sdk)
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(PAUSE_TAGS.iter().map(|k| (*k).to_owned()).collect()))
                .send()
                .await
                .map_err(|e| sdk_error(what, e))?;
        }
    }
    Ok(())
}

/// RDS tags by ARN: read it (which also says clearly when the database does not exist).
async fn rds_arn(sdk: &aws_config::SdkConfig, what: &Paused) -> Result<String, String> {
    let rds = aws_sdk_rds::Client::new(sdk);
    let arn = match what {
        Paused::DbInstance(id) => rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?
            .db_instances()
            .first()
            .and_then(|db| db.db_instance_arn().map(str::to_owned)),
        Paused::DbCluster(id) => rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?
            .db_clusters()
            .first()
            .and_then(|db| db.db_cluster_arn().map(str::to_owned)),
        _ => None,
    };
    arn.ok_or_else(|| format!("{}: not found", what.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_rebound_acts_on_can_be_named_by_type_or_by_arn() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
        for (text, expected) in [
            ("auto-scaling-group:web-asg", Paused::Group("web-asg".into())),
            (
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:6d3a:autoScalingGroupName/web-asg",
                Paused::Group("web-asg".into()),
            ),
            ("db-instance:orders-db", Paused::DbInstance("orders-db".into())),
            (
                "arn:aws:rds:us-east-1:123456789012:db:orders-db",
                Paused::DbInstance("orders-db".into()),
            ),
            ("db-cluster:orders", Paused::DbCluster("orders".into())),
            (
                "arn:aws:rds:us-east-1:123456789012:cluster:orders",
                Paused::DbCluster("orders".into()),
            ),
            (lb, Paused::LoadBalancer(lb.into())),
            (&format!("load-balancer:{lb}"), Paused::LoadBalancer(lb.into())),
        ] {
            assert_eq!(Paused::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_that_work() {
        for text in [
            "web-asg",
            "",
            "target-group:web",
            "auto-scaling-group:",
            "load-balancer:web",
            "arn:aws:s3:::bucket",
            "arn:aws:rds:us-east-1:123456789012:snapshot:x",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1",
            "arn:aws",
        ] {
            let err = Paused::parse(text).unwrap_err();
            assert!(err.contains("auto-scaling-group:NAME"), "{text}: {err}");
        }
    }

    #[test]
    fn tag_values_keep_to_what_every_service_accepts() {
        assert_eq!(
            tag_value("deploying v42, back at 5!  (ask #ops)"),
            "deploying v42 back at 5 ask ops"
        );
        assert_eq!(
            tag_value("arn:aws:sts::123456789012:assumed-role/Ops/ana@example.com"),
            "arn:aws:sts::123456789012:assumed-role/Ops/ana@example.com"
        );
        assert_eq!(tag_value(&"x".repeat(300)).len(), 256);
    }
}
