//! The kinds of resource Rebound watches, each a module that supplies everything that
//! differs: how to observe its resources, its decision and guards, its evidence, its
//! actions, its trigger parser, its configuration and how its incidents read. The shell,
//! the workflow, the notifier, the CLI and the report are written once over them.
//!
//! - [`target_group`]: ALB target groups and the Auto Scaling groups behind them
//!   (`target-health`);
//! - [`database`]: RDS DB instances and clusters (`rds-health`);
//! - [`zone`]: Availability Zones as one load balancer sees them (`zone-health`).
//!
//! Adding a kind is a module here and one line in [`KINDS`].

pub mod database;
pub mod target_group;
pub mod zone;

use crate::readable::{short_name, Location};
use crate::view::{GenericView, IncidentView, KindInfo, TypeInfo};

/// Every kind, as the renderings find it by resource type.
pub static KINDS: [&KindInfo; 3] = [
    &target_group::view::KIND,
    &database::view::KIND,
    &zone::view::KIND,
];

/// How incidents about `resource_type` read: their kind's view, or general advice for a
/// type no kind here knows (a record written by a newer version).
pub fn view_of(resource_type: &str) -> &'static dyn IncidentView {
    KINDS
        .iter()
        .map(|kind| kind.view)
        .find(|view| view.resource_types().contains(&resource_type))
        .unwrap_or(&GenericView)
}

/// What a kind says of a resource type it names.
pub fn type_info(resource_type: &str) -> Option<&'static TypeInfo> {
    KINDS
        .iter()
        .flat_map(|kind| kind.types.iter())
        .find(|info| info.name == resource_type)
}

/// `Target group`, `DB instance`, … for `resource.type`; a type no kind knows reads as
/// its own name, capitalised (`availability-zone` → `Availability zone`).
pub fn label(resource_type: &str) -> String {
    if let Some(info) = type_info(resource_type) {
        return info.label.to_owned();
    }
    let spaced = resource_type.replace('-', " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Ids that go into a console URL fragment: ARN and name characters only.
fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 2048
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
}

/// The console page of a resource. The location comes from the id when it is an ARN,
/// otherwise from `home` (the region the incident was recorded in). A type without a
/// page, or an id that could break out of a URL, gets no link.
pub fn console_url(resource_type: &str, id: &str, home: Option<&Location>) -> Option<String> {
    if !is_safe_id(id) {
        return None;
    }
    let console = type_info(resource_type)?.console?;
    let own = Location::of_arn(id);
    let location = own.as_ref().or(home)?;
    let fragment = (console.fragment)(id, &short_name(id));
    Some(format!(
        "{}#{fragment}",
        location.console_home(console.service)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IncidentState;

    const TG: &str =
        "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/web/73e2d6bc24d8a067";

    fn home(partition: &str, region: &str) -> Location {
        Location {
            partition: partition.into(),
            region: region.into(),
        }
    }

    #[test]
    fn every_type_a_kind_declares_is_registered_once_with_a_label() {
        let declared = [
            target_group::TARGET_GROUP,
            target_group::AUTO_SCALING_GROUP,
            target_group::INSTANCE,
            database::DB_INSTANCE,
            database::DB_CLUSTER,
            zone::AVAILABILITY_ZONE,
            zone::LOAD_BALANCER,
        ];
        for kind in declared {
            let infos: Vec<_> = KINDS
                .iter()
                .flat_map(|k| k.types.iter())
                .filter(|info| info.name == kind.as_str())
                .collect();
            assert_eq!(infos.len(), 1, "{kind}");
            assert!(!infos[0].label.is_empty());
        }
        assert_eq!(
            view_of(target_group::TARGET_GROUP.as_str()).resource_types(),
            ["target-group"]
        );
        assert!(view_of(database::DB_INSTANCE.as_str())
            .resource_types()
            .contains(&"db-instance"));
    }

    #[test]
    fn a_type_no_kind_knows_gets_general_advice_a_label_and_no_link() {
        let view = view_of("something-new");
        assert!(!view.next_steps(IncidentState::Escalated).is_empty());
        assert_eq!(label("something-new"), "Something new");
        assert_eq!(
            console_url("something-new", "x", Some(&home("aws", "us-east-1"))),
            None
        );
        assert_eq!(
            console_url("account", "123456789012", Some(&home("aws", "us-east-1"))),
            None
        );
    }

    #[test]
    fn a_target_group_links_to_its_page_in_the_region_of_its_arn() {
        assert_eq!(
            console_url("target-group", TG, Some(&home("aws", "us-east-1"))).unwrap(),
            format!(
                "https://eu-west-3.console.aws.amazon.com/ec2/home?region=eu-west-3#TargetGroup:targetGroupArn={TG}"
            )
        );
    }

    #[test]
    fn named_resources_link_through_the_home_region() {
        let home = home("aws", "us-east-1");
        assert_eq!(
            console_url("auto-scaling-group", "web-asg", Some(&home)).unwrap(),
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#AutoScalingGroupDetails:id=web-asg;view=details"
        );
        assert_eq!(
            console_url("db-instance", "orders-db", Some(&home)).unwrap(),
            "https://us-east-1.console.aws.amazon.com/rds/home?region=us-east-1#database:id=orders-db;is-cluster=false"
        );
        assert_eq!(
            console_url("instance", "i-0abc", Some(&home)).unwrap(),
            "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId=i-0abc"
        );
        assert_eq!(console_url("db-instance", "orders-db", None), None);
        assert_eq!(
            console_url("auto-scaling-group", "web\"><script>", Some(&home)),
            None
        );
    }

    #[test]
    fn a_db_instance_arn_links_to_the_rds_page_of_its_region() {
        assert_eq!(
            console_url("db-instance", "arn:aws:rds:ap-south-1:123456789012:db:orders-db", None)
                .unwrap(),
            "https://ap-south-1.console.aws.amazon.com/rds/home?region=ap-south-1#database:id=orders-db;is-cluster=false"
        );
    }

    #[test]
    fn other_partitions_use_their_own_console_and_unknown_ones_get_no_link() {
        let gov = "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:1:targetgroup/web/1";
        assert!(console_url("target-group", gov, None)
            .unwrap()
            .starts_with("https://console.amazonaws-us-gov.com/ec2/home?region=us-gov-west-1#"));
        let cn = "arn:aws-cn:elasticloadbalancing:cn-north-1:1:targetgroup/web/1";
        assert!(console_url("target-group", cn, None)
            .unwrap()
            .starts_with("https://console.amazonaws.cn/ec2/home?region=cn-north-1#"));
        let iso = "arn:aws-iso:elasticloadbalancing:us-iso-east-1:1:targetgroup/web/1";
        assert_eq!(console_url("target-group", iso, None), None);
    }
}
