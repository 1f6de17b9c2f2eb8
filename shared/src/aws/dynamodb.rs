//! The incidents table. One table, three kinds of item, told apart by `kind`:
//!
//! | `pk`                      | `kind`     | what                                            |
//! |---------------------------|------------|-------------------------------------------------|
//! | `incident#<id>`           | `incident` | the incident record (streamed to the notifier)  |
//! | `resource#<type>#<id>`    | `resource` | `open_incident_id`: the one-open-incident guard; `last_incident_id`, `last_recovered_at`: the last resolved one (dependency holds); `drill_id`, `drill_until`: a drill disturbing the resource (`rebound drill`) |
//! | `ledger#<type>#<id>`      | `ledger`   | recent actions through an Auto Scaling group, or the whole account's (`ledger#account#account`, the rolling-hour budget) |
//!
//! The GSI `incidents-by-time` (`kind`, `opened_at`) lists incidents newest first; only
//! incident items have `opened_at`, so the index holds nothing else. The sparse GSI
//! `open-incidents` (`open`, `opened_at`) holds only incidents not yet resolved: only
//! they carry `open`.
//!
//! Every change is conditional: an incident on its `version` (or, new, on its resource
//! having no open incident), a ledger on its `version`. A change touching more than one
//! item is one transaction whose ClientRequestToken is the writer's token.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::classify;
use super::LazyClient;
use crate::domain::{
    Change, DrillMark, Incident, IncidentState, Ledger, ResourceRef, ResourceType,
};
use crate::error::Error;
use crate::ids::IncidentId;
use crate::policy::later;
use crate::ports::{
    Claim, Commit, Committed, Conditions, Dependencies, DependencyState, Expected, Freshness,
    IncidentStore, ResourceRecord,
};

pub const INCIDENTS_BY_TIME_INDEX: &str = "incidents-by-time";
pub const OPEN_INCIDENTS_INDEX: &str = "open-incidents";
/// The value of `open` on every incident that is not resolved (the index's only key).
const OPEN: &str = "open";
/// Ledger items expire this long after their last write (DynamoDB TTL): by then no
/// guard looks at their entries any more.
const LEDGER_TTL: Duration = Duration::days(2);
/// BatchGetItem may leave keys unprocessed under load; they are asked again this often.
const MAX_BATCH_GET_ROUNDS: usize = 5;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: LazyClient<Client>,
    table: String,
    retention: Duration,
}

fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn incident_key(id: &IncidentId) -> String {
    format!("incident#{id}")
}

fn resource_key(resource: &ResourceRef) -> String {
    format!("resource#{}", resource.key())
}

/// The sweep's record of a resource type: the resources its last run had no time for.
fn sweep_key(kind: &ResourceType) -> String {
    format!("sweep#{kind}")
}

/// The most resources a sweep backlog keeps (an item holds at most 400 KB; ARNs are a
/// little over 100 bytes): past that, the oldest come first and the rest wait their turn
/// in the usual order.
const MAX_SWEEP_BACKLOG: usize = 2_000;

fn ledger_key(scope: &ResourceRef) -> String {
    format!("ledger#{}", scope.key())
}

/// A transaction that lost to another writer: a condition did not hold, or another
/// transaction was working on one of its items. Either way: read again and decide.
fn lost_transaction(err: &TransactWriteItemsError) -> bool {
    match err {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons().iter().any(|reason| {
                matches!(
                    reason.code(),
                    Some("ConditionalCheckFailed" | "TransactionConflict")
                )
            })
        }
        _ => false,
    }
}

/// A single-item write that lost to another writer: its condition failed, or a
/// transaction was working on the item.
fn lost_write(err: &PutItemError) -> bool {
    err.is_conditional_check_failed_exception()
        || err.is_transaction_conflict_exception()
        || err.code() == Some("TransactionConflictException")
}

fn build_error<E>(err: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::build("TransactWriteItems", err)
}

impl DynamoStore {
    pub fn new(
        client: impl Into<LazyClient<Client>>,
        table: impl Into<String>,
        retention_days: u32,
    ) -> Self {
        Self {
            client: client.into(),
            table: table.into(),
            retention: Duration::days(retention_days.into()),
        }
    }

    fn incident_item(&self, incident: &Incident) -> Result<Item, Error> {
        let mut item: Item = to_item(incident).map_err(|e| Error::CorruptRecord {
            key: incident_key(&incident.id),
            source: Box::new(e),
        })?;
        item.insert("pk".into(), text(incident_key(&incident.id)));
        item.insert("kind".into(), text("incident"));
        if incident.state.is_closed() {
            // Resolved incidents expire after the retention period (DynamoDB TTL).
            if let Some(resolved_at) = incident.resolved_at {
                item.insert(
                    "expires_at".into(),
                    number(later(resolved_at, self.retention).timestamp()),
                );
            }
        } else {
            item.insert("open".into(), text(OPEN));
        }
        Ok(item)
    }

    fn ledger_item(&self, scope: &ResourceRef, ledger: &Ledger) -> Result<Item, Error> {
        let mut item: Item = to_item(ledger).map_err(|e| Error::CorruptRecord {
            key: ledger_key(scope),
            source: Box::new(e),
        })?;
        item.insert("pk".into(), text(ledger_key(scope)));
        item.insert("kind".into(), text("ledger"));
        let last = ledger.last_action_at().unwrap_or_else(Utc::now);
        item.insert(
            "expires_at".into(),
            number(later(last, LEDGER_TTL).timestamp()),
        );
        Ok(item)
    }

    fn decode<T: serde::de::DeserializeOwned>(key: String, item: Item) -> Result<T, Error> {
        from_item(item).map_err(|e| Error::CorruptRecord {
            key,
            source: Box::new(e),
        })
    }

    async fn get(&self, key: String) -> Result<Option<Item>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", text(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(output.item)
    }

    async fn query_incidents(
        &self,
        index: &str,
        partition: (&str, &str),
        limit: Option<usize>,
    ) -> Result<Vec<Incident>, Error> {
        let (name, value) = partition;
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#partition = :value")
            .expression_attribute_names("#partition", name)
            .expression_attribute_values(":value", text(value))
            .scan_index_forward(false)
            .into_paginator()
            .send();
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

    /// The incident's put, on the condition the writer expects (new: its id unused; else
    /// the version it was read at).
    fn incident_put(&self, incident: &Incident, expected: Expected) -> Result<Put, Error> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.incident_item(incident)?));
        let put = match expected {
            Expected::New => put.condition_expression("attribute_not_exists(pk)"),
            Expected::Version(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", number(version)),
        };
        put.build().map_err(build_error)
    }

    /// Claims the resource for a new incident, or releases it when the incident
    /// resolves, on the conditions the claim states.
    fn resource_update(&self, incident: &Incident, claim: &Claim) -> Result<Update, Error> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", text(resource_key(&incident.resource)))
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":resource", text("resource"))
            .expression_attribute_values(":id", text(incident.id.as_str()));
        let update = match claim {
            Claim::Open { freshness } => {
                let update =
                    update.update_expression("SET open_incident_id = :id, #kind = :resource");
                match freshness {
                    Freshness::Unchecked => {
                        update.condition_expression("attribute_not_exists(open_incident_id)")
                    }
                    Freshness::LastIncident(None) => update.condition_expression(
                        "attribute_not_exists(open_incident_id) AND attribute_not_exists(last_incident_id)",
                    ),
                    Freshness::LastIncident(Some(last)) => update
                        .condition_expression(
                            "attribute_not_exists(open_incident_id) AND last_incident_id = :last",
                        )
                        .expression_attribute_values(":last", text(last.as_str())),
                    // RFC 3339 in UTC, as written below, compares in time order as text.
                    Freshness::ObservedAt(observed) => update
                        .condition_expression(
                            "attribute_not_exists(open_incident_id) AND (attribute_not_exists(last_recovered_at) OR last_recovered_at < :observed)",
                        )
                        .expression_attribute_values(":observed", text(observed.to_rfc3339())),
                }
            }
            // The record remembers the last incident and when the resource verifiably
            // recovered: resources that depend on it stay held for a settle time.
            Claim::Release { recovered_at } => {
                let update = update.condition_expression("open_incident_id = :id");
                match recovered_at {
                    Some(recovered) => update
                        .update_expression(
                            "SET #kind = :resource, last_incident_id = :id, last_recovered_at = :recovered REMOVE open_incident_id",
                        )
                        .expression_attribute_values(":recovered", text(recovered.to_rfc3339())),
                    None => update.update_expression(
                        "SET #kind = :resource, last_incident_id = :id REMOVE open_incident_id, last_recovered_at",
                    ),
                }
            }
        };
        update.build().map_err(build_error)
    }

    fn ledger_put(&self, scope: &ResourceRef, ledger: &Ledger) -> Result<Put, Error> {
        let mut next = ledger.clone();
        next.version += 1;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.ledger_item(scope, &next)?));
        let put = if ledger.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", number(ledger.version))
        };
        put.build().map_err(build_error)
    }

    async fn write_one(&self, put: Put) -> Result<Committed, Error> {
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Committed::Landed),
            Err(err) if err.as_service_error().is_some_and(lost_write) => Ok(Committed::LostRace),
            Err(err) => Err(classify("PutItem", err)),
        }
    }

    async fn write_all(
        &self,
        items: Vec<TransactWriteItem>,
        token: &str,
    ) -> Result<Committed, Error> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Committed::Landed),
            Err(err) if err.as_service_error().is_some_and(lost_transaction) => {
                Ok(Committed::LostRace)
            }
            Err(err) => Err(classify("TransactWriteItems", err)),
        }
    }
}

impl IncidentStore for DynamoStore {
    async fn open_incident(&self, resource: &ResourceRef) -> Result<Option<Incident>, Error> {
        Ok(self.resource_record(resource).await?.open)
    }

    /// One read of the resource's record: the open incident's id, the drill marked on
    /// it and the last incident resolved; then the incident, if one is open.
    async fn resource_record(&self, resource: &ResourceRef) -> Result<ResourceRecord, Error> {
        let Some(record) = self.get(resource_key(resource)).await? else {
            return Ok(ResourceRecord::default());
        };
        let id = |name: &str| incident_id_at(&record, name);
        let open = match id("open_incident_id") {
            Some(id) => self.load(&id).await?,
            None => None,
        };
        Ok(ResourceRecord {
            open,
            drill: drill_mark(&record),
            last_incident: id("last_incident_id"),
        })
    }

    async fn load(&self, id: &IncidentId) -> Result<Option<Incident>, Error> {
        let key = incident_key(id);
        self.get(key.clone())
            .await?
            .map(|item| Self::decode(key, item))
            .transpose()
    }

    async fn ledgers(
        &self,
        scopes: &[ResourceRef],
    ) -> Result<BTreeMap<ResourceRef, Ledger>, Error> {
        let by_key: BTreeMap<String, &ResourceRef> = scopes
            .iter()
            .map(|scope| (ledger_key(scope), scope))
            .collect();
        let mut ledgers: BTreeMap<ResourceRef, Ledger> = scopes
            .iter()
            .map(|scope| (scope.clone(), Ledger::default()))
            .collect();
        let keys: Vec<Item> = by_key
            .keys()
            .map(|key| HashMap::from([("pk".to_owned(), text(key.clone()))]))
            .collect();
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::build("BatchGetItem", e))?;
            for _round in 0..MAX_BATCH_GET_ROUNDS {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted.clone())
                    .send()
                    .await
                    .map_err(|e| classify("BatchGetItem", e))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let Some(AttributeValue::S(pk)) = item.get("pk") else {
                        continue;
                    };
                    if let Some(scope) = by_key.get(pk) {
                        let ledger = Self::decode(pk.clone(), item.clone())?;
                        ledgers.insert((*scope).clone(), ledger);
                    }
                }
                match output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => wanted = rest.clone(),
                    _ => break,
                }
            }
        }
        Ok(ledgers)
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<Committed, Error> {
        let conditions = commit.conditions();
        let Commit {
            incident,
            ledgers,
            token,
            ..
        } = commit;
        let mut written = incident.clone();
        let _ = written.apply(Utc::now(), Change::Written { token });
        let result = self
            .commit_items(&written, &conditions, &ledgers, token)
            .await;
        if matches!(result, Ok(Committed::Landed)) {
            *incident = written;
        }
        result
    }

    async fn list(&self, limit: usize) -> Result<Vec<Incident>, Error> {
        self.query_incidents(INCIDENTS_BY_TIME_INDEX, ("kind", "incident"), Some(limit))
            .await
    }

    async fn open_incidents(&self) -> Result<Vec<Incident>, Error> {
        let incidents = self
            .query_incidents(OPEN_INCIDENTS_INDEX, ("open", OPEN), None)
            .await?;
        // The index is eventually consistent: an incident resolved a moment ago may
        // still be listed.
        Ok(incidents
            .into_iter()
            .filter(|i| i.state != IncidentState::Resolved)
            .collect())
    }

    async fn sweep_backlog(&self, kind: &ResourceType) -> Result<Vec<ResourceRef>, Error> {
        let Some(item) = self.get(sweep_key(kind)).await? else {
            return Ok(Vec::new());
        };
        Ok(match item.get("backlog") {
            Some(AttributeValue::L(ids)) => ids
                .iter()
                .filter_map(|id| id.as_s().ok())
                .map(|id| ResourceRef::new(kind.clone(), id.clone()))
                .collect(),
            _ => Vec::new(),
        })
    }

    async fn keep_sweep_backlog(
        &self,
        kind: &ResourceType,
        backlog: &[ResourceRef],
    ) -> Result<(), Error> {
        let ids = backlog
            .iter()
            .take(MAX_SWEEP_BACKLOG)
            .map(|resource| text(resource.id.clone()))
            .collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", text(sweep_key(kind)))
            .item("kind", text("sweep"))
            .item("backlog", AttributeValue::L(ids))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}

impl Dependencies for DynamoStore {
    /// One consistent read of the resource's record: its open incident, its last
    /// incident and when it recovered.
    async fn dependency(&self, resource: &ResourceRef) -> Result<DependencyState, Error> {
        let Some(record) = self.get(resource_key(resource)).await? else {
            return Ok(DependencyState::default());
        };
        let id = |name: &str| incident_id_at(&record, name);
        let last_recovered_at = match record.get("last_recovered_at") {
            Some(AttributeValue::S(at)) => DateTime::parse_from_rfc3339(at)
                .ok()
                .map(|at| at.with_timezone(&Utc)),
            _ => None,
        };
        let open_incident = id("open_incident_id");
        // The open incident itself says since when, and its objective: one more read,
        // made only while the resource has one.
        let open = match &open_incident {
            Some(open) => self.load(open).await?,
            None => None,
        };
        Ok(DependencyState {
            open_since: open.as_ref().map(|i| i.opened_at),
            open_rto_s: open.as_ref().and_then(|i| i.rto_s),
            open_incident,
            last_incident: id("last_incident_id"),
            last_recovered_at,
        })
    }
}

/// The incident a resource record names under `name` (`open_incident_id`,
/// `last_incident_id`), if it is a well-formed id.
fn incident_id_at(record: &Item, name: &str) -> Option<IncidentId> {
    match record.get(name) {
        Some(AttributeValue::S(id)) => IncidentId::parse(id.as_str()).ok(),
        _ => None,
    }
}

/// The drill marked on a resource record, if any (both attributes, well formed).
fn drill_mark(record: &Item) -> Option<DrillMark> {
    let (Some(AttributeValue::S(id)), Some(AttributeValue::S(until))) =
        (record.get("drill_id"), record.get("drill_until"))
    else {
        return None;
    };
    let until = DateTime::parse_from_rfc3339(until)
        .ok()?
        .with_timezone(&Utc);
    Some(DrillMark {
        id: id.clone(),
        until,
    })
}

/// What `rebound drill` writes: the marks on the resources a drill disturbs, and its
/// result on the timeline of the incidents it caused. Not part of the functions'
/// ports: only the CLI writes these.
impl DynamoStore {
    /// Marks a resource as disturbed by a drill until `mark.until`: an incident opened on
    /// it meanwhile is the drill's. Leaves the record's other attributes alone.
    pub async fn mark_drill(&self, resource: &ResourceRef, mark: &DrillMark) -> Result<(), Error> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", text(resource_key(resource)))
            .update_expression("SET #kind = :resource, drill_id = :drill, drill_until = :until")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":resource", text("resource"))
            .expression_attribute_values(":drill", text(mark.id.clone()))
            .expression_attribute_values(":until", text(mark.until.to_rfc3339()))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Removes this drill's mark (another drill's is left alone).
    pub async fn clear_drill(&self, resource: &ResourceRef, drill_id: &str) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", text(resource_key(resource)))
            .update_expression("REMOVE drill_id, drill_until")
            .condition_expression("drill_id = :drill")
            .expression_attribute_values(":drill", text(drill_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(classify("UpdateItem", err)),
        }
    }
}

impl DynamoStore {
    async fn commit_items(
        &self,
        incident: &Incident,
        conditions: &Conditions,
        ledgers: &[(ResourceRef, Ledger)],
        token: &str,
    ) -> Result<Committed, Error> {
        let put = self.incident_put(incident, conditions.incident)?;
        let resource = conditions
            .resource
            .as_ref()
            .map(|claim| self.resource_update(incident, claim))
            .transpose()?;
        if resource.is_none() && ledgers.is_empty() {
            return self.write_one(put).await;
        }
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(update) = resource {
            items.push(TransactWriteItem::builder().update(update).build());
        }
        for (scope, ledger) in ledgers {
            items.push(
                TransactWriteItem::builder()
                    .put(self.ledger_put(scope, ledger)?)
                    .build(),
            );
        }
        self.write_all(items, token).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, TransactionCanceledException, TransactionConflictException,
    };
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;
    use crate::domain::{Evidence, LedgerEntry, Opening, ResourceType};

    fn incident() -> Incident {
        Incident::open(
            Opening {
                resource: ResourceRef::new(ResourceType::named("target-group"), "arn:tg"),
                trigger: "alarm:x".into(),
                evidence: Evidence::default(),
                summary: "1 of 4 targets unhealthy".into(),
                rto_s: None,
                drill: None,
            },
            Utc::now(),
        )
    }

    /// The incident as stored at `version`, in `state` (resolved now, recovered, when
    /// resolved).
    fn stored(version: u64, state: IncidentState) -> Incident {
        incident().stored_with(|r| {
            r.version = version;
            r.state = state;
            if state == IncidentState::Resolved {
                r.resolved_at = Some(Utc::now());
                r.time_to_recover_s = Some(60);
            }
        })
    }

    fn web() -> ResourceRef {
        ResourceRef::new(ResourceType::named("auto-scaling-group"), "web")
    }

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let mut builder = TransactionCanceledException::builder();
        for code in codes {
            builder =
                builder.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        TransactWriteItemsError::TransactionCanceledException(builder.build())
    }

    /// The expiry of an incident resolved, or a ledger last moved, at the end of time
    /// (a clock gone wrong) is the end of time, not a panic (`DateTime + TimeDelta`
    /// overflowed), as `properties::tags` drives the fakes' ledgers.
    #[test]
    fn items_written_at_the_last_instant_a_date_can_hold_expire_then() {
        let end = DateTime::<Utc>::MAX_UTC;
        let store = DynamoStore::new(mock_client!(aws_sdk_dynamodb, []), "t", 90);
        let resolved =
            stored(2, IncidentState::Resolved).stored_with(|r| r.resolved_at = Some(end));
        let item = store.incident_item(&resolved).unwrap();
        assert_eq!(item.get("expires_at"), Some(&number(end.timestamp())));
        let mut ledger = Ledger::default();
        ledger.record(LedgerEntry {
            at: end,
            target: "i-1".into(),
            incident: resolved.id.clone(),
            configuration: None,
        });
        let item = store.ledger_item(&web(), &ledger).unwrap();
        assert_eq!(item.get("expires_at"), Some(&number(end.timestamp())));
    }

    #[tokio::test]
    async fn a_new_incident_claims_its_resource_and_moves_its_ledgers_in_one_transaction() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|req| {
                let items = req.transact_items();
                let put = items[0].put().unwrap();
                let claim = items[1].update().unwrap();
                let ledger = items[2].put().unwrap();
                req.client_request_token() == Some("token-1")
                    && put.item().get("kind") == Some(&text("incident"))
                    && put.item().get("version") == Some(&number(1))
                    && put.item().get("written_by") == Some(&text("token-1"))
                    && put.item().get("open") == Some(&text("open"))
                    && put.condition_expression() == Some("attribute_not_exists(pk)")
                    && claim.condition_expression()
                        == Some("attribute_not_exists(open_incident_id)")
                    && claim.key().get("pk") == Some(&text("resource#target-group#arn:tg"))
                    && ledger.item().get("pk") == Some(&text("ledger#auto-scaling-group#web"))
                    && ledger.item().get("version") == Some(&number(1))
                    && ledger.condition_expression() == Some("attribute_not_exists(pk)")
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let mut inc = incident();
        let mut ledger = Ledger::default();
        ledger.record(LedgerEntry {
            at: Utc::now(),
            target: "i-1".into(),
            incident: inc.id.clone(),
            configuration: None,
        });
        let committed = DynamoStore::new(client, "t", 90)
            .commit(Commit {
                incident: &mut inc,
                stored_state: None,
                ledgers: vec![(web(), ledger)],
                token: "token-1",
                freshness: Freshness::Unchecked,
            })
            .await
            .unwrap();
        assert_eq!(committed, Committed::Landed);
        assert_eq!(inc.version, 1);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_condition_or_a_transaction_conflict_is_a_lost_race_not_an_error() {
        for codes in [
            &["ConditionalCheckFailed", "None"][..],
            &["None", "TransactionConflict"][..],
        ] {
            let owned: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            let rule = mock!(Client::transact_write_items).then_error(move || {
                let codes: Vec<&str> = owned.iter().map(String::as_str).collect();
                cancelled(&codes)
            });
            let client = mock_client!(aws_sdk_dynamodb, [&rule]);
            let mut inc = incident();
            let committed = DynamoStore::new(client, "t", 90)
                .commit(Commit {
                    incident: &mut inc,
                    stored_state: None,
                    ledgers: vec![],
                    token: "t",
                    freshness: Freshness::Unchecked,
                })
                .await
                .unwrap();
            assert_eq!(committed, Committed::LostRace, "{codes:?}");
            assert_eq!(inc.version, 0, "a lost write leaves the incident as it was");
            assert_eq!(inc.written_by, None);
        }
    }

    #[tokio::test]
    async fn a_plain_update_is_one_conditional_put_and_a_conflict_exception_loses_the_race() {
        let ok = mock!(Client::put_item)
            .match_requests(|req| {
                req.condition_expression() == Some("version = :expected")
                    && req
                        .expression_attribute_values()
                        .and_then(|v| v.get(":expected"))
                        == Some(&number(3))
            })
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&ok]);
        let mut inc = stored(3, IncidentState::Open);
        let store = DynamoStore::new(client, "t", 90);
        fn commit(incident: &mut Incident) -> Commit<'_> {
            Commit {
                incident,
                stored_state: Some(IncidentState::Open),
                ledgers: vec![],
                token: "t",
                freshness: Freshness::Unchecked,
            }
        }
        assert_eq!(
            store.commit(commit(&mut inc)).await.unwrap(),
            Committed::Landed
        );
        assert_eq!(inc.version, 4);

        let conflicts: [fn() -> PutItemError; 2] = [
            || {
                PutItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder().build(),
                )
            },
            || {
                PutItemError::TransactionConflictException(
                    TransactionConflictException::builder().build(),
                )
            },
        ];
        for error in conflicts {
            let rule = mock!(Client::put_item).then_error(error);
            let client = mock_client!(aws_sdk_dynamodb, [&rule]);
            let store = DynamoStore::new(client, "t", 90);
            assert_eq!(
                store.commit(commit(&mut inc)).await.unwrap(),
                Committed::LostRace
            );
            assert_eq!(inc.version, 4);
        }
    }

    #[tokio::test]
    async fn resolving_releases_the_resource_and_leaves_the_open_index() {
        let rule = mock!(Client::transact_write_items)
            .match_requests(|req| {
                let items = req.transact_items();
                let put = items[0].put().unwrap();
                let release = items[1].update().unwrap();
                !put.item().contains_key("open")
                    && put.item().contains_key("expires_at")
                    && release.update_expression()
                        == "SET #kind = :resource, last_incident_id = :id, last_recovered_at = :recovered REMOVE open_incident_id"
                    && release.condition_expression() == Some("open_incident_id = :id")
                    && release
                        .expression_attribute_values()
                        .is_some_and(|v| v.contains_key(":recovered"))
            })
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let mut inc = stored(2, IncidentState::Resolved);
        let committed = DynamoStore::new(client, "t", 90)
            .commit(Commit {
                incident: &mut inc,
                stored_state: Some(IncidentState::Remediating),
                ledgers: vec![],
                token: "t",
                freshness: Freshness::Unchecked,
            })
            .await
            .unwrap();
        assert_eq!(committed, Committed::Landed);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn writing_an_incident_resolved_earlier_again_does_not_release_its_resource_again() {
        // An outcome recorded after another writer resolved the incident: its resource
        // is already released (and may hold a newer incident), so only the incident is
        // written, on its version.
        let put = mock!(Client::put_item)
            .match_requests(|req| req.condition_expression() == Some("version = :expected"))
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&put]);
        let mut inc = stored(5, IncidentState::Resolved);
        let committed = DynamoStore::new(client, "t", 90)
            .commit(Commit {
                incident: &mut inc,
                stored_state: Some(IncidentState::Resolved),
                ledgers: vec![],
                token: "t",
                freshness: Freshness::Unchecked,
            })
            .await
            .unwrap();
        assert_eq!(committed, Committed::Landed);
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn open_incidents_come_from_the_sparse_index_not_the_whole_history() {
        use aws_sdk_dynamodb::operation::query::QueryOutput;
        let client = mock_client!(aws_sdk_dynamodb, []);
        let store = DynamoStore::new(client, "t", 90);
        let open = store.incident_item(&incident()).unwrap();
        let rule = mock!(Client::query)
            .match_requests(|req| {
                req.index_name() == Some(OPEN_INCIDENTS_INDEX)
                    && req.filter_expression().is_none()
                    && req
                        .expression_attribute_names()
                        .and_then(|n| n.get("#partition"))
                        == Some(&"open".to_owned())
            })
            .then_output(move || QueryOutput::builder().items(open.clone()).build());
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let found = DynamoStore::new(client, "t", 90)
            .open_incidents()
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_dependency_reads_the_open_incident_and_the_last_recovery_from_one_record() {
        let rule = mock!(Client::get_item)
            .match_requests(|req| {
                req.key().and_then(|k| k.get("pk")) == Some(&text("resource#db-instance#db1"))
                    && req.consistent_read() == Some(true)
            })
            .then_output(|| {
                aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                    .item("pk", text("resource#db-instance#db1"))
                    .item("last_incident_id", text("inc-20261126T101500Z-3f9a1c2b"))
                    .item("last_recovered_at", text("2026-11-26T10:20:00+00:00"))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let state = DynamoStore::new(client, "t", 90)
            .dependency(&ResourceRef::new(ResourceType::named("db-instance"), "db1"))
            .await
            .unwrap();
        assert_eq!(state.open_incident, None);
        assert_eq!(
            state.last_incident.unwrap().as_str(),
            "inc-20261126T101500Z-3f9a1c2b"
        );
        assert_eq!(
            state.last_recovered_at.unwrap().to_rfc3339(),
            "2026-11-26T10:20:00+00:00"
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn ledgers_are_read_in_one_consistent_batch_and_missing_ones_are_empty() {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        let client = mock_client!(aws_sdk_dynamodb, []);
        let store = DynamoStore::new(client, "t", 90);
        let mut web_ledger = Ledger::default();
        web_ledger.record(LedgerEntry {
            at: Utc::now(),
            target: "i-1".into(),
            incident: incident().id.clone(),
            configuration: None,
        });
        web_ledger.version = 3;
        let item = store.ledger_item(&web(), &web_ledger).unwrap();
        let rule = mock!(Client::batch_get_item)
            .match_requests(|req| {
                req.request_items()
                    .and_then(|r| r.get("t"))
                    .is_some_and(|k| k.consistent_read() == Some(true) && k.keys().len() == 2)
            })
            .then_output(move || {
                BatchGetItemOutput::builder()
                    .responses("t", vec![item.clone()])
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let ledgers = DynamoStore::new(client, "t", 90)
            .ledgers(&[web(), crate::domain::account_scope()])
            .await
            .unwrap();
        assert_eq!(ledgers[&web()], web_ledger);
        assert_eq!(ledgers[&crate::domain::account_scope()], Ledger::default());
    }

    #[tokio::test]
    async fn the_drill_and_the_last_incident_are_read_with_the_resource_record_in_one_call() {
        let rule = mock!(Client::get_item)
            .match_requests(|req| {
                req.key().and_then(|k| k.get("pk")) == Some(&text("resource#target-group#arn:tg"))
            })
            .then_output(|| {
                aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                    .item("pk", text("resource#target-group#arn:tg"))
                    .item("drill_id", text("drill-20261126T101500Z-3f9a1c2b"))
                    .item("drill_until", text("2026-11-26T10:45:00+00:00"))
                    .item("last_incident_id", text("inc-20261126T101500Z-3f9a1c2b"))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let record = DynamoStore::new(client, "t", 90)
            .resource_record(&ResourceRef::new(
                ResourceType::named("target-group"),
                "arn:tg",
            ))
            .await
            .unwrap();
        assert_eq!(record.open, None);
        assert_eq!(
            record.last_incident.unwrap().as_str(),
            "inc-20261126T101500Z-3f9a1c2b"
        );
        let drill = record.drill.unwrap();
        assert_eq!(drill.id, "drill-20261126T101500Z-3f9a1c2b");
        assert_eq!(drill.until.to_rfc3339(), "2026-11-26T10:45:00+00:00");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn clearing_a_drill_removes_only_that_drills_mark() {
        let rule = mock!(Client::update_item)
            .match_requests(|req| {
                req.update_expression() == Some("REMOVE drill_id, drill_until")
                    && req.condition_expression() == Some("drill_id = :drill")
            })
            .then_error(|| {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder().build(),
                )
            });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        // Another drill's mark (or none): nothing to clear, not an error.
        DynamoStore::new(client, "t", 90)
            .clear_drill(&web(), "drill-1")
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_incident_and_a_ledger_round_trip_through_their_items() {
        let client = mock_client!(aws_sdk_dynamodb, []);
        let store = DynamoStore::new(client, "t", 90);
        let inc = stored(2, IncidentState::Resolved);
        let item = store.incident_item(&inc).unwrap();
        assert!(item.contains_key("expires_at"));
        let back: Incident = DynamoStore::decode("k".into(), item).unwrap();
        assert_eq!(back, inc);

        let mut ledger = Ledger::default();
        ledger.record(LedgerEntry {
            at: Utc::now(),
            target: "i-1".into(),
            incident: inc.id.clone(),
            configuration: Some("lt-1 version 2".into()),
        });
        let item = store.ledger_item(&web(), &ledger).unwrap();
        assert_eq!(item.get("kind"), Some(&text("ledger")));
        let back: Ledger = DynamoStore::decode("k".into(), item).unwrap();
        assert_eq!(back, ledger);
    }
}
