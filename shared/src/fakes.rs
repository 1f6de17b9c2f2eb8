//! In-memory implementations of the ports, for handler tests in every crate
//! (feature `test-util`). They behave like the real services where Rebound relies on
//! it: conditional writes conflict, the budget runs out, replacements are recorded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::domain::{ActionKind, Incident, ResourceRef, ScalingGroup, TargetHealth};
use crate::error::Error;
use crate::ids::{AutoScalingGroupName, IncidentId, InstanceId, TargetGroupArn};
use crate::ports::{
    Created, FailedNotification, FailedNotifications, IncidentStore, InstanceReplacer,
    Notification, Notifier, Replaced, ResourceRecord, Saved, ScalingGroups, TargetHealthSource,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock already failed; keep the data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    fail_next_replace: Option<Error>,
    hang_next_replace: bool,
    gone_next_replace: bool,
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

    /// Every replacement requested, in order.
    pub fn replaced(&self) -> Vec<(ActionKind, AutoScalingGroupName, InstanceId)> {
        lock(&self.inner).replaced.clone()
    }

    pub fn describe_calls(&self) -> usize {
        lock(&self.inner).describe_calls
    }

    pub fn fail_next_replace(&self, error: Error) {
        lock(&self.inner).fail_next_replace = Some(error);
    }

    /// The next replace call finds the instance already gone from its group.
    pub fn gone_next_replace(&self) {
        lock(&self.inner).gone_next_replace = true;
    }

    /// The next replace call never returns, like a function killed mid-call.
    pub fn hang_next_replace(&self) {
        lock(&self.inner).hang_next_replace = true;
    }
}

impl TargetHealthSource for FakeFleet {
    async fn target_health(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<TargetHealth>, Error> {
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state.targets.get(target_group).cloned().unwrap_or_default())
    }
}

impl ScalingGroups for FakeFleet {
    async fn groups_owning(
        &self,
        instances: &[InstanceId],
        _managed_tag_key: &str,
    ) -> Result<Vec<ScalingGroup>, Error> {
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .groups
            .iter()
            .filter(|g| instances.iter().any(|i| g.instance(i).is_some()))
            .cloned()
            .collect())
    }

    async fn managed_groups(&self, tag_key: &str) -> Result<Vec<ScalingGroup>, Error> {
        let mut state = lock(&self.inner);
        state.describe_calls += 1;
        Ok(state
            .groups
            .iter()
            .filter(|g| g.is_managed(tag_key))
            .cloned()
            .collect())
    }
}

impl InstanceReplacer for FakeFleet {
    async fn replace(
        &self,
        kind: ActionKind,
        group: &AutoScalingGroupName,
        instance: &InstanceId,
    ) -> Result<Replaced, Error> {
        let hang = {
            let mut state = lock(&self.inner);
            if let Some(err) = state.fail_next_replace.take() {
                return Err(err);
            }
            std::mem::take(&mut state.hang_next_replace)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        let mut state = lock(&self.inner);
        if std::mem::take(&mut state.gone_next_replace) {
            return Ok(Replaced::AlreadyGone);
        }
        state.replaced.push((kind, group.clone(), instance.clone()));
        Ok(Replaced::Requested)
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
    resources: BTreeMap<String, ResourceRecord>,
    budget: BTreeMap<String, u32>,
    /// Makes the next N conditional writes fail as if another writer got there first.
    conflicts_to_inject: u32,
}

impl MemoryStore {
    pub fn incidents(&self) -> Vec<Incident> {
        lock(&self.inner).incidents.values().cloned().collect()
    }

    pub fn inject_conflicts(&self, n: u32) {
        lock(&self.inner).conflicts_to_inject = n;
    }

    pub fn set_last_action_at(&self, resource: &ResourceRef, at: DateTime<Utc>) {
        lock(&self.inner)
            .resources
            .entry(resource.key())
            .or_default()
            .last_action_at = Some(at);
    }
}

impl IncidentStore for MemoryStore {
    async fn resource(&self, resource: &ResourceRef) -> Result<ResourceRecord, Error> {
        Ok(lock(&self.inner)
            .resources
            .get(&resource.key())
            .cloned()
            .unwrap_or_default())
    }

    async fn load(&self, id: &IncidentId) -> Result<Option<Incident>, Error> {
        Ok(lock(&self.inner).incidents.get(id).cloned())
    }

    async fn create(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<Created, Error> {
        let mut state = lock(&self.inner);
        if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            return Ok(Created::AlreadyOpen);
        }
        let record = state.resources.entry(incident.resource.key()).or_default();
        if record.open_incident.is_some() {
            return Ok(Created::AlreadyOpen);
        }
        record.open_incident = Some(incident.id.clone());
        if let Some(at) = action_at {
            record.last_action_at = Some(at);
        }
        incident.version = 1;
        state
            .incidents
            .insert(incident.id.clone(), incident.clone());
        Ok(Created::Opened)
    }

    async fn update(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<Saved, Error> {
        let mut state = lock(&self.inner);
        if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            return Ok(Saved::Conflict);
        }
        let stored_version = state.incidents.get(&incident.id).map(|i| i.version);
        if stored_version != Some(incident.version) {
            return Ok(Saved::Conflict);
        }
        incident.version += 1;
        let record = state.resources.entry(incident.resource.key()).or_default();
        if let Some(at) = action_at {
            record.last_action_at = Some(at);
        }
        if incident.state.is_closed() && record.open_incident.as_ref() == Some(&incident.id) {
            record.open_incident = None;
        }
        state
            .incidents
            .insert(incident.id.clone(), incident.clone());
        Ok(Saved::Saved)
    }

    async fn reserve_action(&self, now: DateTime<Utc>, per_hour: u32) -> Result<bool, Error> {
        let mut state = lock(&self.inner);
        let used = state
            .budget
            .entry(now.format("%Y-%m-%dT%H").to_string())
            .or_default();
        if *used >= per_hour {
            return Ok(false);
        }
        *used += 1;
        Ok(true)
    }

    async fn list(&self, limit: usize) -> Result<Vec<Incident>, Error> {
        let mut all = self.incidents();
        all.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
        all.truncate(limit);
        Ok(all)
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, Error> {
        Ok(self
            .incidents()
            .into_iter()
            .filter(|i| !i.state.is_closed())
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

    /// The next N publishes are refused for good, as SNS refuses an invalid parameter.
    pub fn refuse_next(&self, n: u32) {
        let mut failures = lock(&self.failures_to_inject);
        failures.extend((0..n).map(|_| InjectedFailure::Refused));
    }
}

impl Notifier for RecordingNotifier {
    async fn publish(&self, notification: &Notification) -> Result<(), Error> {
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
            None => {
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
