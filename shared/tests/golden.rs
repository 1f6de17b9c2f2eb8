//! Golden files: every kind of message rendered as people and machines get it, compared
//! byte for byte with `tests/golden/<kind>/`. A change to the wording shows up as a diff
//! to review; `UPDATE_GOLDEN=1 cargo nextest run -p rebound-shared --test golden`
//! rewrites the files after an intended change.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rebound::domain::{
    Action, ActionKind, ActionOutcome, DatabaseEvidence, Evidence, Incident, IncidentState,
    Placement, RdsEvent, ResourceKind, ResourceRef, TargetHealth, TargetState, TimelineEntry,
};
use rebound::handlers::notifier::{notification_at, MAX_MESSAGE_BYTES};
use rebound::ids::{IncidentId, InstanceId, RdsEventId};
use rebound::ports::Notification;
use rebound::readable::Location;
use serde_json::Value;

const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";
/// The incidents table's stream, as the notifier gets it on every record.
const STREAM: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/rebound-IncidentsTable-1XQ7ZK3N8M2PD/stream/2026-11-20T08:42:17.305";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 15, 0).unwrap() + Duration::seconds(seconds)
}

fn instance(n: u32) -> String {
    format!("i-0{n:016x}")
}

fn target(n: u32, state: TargetState) -> TargetHealth {
    let failing = state == TargetState::Unhealthy;
    TargetHealth {
        instance_id: InstanceId::parse(instance(n)).unwrap(),
        port: Some(80),
        state,
        reason: failing.then(|| "Target.FailedHealthChecks".to_owned()),
        description: failing.then(|| "Health checks failed".to_owned()),
    }
}

fn replacement(n: u32, seconds: i64, outcome: ActionOutcome) -> Action {
    Action {
        kind: ActionKind::SetInstanceHealth,
        target: ResourceRef {
            kind: ResourceKind::Instance,
            id: instance(n),
        },
        scope: ResourceRef {
            kind: ResourceKind::AutoScalingGroup,
            id: "web-asg".into(),
        },
        requested_at: at(seconds),
        outcome,
        dry_run: false,
        detail: None,
        completed_at: Some(at(seconds + 1)),
        writer: Some("5f1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f".into()),
        launch_template: Some("lt-0abc123def4567890 version 7".into()),
    }
}

/// The web target group with `failing` of its four targets failing health checks.
fn incident(failing: u32) -> Incident {
    let targets = (1..=4)
        .map(|n| {
            target(
                n,
                if n <= failing {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
            )
        })
        .collect();
    let mut incident = Incident::open(
        ResourceRef {
            kind: ResourceKind::TargetGroup,
            id: TG.into(),
        },
        "alarm:web-unhealthy-hosts",
        Evidence {
            targets,
            auto_scaling_groups: vec!["web-asg".into()],
            ..Evidence::default()
        },
        format!("{failing} of 4 targets unhealthy"),
        at(0),
    );
    incident.id = IncidentId::parse("inc-20261126T101500Z-3f9a1c2b").unwrap();
    incident
}

fn note(incident: &mut Incident, seconds: i64, event: &str, detail: &str) {
    incident.timeline.push(TimelineEntry {
        at: at(seconds),
        event: event.into(),
        detail: detail.into(),
    });
    incident.updated_at = at(seconds);
}

/// One message per kind of change, each as its incident stands when it is announced.
fn cases() -> Vec<(&'static str, Incident, Option<IncidentState>)> {
    let opened = {
        // Observed only: the group behind the target group does not opt in.
        let mut i = incident(1);
        note(
            &mut i,
            0,
            "held",
            "group web-asg is not managed (tag rebound:managed=true missing): observed only",
        );
        i
    };
    let remediating = {
        let mut i = incident(1);
        i.actions = vec![replacement(1, 2, ActionOutcome::Succeeded)];
        i.transition(
            at(2),
            IncidentState::Remediating,
            format!(
                "1 of 4 targets unhealthy: replace {} in web-asg",
                instance(1)
            ),
        )
        .unwrap();
        i
    };
    let suppressed = {
        let mut i = incident(3);
        i.transition(
            at(1),
            IncidentState::Suppressed,
            "group web-asg depends on DB instance orders-db, which has an open incident (inc-20261126T101200Z-0c4d2e1f): replacements held while it heals",
        )
        .unwrap();
        i
    };
    let resolved = {
        let mut i = remediating.clone();
        note(
            &mut i,
            95,
            "recovering",
            "replacement i-0000000000000000e registering (initial)",
        );
        i.evidence.targets = (2..=5).map(|n| target(n, TargetState::Healthy)).collect();
        i.transition(
            at(184),
            IncidentState::Resolved,
            "verified: 4 of 4 targets healthy",
        )
        .unwrap();
        i
    };
    let escalated = {
        let mut i = incident(2);
        i.actions = vec![
            replacement(1, 2, ActionOutcome::Succeeded),
            replacement(5, 1_210, ActionOutcome::Succeeded),
            replacement(6, 2_420, ActionOutcome::Succeeded),
        ];
        i.transition(
            at(2),
            IncidentState::Remediating,
            format!(
                "2 of 4 targets unhealthy: replace {} in web-asg",
                instance(1)
            ),
        )
        .unwrap();
        i.transition(
            at(3_300),
            IncidentState::Escalated,
            "replacements are not fixing this: group web-asg, launch template lt-0abc123def4567890 version 7, 3 replacements in 60 minutes and instances keep failing",
        )
        .unwrap();
        i
    };
    let mut cases = vec![
        ("opened", opened, None),
        ("remediating", remediating, Some(IncidentState::Open)),
        ("suppressed", suppressed, Some(IncidentState::Open)),
        ("resolved", resolved, Some(IncidentState::Remediating)),
        ("escalated", escalated, Some(IncidentState::Remediating)),
    ];
    cases.extend(database_cases());
    cases.extend(other_cases());
    cases
}
// ----- database, cluster and legacy cases (appended) -----

fn db_placement(seconds: i64, status: &str, primary: &str, standby: &str) -> Placement {
    Placement {
        status: status.into(),
        multi_az: true,
        primary_az: Some(primary.into()),
        standby_az: Some(standby.into()),
        writer: None,
        at: at(seconds),
    }
}

fn rds_event(id: &str, category: &str, message: &str, seconds: i64) -> RdsEvent {
    RdsEvent {
        id: Some(RdsEventId::parse(id).unwrap()),
        categories: vec![category.into()],
        message: message.into(),
        at: at(seconds),
    }
}

const DB: &str = "orders-db";

fn db_incident(trigger: &str, summary: &str) -> Incident {
    let mut database =
        DatabaseEvidence::new(db_placement(0, "available", "us-east-1a", "us-east-1b"));
    database.wants_failover = true;
    let mut incident = Incident::open(
        ResourceRef {
            kind: ResourceKind::DbInstance,
            id: DB.into(),
        },
        trigger,
        Evidence {
            database: Some(database),
            ..Evidence::default()
        },
        summary,
        at(0),
    );
    incident.id = IncidentId::parse("inc-20261126T101500Z-7d2e4a90").unwrap();
    incident.rto_s = Some(900);
    incident
}

fn failover(seconds: i64, outcome: ActionOutcome) -> Action {
    Action {
        kind: ActionKind::RebootWithFailover,
        target: ResourceRef {
            kind: ResourceKind::DbInstance,
            id: DB.into(),
        },
        scope: ResourceRef {
            kind: ResourceKind::DbInstance,
            id: DB.into(),
        },
        requested_at: at(seconds),
        outcome,
        dry_run: false,
        detail: None,
        completed_at: Some(at(seconds + 1)),
        writer: Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9".into()),
        launch_template: None,
    }
}

fn database_cases() -> Vec<(&'static str, Incident, Option<IncidentState>)> {
    let summary = "orders-db is available, Multi-AZ, primary in us-east-1a, standby in us-east-1b";
    let opened = {
        let mut i = db_incident("alarm:orders-db-cpu", summary);
        note(
            &mut i,
            0,
            "held",
            "orders-db failed over at 2026-11-26T10:00:00+00:00 (RDS events): no new failover before 2026-11-26T10:30:00+00:00",
        );
        i
    };
    let remediating = {
        let mut i = db_incident("alarm:orders-db-cpu", summary);
        i.actions = vec![failover(2, ActionOutcome::Succeeded)];
        if let Some(d) = i.evidence.database.as_mut() {
            d.before_failover = Some(db_placement(2, "available", "us-east-1a", "us-east-1b"));
        }
        i.transition(
            at(2),
            IncidentState::Remediating,
            format!("{summary}: fail orders-db over to its standby (RebootDBInstance with ForceFailover)"),
        )
        .unwrap();
        i
    };
    let resolved = {
        let mut i = remediating.clone();
        if let Some(d) = i.evidence.database.as_mut() {
            d.record_event(&rds_event(
                "RDS-EVENT-0013",
                "failover",
                "A Multi-AZ failover has started.",
                3,
            ));
            d.record_event(&rds_event(
                "RDS-EVENT-0049",
                "failover",
                "Multi-AZ instance failover completed",
                95,
            ));
            d.after_failover = Some(db_placement(96, "available", "us-east-1b", "us-east-1a"));
        }
        note(&mut i, 60, "recovering", "orders-db is rebooting");
        i.transition(
            at(96),
            IncidentState::Resolved,
            "verified: orders-db is available, Multi-AZ, primary in us-east-1b, standby in us-east-1a",
        )
        .unwrap();
        i
    };
    let escalated = {
        let mut i = db_incident(
            "rds-event:RDS-EVENT-0031",
            "orders-db is storage-full, Multi-AZ, primary in us-east-1a, standby in us-east-1b",
        );
        if let Some(d) = i.evidence.database.as_mut() {
            d.wants_failover = false;
            d.detected.status = "storage-full".into();
            d.record_event(&rds_event(
                "RDS-EVENT-0031",
                "failure",
                "The DB instance has failed. We recommend that you begin a point-in-time-restore operation.",
                0,
            ));
        }
        i.transition(
            at(0),
            IncidentState::Escalated,
            "orders-db is storage-full: a failover cannot fix that",
        )
        .unwrap();
        i
    };
    let cluster = {
        let mut database = DatabaseEvidence::new(Placement {
            status: "available".into(),
            multi_az: false,
            primary_az: Some("us-east-1a".into()),
            standby_az: None,
            writer: Some("orders-aurora-1".into()),
            at: at(0),
        });
        database.before_failover = Some(Placement {
            writer: Some("orders-aurora-1".into()),
            at: at(2),
            ..database.detected.clone()
        });
        database.after_failover = Some(Placement {
            writer: Some("orders-aurora-2".into()),
            at: at(40),
            ..database.detected.clone()
        });
        let mut i = Incident::open(
            ResourceRef {
                kind: ResourceKind::DbInstance,
                id: "orders-aurora-1".into(),
            },
            "alarm:orders-aurora-latency",
            Evidence {
                database: Some(database),
                ..Evidence::default()
            },
            "orders-aurora-1 is available, member of cluster orders-aurora (writer orders-aurora-1)",
            at(0),
        );
        i.id = IncidentId::parse("inc-20261126T101500Z-c1a5e7b3").unwrap();
        let cluster_ref = ResourceRef {
            kind: ResourceKind::DbCluster,
            id: "orders-aurora".into(),
        };
        i.actions = vec![Action {
            kind: ActionKind::FailoverDbCluster,
            target: cluster_ref.clone(),
            scope: cluster_ref,
            ..failover(2, ActionOutcome::Succeeded)
        }];
        i.transition(
            at(2),
            IncidentState::Remediating,
            "orders-aurora-1 is available, member of cluster orders-aurora (writer orders-aurora-1): fail cluster orders-aurora over (FailoverDBCluster)",
        )
        .unwrap();
        i.transition(
            at(40),
            IncidentState::Resolved,
            "verified: orders-aurora-1 is available, member of cluster orders-aurora (writer orders-aurora-2)",
        )
        .unwrap();
        i
    };
    vec![
        ("db-opened", opened, None),
        ("db-remediating", remediating, Some(IncidentState::Open)),
        ("db-resolved", resolved, Some(IncidentState::Remediating)),
        ("db-escalated", escalated, None),
        (
            "cluster-resolved",
            cluster,
            Some(IncidentState::Remediating),
        ),
    ]
}

/// Target-group incidents of other shapes: closed because the target group was deleted,
/// caused by a drill, and escalated in dry-run.
fn other_cases() -> Vec<(&'static str, Incident, Option<IncidentState>)> {
    let gone = {
        let mut i = incident(1);
        i.close_gone(
            at(300),
            "target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 no longer exists",
        )
        .unwrap();
        i
    };
    let drill = {
        let mut i = incident(1);
        i.drill = Some("drill-20261126T101400Z-instance".into());
        let mut action = replacement(1, 2, ActionOutcome::Simulated);
        action.dry_run = true;
        action.detail = Some("dry-run: no call made".into());
        action.completed_at = None;
        i.actions = vec![action];
        note(
            &mut i,
            2,
            "dry-run",
            &format!(
                "would replace {} in web-asg (1 of 4 targets unhealthy)",
                instance(1)
            ),
        );
        i
    };
    vec![
        ("gone", gone, Some(IncidentState::Open)),
        ("drill-dry-run", drill, None),
    ]
}

fn pretty(json: &str) -> String {
    let value: Value = serde_json::from_str(json).expect("valid JSON");
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
}

/// The files of one message: what each audience gets.
fn rendered(notification: &Notification) -> Vec<(&'static str, String)> {
    let attributes: serde_json::Map<String, Value> = notification
        .attributes()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String((*value).to_owned())))
        .collect();
    vec![
        ("subject.txt", format!("{}\n", notification.subject)),
        (
            "attributes.json",
            pretty(&Value::Object(attributes).to_string()),
        ),
        ("email.txt", notification.text.clone()),
        ("message.json", pretty(&notification.json)),
        ("chatbot.json", pretty(&notification.chatbot)),
    ]
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The incidents of the golden cases as stored: each `golden/<case>/incident.json` is a
/// record as Rebound wrote it (and `previous.txt` the state it moved from, or `none`),
/// so every later version is held to decoding them and rendering them the same.
fn recorded_cases() -> Vec<(String, Incident, Option<IncidentState>)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("incident.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let record = std::fs::read_to_string(dir.join("incident.json")).unwrap();
            let incident: Incident = serde_json::from_str(&record)
                .unwrap_or_else(|e| panic!("{name}/incident.json does not decode: {e}"));
            let previous = std::fs::read_to_string(dir.join("previous.txt"))
                .unwrap_or_else(|e| panic!("{name}/previous.txt: {e}"));
            let previous = match previous.trim() {
                "none" => None,
                state => Some(
                    serde_json::from_value(Value::String(state.to_owned()))
                        .unwrap_or_else(|e| panic!("{name}/previous.txt: {e}")),
                ),
            };
            (name, incident, previous)
        })
        .collect()
}

#[test]
fn every_kind_of_message_renders_as_its_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    if update {
        for (name, incident, previous) in cases() {
            let dir = golden_dir().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let record = pretty(&serde_json::to_string(&incident).unwrap());
            std::fs::write(dir.join("incident.json"), record).unwrap();
            let previous = previous.map_or("none", IncidentState::as_str);
            std::fs::write(dir.join("previous.txt"), format!("{previous}\n")).unwrap();
        }
    }
    let home = Location::of_arn(STREAM);
    let mut mismatches = Vec::new();
    for (name, incident, previous) in recorded_cases() {
        let notification = notification_at(&incident, previous, home.as_ref());
        for (file, content) in rendered(&notification) {
            let path = golden_dir().join(&name).join(file);
            if update {
                std::fs::write(&path, &content).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            if expected != content {
                mismatches.push(format!(
                    "{name}/{file} differs from {}:\n--- expected\n{expected}\n--- rendered\n{content}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo nextest run -p rebound-shared --test golden)",
        mismatches.join("\n")
    );
}

#[test]
fn every_stored_incident_reads_back_as_the_same_json() {
    for (name, incident, _) in recorded_cases() {
        let stored: Value = serde_json::from_str(
            &std::fs::read_to_string(golden_dir().join(&name).join("incident.json")).unwrap(),
        )
        .unwrap();
        // Records written before 0.2 name an action's target and group bare; they read
        // as typed references, which is what they are written back as.
        if name.starts_with("legacy-") {
            continue;
        }
        let again = serde_json::to_value(&incident).unwrap();
        assert_eq!(again, stored, "{name}");
    }
}

#[test]
fn every_golden_subject_is_one_line_under_one_hundred_characters() {
    for (kind, incident, previous) in recorded_cases() {
        let subject = notification_at(&incident, previous, None).subject;
        assert!(subject.chars().count() < 100, "{kind}: {subject}");
        assert!(
            !subject.chars().any(char::is_control),
            "{kind}: {subject:?}"
        );
        let drill = if incident.drill.is_some() {
            "[DRILL] "
        } else {
            ""
        };
        assert!(
            subject.starts_with(&format!(
                "[Rebound] {drill}{} ",
                incident.state.as_str().to_uppercase()
            )),
            "{kind}: {subject}"
        );
    }
}

#[test]
fn every_golden_message_is_far_inside_the_sns_limit_on_both_topics() {
    for (kind, incident, previous) in recorded_cases() {
        let n = notification_at(&incident, previous, None);
        let attributes: usize = n
            .attributes()
            .iter()
            .map(|(k, v)| k.len() + 6 + v.len())
            .sum();
        let topic = rebound::aws::message_by_protocol(&n).len() + n.subject.len() + attributes;
        let chat = n.chatbot.len() + n.subject.len() + attributes;
        assert!(topic < MAX_MESSAGE_BYTES / 10, "{kind}: {topic} bytes");
        assert!(chat < MAX_MESSAGE_BYTES / 10, "{kind}: chat {chat} bytes");
    }
}
