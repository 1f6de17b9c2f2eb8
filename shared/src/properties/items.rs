//! DynamoDB items, decoded as the adapter decodes them
//! (`serde_dynamo::aws_sdk_dynamodb_1::from_item`): any incident round-trips through
//! its item unchanged, and any item at all decodes to an incident or ledger, or to an
//! error — never a panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::Blob;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::config;
use super::json::interesting_string;
use crate::domain::{
    Action, ActionKind, ActionOutcome, Evidence, Incident, IncidentRecord, IncidentState, Ledger,
    ResourceRef, ResourceType, TimelineEntry,
};
use crate::ids::{IncidentId, InstanceId};
use crate::kinds::target_group::observation::{TargetHealth, TargetState};
use crate::kinds::target_group::{self, SET_INSTANCE_HEALTH, TERMINATE_INSTANCE};

type Item = HashMap<String, AttributeValue>;

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 to 2200, to the second.
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    (0i64..7_258_118_400).prop_map(|s| Utc.timestamp_opt(s, 0).single().expect("in range"))
}

fn resource() -> impl Strategy<Value = ResourceRef> {
    (
        prop_oneof![
            4 => prop::sample::select(vec![
                "target-group",
                "auto-scaling-group",
                "instance",
                "db-instance",
                "account",
            ])
            .prop_map(ResourceType::named),
            1 => "[a-z-]{1,20}".prop_map(|name| {
                // allow: property test (the module is cfg(test)): a panic is how a case fails
                serde_json::from_value(serde_json::Value::String(name)).expect("a type")
            }),
        ],
        interesting_string(),
    )
        .prop_map(|(kind, id)| ResourceRef::new(kind, id))
}

fn target() -> impl Strategy<Value = TargetHealth> {
    (
        "[0-9a-f]{1,17}",
        prop::option::of(any::<i32>()),
        prop_oneof![
            Just(TargetState::Healthy),
            Just(TargetState::Unhealthy),
            Just(TargetState::Draining),
            "[a-z.]{1,12}".prop_map(|s| TargetState::from_api(&s)),
        ],
        prop::option::of(interesting_string()),
        prop::option::of(interesting_string()),
    )
        .prop_map(|(hex, port, state, reason, description)| TargetHealth {
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            instance_id: InstanceId::parse(format!("i-{hex}")).expect("a valid instance id"),
            port,
            state,
            reason,
            description,
        })
}

fn action() -> impl Strategy<Value = Action> {
    (
        (
            prop::sample::select(vec![
                SET_INSTANCE_HEALTH,
                TERMINATE_INSTANCE,
                ActionKind::named("reboot-with-failover"),
            ]),
            resource(),
            resource(),
            time(),
        ),
        (
            prop::sample::select(vec![
                ActionOutcome::Pending,
                ActionOutcome::Succeeded,
                ActionOutcome::Failed,
                ActionOutcome::Simulated,
                ActionOutcome::Refused,
            ]),
            any::<bool>(),
            prop::option::of(interesting_string()),
            prop::option::of(time()),
            prop::option::of("[0-9a-f]{32}"),
            prop::option::of(interesting_string()),
        ),
    )
        .prop_map(
            |(
                (kind, target, scope, requested_at),
                (outcome, dry_run, detail, completed_at, writer, launch_template),
            )| {
                Action {
                    kind,
                    target,
                    scope,
                    requested_at,
                    outcome,
                    dry_run,
                    detail,
                    completed_at,
                    writer,
                    configuration: launch_template,
                }
            },
        )
}

pub fn incident() -> impl Strategy<Value = Incident> {
    (
        (
            "[A-Za-z0-9-]{1,40}",
            resource(),
            prop::sample::select(vec![
                IncidentState::Open,
                IncidentState::Remediating,
                IncidentState::Resolved,
                IncidentState::Escalated,
                IncidentState::Suppressed,
                IncidentState::AwaitingApproval,
            ]),
            time(),
            time(),
            interesting_string(),
        ),
        (
            prop::collection::vec(target(), 0..6),
            prop::collection::vec(interesting_string(), 0..3),
            prop::collection::vec(action(), 0..4),
            prop::collection::vec(
                (time(), interesting_string(), interesting_string())
                    .prop_map(|(at, event, detail)| TimelineEntry { at, event, detail }),
                0..4,
            ),
            prop::option::of(time()),
            prop::option::of(any::<i64>()),
            any::<u64>(),
            prop::option::of("[0-9a-f]{32}"),
            prop::option::of(any::<u64>()),
            prop::option::of("drill-[0-9A-Za-z-]{1,30}"),
        ),
    )
        .prop_map(
            |(
                (suffix, resource, state, opened_at, updated_at, trigger),
                (
                    targets,
                    auto_scaling_groups,
                    actions,
                    timeline,
                    resolved_at,
                    ttr,
                    version,
                    written_by,
                    rto_s,
                    drill,
                ),
            )| {
                Incident::from_record(IncidentRecord {
                    // allow: property test (the module is cfg(test)): a panic is how a case fails
                    id: IncidentId::parse(format!("inc-{suffix}")).expect("a valid incident id"),
                    resource,
                    state,
                    opened_at,
                    updated_at,
                    trigger,
                    evidence: Evidence::of(&target_group::Evidence {
                        targets,
                        auto_scaling_groups,
                        scheduled: Vec::new(),
                    }),
                    captures: Vec::new(),
                    actions,
                    timeline,
                    resolved_at,
                    time_to_recover_s: ttr,
                    mitigated_at: None,
                    time_to_mitigate_s: None,
                    version,
                    written_by,
                    rto_s,
                    drill,
                    approval: None,
                    acknowledged: None,
                    native_healing: None,
                    planned: None,
                })
            },
        )
}

fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        interesting_string().prop_map(AttributeValue::S),
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            interesting_string(),
        ]
        .prop_map(AttributeValue::N),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null(true)),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(|b| AttributeValue::B(Blob::new(b))),
        prop::collection::vec(interesting_string(), 0..4).prop_map(AttributeValue::Ss),
        prop::collection::vec(any::<i32>().prop_map(|n| n.to_string()), 0..4)
            .prop_map(AttributeValue::Ns),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(AttributeValue::L),
            prop::collection::hash_map(field(), inner, 0..6).prop_map(AttributeValue::M),
        ]
    })
}

/// Attribute names: those of incidents and ledgers, sometimes anything.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "pk", "kind", "id", "resource", "type", "state", "opened_at", "updated_at", "trigger",
            "evidence", "targets", "instance_id", "port", "reason", "auto_scaling_groups",
            "actions", "target", "scope", "group", "requested_at", "outcome", "dry_run",
            "timeline", "at", "event", "detail", "resolved_at", "time_to_recover_s", "version",
            "written_by", "entries", "incident", "launch_template", "expires_at", "open",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A stored incident with some attributes replaced by anything, or an arbitrary item.
fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        2 => (incident(), prop::collection::vec((field(), attribute_value()), 0..4)).prop_map(
            |(incident, changes)| {
                // allow: property test (the module is cfg(test)): a panic is how a case fails
                let mut item: Item = to_item(&incident).expect("an incident encodes");
                for (name, value) in changes {
                    item.insert(name, value);
                }
                item
            }
        ),
        1 => prop::collection::hash_map(field(), attribute_value(), 0..10),
    ]
}

#[test]
fn every_incident_round_trips_through_its_item() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&incident(), |incident| {
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            let item: Item = to_item(&incident).expect("an incident encodes");
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            let back: Incident = from_item(item).expect("its own item decodes");
            prop_assert_eq!(back, incident);
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}

#[test]
fn any_item_decodes_to_an_incident_or_ledger_or_an_error() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&item(), |item| {
            // Either answer is fine; a panic fails the case.
            let _ = from_item::<Incident>(item.clone());
            let _ = from_item::<Ledger>(item);
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
