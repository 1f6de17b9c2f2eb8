//! In-memory implementations of the ports, for handler tests in every crate
//! (feature `test-util`). They behave like the real services where Rebound relies on
//! it: conditional writes lose on the same conditions DynamoDB applies
//! ([`crate::ports::Conditions`]), the budget runs out, replacements are recorded. Every
//! call yields to the runtime first, as a network call would, so deliveries run
//! concurrently in a test really interleave.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::change::ChangeSource;
use crate::change::{Deployment, Stack};
use crate::domain::{
    ActionKind, Change, Decision, DrillMark, Incident, Ledger, ResourceRef, ResourceType, Verdict,
};
use crate::error::Error;
use crate::ids::{
    AutoScalingGroupName, BucketName, DbClusterId, DbInstanceId, IncidentId, InstanceId,
    TargetGroupArn,
};
use crate::kinds::database::observation::{
    AlarmPattern, AlarmState, DbCluster, DbInstance, RdsEvent,
};
use crate::kinds::database::ports::{AlarmStates, DatabaseFailover, Databases, FailedOver};
use crate::kinds::database::{FAILOVER_DB_CLUSTER, REBOOT_WITH_FAILOVER};
use crate::kinds::target_group::capture::{ConsoleOutput, InstanceStatus, StatusCheck};
use crate::kinds::target_group::observation::{
    ScalingGroup, TargetHealth, REPLACE_UNHEALTHY, SUSPENDED_BY_TAG_KEY,
};
use crate::kinds::target_group::ports::{
    Fronts, HostCounts, InstanceEvidence, InstanceReplacer, Replaced, ScalingGroups,
    TargetHealthSource,
};
use crate::kinds::{database, target_group, zone};
use crate::ports::{
    Claim, Commit, Committed, Dependencies, DependencyState, Expected, FailedNotification,
    FailedNotifications, Freshness, IncidentStore, Notification, Notifier, ResourceRecord,
};
use crate::shell::Function;

mod zonal;

pub use zonal::FakeShift;

/// target-health over the fakes.
pub type TargetHealthFunction = Function<FakeTargetGroups, MemoryStore>;

/// The target-group kind with every port on the fake fleet and the in-memory store.
pub type FakeTargetGroups = target_group::TargetGroups<
    FakeFleet,
    FakeFleet,
    FakeFleet,
    MemoryStore,
    FakeFleet,
    FakeFleet,
    FakeFleet,
    FakeFleet,
>;

/// zone-health over the fakes.
pub type ZoneHealthFunction =
    Function<zone::Zones<FakeFleet, FakeFleet, FakeFleet, FakeFleet, FakeFleet>, MemoryStore>;

/// rds-health over the fakes.
pub type RdsHealthFunction = Function<
    database::DbInstances<FakeDatabases, FakeDatabases, FakeDatabases, MemoryStore>,
    MemoryStore,
>;

/// target-health wired to a fake fleet and store, as the binary wires the real ones.
pub fn target_health(
    fleet: &FakeFleet,
    store: &MemoryStore,
    policy: target_group::Policy,
) -> TargetHealthFunction {
    Function::new(
        target_group::FUNCTION,
        target_group::TargetGroups {
            host_counts: fleet.clone(),
            targets: fleet.clone(),
            groups: fleet.clone(),
            replacer: fleet.clone(),
            dependencies: store.clone(),
            zones: fleet.clone(),
            changes: fleet.clone(),
            evidence: fleet.clone(),
            policy,
            suspended_behind: Default::default(),
        },
        target_group::trigger::parse,
        store.clone(),
    )
}

/// zone-health wired to a fake fleet (load balancers, groups, zonal shifts) and a store.
pub fn zone_health(
    fleet: &FakeFleet,
    store: &MemoryStore,
    policy: zone::Policy,
) -> ZoneHealthFunction {
    Function::new(
        zone::FUNCTION,
        zone::Zones {
            balancers: fleet.clone(),
            targets: fleet.clone(),
            groups: fleet.clone(),
            shifts: fleet.clone(),
            capacity: fleet.clone(),
            policy,
            swept: Default::default(),
        },
        zone::trigger::parse,
        store.clone(),
    )
}

/// rds-health wired to fake databases (and their alarms) and a store.
pub fn rds_health(
    rds: &FakeDatabases,
    store: &MemoryStore,
    policy: database::Policy,
) -> RdsHealthFunction {
    Function::new(
        database::FUNCTION,
        database::DbInstances {
            databases: rds.clone(),
            failover: rds.clone(),
            alarms: rds.clone(),
            records: store.clone(),
            policy,
        },
        database::trigger::parse,
        store.clone(),
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock already failed; keep the data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a network call does to the caller: another task may run meanwhile.
async fn round_trip() {
    tokio::task::yield_now().await;
}

/// The load balancer and Auto Scaling side of an account.
#[derive(Clone, Default)]
pub struct FakeFleet {
    inner: Arc<Mutex<FleetState>>,
}

#[derive(Default)]
struct FleetState {
    targets: BTreeMap<TargetGroupArn, Vec<TargetHealth>>,
    groups: Vec<ScalingGroup>,
    replaced: Vec<(ActionKind, AutoScalingGroupName, InstanceId)>,
    describe_calls: usize,
    /// The managed groups fill more than one page: none are read ahead.
    many_managed: bool,
    fail_next_replace: Option<Error>,
    hang_next_replace: bool,
    gone_next_replace: bool,
    failing_target_groups: BTreeMap<TargetGroupArn, Error>,
    /// What CloudWatch says of a target group's unhealthy hosts, where it does not
    /// say what its targets are (`None`: no data); see [`FakeFleet::metric_says`].
    host_counts: BTreeMap<TargetGroupArn, Option<f64>>,
    host_count_calls: usize,
    fail_next_host_counts: Option<Error>,
    on_next_replace: Option<Box<dyn FnOnce() + Send>>,
    /// Load balancers, zonal shifts and capacity changes ([`zonal`]).
    zonal: zonal::ZonalState,
    /// ReplaceUnhealthy suspended (true) and resumed (false), in order.
    suspensions: Vec<(AutoScalingGroupName, bool)>,
    /// CloudFormation stacks and CodeDeploy deployments (changes in flight).
    stacks: Vec<Stack>,
    deployments: Vec<Deployment>,
    fail_next_stacks: Option<Error>,
    change_reads: usize,
    /// Evidence: console output reads that fail, buckets that do not exist, and the
    /// objects kept.
    failing_console_output: Option<String>,
    missing_buckets: Vec<String>,
    kept: Vec<KeptObject>,
}

/// An object the fake evidence bucket holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptObject {
    pub bucket: String,
    pub key: String,
    pub body: Vec<u8>,
    /// How many replacements had been requested when it was kept.
    pub replacements_before: usize,
}

impl FakeFleet {
    pub fn set_targets(&self, target_group: &TargetGroupArn, targets: Vec<TargetHealth>) {
        lock(&self.inner)
            .targets
            .insert(target_group.clone(), targets);
    }

    pub fn add_group(&self, group: ScalingGroup) {
        lock(&self.inner).groups.push(group);
    }

    /// Deletes a target group: DescribeTargetHealth no longer finds it.
    pub fn delete_target_group(&self, target_group: &TargetGroupArn) {
        lock(&self.inner).targets.remove(target_group);
    }

    /// Changes one group in place (instances, suspended processes, …).
    pub fn update_group(&self, name: &str, change: impl FnOnce(&mut ScalingGroup)) {
        let mut state = lock(&self.inner);
        if let Some(group) = state.groups.iter_mut().find(|g| g.name.as_str() == name) {
            change(group);
        }
    }

    /// Makes the managed groups too many for one call: deliveries find the owners of
    /// the targets from the targets instead.
    pub fn fill_more_than_a_page_of_managed_groups(&self) {
        lock(&self.inner).many_managed = true;
    }

    /// Fails the next target-health read of one target group.
    pub fn fail_next_target_health(&self, target_group: &TargetGroupArn, error: Error) {
        lock(&self.inner)
            .failing_target_groups
            .insert(target_group.clone(), error);
    }

    /// Every replacement requested, in order.
    pub fn replaced(&self) -> Vec<(ActionKind, AutoScalingGroupName, InstanceId)> {
        lock(&self.inner).replaced.clone()
    }

    pub fn describe_calls(&self) -> usize {
        lock(&self.inner).describe_calls
    }

    /// Makes CloudWatch's unhealthy host count of `target_group` say `count` whatever
    /// its targets are (`None`: no data), as a metric that lags or is not published.
    pub fn metric_says(&self, target_group: &TargetGroupArn, count: Option<f64>) {
        lock(&self.inner)
            .host_counts
            .insert(target_group.clone(), count);
    }

    /// The next read of the unhealthy host counts fails with `error`.
    pub fn fail_next_host_counts(&self, error: Error) {
        lock(&self.inner).fail_next_host_counts = Some(error);
    }

    /// How many times the unhealthy host counts were read.
    pub fn host_count_calls(&self) -> usize {
        lock(&self.inner).host_count_calls
    }

    /// Every ReplaceUnhealthy suspension (true) and resumption (false) asked, in order.
    pub fn suspensions(&self) -> Vec<(AutoScalingGroupName, bool)> {
        lock(&self.inner).suspensions.clone()
    }

    /// Every console output read fails with this error code (`UnauthorizedOperation`).
    pub fn fail_console_output(&self, code: &str) {
        lock(&self.inner).failing_console_output = Some(code.to_owned());
    }

    /// The bucket does not exist: keeping an object in it fails.
    pub fn remove_bucket(&self, bucket: &str) {
        lock(&self.inner).missing_buckets.push(bucket.to_owned());
    }

    /// Every evidence object kept, in order.
    pub fn kept(&self) -> Vec<KeptObject> {
        lock(&self.inner).kept.clone()
    }

    pub fn fail_next_replace(&self, error: Error) {
        lock(&self.inner).fail_next_replace = Some(error);
    }

    /// The next replace call finds the instance already gone from its group.
    pub fn gone_next_replace(&self) {
        lock(&self.inner).gone_next_replace = true;
    }

    /// Runs `hook` during the next replace call: another writer acting meanwhile.
    pub fn on_next_replace(&self, hook: impl FnOnce() + Send + 'static) {
        lock(&self.inner).on_next_replace = Some(Box::new(hook));
    }

    /// The next replace call never returns, like a function killed mid-call.
    pub fn hang_next_replace(&self) {
        lock(&self.inner).hang_next_replace = true;
    }

    /// A CloudFormation stack in `status` (replacing the stack of that name).
    pub fn set_stack(&self, name: &str, status: &str) {
        let mut state = lock(&self.inner);
        state.stacks.retain(|s| s.name != name);
        state.stacks.push(Stack {
            name: name.into(),
            status: status.into(),
        });
    }

    /// A CodeDeploy deployment (replacing the deployment of that id); only those in
    /// progress are listed.
    pub fn set_deployment(&self, deployment: Deployment) {
        let mut state = lock(&self.inner);
        state.deployments.retain(|d| d.id != deployment.id);
        state.deployments.push(deployment);
    }

    /// Fails the next stacks read.
    pub fn fail_next_stacks(&self, error: Error) {
        lock(&self.inner).fail_next_stacks = Some(error);
    }

    /// Reads of changes in flight (stacks and deployments), each one call.
    pub fn change_reads(&self) -> usize {
        lock(&self.inner).change_reads
    }
}

impl ChangeSource for FakeFleet {
    async fn stacks(&self, names: &[String]) -> Result<Vec<Stack>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.change_reads += 1;
        if let Some(err) = state.fail_next_stacks.take() {
            return Err(err);
        }
        Ok(state
            .stacks
            .iter()
            .filter(|s| names.contains(&s.name))
            .cloned()
            .collect())
    }

    async fn deployments_in_progress(&self) -> Result<Vec<Deployment>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.change_reads += 1;
        Ok(state
            .deployments
            .iter()
            .filter(|d| d.in_progress())
            .cloned()
            .collect())
    }
}

/// CloudWatch's count: the targets' unhealthy ones, unless [`FakeFleet::metric_says`]
/// otherwise; no data for a target group the fleet does not know.
impl HostCounts for FakeFleet {
    /// The fleet's counts need no load balancer: none.
    async fn fronts(&self) -> Result<Fronts, Error> {
        round_trip().await;
        Ok(Fronts::new())
    }

    async fn unhealthy_hosts(
        &self,
        target_groups: &[TargetGroupArn],
        _fronts: &Fronts,
    ) -> Result<BTreeMap<TargetGroupArn, Option<f64>>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.host_count_calls += 1;
        if let Some(err) = state.fail_next_host_counts.take() {
            return Err(err);
        }
        Ok(target_groups
            .iter()
            .map(|tg| {
                let count = match state.host_counts.get(tg) {
                    Some(said) => *said,
                    None => state.targets.get(tg).map(|targets| {
                        targets.iter().filter(|t| t.state.is_unhealthy()).count() as f64
                    }),
                };
                (tg.clone(), count)
            })
            .collect())
    }
}

impl TargetHealthSource for FakeFleet {
    async fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Option<Vec<TargetHealth>>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        if let Some(err) = state.failing_target_groups.remove(target_group) {
            return Err(err);
        }
        Ok(state.targets.get(target_group).cloned())
    }
}

impl FakeFleet {
    /// One describe call answering the groups that match.
    fn describe_groups(&self, matches: impl Fn(&ScalingGroup) -> bool) -> Vec<ScalingGroup> {
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        state
            .groups
            .iter()
            .filter(|g| matches(g))
            .cloned()
            .collect()
    }
}

impl ScalingGroups for FakeFleet {
    async fn groups_owning(
        &self,
        instances: &[InstanceId],
        _refresh_if_managed_by: Option<&str>,
    ) -> Result<Vec<ScalingGroup>, Error> {
        round_trip().await;
        Ok(self.describe_groups(|g| instances.iter().any(|i| g.instance(i).is_some())))
    }

    async fn groups_named(
        &self,
        names: &[String],
        _refresh_if_managed_by: Option<&str>,
    ) -> Result<Vec<ScalingGroup>, Error> {
        round_trip().await;
        Ok(self.describe_groups(|g| names.iter().any(|n| n == g.name.as_str())))
    }

    async fn managed_groups(&self, tag_key: &str) -> Result<Vec<ScalingGroup>, Error> {
        round_trip().await;
        Ok(self.describe_groups(|g| g.is_managed(tag_key)))
    }

    async fn managed_groups_in_one_call(
        &self,
        tag_key: &str,
    ) -> Result<Option<Vec<ScalingGroup>>, Error> {
        round_trip().await;
        if lock(&self.inner).many_managed {
            return Ok(None);
        }
        Ok(Some(self.describe_groups(|g| g.is_managed(tag_key))))
    }

    async fn refresh_in_progress(&self, group: &AutoScalingGroupName) -> Result<bool, Error> {
        round_trip().await;
        Ok(lock(&self.inner)
            .groups
            .iter()
            .any(|g| &g.name == group && g.instance_refresh_in_progress))
    }
}

/// Every instance has a console that names it, and passes its status checks.
impl InstanceEvidence for FakeFleet {
    async fn console_output(&self, instance: &InstanceId) -> Result<Option<ConsoleOutput>, Error> {
        round_trip().await;
        if let Some(code) = lock(&self.inner).failing_console_output.clone() {
            return Err(Error::aws(
                "GetConsoleOutput",
                false,
                Some(&code),
                Some("injected"),
                std::io::Error::other(code.clone()),
            ));
        }
        let text = format!("console of {instance}\n");
        Ok(Some(ConsoleOutput::from_bytes(text.as_bytes(), None)))
    }

    async fn instance_status(
        &self,
        _instance: &InstanceId,
    ) -> Result<Option<InstanceStatus>, Error> {
        round_trip().await;
        let ok = || StatusCheck {
            status: "ok".into(),
            details: vec!["reachability: passed".into()],
        };
        Ok(Some(InstanceStatus {
            state: "running".into(),
            availability_zone: Some("us-east-1a".into()),
            system_status: Some(ok()),
            instance_status: Some(ok()),
            events: vec![],
        }))
    }

    async fn keep(&self, bucket: &BucketName, key: &str, body: Vec<u8>) -> Result<String, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        if state.missing_buckets.iter().any(|b| b == bucket.as_str()) {
            return Err(Error::aws(
                "PutObject",
                false,
                Some("NoSuchBucket"),
                Some("The specified bucket does not exist"),
                std::io::Error::other("NoSuchBucket"),
            ));
        }
        let replacements_before = state.replaced.len();
        state.kept.push(KeptObject {
            bucket: bucket.to_string(),
            key: key.to_owned(),
            body,
            replacements_before,
        });
        Ok(format!("s3://{bucket}/{key}"))
    }
}

impl InstanceReplacer for FakeFleet {
    async fn replace(
        &self,
        kind: &ActionKind,
        group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> Result<Replaced, Error> {
        round_trip().await;
        let (hang, hook) = {
            let mut state = lock(&self.inner);
            if let Some(err) = state.fail_next_replace.take() {
                return Err(err);
            }
            (
                std::mem::take(&mut state.hang_next_replace),
                state.on_next_replace.take(),
            )
        };
        if let Some(hook) = hook {
            hook();
        }
        if hang {
            std::future::pending::<()>().await;
        }
        let mut state = lock(&self.inner);
        if std::mem::take(&mut state.gone_next_replace) {
            return Ok(Replaced::AlreadyGone);
        }
        state
            .replaced
            .push((kind.clone(), group.clone(), instance.clone()));
        Ok(Replaced::Requested)
    }

    async fn suspend_replace_unhealthy(
        &self,
        group: &AutoScalingGroupName,
        incident: &IncidentId,
    ) -> Result<(), Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.suspensions.push((group.clone(), true));
        if let Some(g) = state.groups.iter_mut().find(|g| &g.name == group) {
            g.tags
                .insert(SUSPENDED_BY_TAG_KEY.into(), incident.to_string());
            if !g.is_suspended(REPLACE_UNHEALTHY) {
                g.suspended_processes.push(REPLACE_UNHEALTHY.into());
            }
        }
        Ok(())
    }

    async fn resume_replace_unhealthy(&self, group: &AutoScalingGroupName) -> Result<(), Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.suspensions.push((group.clone(), false));
        if let Some(g) = state.groups.iter_mut().find(|g| &g.name == group) {
            g.tags.remove(SUSPENDED_BY_TAG_KEY);
            g.suspended_processes.retain(|p| p != REPLACE_UNHEALTHY);
        }
        Ok(())
    }
}

/// The incidents table.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<StoreState>>,
}

#[derive(Default)]
struct StoreState {
    incidents: BTreeMap<IncidentId, Incident>,
    /// resource key → its open incident.
    open: BTreeMap<String, IncidentId>,
    ledgers: BTreeMap<ResourceRef, Ledger>,
    /// resource key → its last incident that resolved, and when it recovered.
    last_resolved: BTreeMap<String, (IncidentId, Option<DateTime<Utc>>)>,
    /// resource key → the drill marked on it.
    drills: BTreeMap<String, DrillMark>,
    /// Makes the next N commits lose as if another writer got there first.
    conflicts_to_inject: u32,
    /// resource type → the resources its last sweep had no time for.
    sweep_backlogs: BTreeMap<ResourceType, Vec<ResourceRef>>,
    /// Makes the next N commits land and then fail as if the answer was lost.
    lost_answers_to_inject: u32,
    commits: usize,
}

impl MemoryStore {
    /// Marks a resource as disturbed by a drill, as `rebound drill` does.
    pub fn mark_drill(&self, resource: &ResourceRef, mark: DrillMark) {
        lock(&self.inner).drills.insert(resource.key(), mark);
    }

    pub fn incidents(&self) -> Vec<Incident> {
        lock(&self.inner).incidents.values().cloned().collect()
    }

    pub fn inject_conflicts(&self, n: u32) {
        lock(&self.inner).conflicts_to_inject = n;
    }

    /// The next N commits take effect, then answer with a retryable error.
    pub fn inject_lost_answers(&self, n: u32) {
        lock(&self.inner).lost_answers_to_inject = n;
    }

    pub fn ledger(&self, scope: &ResourceRef) -> Ledger {
        lock(&self.inner)
            .ledgers
            .get(scope)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces a ledger, as an earlier action (possibly by another incident) left it.
    pub fn set_ledger(&self, scope: &ResourceRef, mut ledger: Ledger) {
        let mut state = lock(&self.inner);
        ledger.version = state.ledgers.get(scope).map_or(0, |l| l.version) + 1;
        state.ledgers.insert(scope.clone(), ledger);
    }

    /// Stores an incident as another writer would: `change` applied to what is stored,
    /// its version moved on (a resolved incident releases its resource).
    pub fn overwrite(&self, id: &IncidentId, change: impl FnOnce(&mut Incident)) {
        let mut state = lock(&self.inner);
        let Some(mut stored) = state.incidents.get(id).cloned() else {
            return;
        };
        change(&mut stored);
        let _ = stored.apply(
            Utc::now(),
            Change::Written {
                token: "another-writer",
            },
        );
        if stored.state.is_closed() {
            state.open.remove(&stored.resource.key());
        }
        state.incidents.insert(stored.id.clone(), stored);
    }

    /// Another writer resolves the incident (a sweep elsewhere verified it), moving its
    /// version on and releasing its resource.
    pub fn resolve_elsewhere(&self, id: &IncidentId) {
        self.overwrite(id, |incident| {
            let decision = Decision::plain(Verdict::Resolve, "resolved elsewhere".into());
            let _ = incident.apply(
                Utc::now(),
                Change::Decided {
                    decision: &decision,
                    intent: "",
                    upkeep: "",
                    writer: "another-writer",
                    dry_run: false,
                },
            );
        });
    }

    pub fn commits(&self) -> usize {
        lock(&self.inner).commits
    }
}

impl IncidentStore for MemoryStore {
    async fn open_incident(&self, resource: &ResourceRef) -> Result<Option<Incident>, Error> {
        round_trip().await;
        let state = lock(&self.inner);
        Ok(state
            .open
            .get(&resource.key())
            .and_then(|id| state.incidents.get(id))
            .cloned())
    }

    async fn resource_record(&self, resource: &ResourceRef) -> Result<ResourceRecord, Error> {
        let (drill, last_incident) = {
            let state = lock(&self.inner);
            let key = resource.key();
            (
                state.drills.get(&key).cloned(),
                state.last_resolved.get(&key).map(|(id, _)| id.clone()),
            )
        };
        Ok(ResourceRecord {
            open: self.open_incident(resource).await?,
            drill,
            last_incident,
        })
    }

    async fn load(&self, id: &IncidentId) -> Result<Option<Incident>, Error> {
        round_trip().await;
        Ok(lock(&self.inner).incidents.get(id).cloned())
    }

    async fn ledgers(
        &self,
        scopes: &[ResourceRef],
    ) -> Result<BTreeMap<ResourceRef, Ledger>, Error> {
        round_trip().await;
        let state = lock(&self.inner);
        Ok(scopes
            .iter()
            .map(|scope| {
                (
                    scope.clone(),
                    state.ledgers.get(scope).cloned().unwrap_or_default(),
                )
            })
            .collect())
    }

    /// Lands only when every condition of [`Commit::conditions`] holds, as DynamoDB's
    /// transaction does.
    async fn commit(&self, commit: Commit<'_>) -> Result<Committed, Error> {
        round_trip().await;
        let conditions = commit.conditions();
        let Commit {
            incident,
            ledgers,
            token,
            ..
        } = commit;
        let mut state = lock(&self.inner);
        state.commits += 1;
        if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            return Ok(Committed::LostRace);
        }
        let key = incident.resource.key();
        let incident_holds = match conditions.incident {
            Expected::New => !state.incidents.contains_key(&incident.id),
            Expected::Version(version) => {
                state.incidents.get(&incident.id).map(|i| i.version) == Some(version)
            }
        };
        let resource_holds = match &conditions.resource {
            None => true,
            Some(Claim::Open { freshness }) => {
                let last = state.last_resolved.get(&key);
                !state.open.contains_key(&key)
                    && match freshness {
                        Freshness::Unchecked => true,
                        Freshness::LastIncident(seen) => last.map(|(id, _)| id) == seen.as_ref(),
                        Freshness::ObservedAt(observed) => last
                            .and_then(|(_, recovered)| *recovered)
                            .is_none_or(|recovered| recovered < *observed),
                    }
            }
            Some(Claim::Release { .. }) => state.open.get(&key) == Some(&incident.id),
        };
        let ledgers_hold = conditions
            .ledgers
            .iter()
            .all(|(scope, version)| state.ledgers.get(scope).map_or(0, |l| l.version) == *version);
        if !incident_holds || !resource_holds || !ledgers_hold {
            return Ok(Committed::LostRace);
        }
        let _ = incident.apply(Utc::now(), Change::Written { token });
        match &conditions.resource {
            Some(Claim::Open { .. }) => {
                state.open.insert(key, incident.id.clone());
            }
            Some(Claim::Release { recovered_at }) => {
                state.open.remove(&key);
                state
                    .last_resolved
                    .insert(key, (incident.id.clone(), *recovered_at));
            }
            None => {}
        }
        state
            .incidents
            .insert(incident.id.clone(), incident.clone());
        for (scope, mut ledger) in ledgers {
            ledger.version += 1;
            state.ledgers.insert(scope, ledger);
        }
        if state.lost_answers_to_inject > 0 {
            state.lost_answers_to_inject -= 1;
            return Err(Error::Aws {
                operation: "TransactWriteItems",
                retryable: true,
                detail: "injected: the answer was lost after the write took effect".into(),
                source: "lost answer".into(),
            });
        }
        Ok(Committed::Landed)
    }

    async fn list(&self, limit: usize) -> Result<Vec<Incident>, Error> {
        round_trip().await;
        let mut all = self.incidents();
        all.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
        all.truncate(limit);
        Ok(all)
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, Error> {
        round_trip().await;
        Ok(self
            .incidents()
            .into_iter()
            .filter(|i| !i.state.is_closed())
            .collect())
    }

    async fn sweep_backlog(&self, kind: &ResourceType) -> Result<Vec<ResourceRef>, Error> {
        round_trip().await;
        Ok(lock(&self.inner)
            .sweep_backlogs
            .get(kind)
            .cloned()
            .unwrap_or_default())
    }

    async fn keep_sweep_backlog(
        &self,
        kind: &ResourceType,
        backlog: &[ResourceRef],
    ) -> Result<(), Error> {
        round_trip().await;
        lock(&self.inner)
            .sweep_backlogs
            .insert(kind.clone(), backlog.to_vec());
        Ok(())
    }
}

impl Dependencies for MemoryStore {
    async fn dependency(&self, resource: &ResourceRef) -> Result<DependencyState, Error> {
        round_trip().await;
        let state = lock(&self.inner);
        let key = resource.key();
        let (last_incident, last_recovered_at) = state
            .last_resolved
            .get(&key)
            .cloned()
            .map_or((None, None), |(id, at)| (Some(id), at));
        let open_incident = state.open.get(&key).cloned();
        let open = open_incident
            .as_ref()
            .and_then(|id| state.incidents.get(id).cloned());
        Ok(DependencyState {
            open_since: open.as_ref().map(|i| i.opened_at),
            open_rto_s: open.as_ref().and_then(|i| i.rto_s),
            open_incident,
            last_incident,
            last_recovered_at,
        })
    }
}

/// The RDS side of an account: DB instances, clusters, their events, and the failovers
/// asked of them. A forced failover of a Multi-AZ instance swaps primary and standby at
/// once, as the emulator does by default.
#[derive(Clone, Default)]
pub struct FakeDatabases {
    inner: Arc<Mutex<DatabasesState>>,
}

#[derive(Default)]
struct DatabasesState {
    instances: BTreeMap<DbInstanceId, DbInstance>,
    clusters: BTreeMap<DbClusterId, DbCluster>,
    events: Vec<RdsEvent>,
    alarms: BTreeMap<String, AlarmState>,
    failovers: Vec<(ActionKind, String)>,
    describe_calls: usize,
    fail_next_failover: Option<Error>,
    underway_next_failover: bool,
    hang_next_failover: bool,
    /// Leave the database where it is when a failover is asked (RDS skipping it).
    failover_does_nothing: bool,
}

impl FakeDatabases {
    pub fn add_instance(&self, instance: DbInstance) {
        lock(&self.inner)
            .instances
            .insert(instance.id.clone(), instance);
    }

    pub fn add_cluster(&self, cluster: DbCluster) {
        lock(&self.inner)
            .clusters
            .insert(cluster.id.clone(), cluster);
    }

    /// Changes one instance in place (status, Multi-AZ, tags, …).
    pub fn update_instance(&self, id: &str, change: impl FnOnce(&mut DbInstance)) {
        let mut state = lock(&self.inner);
        if let Some(instance) = state.instances.values_mut().find(|i| i.id.as_str() == id) {
            change(instance);
        }
    }

    /// Changes one cluster in place (its writer, status, …).
    pub fn update_cluster(&self, id: &str, change: impl FnOnce(&mut DbCluster)) {
        let mut state = lock(&self.inner);
        if let Some(cluster) = state.clusters.values_mut().find(|c| c.id.as_str() == id) {
            change(cluster);
        }
    }

    pub fn delete_instance(&self, id: &DbInstanceId) {
        lock(&self.inner).instances.remove(id);
    }

    /// An event DescribeEvents will return (without its id, as the API does).
    pub fn add_event(&self, event: RdsEvent) {
        lock(&self.inner)
            .events
            .push(RdsEvent { id: None, ..event });
    }

    /// Sets an alarm's state, as CloudWatch would report it.
    pub fn set_alarm(&self, name: &str, state: &str, since: DateTime<Utc>) {
        lock(&self.inner).alarms.insert(
            name.to_owned(),
            AlarmState {
                name: name.to_owned(),
                state: state.to_owned(),
                since: Some(since),
            },
        );
    }

    /// Every failover requested, in order: the kind and the database or cluster.
    pub fn failovers(&self) -> Vec<(ActionKind, String)> {
        lock(&self.inner).failovers.clone()
    }

    pub fn describe_calls(&self) -> usize {
        lock(&self.inner).describe_calls
    }

    pub fn fail_next_failover(&self, error: Error) {
        lock(&self.inner).fail_next_failover = Some(error);
    }

    /// The next failover call finds the database already rebooting.
    pub fn underway_next_failover(&self) {
        lock(&self.inner).underway_next_failover = true;
    }

    /// The next failover call never returns, like a function killed mid-call.
    pub fn hang_next_failover(&self) {
        lock(&self.inner).hang_next_failover = true;
    }

    /// Failovers are accepted and change nothing.
    pub fn failover_does_nothing(&self) {
        lock(&self.inner).failover_does_nothing = true;
    }

    async fn failover(&self, kind: ActionKind, id: &str) -> Result<FailedOver, Error> {
        round_trip().await;
        let hang = {
            let mut state = lock(&self.inner);
            if let Some(err) = state.fail_next_failover.take() {
                return Err(err);
            }
            std::mem::take(&mut state.hang_next_failover)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        let mut state = lock(&self.inner);
        if std::mem::take(&mut state.underway_next_failover) {
            return Ok(FailedOver::AlreadyUnderway);
        }
        state.failovers.push((kind.clone(), id.to_owned()));
        if state.failover_does_nothing {
            return Ok(FailedOver::Requested);
        }
        if kind == FAILOVER_DB_CLUSTER {
            if let Some(cluster) = state.clusters.values_mut().find(|c| c.id.as_str() == id) {
                let writer = cluster.members.iter().position(|m| m.writer);
                let reader = cluster.members.iter().position(|m| !m.writer);
                if let (Some(w), Some(r)) = (writer, reader) {
                    cluster.members[w].writer = false;
                    cluster.members[r].writer = true;
                }
            }
        } else if let Some(db) = state.instances.values_mut().find(|i| i.id.as_str() == id) {
            std::mem::swap(&mut db.primary_az, &mut db.standby_az);
        }
        Ok(FailedOver::Requested)
    }
}

impl Databases for FakeDatabases {
    async fn db_instance(&self, id: &DbInstanceId) -> Result<Option<DbInstance>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state.instances.get(id).cloned())
    }

    async fn db_cluster(&self, id: &DbClusterId) -> Result<Option<DbCluster>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state.clusters.get(id).cloned())
    }

    async fn recent_events(
        &self,
        _id: &DbInstanceId,
        _window: std::time::Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .events
            .iter()
            .filter(|e| e.cluster.is_none())
            .cloned()
            .collect())
    }

    async fn recent_cluster_events(
        &self,
        id: &DbClusterId,
        _window: std::time::Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .events
            .iter()
            .filter(|e| e.cluster.as_ref() == Some(id))
            .cloned()
            .collect())
    }

    async fn managed_instances(&self, tag_key: &str) -> Result<Vec<DbInstance>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .instances
            .values()
            .filter(|i| i.is_managed(tag_key))
            .cloned()
            .collect())
    }
}

impl DatabaseFailover for FakeDatabases {
    async fn reboot_with_failover(&self, id: &DbInstanceId) -> Result<FailedOver, Error> {
        self.failover(REBOOT_WITH_FAILOVER, id.as_str()).await
    }

    async fn failover_cluster(&self, id: &DbClusterId) -> Result<FailedOver, Error> {
        self.failover(FAILOVER_DB_CLUSTER, id.as_str()).await
    }
}

impl AlarmStates for FakeDatabases {
    async fn alarm_states(&self, patterns: &[AlarmPattern]) -> Result<Vec<AlarmState>, Error> {
        round_trip().await;
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .alarms
            .values()
            .filter(|a| patterns.iter().any(|p| p.matches(&a.name)))
            .cloned()
            .collect())
    }
}

/// Keeps every published notification.
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    published: Arc<Mutex<Vec<Notification>>>,
    /// Failures for the next publishes, in order.
    failures_to_inject: Arc<Mutex<Vec<InjectedFailure>>>,
}

#[derive(Clone, Copy)]
enum InjectedFailure {
    /// This publish goes through.
    Pass,
    Throttled,
    Refused,
}

impl RecordingNotifier {
    pub fn published(&self) -> Vec<Notification> {
        lock(&self.published).clone()
    }

    /// The next N publishes fail with a retryable error (SNS throttling).
    pub fn fail_next(&self, n: u32) {
        let mut failures = lock(&self.failures_to_inject);
        failures.extend((0..n).map(|_| InjectedFailure::Throttled));
    }

    /// After `n` more publishes go through, one fails with a retryable error: a failure
    /// (or a crash) in the middle of a batch.
    pub fn fail_after(&self, n: usize) {
        let mut failures = lock(&self.failures_to_inject);
        failures.extend((0..n).map(|_| InjectedFailure::Pass));
        failures.push(InjectedFailure::Throttled);
    }

    /// The next N publishes are refused for good, as SNS refuses an invalid parameter.
    pub fn refuse_next(&self, n: u32) {
        let mut failures = lock(&self.failures_to_inject);
        failures.extend((0..n).map(|_| InjectedFailure::Refused));
    }
}

impl Notifier for RecordingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<(), Error> {
        round_trip().await;
        let failure = {
            let mut failures = lock(&self.failures_to_inject);
            (!failures.is_empty()).then(|| failures.remove(0))
        };
        match failure {
            Some(InjectedFailure::Throttled) => Err(Error::Aws {
                operation: "Publish",
                retryable: true,
                detail: "injected throttling".into(),
                source: "Throttling".into(),
            }),
            Some(InjectedFailure::Refused) => Err(Error::Aws {
                operation: "Publish",
                retryable: false,
                detail: "InvalidParameter: injected refusal".into(),
                source: "InvalidParameter".into(),
            }),
            None | Some(InjectedFailure::Pass) => {
                lock(&self.published).push(notification.clone());
                Ok(())
            }
        }
    }
}

/// The failed-notifications queue: keeps what is parked.
#[derive(Clone, Default)]
pub struct ParkedNotifications {
    parked: Arc<Mutex<Vec<FailedNotification>>>,
    failures_to_inject: Arc<Mutex<u32>>,
}

impl ParkedNotifications {
    pub fn parked(&self) -> Vec<FailedNotification> {
        lock(&self.parked).clone()
    }

    /// The next N parkings fail, as an unreachable queue would.
    pub fn fail_next(&self, n: u32) {
        *lock(&self.failures_to_inject) = n;
    }
}

impl FailedNotifications for ParkedNotifications {
    async fn park(&self, failed: &FailedNotification) -> Result<(), Error> {
        round_trip().await;
        {
            let mut failures = lock(&self.failures_to_inject);
            if *failures > 0 {
                *failures -= 1;
                return Err(Error::Aws {
                    operation: "SendMessage",
                    retryable: true,
                    detail: "ServiceUnavailable: injected outage".into(),
                    source: "ServiceUnavailable".into(),
                });
            }
        }
        lock(&self.parked).push(failed.clone());
        Ok(())
    }
}
