//! The drill's ports with the AWS SDK. Observation reuses Rebound's own adapters (the
//! same reads the functions make); injection is direct (EC2, Auto Scaling, RDS) or an
//! AWS FIS experiment; "Rebound as deployed" is read from its stack's functions.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_types::error::display::DisplayErrorContext;
use chrono::{DateTime, Utc};
use rebound::aws::{AutoScaling, DynamoStore, LoadBalancing, Rds};
use rebound::config::Store;
use rebound::domain::{Change, DrillMark, Incident, ResourceRef};
use rebound::ids::{AvailabilityZone, DbInstanceId};
use rebound::kinds::database::{self, ports::DatabaseFailover, ports::Databases};
use rebound::kinds::target_group::observation::ScalingGroup;
use rebound::kinds::target_group::ports::{ScalingGroups, TargetHealthSource};
use rebound::kinds::target_group::{self};
use rebound::kinds::zone;
use rebound::ports::{Commit, Committed, Freshness, IncidentStore};

use super::ports::{
    Deployment, GroupView, Injected, Injector, Observer, ReboundInfo, Records, Snapshot,
};
use super::{DrillError, Target, TargetFacts, RTO_TAG_KEY};

/// How many of the newest incidents are searched for the drill's.
const RECENT_INCIDENTS: usize = 200;

fn sdk_error<E: std::error::Error>(operation: &'static str, err: E) -> DrillError {
    DrillError::aws(operation, DisplayErrorContext(err))
}

/// Every client a drill may use, built once.
pub struct World {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    fis: aws_sdk_fis::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    groups: AutoScaling,
    targets: LoadBalancing,
    rds: Rds,
    store: DynamoStore,
    managed_tag_key: String,
}

impl World {
    pub fn new(sdk: &aws_config::SdkConfig, store: &Store, managed_tag_key: &str) -> Self {
        let autoscaling = aws_sdk_autoscaling::Client::new(sdk);
        Self {
            groups: AutoScaling::new(autoscaling.clone()),
            autoscaling,
            ec2: aws_sdk_ec2::Client::new(sdk),
            fis: aws_sdk_fis::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            targets: LoadBalancing::new(aws_sdk_elasticloadbalancingv2::Client::new(sdk)),
            rds: Rds::new(aws_sdk_rds::Client::new(sdk)),
            store: rebound::aws::incident_store(store, sdk),
            managed_tag_key: managed_tag_key.to_owned(),
        }
    }

    /// The resources the drill marks (every target group of the group; the database
    /// and the target groups of the groups that depend on it) and the RTO tag.
    pub async fn target_facts(&self, target: &Target) -> Result<TargetFacts, DrillError> {
        let mut facts = TargetFacts::default();
        let rto = |tags: &BTreeMap<String, String>| {
            tags.get(RTO_TAG_KEY)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        };
        match target {
            Target::Group { name, az } => {
                if let Some(group) = self
                    .groups
                    .groups_named(std::slice::from_ref(name), None)
                    .await?
                    .into_iter()
                    .next()
                {
                    facts.rto = rto(&group.tags);
                    facts.resources.extend(
                        group
                            .target_group_arns
                            .iter()
                            .map(target_group::target_group),
                    );
                    // An impaired zone is also the zone of each load balancer in front.
                    if let Some(az) = az {
                        let zone = AvailabilityZone::parse(az.as_str())
                            .map_err(|e| DrillError::Invalid(e.to_string()))?;
                        for target_group in &group.target_group_arns {
                            for balancer in self.targets.load_balancers_of(target_group).await? {
                                let resource = zone::zone_ref(&balancer, &zone);
                                if !facts.resources.contains(&resource) {
                                    facts.resources.push(resource);
                                }
                            }
                        }
                    }
                }
            }
            Target::Database { id } => {
                let db_id = DbInstanceId::parse(id.as_str())
                    .map_err(|e| DrillError::Invalid(e.to_string()))?;
                if let Some(db) = self.rds.db_instance(&db_id).await? {
                    facts.rto = rto(&db.tags);
                }
                facts.resources.push(database::db_instance(&db_id));
                for group in self.dependents(&db_id).await? {
                    facts.resources.extend(
                        group
                            .target_group_arns
                            .iter()
                            .map(target_group::target_group),
                    );
                }
            }
        }
        Ok(facts)
    }

    /// Managed groups that declare they depend on this database.
    async fn dependents(&self, db: &DbInstanceId) -> Result<Vec<ScalingGroup>, DrillError> {
        Ok(self
            .groups
            .managed_groups(&self.managed_tag_key)
            .await?
            .into_iter()
            .filter(|g| g.depends_on().as_ref() == Some(db))
            .collect())
    }

    pub fn observer<'a>(
        &'a self,
        target: &Target,
        facts: &TargetFacts,
        alarms: &[String],
    ) -> AwsObserver<'a> {
        AwsObserver {
            world: self,
            target: target.clone(),
            dependents: facts.resources.clone(),
            alarms: alarms.to_vec(),
        }
    }

    pub fn records(&self) -> TableRecords<'_> {
        TableRecords { store: &self.store }
    }

    pub fn instance_injector(
        &self,
        group: &str,
        terminate: bool,
        instance: Option<String>,
    ) -> InstanceInjector {
        InstanceInjector {
            ec2: self.ec2.clone(),
            groups: self.groups.clone(),
            group: group.to_owned(),
            terminate,
            chosen: instance,
            stopped: None,
        }
    }

    pub fn az_injector(&self, group: &str, az: &str, drill_id: &str) -> AzInjector {
        AzInjector {
            ec2: self.ec2.clone(),
            autoscaling: self.autoscaling.clone(),
            group: group.to_owned(),
            az: az.to_owned(),
            drill_id: drill_id.to_owned(),
            original_subnets: None,
            blocked: Vec::new(),
        }
    }

    pub fn db_injector(&self, db: &str) -> DatabaseInjector {
        DatabaseInjector {
            rds: self.rds.clone(),
            db: db.to_owned(),
        }
    }

    pub fn fis_injector(&self, template: String, drill_id: &str) -> FisInjector {
        FisInjector {
            fis: self.fis.clone(),
            template,
            drill_id: drill_id.to_owned(),
            experiment: None,
            poll: Duration::from_secs(5),
        }
    }
}

// ------------------------------------------------------------------- observation

pub struct AwsObserver<'a> {
    world: &'a World,
    target: Target,
    /// The target groups watched for a database drill (those of its dependents).
    dependents: Vec<ResourceRef>,
    alarms: Vec<String>,
}

impl AwsObserver<'_> {
    async fn group_view(&self, name: &str) -> Result<Option<GroupView>, DrillError> {
        let Some(group) = self
            .world
            .groups
            .groups_named(&[name.to_owned()], None)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let mut targets = Vec::new();
        for arn in &group.target_group_arns {
            targets.extend(
                self.world
                    .targets
                    .target_health(arn)
                    .await?
                    .unwrap_or_default(),
            );
        }
        Ok(Some(GroupView { group, targets }))
    }

    async fn alarms_firing(&self) -> Result<Vec<String>, DrillError> {
        if self.alarms.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .world
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(self.alarms.clone()))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAlarms", e))?;
        Ok(output
            .metric_alarms()
            .iter()
            .filter(|a| a.state_value() == Some(&aws_sdk_cloudwatch::types::StateValue::Alarm))
            .filter_map(|a| a.alarm_name().map(str::to_owned))
            .chain(
                output
                    .composite_alarms()
                    .iter()
                    .filter(|a| {
                        a.state_value() == Some(&aws_sdk_cloudwatch::types::StateValue::Alarm)
                    })
                    .filter_map(|a| a.alarm_name().map(str::to_owned)),
            )
            .collect())
    }
}

impl Observer for AwsObserver<'_> {
    async fn snapshot(&self, drill_id: &str) -> Result<Snapshot, DrillError> {
        let at = Utc::now();
        let mut groups = Vec::new();
        let mut database = None;
        match &self.target {
            Target::Group { name, .. } => groups.extend(self.group_view(name).await?),
            Target::Database { id } => {
                let db_id = DbInstanceId::parse(id.as_str())
                    .map_err(|e| DrillError::Invalid(e.to_string()))?;
                database = self.world.rds.db_instance(&db_id).await?;
                for group in self.world.dependents(&db_id).await? {
                    let watched = group
                        .target_group_arns
                        .iter()
                        .any(|arn| self.dependents.contains(&target_group::target_group(arn)));
                    if watched {
                        groups.extend(self.group_view(group.name.as_str()).await?);
                    }
                }
            }
        }
        let incidents = self
            .world
            .store
            .list(RECENT_INCIDENTS)
            .await?
            .into_iter()
            .filter(|i| i.drill.as_deref() == Some(drill_id))
            .collect();
        Ok(Snapshot {
            at,
            groups,
            database,
            incidents,
            alarms_firing: self.alarms_firing().await?,
        })
    }

    async fn open_incidents_on(
        &self,
        resources: &[ResourceRef],
    ) -> Result<Vec<Incident>, DrillError> {
        Ok(self
            .world
            .store
            .open_incidents()
            .await?
            .into_iter()
            .filter(|i| resources.contains(&i.resource))
            .collect())
    }
}

// ----------------------------------------------------------------------- records

pub struct TableRecords<'a> {
    store: &'a DynamoStore,
}

impl Records for TableRecords<'_> {
    async fn mark(&self, resources: &[ResourceRef], mark: &DrillMark) -> Result<(), DrillError> {
        for resource in resources {
            self.store.mark_drill(resource, mark).await?;
        }
        Ok(())
    }

    async fn clear(&self, resources: &[ResourceRef], drill_id: &str) -> Result<(), DrillError> {
        for resource in resources {
            self.store.clear_drill(resource, drill_id).await?;
        }
        Ok(())
    }

    async fn append(
        &self,
        incident: &Incident,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<(), DrillError> {
        // Through the incident's own transition function, on the version read: a writer
        // that got there first makes this one read again.
        for _ in 0..rebound::workflow::MAX_WRITE_ATTEMPTS {
            let Some(mut stored) = self.store.load(&incident.id).await? else {
                return Ok(());
            };
            let stored_state = Some(stored.state);
            let _ = stored.apply(at, Change::DrillNote { detail });
            let committed = self
                .store
                .commit(Commit {
                    incident: &mut stored,
                    stored_state,
                    ledgers: vec![],
                    token: &format!("drill-note-{}", at.timestamp_millis()),
                    freshness: Freshness::Unchecked,
                })
                .await?;
            if committed == Committed::Landed {
                return Ok(());
            }
        }
        Err(DrillError::Invalid(format!(
            "the drill's result could not be added to {}: other writers kept changing it",
            incident.id
        )))
    }
}

// --------------------------------------------------------------------- injection

/// One of the injectors, chosen at run time.
pub enum AnyInjector {
    Instance(InstanceInjector),
    Az(AzInjector),
    Database(DatabaseInjector),
    Fis(FisInjector),
}

impl Injector for AnyInjector {
    fn plan(&self) -> String {
        match self {
            Self::Instance(i) => i.plan(),
            Self::Az(i) => i.plan(),
            Self::Database(i) => i.plan(),
            Self::Fis(i) => i.plan(),
        }
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        match self {
            Self::Instance(i) => i.inject().await,
            Self::Az(i) => i.inject().await,
            Self::Database(i) => i.inject().await,
            Self::Fis(i) => i.inject().await,
        }
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        match self {
            Self::Instance(i) => i.restore().await,
            Self::Az(i) => i.restore().await,
            Self::Database(i) => i.restore().await,
            Self::Fis(i) => i.restore().await,
        }
    }
}

/// Stops (or terminates) one InService instance of a group. Restore starts a stopped
/// instance again if it is still there and stopped (nothing replaced it); a terminated
/// one is the group's to replace.
pub struct InstanceInjector {
    ec2: aws_sdk_ec2::Client,
    groups: AutoScaling,
    group: String,
    terminate: bool,
    chosen: Option<String>,
    stopped: Option<String>,
}

impl Injector for InstanceInjector {
    fn plan(&self) -> String {
        format!(
            "{} {} in group {}",
            if self.terminate { "terminate" } else { "stop" },
            self.chosen.as_deref().unwrap_or("one InService instance"),
            self.group
        )
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        let group = self
            .groups
            .groups_named(std::slice::from_ref(&self.group), None)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DrillError::Invalid(format!("no Auto Scaling group {}", self.group)))?;
        let instance = match &self.chosen {
            Some(id) => group
                .instances
                .iter()
                .find(|i| i.instance_id.as_str() == id && i.serving())
                .map(|i| i.instance_id.to_string())
                .ok_or_else(|| {
                    DrillError::Invalid(format!(
                        "{id} is not an InService instance of {}",
                        self.group
                    ))
                })?,
            None => group
                .instances
                .iter()
                .filter(|i| i.serving())
                .map(|i| i.instance_id.to_string())
                .min()
                .ok_or_else(|| {
                    DrillError::Invalid(format!("group {} has no InService instance", self.group))
                })?,
        };
        if self.terminate {
            self.ec2
                .terminate_instances()
                .instance_ids(&instance)
                .send()
                .await
                .map_err(|e| sdk_error("TerminateInstances", e))?;
        } else {
            // Recorded before the call: a lost answer still gets the restore.
            self.stopped = Some(instance.clone());
            self.ec2
                .stop_instances()
                .instance_ids(&instance)
                .send()
                .await
                .map_err(|e| sdk_error("StopInstances", e))?;
        }
        Ok(Injected {
            what: format!(
                "{} {instance} in group {}",
                if self.terminate {
                    "terminated"
                } else {
                    "stopped"
                },
                self.group
            ),
            at: Utc::now(),
            instance: Some(instance),
        })
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        let Some(instance) = self.stopped.take() else {
            return Ok(Vec::new());
        };
        let described = self
            .ec2
            .describe_instances()
            .instance_ids(&instance)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeInstances", e))?;
        let state = described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
            });
        match state.as_deref() {
            Some("stopped" | "stopping") => {
                self.ec2
                    .start_instances()
                    .instance_ids(&instance)
                    .send()
                    .await
                    .map_err(|e| sdk_error("StartInstances", e))?;
                Ok(vec![format!(
                    "started {instance} again (nothing had replaced it)"
                )])
            }
            Some(other) => Ok(vec![format!("{instance} is {other}: nothing to restore")]),
            None => Ok(vec![format!("{instance} is gone: nothing to restore")]),
        }
    }
}

/// Impairs one Availability Zone of a group, as the well-known AZ failure lab does:
/// the zone's subnets leave the group (replacements launch elsewhere) and a new
/// network ACL with no allow rule (deny-all) replaces each subnet's. Restore puts back
/// each subnet's original ACL, deletes the drill's, and gives the group its subnets.
pub struct AzInjector {
    ec2: aws_sdk_ec2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    group: String,
    az: String,
    drill_id: String,
    /// The group's VPCZoneIdentifier before the drill, once changed.
    original_subnets: Option<String>,
    /// (subnet, original ACL, drill's ACL) for each subnet blocked so far.
    blocked: Vec<(String, String, String)>,
}

impl AzInjector {
    async fn subnet_acl(&self, subnet: &str) -> Result<(String, String), DrillError> {
        let output = self
            .ec2
            .describe_network_acls()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("association.subnet-id")
                    .values(subnet)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("DescribeNetworkAcls", e))?;
        output
            .network_acls()
            .iter()
            .find_map(|acl| {
                acl.associations()
                    .iter()
                    .find(|a| a.subnet_id() == Some(subnet))
                    .and_then(|a| {
                        Some((
                            a.network_acl_association_id()?.to_owned(),
                            acl.network_acl_id()?.to_owned(),
                        ))
                    })
            })
            .ok_or_else(|| {
                DrillError::Invalid(format!("subnet {subnet} has no network ACL association"))
            })
    }
}

impl Injector for AzInjector {
    fn plan(&self) -> String {
        format!(
            "impair {} for group {}: remove its subnets from the group and block them with a deny-all network ACL",
            self.az, self.group
        )
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        let described = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAutoScalingGroups", e))?;
        let zone_identifier = described
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.vpc_zone_identifier())
            .unwrap_or_default()
            .to_owned();
        let subnets: Vec<String> = zone_identifier
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if subnets.is_empty() {
            return Err(DrillError::Invalid(format!(
                "group {} has no subnets",
                self.group
            )));
        }
        let output = self
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.clone()))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeSubnets", e))?;
        let mut impaired = Vec::new();
        let mut vpc = None;
        for subnet in output.subnets() {
            if subnet.availability_zone() == Some(self.az.as_str()) {
                impaired.extend(subnet.subnet_id().map(str::to_owned));
                vpc = subnet.vpc_id().map(str::to_owned);
            }
        }
        let kept: Vec<String> = subnets
            .iter()
            .filter(|s| !impaired.contains(s))
            .cloned()
            .collect();
        let Some(vpc) = vpc.filter(|_| !kept.is_empty()) else {
            return Err(DrillError::Invalid(format!(
                "group {} must have subnets in {} and in another zone",
                self.group, self.az
            )));
        };
        // Recorded before the call: a lost answer still gets the restore.
        self.original_subnets = Some(zone_identifier.clone());
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.group)
            .vpc_zone_identifier(kept.join(","))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateAutoScalingGroup", e))?;
        for subnet in &impaired {
            let (association, original) = self.subnet_acl(subnet).await?;
            let deny = self
                .ec2
                .create_network_acl()
                .vpc_id(&vpc)
                .tag_specifications(
                    aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(aws_sdk_ec2::types::ResourceType::NetworkAcl)
                        .tags(
                            aws_sdk_ec2::types::Tag::builder()
                                .key("rebound:drill")
                                .value(&self.drill_id)
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|e| sdk_error("CreateNetworkAcl", e))?
                .network_acl()
                .and_then(|acl| acl.network_acl_id())
                .map(str::to_owned)
                .ok_or_else(|| DrillError::Invalid("CreateNetworkAcl returned no id".into()))?;
            self.blocked.push((subnet.clone(), original, deny.clone()));
            self.ec2
                .replace_network_acl_association()
                .association_id(association)
                .network_acl_id(&deny)
                .send()
                .await
                .map_err(|e| sdk_error("ReplaceNetworkAclAssociation", e))?;
        }
        Ok(Injected {
            what: format!(
                "impaired {}: subnets {} out of group {} and blocked by a deny-all network ACL",
                self.az,
                impaired.join(", "),
                self.group
            ),
            at: Utc::now(),
            instance: None,
        })
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        let mut notes = Vec::new();
        let mut failures = Vec::new();
        while let Some((subnet, original, deny)) = self.blocked.pop() {
            let step = async {
                let (association, current) = self.subnet_acl(&subnet).await?;
                if current != original {
                    self.ec2
                        .replace_network_acl_association()
                        .association_id(association)
                        .network_acl_id(&original)
                        .send()
                        .await
                        .map_err(|e| sdk_error("ReplaceNetworkAclAssociation", e))?;
                }
                self.ec2
                    .delete_network_acl()
                    .network_acl_id(&deny)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteNetworkAcl", e))?;
                Ok::<_, DrillError>(())
            };
            match step.await {
                Ok(()) => notes.push(format!(
                    "subnet {subnet} back on network ACL {original} (deleted the drill's {deny})"
                )),
                Err(err) => failures.push(format!(
                    "subnet {subnet}: put network ACL {original} back and delete {deny}: {err}"
                )),
            }
        }
        if let Some(subnets) = self.original_subnets.take() {
            match self
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&self.group)
                .vpc_zone_identifier(&subnets)
                .send()
                .await
            {
                Ok(_) => notes.push(format!("group {} back on subnets {subnets}", self.group)),
                Err(err) => failures.push(format!(
                    "group {}: set VPCZoneIdentifier back to {subnets}: {}",
                    self.group,
                    DisplayErrorContext(err)
                )),
            }
        }
        if failures.is_empty() {
            Ok(notes)
        } else {
            Err(DrillError::Invalid(failures.join("; ")))
        }
    }
}

/// Reboots a Multi-AZ DB instance with failover. Nothing to undo: the standby is the
/// primary now, which is what Multi-AZ is for.
pub struct DatabaseInjector {
    rds: Rds,
    db: String,
}

impl Injector for DatabaseInjector {
    fn plan(&self) -> String {
        format!("reboot DB instance {} with failover", self.db)
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        let id = DbInstanceId::parse(self.db.as_str())
            .map_err(|e| DrillError::Invalid(e.to_string()))?;
        self.rds.reboot_with_failover(&id).await?;
        Ok(Injected {
            what: format!("rebooted {} with failover", self.db),
            at: Utc::now(),
            instance: None,
        })
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        Ok(Vec::new())
    }
}

/// Starts an AWS FIS experiment from a template and lets FIS inject; restore stops
/// the experiment if it still runs (FIS then rolls its actions back).
pub struct FisInjector {
    fis: aws_sdk_fis::Client,
    template: String,
    drill_id: String,
    experiment: Option<String>,
    poll: Duration,
}

impl FisInjector {
    async fn state(&self, experiment: &str) -> Result<(String, Option<String>), DrillError> {
        let output = self
            .fis
            .get_experiment()
            .id(experiment)
            .send()
            .await
            .map_err(|e| sdk_error("GetExperiment", e))?;
        let state = output.experiment().and_then(|e| e.state());
        Ok((
            state
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            state.and_then(|s| s.reason()).map(str::to_owned),
        ))
    }
}

impl Injector for FisInjector {
    fn plan(&self) -> String {
        format!("start AWS FIS experiment template {}", self.template)
    }

    async fn inject(&mut self) -> Result<Injected, DrillError> {
        let output = self
            .fis
            .start_experiment()
            .experiment_template_id(&self.template)
            .client_token(&self.drill_id)
            .tags("rebound:drill", &self.drill_id)
            .send()
            .await
            .map_err(|e| sdk_error("StartExperiment", e))?;
        let experiment = output
            .experiment()
            .and_then(|e| e.id())
            .map(str::to_owned)
            .ok_or_else(|| {
                DrillError::Invalid("StartExperiment returned no experiment id".into())
            })?;
        self.experiment = Some(experiment.clone());
        // The failure takes hold when the experiment runs.
        loop {
            let (status, reason) = self.state(&experiment).await?;
            match status.as_str() {
                "running" | "completed" => break,
                "pending" | "initiating" => tokio::time::sleep(self.poll).await,
                other => {
                    return Err(DrillError::Invalid(format!(
                        "FIS experiment {experiment} is {other}: {}",
                        reason.unwrap_or_default()
                    )))
                }
            }
        }
        Ok(Injected {
            what: format!(
                "FIS experiment {experiment} from template {}",
                self.template
            ),
            at: Utc::now(),
            instance: None,
        })
    }

    async fn restore(&mut self) -> Result<Vec<String>, DrillError> {
        let Some(experiment) = self.experiment.take() else {
            return Ok(Vec::new());
        };
        let (status, _) = self.state(&experiment).await?;
        if matches!(status.as_str(), "pending" | "initiating" | "running") {
            self.fis
                .stop_experiment()
                .id(&experiment)
                .send()
                .await
                .map_err(|e| sdk_error("StopExperiment", e))?;
            return Ok(vec![format!(
                "stopped FIS experiment {experiment} (FIS rolls its actions back)"
            )]);
        }
        Ok(vec![format!(
            "FIS experiment {experiment} is {status}: FIS already ended it"
        )])
    }
}

// -------------------------------------------------------------- Rebound deployed

/// Rebound as deployed: the stack's outputs name the function that heals the drill's
/// target, and that function's own environment says its MODE and managed tag. The
/// drill reads what runs, not what the template defaults to.
pub struct DeployedRebound {
    cloudformation: aws_sdk_cloudformation::Client,
    lambda: aws_sdk_lambda::Client,
    stack: String,
    output: &'static str,
}

impl DeployedRebound {
    pub fn new(sdk: &aws_config::SdkConfig, stack: &str, target: &Target) -> Self {
        Self {
            cloudformation: aws_sdk_cloudformation::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            stack: stack.to_owned(),
            output: match target {
                Target::Database { .. } => "RdsHealthFunctionArn",
                // A zone is zone-health's to evacuate.
                Target::Group { az: Some(_), .. } => "ZoneHealthFunctionArn",
                Target::Group { az: None, .. } => "TargetHealthFunctionArn",
            },
        }
    }
}

impl Deployment for DeployedRebound {
    async fn rebound(&self) -> Result<ReboundInfo, DrillError> {
        let stacks = self
            .cloudformation
            .describe_stacks()
            .stack_name(&self.stack)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeStacks", e))?;
        let function = stacks
            .stacks()
            .first()
            .into_iter()
            .flat_map(|s| s.outputs())
            .find(|o| o.output_key() == Some(self.output))
            .and_then(|o| o.output_value())
            .map(str::to_owned);
        let Some(function) = function else {
            return Ok(ReboundInfo {
                source: format!("stack {} has no output {}", self.stack, self.output),
                enforce: false,
                managed_tag_key: rebound::config::DEFAULT_MANAGED_TAG_KEY.into(),
                deployed: false,
            });
        };
        let configuration = self
            .lambda
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .map_err(|e| sdk_error("GetFunctionConfiguration", e))?;
        let variables = configuration
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        Ok(ReboundInfo {
            source: format!(
                "function {function} of stack {} (MODE={})",
                self.stack,
                variables.get("MODE").map_or("unset", String::as_str)
            ),
            enforce: variables.get("MODE").map(String::as_str) == Some("enforce"),
            managed_tag_key: variables
                .get("MANAGED_TAG_KEY")
                .cloned()
                .unwrap_or_else(|| rebound::config::DEFAULT_MANAGED_TAG_KEY.into()),
            deployed: true,
        })
    }

    async fn tick(&self) -> Result<(), DrillError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_fis::operation::get_experiment::GetExperimentOutput;
    use aws_sdk_fis::operation::start_experiment::StartExperimentOutput;
    use aws_sdk_fis::operation::stop_experiment::StopExperimentOutput;
    use aws_sdk_fis::types::{Experiment, ExperimentState, ExperimentStatus};
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn experiment(status: ExperimentStatus) -> Experiment {
        Experiment::builder()
            .id("EXP123")
            .state(
                ExperimentState::builder()
                    .status(status)
                    .reason("by test")
                    .build(),
            )
            .build()
    }

    fn injector(fis: aws_sdk_fis::Client) -> FisInjector {
        FisInjector {
            fis,
            template: "EXT456".into(),
            drill_id: "drill-1".into(),
            experiment: None,
            poll: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn a_fis_drill_starts_the_template_waits_for_it_to_run_and_stops_it_on_restore() {
        let start = mock!(aws_sdk_fis::Client::start_experiment)
            .match_requests(|req| {
                req.experiment_template_id() == Some("EXT456")
                    && req.client_token() == Some("drill-1")
                    && req
                        .tags()
                        .and_then(|t| t.get("rebound:drill"))
                        .map(String::as_str)
                        == Some("drill-1")
            })
            .then_output(|| {
                StartExperimentOutput::builder()
                    .experiment(experiment(ExperimentStatus::Initiating))
                    .build()
            });
        let initiating = mock!(aws_sdk_fis::Client::get_experiment).then_output(|| {
            GetExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Initiating))
                .build()
        });
        let running = mock!(aws_sdk_fis::Client::get_experiment).then_output(|| {
            GetExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Running))
                .build()
        });
        let still_running = mock!(aws_sdk_fis::Client::get_experiment).then_output(|| {
            GetExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Running))
                .build()
        });
        let stop = mock!(aws_sdk_fis::Client::stop_experiment)
            .match_requests(|req| req.id() == Some("EXP123"))
            .then_output(|| StopExperimentOutput::builder().build());
        let client = mock_client!(
            aws_sdk_fis,
            [&start, &initiating, &running, &still_running, &stop]
        );
        let mut fis = injector(client);
        let injected = fis.inject().await.unwrap();
        assert!(injected.what.contains("EXP123"), "{}", injected.what);
        let restored = fis.restore().await.unwrap();
        assert!(
            restored[0].starts_with("stopped FIS experiment EXP123"),
            "{restored:?}"
        );
        assert_eq!(stop.num_calls(), 1);
        // Nothing left to stop.
        assert!(fis.restore().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_fis_experiment_that_fails_to_start_is_an_injection_error_and_not_stopped() {
        let start = mock!(aws_sdk_fis::Client::start_experiment).then_output(|| {
            StartExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Initiating))
                .build()
        });
        let failed = mock!(aws_sdk_fis::Client::get_experiment).then_output(|| {
            GetExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Failed))
                .build()
        });
        let failed_again = mock!(aws_sdk_fis::Client::get_experiment).then_output(|| {
            GetExperimentOutput::builder()
                .experiment(experiment(ExperimentStatus::Failed))
                .build()
        });
        let stop = mock!(aws_sdk_fis::Client::stop_experiment)
            .then_output(|| StopExperimentOutput::builder().build());
        let client = mock_client!(aws_sdk_fis, [&start, &failed, &failed_again, &stop]);
        let mut fis = injector(client);
        let err = fis.inject().await.unwrap_err();
        assert!(
            err.to_string().contains("EXP123 is failed: by test"),
            "{err}"
        );
        let restored = fis.restore().await.unwrap();
        assert!(restored[0].contains("FIS already ended it"), "{restored:?}");
        assert_eq!(stop.num_calls(), 0);
    }
}
