//! Approvals against the emulator (issue 19 point 3): the real target-health handler
//! with real SDK clients, a replacement whose mode is `approve`, and people deciding
//! through the same code as `rebound incidents approve` / `deny` (`rebound::by_hand`)
//! on the emulator's DynamoDB. An approval only lets the next check decide again: it
//! acts only if the action is still needed and every guard allows it. Time is moved by
//! the handler's injected clock.

use aws_sdk_autoscaling::Client as AutoScalingClient;
use chrono::{DateTime, Duration, Utc};
use rebound::by_hand::{self, Refused};
use rebound::config::{ApprovalMode, Mode};
use rebound::domain::{ApprovalState, Incident, IncidentState, Verdict};
use rebound::ports::{Commit, Committed, Freshness, IncidentStore};
use rebound_tests::sample_event;
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::Managed;
use serde_json::Value;

const ANA: &str = "arn:aws:iam::123456789012:user/ana";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";

fn tg_sweep() -> Value {
    sample_event("target-health/scheduled-sweep.json")
}

fn in_11_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(11)
}

fn in_13_minutes() -> DateTime<Utc> {
    Utc::now() + Duration::minutes(13)
}

/// target-health as deployed (enforce) with replacements in `approve` mode and
/// approvals that expire after ten minutes, reading the time from `clock`.
fn target_health(s: &Scenario, clock: fn() -> DateTime<Utc>) -> rebound::aws::TargetHealthFunction {
    let mut config = s.stack.target_health_config(Mode::Enforce);
    let approvals = &mut config.policy.settings.approvals;
    approvals.modes = [(
        rebound::kinds::target_group::SET_INSTANCE_HEALTH,
        ApprovalMode::Approve,
    )]
    .into_iter()
    .collect();
    approvals.timeout = std::time::Duration::from_secs(600);
    let mut handler = s.handler_with(&config);
    handler.clock = clock;
    handler
}

fn store(s: &Scenario) -> impl IncidentStore {
    rebound::aws::incident_store(&s.stack.store_config(), &s.sdk)
}

/// One instance fails; the alarm's delivery asks for approval instead of replacing it.
async fn awaiting_approval(s: &Scenario) -> Incident {
    s.break_instance(0);
    let report = target_health(s, Utc::now)
        .handle(s.stack.alarm_event(0))
        .await
        .unwrap();
    assert_eq!(
        report.checks[0].verdict,
        Verdict::AwaitApproval,
        "{report:?}"
    );
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::AwaitingApproval);
    let approval = incident.approval.as_ref().expect("the planned action");
    assert_eq!(approval.state, ApprovalState::Requested);
    assert_eq!(approval.actions[0].target.id, s.stack.web().instance_ids[0]);
    assert_eq!(
        s.emulator.calls_of("SetInstanceHealth"),
        0,
        "nothing called"
    );
    incident
}

fn events(incident: &Incident) -> Vec<&str> {
    incident.timeline.iter().map(|t| t.event.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_granted_after_the_target_recovered_takes_no_action_and_resolves() {
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    s.heal_targets();
    by_hand::decide_approval(&store(&s), &incident.id, true, ANA, None)
        .await
        .unwrap();

    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Resolved);
    assert!(incident.actions.is_empty(), "{:?}", incident.actions);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    assert!(
        events(&incident).contains(&"approved"),
        "{:?}",
        incident.timeline
    );
    assert_eq!(
        s.announced_states().await,
        ["awaiting-approval", "resolved"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_replacement_a_guard_now_refuses_is_not_taken_and_the_refusal_is_recorded() {
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    let group = s.stack.web().auto_scaling_group.clone();
    let autoscaling = AutoScalingClient::new(&s.sdk);
    autoscaling
        .suspend_processes()
        .auto_scaling_group_name(&group)
        .scaling_processes("Launch")
        .send()
        .await
        .unwrap();
    by_hand::decide_approval(&store(&s), &incident.id, true, ANA, None)
        .await
        .unwrap();

    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert!(report.checks[0].actions.is_empty(), "{report:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Open);
    let held = incident.timeline.last().unwrap();
    assert_eq!(held.event, "held", "{:?}", incident.timeline);
    assert!(held.detail.contains("Launch"), "{}", held.detail);

    // Once the guard allows it, the approved replacement is taken, once.
    autoscaling
        .resume_processes()
        .auto_scaling_group_name(&group)
        .scaling_processes("Launch")
        .send()
        .await
        .unwrap();
    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    assert_eq!(s.incident().await.state, IncidentState::Remediating);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_at_once_converge_on_one_decision() {
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    let store = store(&s);

    // Both read the same version; the table takes the first write only.
    let mut first = store.load(&incident.id).await.unwrap().unwrap();
    let mut second = first.clone();
    for (copy, approved, by) in [(&mut first, true, ANA), (&mut second, false, BOB)] {
        copy.apply(
            Utc::now(),
            rebound::domain::Change::ApprovalDecided {
                approved,
                by,
                reason: Some("racing"),
            },
        )
        .unwrap();
    }
    fn commit(incident: &mut Incident) -> Commit<'_> {
        Commit {
            stored_state: Some(IncidentState::AwaitingApproval),
            incident,
            ledgers: vec![],
            token: "race",
            freshness: Freshness::Unchecked,
        }
    }
    assert_eq!(
        store.commit(commit(&mut first)).await.unwrap(),
        Committed::Landed
    );
    assert_eq!(
        store.commit(commit(&mut second)).await.unwrap(),
        Committed::LostRace
    );

    // Through the commands' code, the slower one reads again and is told what stands.
    let refused = by_hand::decide_approval(&store, &incident.id, false, BOB, Some("no"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Refused::AlreadyDecided { .. }),
        "{refused}"
    );
    let said = refused.to_string();
    assert!(
        said.contains(&format!("already decided, approved by {ANA}")),
        "{said}"
    );

    // Two at once through the commands' code: one decision, one refusal.
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    let store = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk);
    let (a, b) = tokio::join!(
        by_hand::decide_approval(&store, &incident.id, true, ANA, None),
        by_hand::decide_approval(&store, &incident.id, false, BOB, Some("no")),
    );
    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("one decision expected: {other:?}"),
    };
    let decision = won.approval.as_ref().unwrap().decision_text();
    assert!(lost.to_string().contains(&decision), "{lost} / {decision}");
    let stored = s.incident().await;
    assert_eq!(stored.approval, won.approval);
    let decided = stored
        .timeline
        .iter()
        .filter(|t| t.event == "approved" || t.event == "denied")
        .count();
    assert_eq!(decided, 1, "{:?}", stored.timeline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_no_one_decides_escalates_once() {
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    let report = target_health(&s, in_11_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Escalate, "{report:?}");
    assert!(report.checks[0].refusals[0].guard == "approval-expired");
    target_health(&s, in_13_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    let escalated = s.incident().await;
    assert_eq!(escalated.state, IncidentState::Escalated);
    assert_eq!(
        events(&escalated)
            .iter()
            .filter(|e| **e == "escalated")
            .count(),
        1,
        "{:?}",
        escalated.timeline
    );
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    assert_eq!(
        s.announced_states().await,
        ["awaiting-approval", "escalated"]
    );
    // A person may still decide: approved late, the replacement is taken.
    by_hand::decide_approval(&store(&s), &incident.id, true, ANA, None)
        .await
        .unwrap();
    target_health(&s, in_13_minutes)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_replacement_is_never_taken_and_the_incident_is_held_until_it_recovers() {
    let s = scenario(Managed::Yes).await;
    let incident = awaiting_approval(&s).await;
    by_hand::decide_approval(
        &store(&s),
        &incident.id,
        false,
        ANA,
        Some("investigating the app first"),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        let report = target_health(&s, Utc::now)
            .handle(tg_sweep())
            .await
            .unwrap();
        assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    }
    let held = s.incident().await;
    assert_eq!(held.state, IncidentState::Suppressed);
    let reason = held.timeline.last().unwrap();
    assert!(
        reason.detail.contains(&format!("denied by {ANA}"))
            && reason.detail.contains("investigating the app first"),
        "{:?}",
        held.timeline
    );
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    // Deciding again is refused with the decision made.
    let again = by_hand::decide_approval(&store(&s), &incident.id, true, BOB, None)
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("already decided, denied by"),
        "{again}"
    );

    s.heal_targets();
    let report = target_health(&s, Utc::now)
        .handle(tg_sweep())
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Resolve, "{report:?}");
    assert_eq!(s.incident().await.state, IncidentState::Resolved);
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    assert_eq!(
        s.announced_states().await,
        ["awaiting-approval", "suppressed", "resolved"]
    );
}
