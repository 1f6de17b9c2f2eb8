use std::collections::BTreeMap;

use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::reboot_db_instance::RebootDBInstanceError;
use aws_sdk_rds::types::{DbCluster as ApiCluster, DbInstance as ApiInstance, SourceType, Tag};
use aws_sdk_rds::Client;
use chrono::{DateTime, Utc};
use tracing::warn;

use super::classify;
use super::LazyClient;
use crate::error::Error;
use crate::ids::{DbClusterId, DbInstanceId};
use crate::kinds::database::observation::{ClusterMember, DbCluster, DbInstance, RdsEvent};
use crate::kinds::database::ports::{DatabaseFailover, Databases, FailedOver};

/// DescribeEvents returns at most this many events per page (its maximum).
const MAX_EVENTS: i32 = 100;

/// Pages of DescribeEvents read at most: RDS lists oldest first, so the newest events
/// of a busy window are on its last page. 50 pages is 5,000 events of one instance, far
/// past what its window (at most 14 days) holds; a marker past that is left unread, and
/// logged.
const MAX_EVENT_PAGES: usize = 50;

#[derive(Clone)]
pub struct Rds {
    client: LazyClient<Client>,
}

impl Rds {
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }
}

fn tags(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn convert_instance(api: &ApiInstance) -> Option<DbInstance> {
    let id = match DbInstanceId::parse(api.db_instance_identifier()?) {
        Ok(id) => id,
        Err(err) => {
            warn!(error = %err, "skipping a DB instance with an unusable identifier");
            return None;
        }
    };
    Some(DbInstance {
        id,
        status: api.db_instance_status().unwrap_or_default().to_owned(),
        multi_az: api.multi_az().unwrap_or(false),
        primary_az: api.availability_zone().map(str::to_owned),
        // Empty on a single-AZ instance.
        standby_az: api
            .secondary_availability_zone()
            .filter(|az| !az.is_empty())
            .map(str::to_owned),
        tags: tags(api.tag_list()),
        cluster: api
            .db_cluster_identifier()
            .and_then(|c| DbClusterId::parse(c).ok()),
    })
}

fn convert_cluster(api: &ApiCluster) -> Option<DbCluster> {
    let id = DbClusterId::parse(api.db_cluster_identifier()?).ok()?;
    Some(DbCluster {
        id,
        status: api.status().unwrap_or_default().to_owned(),
        tags: tags(api.tag_list()),
        members: api
            .db_cluster_members()
            .iter()
            .filter_map(|m| {
                Some(ClusterMember {
                    instance: DbInstanceId::parse(m.db_instance_identifier()?).ok()?,
                    writer: m.is_cluster_writer().unwrap_or(false),
                })
            })
            .collect(),
    })
}

fn timestamp(at: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(at.secs(), at.subsec_nanos())
}

impl Rds {
    /// Events of one source (a DB instance, or a DB cluster) over the last `window`,
    /// oldest first; a cluster's carry its id.
    async fn events_of(
        &self,
        source: &str,
        source_type: SourceType,
        cluster: Option<&DbClusterId>,
        window: std::time::Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        // DescribeEvents counts in whole minutes, at most 14 days.
        let minutes = (window.as_secs().div_ceil(60)).clamp(1, 20_160) as i32;
        // Only the categories of the events Rebound knows (backups, configuration changes
        // and notifications are not worth reading).
        let categories: Vec<String> = crate::kinds::database::events::event_categories()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut events = Vec::new();
        let mut marker = None;
        for _ in 0..MAX_EVENT_PAGES {
            let output = self
                .client
                .describe_events()
                .source_identifier(source)
                .source_type(source_type.clone())
                .duration(minutes)
                .set_event_categories(Some(categories.clone()))
                .max_records(MAX_EVENTS)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| classify("DescribeEvents", e))?;
            events.extend(output.events().iter().filter_map(|e| {
                Some(RdsEvent {
                    // The API returns no event id: only categories and the message.
                    id: None,
                    categories: e.event_categories().to_vec(),
                    message: e.message().unwrap_or_default().to_owned(),
                    at: timestamp(e.date()?)?,
                    cluster: cluster.cloned(),
                })
            }));
            marker = output.marker().filter(|m| !m.is_empty()).map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        if marker.is_some() {
            warn!(
                source,
                pages = MAX_EVENT_PAGES,
                "DescribeEvents: pages past the limit left unread"
            );
        }
        events.sort_by_key(|e| e.at);
        Ok(events)
    }
}

impl Databases for Rds {
    async fn db_instance(&self, id: &DbInstanceId) -> Result<Option<DbInstance>, Error> {
        let result = self
            .client
            .describe_db_instances()
            .db_instance_identifier(id.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(DescribeDBInstancesError::is_db_instance_not_found_fault) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(classify("DescribeDBInstances", err)),
        };
        Ok(output.db_instances().iter().find_map(convert_instance))
    }

    async fn db_cluster(&self, id: &DbClusterId) -> Result<Option<DbCluster>, Error> {
        let result = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id.as_str())
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(DescribeDBClustersError::is_db_cluster_not_found_fault) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(classify("DescribeDBClusters", err)),
        };
        Ok(output.db_clusters().iter().find_map(convert_cluster))
    }

    async fn recent_events(
        &self,
        id: &DbInstanceId,
        window: std::time::Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        self.events_of(id.as_str(), SourceType::DbInstance, None, window)
            .await
    }

    async fn recent_cluster_events(
        &self,
        id: &DbClusterId,
        window: std::time::Duration,
    ) -> Result<Vec<RdsEvent>, Error> {
        self.events_of(id.as_str(), SourceType::DbCluster, Some(id), window)
            .await
    }

    async fn managed_instances(&self, tag_key: &str) -> Result<Vec<DbInstance>, Error> {
        // DescribeDBInstances filters on no tag: every instance is listed (with its
        // tags) and the managed ones kept.
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeDBInstances", e))?;
            instances.extend(
                page.db_instances()
                    .iter()
                    .filter_map(convert_instance)
                    .filter(|i| i.is_managed(tag_key)),
            );
        }
        Ok(instances)
    }
}

impl DatabaseFailover for Rds {
    async fn reboot_with_failover(&self, id: &DbInstanceId) -> Result<FailedOver, Error> {
        let result = self
            .client
            .reboot_db_instance()
            .db_instance_identifier(id.as_str())
            .force_failover(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(FailedOver::Requested),
            // Seen available just before the write-ahead: an instance that is now
            // rebooting is this call's own earlier attempt, whose answer was lost.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(RebootDBInstanceError::is_invalid_db_instance_state_fault) =>
            {
                Ok(FailedOver::AlreadyUnderway)
            }
            Err(err) => Err(classify("RebootDBInstance", err)),
        }
    }

    async fn failover_cluster(&self, id: &DbClusterId) -> Result<FailedOver, Error> {
        // InvalidDBClusterState also means "no reader to promote": unlike a reboot's, it
        // cannot be read as an earlier attempt's effect, so it stays an error.
        self.client
            .failover_db_cluster()
            .db_cluster_identifier(id.as_str())
            .send()
            .await
            .map(|_| FailedOver::Requested)
            .map_err(|e| classify("FailoverDBCluster", e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::describe_events::DescribeEventsOutput;
    use aws_sdk_rds::operation::failover_db_cluster::FailoverDbClusterOutput;
    use aws_sdk_rds::operation::reboot_db_instance::RebootDbInstanceOutput;
    use aws_sdk_rds::types::error::{DbInstanceNotFoundFault, InvalidDbInstanceStateFault};
    use aws_sdk_rds::types::{DbInstance as Api, Event};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn db() -> DbInstanceId {
        DbInstanceId::parse("rebound-demo-db").unwrap()
    }

    #[tokio::test]
    async fn a_forced_failover_is_a_reboot_with_force_failover_set() {
        let rule = mock!(Client::reboot_db_instance)
            .match_requests(|req| {
                req.db_instance_identifier() == Some("rebound-demo-db")
                    && req.force_failover() == Some(true)
            })
            .then_output(|| RebootDbInstanceOutput::builder().build());
        let client = mock_client!(aws_sdk_rds, [&rule]);
        let outcome = Rds::new(client).reboot_with_failover(&db()).await.unwrap();
        assert_eq!(outcome, FailedOver::Requested);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_instance_already_rebooting_means_the_failover_is_underway() {
        let rule = mock!(Client::reboot_db_instance).then_error(|| {
            RebootDBInstanceError::InvalidDbInstanceStateFault(
                InvalidDbInstanceStateFault::builder()
                    .message("Instance rebound-demo-db is not in available state")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_rds, [&rule]);
        let outcome = Rds::new(client).reboot_with_failover(&db()).await.unwrap();
        assert_eq!(outcome, FailedOver::AlreadyUnderway);
    }

    #[tokio::test]
    async fn a_single_az_refusal_is_an_error_that_a_retry_will_not_fix() {
        let rule = mock!(Client::reboot_db_instance).then_error(|| {
            RebootDBInstanceError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterCombination")
                    .message("Reboot with failover is not supported for a Single-AZ instance")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
        let err = Rds::new(client)
            .reboot_with_failover(&db())
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert!(
            err.to_string().contains("InvalidParameterCombination"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_cluster_failover_names_the_cluster() {
        let rule = mock!(Client::failover_db_cluster)
            .match_requests(|req| req.db_cluster_identifier() == Some("orders"))
            .then_output(|| FailoverDbClusterOutput::builder().build());
        let client = mock_client!(aws_sdk_rds, [&rule]);
        let outcome = Rds::new(client)
            .failover_cluster(&DbClusterId::parse("orders").unwrap())
            .await
            .unwrap();
        assert_eq!(outcome, FailedOver::Requested);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_instance_is_read_with_its_zones_tags_and_cluster() {
        let rule = mock!(Client::describe_db_instances)
            .match_requests(|req| req.db_instance_identifier() == Some("rebound-demo-db"))
            .then_output(|| {
                DescribeDbInstancesOutput::builder()
                    .db_instances(
                        Api::builder()
                            .db_instance_identifier("rebound-demo-db")
                            .db_instance_status("available")
                            .multi_az(true)
                            .availability_zone("us-east-1a")
                            .secondary_availability_zone("us-east-1b")
                            .tag_list(Tag::builder().key("rebound:managed").value("true").build())
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_rds, [&rule]);
        let instance = Rds::new(client).db_instance(&db()).await.unwrap().unwrap();
        assert_eq!(instance.status, "available");
        assert!(instance.multi_az);
        assert_eq!(instance.primary_az.as_deref(), Some("us-east-1a"));
        assert_eq!(instance.standby_az.as_deref(), Some("us-east-1b"));
        assert!(instance.is_managed("rebound:managed"));
        assert_eq!(instance.cluster, None);
    }

    #[tokio::test]
    async fn a_deleted_instance_is_reported_as_gone_not_as_an_error() {
        let rule = mock!(Client::describe_db_instances).then_error(|| {
            DescribeDBInstancesError::DbInstanceNotFoundFault(
                DbInstanceNotFoundFault::builder().message("gone").build(),
            )
        });
        let client = mock_client!(aws_sdk_rds, [&rule]);
        assert_eq!(Rds::new(client).db_instance(&db()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn recent_events_cover_the_window_in_minutes_and_carry_categories() {
        let rule = mock!(Client::describe_events)
            .match_requests(|req| {
                req.source_identifier() == Some("rebound-demo-db")
                    && req.source_type() == Some(&SourceType::DbInstance)
                    && req.duration() == Some(30)
                    && req.event_categories().contains(&"failover".to_owned())
                    && req.marker().is_none()
            })
            .then_output(|| {
                DescribeEventsOutput::builder()
                    .events(
                        Event::builder()
                            .event_categories("failover")
                            .message("A Multi-AZ failover has completed.")
                            .date(aws_smithy_types::DateTime::from_secs(1_795_000_000))
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_rds, [&rule]);
        let events = Rds::new(client)
            .recent_events(&db(), std::time::Duration::from_secs(1800))
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert!(events[0].has_category("failover"));
        assert_eq!(events[0].id, None);
        assert_eq!(events[0].at.timestamp(), 1_795_000_000);
    }

    #[tokio::test]
    async fn every_page_is_read_so_the_newest_events_are_not_missed() {
        let event = |secs: i64| {
            Event::builder()
                .event_categories("failover")
                .message("Multi-AZ instance failover completed.")
                .date(aws_smithy_types::DateTime::from_secs(secs))
                .build()
        };
        let first = mock!(Client::describe_events)
            .match_requests(|req| req.marker().is_none())
            .then_output(move || {
                DescribeEventsOutput::builder()
                    .events(event(1_795_000_000))
                    .marker("page-2")
                    .build()
            });
        let second = mock!(Client::describe_events)
            .match_requests(|req| req.marker() == Some("page-2"))
            .then_output(move || {
                DescribeEventsOutput::builder()
                    .events(event(1_795_000_060))
                    .build()
            });
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&first, &second]);
        let events = Rds::new(client)
            .recent_events(&db(), std::time::Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(first.num_calls(), 1);
        assert_eq!(second.num_calls(), 1);
        let times: Vec<i64> = events.iter().map(|e| e.at.timestamp()).collect();
        assert_eq!(times, [1_795_000_000, 1_795_000_060]);
    }
}
