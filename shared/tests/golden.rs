//! Golden files: every kind of message rendered as people and machines get it, compared
//! byte for byte with `tests/golden/<kind>/`. A change to the wording shows up as a diff
//! to review; `UPDATE_GOLDEN=1 cargo nextest run -p rebound-shared --test golden`
//! rewrites the files after an intended change.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rebound::domain::{
    Action, ActionKind, ActionOutcome, Evidence, Incident, IncidentState, ResourceKind,
    ResourceRef, TargetHealth, TargetState, TimelineEntry,
};
use rebound::handlers::notifier::{notification_at, MAX_MESSAGE_BYTES};
use rebound::ids::{IncidentId, InstanceId};
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
    vec![
        ("opened", opened, None),
        ("remediating", remediating, Some(IncidentState::Open)),
        ("suppressed", suppressed, Some(IncidentState::Open)),
        ("resolved", resolved, Some(IncidentState::Remediating)),
        ("escalated", escalated, Some(IncidentState::Remediating)),
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

#[test]
fn every_kind_of_message_renders_as_its_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let home = Location::of_arn(STREAM);
    let mut mismatches = Vec::new();
    for (kind, incident, previous) in cases() {
        assert_eq!(incident.state.as_str(), kind.replace("opened", "open"));
        let notification = notification_at(&incident, previous, home.as_ref());
        for (file, content) in rendered(&notification) {
            let path = golden_dir().join(kind).join(file);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &content).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            if expected != content {
                mismatches.push(format!(
                    "{kind}/{file} differs from {}:\n--- expected\n{expected}\n--- rendered\n{content}",
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
fn every_golden_subject_is_one_line_under_one_hundred_characters() {
    for (kind, incident, previous) in cases() {
        let subject = notification_at(&incident, previous, None).subject;
        assert!(subject.chars().count() < 100, "{kind}: {subject}");
        assert!(
            !subject.chars().any(char::is_control),
            "{kind}: {subject:?}"
        );
        assert!(
            subject.starts_with(&format!(
                "[Rebound] {} ",
                incident.state.as_str().to_uppercase()
            )),
            "{kind}: {subject}"
        );
    }
}

#[test]
fn every_golden_message_is_far_inside_the_sns_limit_on_both_topics() {
    for (kind, incident, previous) in cases() {
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
