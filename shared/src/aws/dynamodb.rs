//! The incidents table. One table, three kinds of item, told apart by `kind`:
//!
//! | `pk`                      | `kind`     | what                                            |
//! |---------------------------|------------|-------------------------------------------------|
//! | `incident#<id>`           | `incident` | the incident record (streamed to the notifier)  |
//! | `resource#<type>#<id>`    | `resource` | `open_incident_id` (the one-open guard), `last_action_at` (cooldown) |
//! | `budget#<UTC hour>`       | `budget`   | actions taken that hour, account-wide           |
//!
//! The GSI `incidents-by-time` (`kind`, `opened_at`) lists incidents newest first; only
//! incident items have `opened_at`, so the index holds nothing else.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::classify;
use crate::domain::{Incident, IncidentState, ResourceRef};
use crate::error::Error;
use crate::ids::IncidentId;
use crate::ports::{Created, IncidentStore, ResourceRecord, Saved};

pub const INCIDENTS_BY_TIME_INDEX: &str = "incidents-by-time";
const BUDGET_RETENTION: Duration = Duration::days(2);

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn incident_key(id: &IncidentId) -> String {
    format!("incident#{id}")
}

fn resource_key(resource: &ResourceRef) -> String {
    format!("resource#{}", resource.key())
}

/// The transaction was cancelled because a condition did not hold (as opposed to a
/// conflict with another transaction in flight, which is worth retrying).
fn condition_failed(err: &TransactWriteItemsError) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| reason.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, retention_days: u32) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Duration::days(retention_days.into()),
        }
    }

    fn incident_item(&self, incident: &Incident) -> Result<HashMap<String, AttributeValue>, Error> {
        let mut item: HashMap<String, AttributeValue> =
            to_item(incident).map_err(|e| Error::CorruptRecord {
                key: incident_key(&incident.id),
                source: Box::new(e),
            })?;
        item.insert("pk".into(), s(incident_key(&incident.id)));
        item.insert("kind".into(), s("incident"));
        // Resolved incidents expire after the retention period (DynamoDB TTL).
        if let Some(resolved_at) = incident.resolved_at {
            item.insert(
                "expires_at".into(),
                n((resolved_at + self.retention).timestamp()),
            );
        }
        Ok(item)
    }

    fn decode(key: String, item: HashMap<String, AttributeValue>) -> Result<Incident, Error> {
        from_item(item).map_err(|e| Error::CorruptRecord {
            key,
            source: Box::new(e),
        })
    }

    async fn query_incidents(
        &self,
        limit: Option<usize>,
        open_only: bool,
    ) -> Result<Vec<Incident>, Error> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INCIDENTS_BY_TIME_INDEX)
            .key_condition_expression("#kind = :incident")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":incident", s("incident"))
            .scan_index_forward(false);
        if open_only {
            query = query
                .filter_expression("#state <> :resolved")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":resolved", s(IncidentState::Resolved.as_str()));
        }
        let mut pages = query.into_paginator().send();
        let mut incidents = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("Query", e))?;
            for item in page.items().iter().cloned() {
                let key = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.clone(),
                    _ => "?".into(),
                };
                incidents.push(Self::decode(key, item)?);
                if limit.is_some_and(|limit| incidents.len() >= limit) {
                    return Ok(incidents);
                }
            }
        }
        Ok(incidents)
    }
}

impl IncidentStore for DynamoStore {
    async fn resource(&self, resource: &ResourceRef) -> Result<ResourceRecord, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(resource_key(resource)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(item) = output.item() else {
            return Ok(ResourceRecord::default());
        };
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        Ok(ResourceRecord {
            open_incident: text("open_incident_id").and_then(|id| IncidentId::parse(id).ok()),
            last_action_at: text("last_action_at")
                .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| at.with_timezone(&Utc)),
        })
    }

    async fn load(&self, id: &IncidentId) -> Result<Option<Incident>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(incident_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        output
            .item
            .map(|item| Self::decode(incident_key(id), item))
            .transpose()
    }

    async fn create(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<Created, Error> {
        incident.version = 1;
        let mut claim = Update::builder()
            .table_name(&self.table)
            .key("pk", s(resource_key(&incident.resource)))
            .condition_expression("attribute_not_exists(open_incident_id)")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":id", s(incident.id.as_str()))
            .expression_attribute_values(":resource", s("resource"));
        claim = match action_at {
            Some(at) => claim
                .update_expression(
                    "SET open_incident_id = :id, #kind = :resource, last_action_at = :at",
                )
                .expression_attribute_values(":at", s(at.to_rfc3339())),
            None => claim.update_expression("SET open_incident_id = :id, #kind = :resource"),
        };
        let claim = claim
            .build()
            .map_err(|e| Error::build("TransactWriteItems", e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.incident_item(incident)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::build("TransactWriteItems", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(claim).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Opened),
            Err(err) if err.as_service_error().is_some_and(condition_failed) => {
                incident.version = 0;
                Ok(Created::AlreadyOpen)
            }
            Err(err) => Err(classify("TransactWriteItems", err)),
        }
    }

    async fn update(
        &self,
        incident: &mut Incident,
        action_at: Option<DateTime<Utc>>,
    ) -> Result<Saved, Error> {
        let expected = incident.version;
        incident.version += 1;
        let item = match self.incident_item(incident) {
            Ok(item) => item,
            Err(err) => {
                incident.version = expected;
                return Err(err);
            }
        };
        let releases = incident.state.is_closed();
        let result = if action_at.is_none() && !releases {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected))
                .send()
                .await
                .map(drop)
                .map_err(|err| {
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception())
                    {
                        None
                    } else {
                        Some(classify("PutItem", err))
                    }
                })
        } else {
            // The incident and its resource record move together: the cooldown clock
            // starts with the write-ahead, and resolving frees the resource.
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected))
                .build()
                .map_err(|e| Error::build("TransactWriteItems", e))?;
            let mut resource = Update::builder()
                .table_name(&self.table)
                .key("pk", s(resource_key(&incident.resource)))
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_values(":resource", s("resource"));
            let mut sets = vec!["#kind = :resource"];
            if let Some(at) = action_at {
                sets.push("last_action_at = :at");
                resource = resource.expression_attribute_values(":at", s(at.to_rfc3339()));
            }
            let mut expression = format!("SET {}", sets.join(", "));
            if releases {
                expression.push_str(" REMOVE open_incident_id");
                resource = resource
                    .condition_expression("open_incident_id = :id")
                    .expression_attribute_values(":id", s(incident.id.as_str()));
            }
            let resource = resource
                .update_expression(expression)
                .build()
                .map_err(|e| Error::build("TransactWriteItems", e))?;
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().update(resource).build())
                .send()
                .await
                .map(drop)
                .map_err(|err| {
                    if err.as_service_error().is_some_and(condition_failed) {
                        None
                    } else {
                        Some(classify("TransactWriteItems", err))
                    }
                })
        };
        match result {
            Ok(()) => Ok(Saved::Saved),
            Err(other) => {
                incident.version = expected;
                match other {
                    None => Ok(Saved::Conflict),
                    Some(err) => Err(err),
                }
            }
        }
    }

    async fn reserve_action(&self, now: DateTime<Utc>, per_hour: u32) -> Result<bool, Error> {
        if per_hour == 0 {
            return Ok(false);
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("budget#{}", now.format("%Y-%m-%dT%H"))))
            .update_expression("SET used = if_not_exists(used, :zero) + :one, #kind = :budget, expires_at = :expires")
            .condition_expression("attribute_not_exists(used) OR used < :limit")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(per_hour))
            .expression_attribute_values(":budget", s("budget"))
            .expression_attribute_values(":expires", n((now + BUDGET_RETENTION).timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(classify("UpdateItem", err)),
        }
    }

    async fn list(&self, limit: usize) -> Result<Vec<Incident>, Error> {
        self.query_incidents(Some(limit), false).await
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, Error> {
        self.query_incidents(None, true).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;
    use crate::domain::{Evidence, ResourceKind};

    fn incident() -> Incident {
        Incident::open(
            ResourceRef {
                kind: ResourceKind::TargetGroup,
                id: "arn:tg".into(),
            },
            "alarm:x",
            Evidence::default(),
            "1 of 4 targets unhealthy",
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn creating_claims_the_resource_and_stores_the_incident_in_one_transaction() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|req| {
                let items = req.transact_items();
                let claim = items[0].update().unwrap();
                let put = items[1].put().unwrap();
                claim.condition_expression() == Some("attribute_not_exists(open_incident_id)")
                    && claim.key().get("pk") == Some(&s("resource#target-group#arn:tg"))
                    && put.item().get("kind") == Some(&s("incident"))
                    && put.item().get("version") == Some(&n(1))
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let mut inc = incident();
        let created = DynamoStore::new(client, "t", 90)
            .create(&mut inc, None)
            .await
            .unwrap();
        assert_eq!(created, Created::Opened);
        assert_eq!(inc.version, 1);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_claim_means_an_incident_is_already_open() {
        let rule = mock!(Client::transact_write_items).then_error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .cancellation_reasons(
                        CancellationReason::builder()
                            .code("ConditionalCheckFailed")
                            .build(),
                    )
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let created = DynamoStore::new(client, "t", 90)
            .create(&mut incident(), None)
            .await
            .unwrap();
        assert_eq!(created, Created::AlreadyOpen);
    }

    #[tokio::test]
    async fn an_incident_round_trips_through_its_item() {
        let client = mock_client!(aws_sdk_dynamodb, []);
        let store = DynamoStore::new(client, "t", 90);
        let mut inc = incident();
        inc.transition(Utc::now(), IncidentState::Resolved, "ok");
        let item = store.incident_item(&inc).unwrap();
        assert!(item.contains_key("expires_at"));
        let back = DynamoStore::decode("k".into(), item).unwrap();
        assert_eq!(back, inc);
    }
}
