//! Unit tier for the message: subjects SNS accepts on every kind of change, messages
//! under 256 KB whatever the incident holds, and the JSON body saying what it left out.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::domain::{
    ActionOutcome, Evidence, IllegalTransition, IncidentRecord, Opening, ResourceRef, TimelineEntry,
};
use crate::ids::InstanceId;
use crate::kinds::database::{self, observation::DatabaseEvidence};
use crate::kinds::target_group::observation::{TargetHealth, TargetState};
use crate::kinds::target_group::{self, SET_INSTANCE_HEALTH};
use crate::notifier::limits::{MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};

/// The message for an incident stored as this record.
fn notification_for(record: &IncidentRecord, previous: Option<IncidentState>) -> Notification {
    super::notification_for(&Incident::from_record(record.clone()), previous)
}

fn notification_at(
    record: &IncidentRecord,
    previous: Option<IncidentState>,
    home: Option<&Location>,
) -> Notification {
    super::notification_at(&Incident::from_record(record.clone()), previous, home)
}

/// Records shaped as earlier writers left them.
trait Stored {
    fn note(&mut self, at: chrono::DateTime<Utc>, event: &str, detail: impl Into<String>);
    fn transition(
        &mut self,
        at: chrono::DateTime<Utc>,
        to: IncidentState,
        why: &str,
    ) -> Result<(), IllegalTransition>;
}

impl Stored for IncidentRecord {
    fn note(&mut self, at: chrono::DateTime<Utc>, event: &str, detail: impl Into<String>) {
        self.timeline.push(TimelineEntry {
            at,
            event: event.into(),
            detail: detail.into(),
        });
        self.updated_at = at;
    }

    fn transition(
        &mut self,
        at: chrono::DateTime<Utc>,
        to: IncidentState,
        why: &str,
    ) -> Result<(), IllegalTransition> {
        if !self.state.can_move_to(to) {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        self.note(at, to.as_str(), why);
        self.state = to;
        if to == IncidentState::Resolved {
            self.resolved_at = Some(at);
            self.time_to_recover_s = Some((at - self.opened_at).num_seconds());
        }
        Ok(())
    }
}

const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

fn target(n: usize, state: TargetState, reason: Option<&str>) -> TargetHealth {
    TargetHealth {
        instance_id: InstanceId::parse(format!("i-{n:017x}")).unwrap(),
        port: Some(80),
        state,
        reason: reason.map(str::to_owned),
        description: reason.map(|_| "Health checks failed".to_owned()),
    }
}

fn action(n: usize, outcome: ActionOutcome, detail: Option<&str>) -> Action {
    Action {
        kind: SET_INSTANCE_HEALTH,
        target: ResourceRef::new(target_group::INSTANCE, format!("i-{n:017x}")),
        scope: ResourceRef::new(target_group::AUTO_SCALING_GROUP, "web-asg"),
        requested_at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 15, 0).unwrap()
            + Duration::seconds(n as i64),
        outcome,
        dry_run: false,
        detail: detail.map(str::to_owned),
        completed_at: None,
        writer: None,
        configuration: None,
    }
}

fn incident(targets: Vec<TargetHealth>, summary: &str) -> IncidentRecord {
    let opened = Incident::open(
        Opening {
            resource: ResourceRef::new(target_group::TARGET_GROUP, TG),
            trigger: "alarm:web-unhealthy-hosts".into(),
            evidence: Evidence::of(&target_group::Evidence {
                targets,
                auto_scaling_groups: vec!["web-asg".into()],
                ..Default::default()
            }),
            summary: summary.into(),
            rto_s: None,
            drill: None,
        },
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 15, 0).unwrap(),
    );
    IncidentRecord::clone(&opened)
}

/// Every byte SNS counts for the subject and the attributes: each one's name, type and
/// value.
fn envelope_bytes(notification: &Notification) -> usize {
    notification.subject.len()
        + [
            ("severity", &notification.severity),
            ("resource_type", &notification.resource_type),
            ("state", &notification.state),
            ("resource_id", &notification.resource_id),
        ]
        .iter()
        .map(|(name, value)| name.len() + "String".len() + value.len())
        .sum::<usize>()
}

/// Every byte SNS counts on the notifications topic: the per-protocol message as the
/// adapter sends it, the subject and the attributes.
fn sns_bytes(notification: &Notification) -> usize {
    notification.message_by_protocol().len() + envelope_bytes(notification)
}

/// Every byte SNS counts on the chat topic: the custom notification, whole.
fn chat_bytes(notification: &Notification) -> usize {
    notification.chatbot.len() + envelope_bytes(notification)
}

fn card(notification: &Notification) -> Value {
    serde_json::from_str(&notification.chatbot).unwrap()
}

fn body(notification: &Notification) -> Value {
    serde_json::from_str(&notification.json).unwrap()
}

/// 20,000 targets (a fifth of them failing), 5,000 timeline entries of 2,000 characters
/// with line breaks, 300 actions with long error details.
fn huge_incident() -> IncidentRecord {
    let targets = (0..20_000)
        .map(|n| match n % 5 {
            0 => target(n, TargetState::Unhealthy, Some("Target.FailedHealthChecks")),
            _ => target(n, TargetState::Healthy, None),
        })
        .collect();
    let mut incident = incident(targets, "4000 of 20000 targets unhealthy");
    let opened = incident.opened_at;
    for n in 0..5_000 {
        let detail = format!("entry {n}:\n\t{}", "\"quoted\" and \\ escaped ".repeat(80));
        incident.note(opened + Duration::seconds(n), "held", detail);
    }
    incident.actions = (0..300)
        .map(|n| {
            let detail = format!("SetInstanceHealth failed:\n{}", "x".repeat(3_000));
            action(n, ActionOutcome::Failed, Some(&detail))
        })
        .collect();
    incident.state = IncidentState::Escalated;
    incident
}

#[test]
fn every_kind_of_change_gets_a_one_line_subject_of_fewer_than_one_hundred_characters() {
    let error =
        "SetInstanceHealth failed:\nValidationError:\tInstance Id not found\r\n  - retry later "
            .repeat(5);
    for state in [
        IncidentState::Open,
        IncidentState::Remediating,
        IncidentState::Resolved,
        IncidentState::Escalated,
        IncidentState::Suppressed,
    ] {
        let mut incident = incident(Vec::new(), "opened");
        incident.note(incident.opened_at, state.as_str(), error.clone());
        incident.state = state;
        let subject = notification_for(&incident, Some(IncidentState::Open)).subject;
        assert!(subject.chars().count() <= MAX_SUBJECT_CHARS, "{subject}");
        assert!(subject.chars().count() < 100, "{subject}");
        assert!(!subject.chars().any(char::is_control), "{subject:?}");
        assert!(!subject.contains("  "), "{subject:?}");
        let expected = format!(
            "[Rebound] {} target-group web: SetInstanceHealth failed: ValidationError: Instance Id",
            state.as_str().to_uppercase()
        );
        assert!(subject.starts_with(&expected), "{subject}");
    }
}

#[test]
fn a_short_subject_reads_as_state_resource_and_latest_news() {
    let incident = incident(Vec::new(), "1 of 4 targets unhealthy");
    assert_eq!(
        notification_for(&incident, None).subject,
        "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy"
    );
}

#[test]
fn an_incident_of_twenty_thousand_targets_and_five_thousand_entries_stays_under_the_sns_limit() {
    let message = notification_for(&huge_incident(), Some(IncidentState::Remediating));
    let bytes = sns_bytes(&message);
    assert!(bytes <= MAX_MESSAGE_BYTES, "{bytes} bytes");
    let bytes = chat_bytes(&message);
    assert!(bytes <= MAX_MESSAGE_BYTES, "chat: {bytes} bytes");
    assert!(message.subject.chars().count() < 100);
    // Measured, not guessed: the first (most generous) caps were enough.
    assert_eq!(
        body(&message)["incident"]["timeline"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

#[test]
fn texts_of_any_length_or_content_still_fit() {
    let mut incident = huge_incident();
    incident.trigger = "\u{1}\"".repeat(200_000);
    for entry in &mut incident.timeline {
        entry.detail = "\u{1}\"\\é".repeat(5_000);
    }
    let message = notification_for(&incident, None);
    let bytes = sns_bytes(&message);
    assert!(bytes <= MAX_MESSAGE_BYTES, "{bytes} bytes");
    let bytes = chat_bytes(&message);
    assert!(bytes <= MAX_MESSAGE_BYTES, "chat: {bytes} bytes");
    let body = body(&message);
    assert_eq!(body["truncated"], true);
    assert!(body["incident"]["trigger"].as_str().unwrap().ends_with('…'));
}

#[test]
fn the_json_body_keeps_the_scalar_fields_and_counts_what_it_left_out() {
    let incident = huge_incident();
    let body = body(&notification_for(
        &incident,
        Some(IncidentState::Remediating),
    ));
    assert_eq!(body["schema"], MESSAGE_SCHEMA);
    assert_eq!(body["previous_state"], "remediating");
    let kept = &body["incident"];
    assert_eq!(kept["id"], incident.id.as_str());
    assert_eq!(kept["state"], "escalated");
    assert_eq!(kept["trigger"], "alarm:web-unhealthy-hosts");
    assert_eq!(kept["resource"]["id"], TG);
    assert_eq!(kept["opened_at"], "2026-11-26T10:15:00Z");

    assert_eq!(body["truncated"], true);
    let targets = kept["evidence"]["targets"].as_array().unwrap();
    let actions = kept["actions"].as_array().unwrap();
    let timeline = kept["timeline"].as_array().unwrap();
    assert_eq!(body["omitted"]["targets"], 20_000 - targets.len());
    assert_eq!(body["omitted"]["actions"], 300 - actions.len());
    assert_eq!(body["omitted"]["timeline"], 5_001 - timeline.len());
    assert_eq!(body["omitted"]["auto_scaling_groups"], 0);
    // Targets from the start (what was seen first), actions and timeline from the end
    // (where the incident is now).
    assert_eq!(targets[0]["instance_id"], "i-00000000000000000");
    assert_eq!(
        actions.last().unwrap()["requested_at"],
        serde_json::to_value(incident.actions.last().unwrap()).unwrap()["requested_at"]
    );
    let last_entry = timeline.last().unwrap()["detail"].as_str().unwrap();
    assert!(last_entry.starts_with("entry 4999:\n\t"), "{last_entry}");
    assert!(last_entry.ends_with('…'), "long details are shortened");
    assert!(body["shortened_texts"].as_u64().unwrap() >= (timeline.len() + actions.len()) as u64);
}

#[test]
fn a_small_incident_is_carried_whole_and_says_so() {
    let mut incident = incident(
        vec![
            target(1, TargetState::Unhealthy, Some("Target.FailedHealthChecks")),
            target(2, TargetState::Healthy, None),
        ],
        "1 of 2 targets unhealthy",
    );
    incident.actions = vec![action(1, ActionOutcome::Pending, None)];
    let body = body(&notification_for(&incident, None));
    assert_eq!(body["incident"], serde_json::to_value(&incident).unwrap());
    assert_eq!(body["truncated"], false);
    assert_eq!(
        body["omitted"],
        json!({"targets": 0, "auto_scaling_groups": 0, "actions": 0, "timeline": 0})
    );
    assert_eq!(body["shortened_texts"], 0);
    assert!(body["previous_state"].is_null());
}

#[test]
fn the_readable_text_counts_targets_by_state_and_reason_and_lists_the_first_ten_failing() {
    let text = notification_for(&huge_incident(), None).text;
    assert!(text.contains("\nEvidence: 20000 targets\n"), "{text}");
    assert!(text.contains("\n  healthy: 16000\n"), "{text}");
    assert!(
        text.contains("\n  unhealthy, Target.FailedHealthChecks: 4000\n"),
        "{text}"
    );
    assert!(
        text.contains("\nNot healthy (first 10 of 4000):\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  - i-00000000000000000 unhealthy: Target.FailedHealthChecks\n"),
        "{text}"
    );
    assert_eq!(text.matches(": Target.FailedHealthChecks\n").count(), 10);
}

#[test]
fn the_readable_text_lists_the_last_ten_actions_one_line_each() {
    let text = notification_for(&huge_incident(), None).text;
    assert!(
        text.contains("\nWhat Rebound did (last 10 of 300 actions)\n"),
        "{text}"
    );
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  - ") && l.contains(" set-instance-health "))
        .collect();
    assert_eq!(listed.len(), 10);
    assert!(
        listed[9].starts_with(&format!(
            "  - 10:19:59 set-instance-health i-{:017x} in web-asg: failed (SetInstanceHealth failed: xxx",
            299
        )),
        "{}",
        listed[9]
    );
    assert!(
        listed
            .iter()
            .all(|l| l.chars().count() <= "  - 10:19:59 ".len() + 500),
        "lines are bounded"
    );
}

#[test]
fn an_action_reads_as_kind_instance_group_outcome_and_detail() {
    assert_eq!(
        action_line(&action(
            1,
            ActionOutcome::Failed,
            Some("Throttling: Rate exceeded")
        )),
        "set-instance-health i-00000000000000001 in web-asg: failed (Throttling: Rate exceeded)"
    );
    assert_eq!(
        action_line(&action(1, ActionOutcome::Succeeded, None)),
        "set-instance-health i-00000000000000001 in web-asg: succeeded"
    );
}

// What people read: the e-mail's sections, the JSON body's additions, the chat card.

fn escalated_incident() -> IncidentRecord {
    let mut incident = incident(
        vec![
            target(1, TargetState::Unhealthy, Some("Target.FailedHealthChecks")),
            target(2, TargetState::Unhealthy, Some("Target.FailedHealthChecks")),
            target(3, TargetState::Healthy, None),
        ],
        "2 of 3 targets unhealthy",
    );
    incident.actions = vec![action(1, ActionOutcome::Succeeded, None)];
    incident
        .transition(
            incident.opened_at + Duration::seconds(5),
            IncidentState::Remediating,
            "2 of 3 targets unhealthy: replace i-00000000000000001 in web-asg",
        )
        .unwrap();
    incident
        .transition(
            incident.opened_at + Duration::seconds(905),
            IncidentState::Escalated,
            "not recovered within 15 minutes of the last action",
        )
        .unwrap();
    incident
}

#[test]
fn the_email_says_what_broke_why_what_rebound_did_what_to_check_next_and_where_to_look() {
    let text = notification_for(&escalated_incident(), Some(IncidentState::Remediating)).text;
    let sections: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' '))
        .collect();
    assert_eq!(
        sections,
        [
            "ESCALATED: target group web (was remediating)",
            "Why: not recovered within 15 minutes of the last action",
            "What broke",
            "Evidence: 3 targets",
            "Not healthy:",
            "What Rebound did",
            "Check next",
            "Links",
        ],
        "{text}"
    );
    assert!(
        text.contains("\n  Open for:  15 min 5 s so far\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\n  - 10:15:01 set-instance-health i-00000000000000001 in web-asg: succeeded\n"
        ),
        "{text}"
    );
    assert!(text.contains("launch template"), "{text}");
    assert!(text.contains(&format!(
        "\n  Target group: https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#TargetGroup:targetGroupArn={TG}\n"
    )), "{text}");
    assert!(text.contains(
        "\n  Auto Scaling group web-asg: https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#AutoScalingGroupDetails:id=web-asg;view=details\n"
    ), "{text}");
}

#[test]
fn a_resolved_incident_reads_its_time_to_recover_in_words() {
    let mut incident = escalated_incident();
    incident
        .transition(
            incident.opened_at + Duration::seconds(1_104),
            IncidentState::Resolved,
            "verified: 3 of 3 targets healthy",
        )
        .unwrap();
    let text = notification_for(&incident, Some(IncidentState::Escalated)).text;
    assert!(
        text.starts_with(
            "RESOLVED: target group web (was escalated)\n\nWhy: verified: 3 of 3 targets healthy\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n  Recovered: in 1104 s (18 min 24 s)\n"),
        "{text}"
    );
}

#[test]
fn a_new_incident_with_no_action_says_rebound_did_nothing_yet() {
    let text = notification_for(&incident(Vec::new(), "1 of 4 targets unhealthy"), None).text;
    assert!(
        text.starts_with("OPEN: target group web\n\nWhy: 1 of 4 targets unhealthy\n"),
        "{text}"
    );
    assert!(
        text.contains("\nWhat Rebound did\n  Nothing yet.\n"),
        "{text}"
    );
}

#[test]
fn a_resource_named_without_an_arn_links_to_the_console_of_the_home_region() {
    let mut incident = incident(Vec::new(), "opened");
    incident.resource = ResourceRef::new(target_group::AUTO_SCALING_GROUP, "web-asg");
    let home = Location::of_arn("arn:aws:dynamodb:eu-west-1:1:table/t/stream/x").unwrap();
    let linked = notification_at(&incident, None, Some(&home));
    assert!(linked.text.contains(
        "  Auto Scaling group: https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#AutoScalingGroupDetails:id=web-asg;view=details\n"
    ), "{}", linked.text);
    let unlinked = notification_for(&incident, None);
    assert!(!unlinked.text.contains("https://"), "{}", unlinked.text);
    assert!(body(&unlinked)["console_url"].is_null());
}

#[test]
fn the_json_body_keeps_every_field_of_its_schema_and_adds_what_people_read() {
    let incident = escalated_incident();
    let body = body(&notification_for(
        &incident,
        Some(IncidentState::Remediating),
    ));
    // Schema 1's fields, unchanged.
    assert_eq!(body["schema"], MESSAGE_SCHEMA);
    assert_eq!(body["previous_state"], "remediating");
    assert_eq!(body["incident"], serde_json::to_value(&incident).unwrap());
    for field in ["truncated", "omitted", "shortened_texts"] {
        assert!(body.get(field).is_some(), "{field}");
    }
    // Added.
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["resource_name"], "web");
    assert_eq!(
        body["reason"],
        "not recovered within 15 minutes of the last action"
    );
    assert_eq!(
        body["next_steps"],
        json!(crate::kinds::view_of("target-group").next_steps(IncidentState::Escalated))
    );
    assert_eq!(
        body["console_url"],
        format!("https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#TargetGroup:targetGroupArn={TG}")
    );
}

#[test]
fn the_chat_card_follows_the_chatbot_custom_notification_schema() {
    let incident = escalated_incident();
    let message = notification_for(&incident, Some(IncidentState::Remediating));
    let card = card(&message);
    assert_eq!(card["version"], "1.0");
    assert_eq!(card["source"], "custom");
    let content = &card["content"];
    assert_eq!(content["textType"], "client-markdown");
    assert_eq!(
        content["title"],
        ":rotating_light: ESCALATED: target group web (was remediating)"
    );
    let description = content["description"].as_str().unwrap();
    assert!(
        description.starts_with("*Why:* not recovered within 15 minutes"),
        "{description}"
    );
    assert!(
        description.contains("*Evidence:* 2 of 3 targets not healthy"),
        "{description}"
    );
    assert!(description.contains(&format!("<https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#TargetGroup:targetGroupArn={TG}|Target group>")), "{description}");
    assert_eq!(
        content["nextSteps"],
        json!(crate::kinds::view_of("target-group").next_steps(IncidentState::Escalated))
    );
    assert_eq!(
        content["keywords"],
        json!(["escalated", "critical", "target-group", "web"])
    );
    let metadata = &card["metadata"];
    assert_eq!(
        metadata["threadId"],
        incident.id.as_str(),
        "one thread per incident"
    );
    assert_eq!(metadata["summary"], message.subject);
    assert_eq!(metadata["relatedResources"], json!([TG, "web-asg"]));
    assert_eq!(metadata["additionalContext"]["state"], "escalated");
    assert_eq!(
        metadata["additionalContext"]["previous_state"],
        "remediating"
    );
    assert!(metadata["additionalContext"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
}

#[test]
fn the_chat_card_of_a_huge_incident_stays_a_card() {
    let message = notification_for(&huge_incident(), None);
    let card = card(&message);
    let content = &card["content"];
    assert!(content["title"].as_str().unwrap().chars().count() <= 250);
    let description = content["description"].as_str().unwrap();
    assert!(
        description.chars().count() <= 3_000,
        "{}",
        description.len()
    );
    assert!(
        description.contains("*Evidence:* 4000 of 20000 targets not healthy"),
        "{description}"
    );
    assert!(content["nextSteps"].as_array().unwrap().len() <= 5);
}

#[test]
fn free_text_cannot_forge_links_or_markup_in_the_chat_card() {
    let incident = incident(Vec::new(), "<https://evil.example|click> & more");
    let card = card(&notification_for(&incident, None));
    let description = card["content"]["description"].as_str().unwrap();
    assert!(
        description.starts_with("*Why:* &lt;https://evil.example|click&gt; &amp; more\n"),
        "{description}"
    );
}

#[test]
fn a_database_incident_reads_as_the_database_with_its_zones_before_and_after_the_failover() {
    use crate::kinds::database::observation::Placement;
    let placement = |primary: &str, standby: &str| Placement {
        status: "available".into(),
        multi_az: true,
        primary_az: Some(primary.into()),
        standby_az: Some(standby.into()),
        writer: None,
        at: Utc.with_ymd_and_hms(2026, 11, 26, 10, 15, 0).unwrap(),
    };
    let mut database = DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"));
    database.before_failover = Some(placement("us-east-1a", "us-east-1b"));
    database.after_failover = Some(placement("us-east-1b", "us-east-1a"));
    let opened = Incident::open(
        Opening {
            resource: ResourceRef::new(database::DB_INSTANCE, "orders-db"),
            trigger: "alarm:orders-db-read-latency".into(),
            evidence: Evidence::of(&database::Evidence {
                database: Some(database),
            }),
            summary: "orders-db is available, Multi-AZ".into(),
            rto_s: None,
            drill: None,
        },
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 15, 0).unwrap(),
    );
    let mut incident = IncidentRecord::clone(&opened);
    incident.state = IncidentState::Resolved;
    let message = notification_for(&incident, Some(IncidentState::Remediating));
    assert!(
        message
            .subject
            .starts_with("[Rebound] RESOLVED db-instance orders-db"),
        "{}",
        message.subject
    );
    assert_eq!(message.resource_type, "db-instance");
    assert!(message
        .text
        .contains("Before failover: available, primary in us-east-1a, standby in us-east-1b"));
    assert!(message
        .text
        .contains("After failover:  available, primary in us-east-1b, standby in us-east-1a"));
    assert_eq!(
        body(&message)["incident"]["evidence"]["database"]["after_failover"]["primary_az"],
        "us-east-1b"
    );
}

#[test]
fn a_drills_messages_say_so_in_the_subject_and_carry_the_drill_attribute() {
    let mut drill = incident(vec![], "1 of 4 targets unhealthy");
    drill.drill = Some("drill-20261126T101500Z-3f9a1c2b".into());
    let message = notification_for(&drill, None);
    assert!(
        message.subject.starts_with("[Rebound] [DRILL] OPEN "),
        "{}",
        message.subject
    );
    assert!(message.subject.chars().count() <= MAX_SUBJECT_CHARS);
    assert!(message.attributes().contains(&("drill", "true")));
    assert!(message.text.contains("drill-20261126T101500Z-3f9a1c2b"));

    let real = notification_for(&incident(vec![], "1 of 4 targets unhealthy"), None);
    assert!(!real.subject.contains("[DRILL]"), "{}", real.subject);
    assert!(real.attributes().iter().all(|(name, _)| *name != "drill"));
}
