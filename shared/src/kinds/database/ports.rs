//! What DB instances need from AWS, shaped like the domain: the instance, its cluster,
//! RDS's events, the designated alarms' states, and the two failovers.

use std::future::Future;

use super::observation::{AlarmPattern, AlarmState, DbCluster, DbInstance, RdsEvent};
use crate::error::Error;
use crate::ids::{DbClusterId, DbInstanceId};

pub trait Databases: Send + Sync {
    /// One DB instance with its tags; `None` when it no longer exists.
    fn db_instance(
        &self,
        id: &DbInstanceId,
    ) -> impl Future<Output = Result<Option<DbInstance>, Error>> + Send;

    /// One DB cluster with its members and tags; `None` when it no longer exists.
    fn db_cluster(
        &self,
        id: &DbClusterId,
    ) -> impl Future<Output = Result<Option<DbCluster>, Error>> + Send;

    /// The instance's RDS events of the last `window`, oldest first. DescribeEvents
    /// returns no event ids: these carry categories and messages only.
    fn recent_events(
        &self,
        id: &DbInstanceId,
        window: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<RdsEvent>, Error>> + Send;

    /// RDS events about a DB cluster over the last `window`, oldest first.
    fn recent_cluster_events(
        &self,
        id: &DbClusterId,
        window: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<RdsEvent>, Error>> + Send;

    /// DB instances tagged `tag_key=true`, for the sweep.
    fn managed_instances(
        &self,
        tag_key: &str,
    ) -> impl Future<Output = Result<Vec<DbInstance>, Error>> + Send;
}

/// What CloudWatch says of the alarms a database designates for a failover.
pub trait AlarmStates: Send + Sync {
    /// The metric alarms matching these names and prefixes, with their state now.
    fn alarm_states(
        &self,
        patterns: &[AlarmPattern],
    ) -> impl Future<Output = Result<Vec<AlarmState>, Error>> + Send;
}

/// What became of a failover request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedOver {
    /// RDS accepted the request.
    Requested,
    /// RDS refused it because the database is already rebooting or failing over,
    /// moments after it was seen available: typically an earlier attempt of this same
    /// call took effect before its answer was lost and the SDK retried.
    AlreadyUnderway,
}

pub trait DatabaseFailover: Send + Sync {
    /// `RebootDBInstance(ForceFailover=true)`: the Multi-AZ standby becomes the primary.
    fn reboot_with_failover(
        &self,
        id: &DbInstanceId,
    ) -> impl Future<Output = Result<FailedOver, Error>> + Send;

    /// `FailoverDBCluster`: RDS promotes a reader of the cluster to writer.
    fn failover_cluster(
        &self,
        id: &DbClusterId,
    ) -> impl Future<Output = Result<FailedOver, Error>> + Send;
}
