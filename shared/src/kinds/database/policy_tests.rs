//! The event table and every failover guard, one behaviour per test.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::config::{Mode, PolicyConfig};
use crate::domain::{
    account_scope, Action, ClusterMember, DatabaseEvidence, DbCluster, DbInstance, Evidence,
    Ledger, LedgerEntry, Placement, ResourceKind,
};
use crate::ids::{DbClusterId, DbInstanceId, IncidentId};
use crate::policy::alb::dependency_hold;

const TAG: &str = "rebound:managed";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
}

fn minutes_ago(m: i64) -> DateTime<Utc> {
    now() - Duration::minutes(m)
}

fn db() -> DbInstance {
    DbInstance {
        id: DbInstanceId::parse("orders-db").unwrap(),
        status: "available".into(),
        multi_az: true,
        primary_az: Some("us-east-1a".into()),
        standby_az: Some("us-east-1b".into()),
        tags: BTreeMap::from([(TAG.to_owned(), "true".to_owned())]),
        cluster: None,
    }
}

fn config() -> PolicyConfig {
    PolicyConfig {
        mode: Mode::Enforce,
        ..PolicyConfig::default()
    }
}

fn event(id: &str, category: &str, at: DateTime<Utc>) -> RdsEvent {
    RdsEvent {
        id: RdsEventId::parse(id).ok(),
        categories: vec![category.into()],
        message: format!("{id} happened"),
        at,
    }
}

fn cue_for(id: &str, category: &str, at: DateTime<Utc>) -> Cue {
    let event = event(id, category, at);
    let rule = event_rule(event.id.as_ref().unwrap(), &event.categories).unwrap();
    Cue::Event {
        effect: rule.effect,
        event,
    }
}

fn placement(primary: &str, standby: &str) -> Placement {
    Placement {
        status: "available".into(),
        multi_az: true,
        primary_az: Some(primary.into()),
        standby_az: Some(standby.into()),
        writer: None,
        at: minutes_ago(10),
    }
}

fn incident(wants: bool) -> Incident {
    let mut database = DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"));
    database.wants_failover = wants;
    Incident::open(
        ResourceRef::db_instance(&db().id),
        "alarm:orders-db-latency",
        Evidence {
            database: Some(database),
            ..Evidence::default()
        },
        "orders-db is available",
        minutes_ago(10),
    )
}

fn failover_action(outcome: ActionOutcome, at: DateTime<Utc>) -> Action {
    let scope = ResourceRef::db_instance(&db().id);
    Action {
        kind: ActionKind::RebootWithFailover,
        target: scope.clone(),
        scope,
        requested_at: at,
        outcome,
        dry_run: outcome == ActionOutcome::Simulated,
        detail: None,
        completed_at: None,
        writer: None,
        launch_template: None,
    }
}

/// Decides with everything spelled out.
fn decide_with(
    instance: &DbInstance,
    cluster: Option<&DbCluster>,
    events: &[RdsEvent],
    cue: &Cue,
    incident: Option<&Incident>,
    ledgers: &BTreeMap<ResourceRef, Ledger>,
    config: &PolicyConfig,
) -> Decision {
    decide(
        Observation {
            instance,
            cluster,
            events,
            cue,
        },
        History { incident, ledgers },
        config,
        now(),
    )
}

fn decide_alarm(instance: &DbInstance) -> Decision {
    decide_with(
        instance,
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    )
}

fn only_refusal(decision: &Decision) -> &Refusal {
    assert!(decision.actions.is_empty(), "{decision:?}");
    assert_eq!(decision.refusals.len(), 1, "{decision:?}");
    &decision.refusals[0]
}

// ---- the event table ----------------------------------------------------------------

#[test]
fn every_listed_event_id_maps_to_its_effect_in_its_category() {
    use EventEffect::*;
    let expected = [
        ("RDS-EVENT-0004", "availability", Watch),
        ("RDS-EVENT-0006", "availability", Recovered),
        ("RDS-EVENT-0013", "failover", FailoverStarted),
        ("RDS-EVENT-0015", "failover", FailoverCompleted),
        ("RDS-EVENT-0020", "recovery", Watch),
        ("RDS-EVENT-0021", "recovery", Recovered),
        ("RDS-EVENT-0022", "failure", Sick),
        ("RDS-EVENT-0031", "failure", NeedsPerson),
        ("RDS-EVENT-0034", "failover", FailoverSkipped),
        ("RDS-EVENT-0049", "failover", FailoverCompleted),
        ("RDS-EVENT-0052", "recovery", Watch),
        ("RDS-EVENT-0053", "recovery", Recovered),
        ("RDS-EVENT-0065", "failover", FailoverCompleted),
    ];
    assert_eq!(expected.len(), EVENT_TABLE.len());
    for (id, category, effect) in expected {
        let rule = event_rule(&RdsEventId::parse(id).unwrap(), &[category.to_owned()])
            .unwrap_or_else(|| panic!("{id} missing"));
        assert_eq!(rule.effect, effect, "{id}");
    }
}

#[test]
fn an_event_id_in_another_category_is_not_in_the_table() {
    let id = RdsEventId::parse("RDS-EVENT-0049").unwrap();
    assert!(event_rule(&id, &["notification".to_owned()]).is_none());
    assert!(event_rule(&id, &["FAILOVER".to_owned()]).is_some());
}

#[test]
fn an_unknown_event_id_is_not_in_the_table() {
    let id = RdsEventId::parse("RDS-EVENT-0999").unwrap();
    assert!(event_rule(&id, &["failover".to_owned()]).is_none());
}

#[test]
fn an_unknown_event_opens_nothing_and_asks_for_nothing() {
    let cue = Cue::Unknown(event("RDS-EVENT-0999", "notification", minutes_ago(1)));
    let decision = decide_with(&db(), None, &[], &cue, None, &BTreeMap::new(), &config());
    assert_eq!(decision.verdict, Verdict::Healthy);
}

#[test]
fn an_unknown_event_on_an_incident_that_wants_a_failover_never_starts_one() {
    let cue = Cue::Unknown(event("RDS-EVENT-0999", "notification", minutes_ago(1)));
    let open = incident(true);
    let decision = decide_with(
        &db(),
        None,
        &[],
        &cue,
        Some(&open),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Hold);
    assert!(decision.actions.is_empty());
}

#[test]
fn a_failure_event_that_a_failover_fixes_fails_over() {
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    let decision = decide_with(&db(), None, &[], &cue, None, &BTreeMap::new(), &config());
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn a_failure_event_that_a_failover_cannot_fix_escalates() {
    let cue = cue_for("RDS-EVENT-0031", "failure", minutes_ago(1));
    let decision = decide_with(&db(), None, &[], &cue, None, &BTreeMap::new(), &config());
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "needs-a-person");
}

#[test]
fn a_shutdown_or_a_recovery_starting_opens_an_incident_to_watch_without_acting() {
    for (id, category) in [
        ("RDS-EVENT-0004", "availability"),
        ("RDS-EVENT-0020", "recovery"),
        ("RDS-EVENT-0052", "recovery"),
    ] {
        let mut down = db();
        down.status = "rebooting".into();
        let cue = cue_for(id, category, minutes_ago(1));
        let decision = decide_with(&down, None, &[], &cue, None, &BTreeMap::new(), &config());
        assert_eq!(decision.verdict, Verdict::Hold, "{id}");
        assert!(decision.actions.is_empty(), "{id}");
    }
}

#[test]
fn a_recovery_event_resolves_a_watched_incident_once_available() {
    for (id, category) in [
        ("RDS-EVENT-0006", "availability"),
        ("RDS-EVENT-0021", "recovery"),
        ("RDS-EVENT-0053", "recovery"),
    ] {
        let cue = cue_for(id, category, minutes_ago(1));
        let watched = incident(false);
        let decision = decide_with(
            &db(),
            None,
            &[],
            &cue,
            Some(&watched),
            &BTreeMap::new(),
            &config(),
        );
        assert_eq!(decision.verdict, Verdict::Resolve, "{id}");
    }
}

#[test]
fn a_recovery_event_with_nothing_open_is_healthy() {
    let cue = cue_for("RDS-EVENT-0021", "recovery", minutes_ago(1));
    let decision = decide_with(&db(), None, &[], &cue, None, &BTreeMap::new(), &config());
    assert_eq!(decision.verdict, Verdict::Healthy);
}

#[test]
fn a_failover_started_by_rds_is_followed_not_acted_on() {
    let cue = cue_for("RDS-EVENT-0013", "failover", minutes_ago(1));
    let decision = decide_with(&db(), None, &[], &cue, None, &BTreeMap::new(), &config());
    assert_eq!(decision.verdict, Verdict::Underway);
    assert!(decision.actions.is_empty());
}

#[test]
fn an_instance_failing_over_by_itself_is_followed_on_an_alarm_too() {
    let mut moving = db();
    moving.status = "failing-over".into();
    assert_eq!(decide_alarm(&moving).verdict, Verdict::Underway);
}

#[test]
fn every_failover_completed_event_resolves_our_failover_once_available() {
    for (id, category) in [
        ("RDS-EVENT-0015", "failover"),
        ("RDS-EVENT-0049", "failover"),
        ("RDS-EVENT-0065", "failover"),
    ] {
        let mut ours = incident(true);
        ours.actions
            .push(failover_action(ActionOutcome::Succeeded, minutes_ago(5)));
        // Completed, but the zones read back unchanged: the event alone is proof.
        let cue = cue_for(id, category, minutes_ago(1));
        let decision = decide_with(
            &db(),
            None,
            &[],
            &cue,
            Some(&ours),
            &BTreeMap::new(),
            &config(),
        );
        assert_eq!(decision.verdict, Verdict::Resolve, "{id}");
    }
}

#[test]
fn a_completed_event_from_before_our_failover_proves_nothing() {
    let mut ours = incident(true);
    ours.actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(5)));
    let cue = cue_for("RDS-EVENT-0049", "failover", minutes_ago(8));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &cue,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Recovering);
}

#[test]
fn a_skipped_failover_escalates() {
    let mut ours = incident(true);
    ours.actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(5)));
    let cue = cue_for("RDS-EVENT-0034", "failover", minutes_ago(1));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &cue,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "failover-skipped");
}

// ---- guards -------------------------------------------------------------------------

#[test]
fn an_alarm_on_a_managed_multi_az_instance_fails_it_over_to_its_standby() {
    let decision = decide_alarm(&db());
    assert_eq!(decision.verdict, Verdict::Remediate);
    let scope = ResourceRef::db_instance(&db().id);
    assert_eq!(
        decision.actions,
        vec![PlannedAction {
            kind: ActionKind::RebootWithFailover,
            target: scope.clone(),
            scope,
            launch_template: None,
        }]
    );
}

#[test]
fn an_unmanaged_instance_is_observed_only() {
    let mut unmanaged = db();
    unmanaged.tags.clear();
    let decision = decide_alarm(&unmanaged);
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard(), "not-managed");
}

#[test]
fn a_single_az_instance_is_escalated_never_rebooted() {
    let mut single = db();
    single.multi_az = false;
    single.standby_az = None;
    let decision = decide_alarm(&single);
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "not-multi-az");
}

#[test]
fn an_instance_that_is_not_available_is_not_failed_over() {
    for status in [
        "rebooting",
        "modifying",
        "backing-up",
        "maintenance",
        "upgrading",
    ] {
        let mut busy = db();
        busy.status = status.into();
        let decision = decide_alarm(&busy);
        assert_eq!(decision.verdict, Verdict::Hold, "{status}");
        assert_eq!(only_refusal(&decision).guard(), "not-available", "{status}");
    }
}

#[test]
fn a_status_no_failover_fixes_escalates() {
    for status in ["storage-full", "incompatible-parameters", "failed"] {
        let mut broken = db();
        broken.status = status.into();
        let decision = decide_alarm(&broken);
        assert_eq!(decision.verdict, Verdict::Escalate, "{status}");
        assert_eq!(
            only_refusal(&decision).guard(),
            "needs-a-person",
            "{status}"
        );
    }
}

#[test]
fn an_instance_not_available_for_longer_than_recovery_may_take_escalates() {
    let mut busy = db();
    busy.status = "modifying".into();
    let mut stuck = incident(true);
    stuck.opened_at = minutes_ago(20);
    let decision = decide_with(
        &busy,
        None,
        &[],
        &Cue::Look,
        Some(&stuck),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert!(decision
        .refusals
        .iter()
        .any(|r| r.guard() == "not-recovered"));
}

#[test]
fn a_failover_by_rds_within_the_cooldown_holds_a_new_one() {
    let events = [event("RDS-EVENT-0049", "failover", minutes_ago(10))];
    let decision = decide_with(
        &db(),
        None,
        &events,
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard(), "recent-failover");
}

#[test]
fn a_failover_by_rds_before_the_cooldown_does_not_count() {
    let events = [event("RDS-EVENT-0049", "failover", minutes_ago(31))];
    let decision = decide_with(
        &db(),
        None,
        &events,
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Remediate);
}

fn ledger_of(scope: ResourceRef, at: DateTime<Utc>) -> BTreeMap<ResourceRef, Ledger> {
    BTreeMap::from([(
        scope,
        Ledger {
            entries: vec![LedgerEntry {
                at,
                target: "orders-db".into(),
                incident: IncidentId::parse("inc-earlier").unwrap(),
                launch_template: None,
            }],
            version: 1,
        },
    )])
}

#[test]
fn our_own_failover_within_the_instance_cooldown_holds_a_new_one() {
    let ledgers = ledger_of(ResourceRef::db_instance(&db().id), minutes_ago(20));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &ledgers,
        &config(),
    );
    assert_eq!(only_refusal(&decision).guard(), "cooldown");
}

#[test]
fn the_instance_cooldown_is_its_own_not_the_groups() {
    // 20 minutes is past the groups' 10-minute cooldown and within the 30 minutes of
    // RDS_COOLDOWN_SECONDS; 31 minutes is past both.
    let ledgers = ledger_of(ResourceRef::db_instance(&db().id), minutes_ago(31));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &ledgers,
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn a_late_copy_of_an_alarm_our_last_failover_answered_opens_nothing() {
    let ledgers = ledger_of(ResourceRef::db_instance(&db().id), minutes_ago(20));
    let late = Cue::AlarmFiring {
        since: Some(minutes_ago(25)),
    };
    let decision = decide_with(&db(), None, &[], &late, None, &ledgers, &config());
    assert_eq!(decision.verdict, Verdict::Healthy);
    let new_episode = Cue::AlarmFiring {
        since: Some(minutes_ago(5)),
    };
    let decision = decide_with(&db(), None, &[], &new_episode, None, &ledgers, &config());
    assert_eq!(only_refusal(&decision).guard(), "cooldown");
}

#[test]
fn past_the_account_budget_a_failover_escalates() {
    let ledgers = ledger_of(account_scope(), minutes_ago(5));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &ledgers,
        &PolicyConfig {
            action_budget_per_hour: 1,
            ..config()
        },
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "budget-exhausted");
}

#[test]
fn never_a_second_failover_while_one_is_in_progress() {
    for outcome in [ActionOutcome::Pending, ActionOutcome::Succeeded] {
        let mut ours = incident(true);
        ours.actions.push(failover_action(outcome, minutes_ago(2)));
        let decision = decide_with(
            &db(),
            None,
            &[],
            &Cue::AlarmFiring { since: None },
            Some(&ours),
            &BTreeMap::new(),
            &config(),
        );
        assert_eq!(decision.verdict, Verdict::Recovering, "{outcome:?}");
        assert!(decision.actions.is_empty());
    }
}

#[test]
fn dry_run_simulates_one_failover_and_then_holds() {
    let dry = PolicyConfig {
        mode: Mode::DryRun,
        ..PolicyConfig::default()
    };
    let first = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &dry,
    );
    assert_eq!(first.verdict, Verdict::Remediate);
    let mut simulated = incident(true);
    simulated
        .actions
        .push(failover_action(ActionOutcome::Simulated, minutes_ago(1)));
    let again = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmFiring { since: None },
        Some(&simulated),
        &BTreeMap::new(),
        &dry,
    );
    assert_eq!(again.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&again).guard(), "already-failing-over");
    // The simulated failover is not one taken: enforce acts for real.
    let enforcing = decide_with(
        &db(),
        None,
        &[],
        &Cue::Look,
        Some(&simulated),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(enforcing.verdict, Verdict::Remediate);
}

#[test]
fn the_sweep_retries_an_incident_that_still_wants_a_failover_and_an_alarm_ok_resolves_it() {
    let wanting = incident(true);
    let retry = decide_with(
        &db(),
        None,
        &[],
        &Cue::Look,
        Some(&wanting),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(retry.verdict, Verdict::Remediate);
    let ok = decide_with(
        &db(),
        None,
        &[],
        &Cue::AlarmOk,
        Some(&wanting),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(ok.verdict, Verdict::Resolve);
}

// ---- verified recovery --------------------------------------------------------------

#[test]
fn recovery_is_verified_when_available_with_primary_and_standby_swapped() {
    let mut ours = incident(true);
    ours.actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(5)));
    let mut swapped = db();
    swapped.primary_az = Some("us-east-1b".into());
    swapped.standby_az = Some("us-east-1a".into());
    let decision = decide_with(
        &swapped,
        None,
        &[],
        &Cue::Look,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Resolve);
}

#[test]
fn recovery_is_not_declared_while_rebooting_or_before_the_primary_moved() {
    let mut ours = incident(true);
    ours.actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(5)));
    let mut rebooting = db();
    rebooting.status = "rebooting".into();
    for (instance, waiting) in [
        (rebooting, "orders-db is rebooting"),
        (
            db(),
            "the failover has not completed: the primary is still in us-east-1a",
        ),
    ] {
        let decision = decide_with(
            &instance,
            None,
            &[],
            &Cue::Look,
            Some(&ours),
            &BTreeMap::new(),
            &config(),
        );
        assert_eq!(decision.verdict, Verdict::Recovering);
        assert_eq!(decision.waiting_for.as_deref(), Some(waiting));
    }
}

#[test]
fn a_failover_that_never_completes_escalates_after_the_recovery_timeout() {
    let mut ours = incident(true);
    ours.actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(16)));
    let decision = decide_with(
        &db(),
        None,
        &[],
        &Cue::Look,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "not-recovered");
}

#[test]
fn an_overdue_pending_failover_is_settled_from_what_the_database_did() {
    let action = failover_action(ActionOutcome::Pending, minutes_ago(10));
    let before = placement("us-east-1a", "us-east-1b");
    let observe = |instance: &DbInstance| {
        settle_pending(
            &action,
            Observation {
                instance,
                cluster: None,
                events: &[],
                cue: &Cue::Look,
            },
            Some(&before),
            &config(),
            now(),
        )
    };
    let mut swapped = db();
    swapped.primary_az = Some("us-east-1b".into());
    assert_eq!(observe(&swapped).unwrap().0, ActionOutcome::Succeeded);
    assert_eq!(observe(&db()).unwrap().0, ActionOutcome::Failed);
    let recent = failover_action(ActionOutcome::Pending, minutes_ago(1));
    assert_eq!(
        settle_pending(
            &recent,
            Observation {
                instance: &db(),
                cluster: None,
                events: &[],
                cue: &Cue::Look,
            },
            Some(&before),
            &config(),
            now(),
        ),
        None
    );
}

// ---- clusters -----------------------------------------------------------------------

fn cluster(writer: &str) -> DbCluster {
    DbCluster {
        id: DbClusterId::parse("orders").unwrap(),
        status: "available".into(),
        tags: BTreeMap::from([(TAG.to_owned(), "true".to_owned())]),
        members: ["orders-db", "orders-db-2"]
            .into_iter()
            .map(|m| ClusterMember {
                instance: DbInstanceId::parse(m).unwrap(),
                writer: m == writer,
            })
            .collect(),
    }
}

fn member() -> DbInstance {
    DbInstance {
        cluster: Some(DbClusterId::parse("orders").unwrap()),
        multi_az: false,
        ..db()
    }
}

#[test]
fn a_sick_cluster_writer_fails_the_cluster_over() {
    let c = cluster("orders-db");
    let decision = decide_with(
        &member(),
        Some(&c),
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Remediate);
    assert_eq!(decision.actions[0].kind, ActionKind::FailoverDbCluster);
    assert_eq!(decision.actions[0].scope.kind, ResourceKind::DbCluster);
    assert_eq!(decision.actions[0].target.id, "orders");
}

#[test]
fn a_sick_reader_is_escalated_not_failed_over() {
    let c = cluster("orders-db-2");
    let decision = decide_with(
        &member(),
        Some(&c),
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "not-the-writer");
}

#[test]
fn a_cluster_without_a_reader_has_nothing_to_fail_over_to() {
    let mut alone = cluster("orders-db");
    alone.members.truncate(1);
    let decision = decide_with(
        &member(),
        Some(&alone),
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard(), "not-multi-az");
}

#[test]
fn a_cluster_that_is_not_available_or_not_managed_is_not_failed_over() {
    let mut busy = cluster("orders-db");
    busy.status = "modifying".into();
    let decision = decide_with(
        &member(),
        Some(&busy),
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(only_refusal(&decision).guard(), "not-available");
    let mut unmanaged = cluster("orders-db");
    unmanaged.tags.clear();
    let decision = decide_with(
        &member(),
        Some(&unmanaged),
        &[],
        &Cue::AlarmFiring { since: None },
        None,
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(only_refusal(&decision).guard(), "not-managed");
}

#[test]
fn a_cluster_failover_is_verified_when_the_writer_changed() {
    let mut ours = incident(true);
    if let Some(d) = ours.evidence.database.as_mut() {
        d.before_failover = Some(Placement {
            writer: Some("orders-db".into()),
            ..placement("us-east-1a", "us-east-1b")
        });
    }
    let scope = ResourceRef::db_cluster(&DbClusterId::parse("orders").unwrap());
    ours.actions.push(Action {
        kind: ActionKind::FailoverDbCluster,
        target: scope.clone(),
        scope,
        ..failover_action(ActionOutcome::Succeeded, minutes_ago(3))
    });
    let before = cluster("orders-db");
    let after = cluster("orders-db-2");
    let waiting = decide_with(
        &member(),
        Some(&before),
        &[],
        &Cue::Look,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(waiting.verdict, Verdict::Recovering);
    let done = decide_with(
        &member(),
        Some(&after),
        &[],
        &Cue::Look,
        Some(&ours),
        &BTreeMap::new(),
        &config(),
    );
    assert_eq!(done.verdict, Verdict::Resolve);
}

// ---- dependency holds (the ALB side's guard, over database states) ---------------------

fn web_group(depends_on: Option<&str>) -> crate::domain::ScalingGroup {
    let mut tags = BTreeMap::from([(TAG.to_owned(), "true".to_owned())]);
    if let Some(db) = depends_on {
        tags.insert("rebound:depends-on".into(), db.into());
    }
    crate::domain::ScalingGroup {
        name: crate::ids::AutoScalingGroupName::parse("web").unwrap(),
        tags,
        suspended_processes: vec![],
        instances: vec![],
        target_group_arns: vec![],
        instance_refresh_in_progress: false,
        desired_capacity: 0,
        health_check_grace_period_s: 0,
        launch_template: None,
    }
}

#[test]
fn a_group_whose_database_has_an_open_incident_is_held_with_that_incident() {
    let deps = [(
        db().id,
        crate::domain::DependencyState {
            open_incident: Some(IncidentId::parse("inc-db-1").unwrap()),
            ..Default::default()
        },
    )];
    let hold = dependency_hold(&web_group(Some("orders-db")), &deps, &config(), now()).unwrap();
    assert_eq!(hold.guard(), "dependency-held");
    assert!(hold.suppresses());
    assert!(hold.to_string().contains("inc-db-1"), "{hold}");
}

#[test]
fn a_group_stays_held_for_the_settle_time_after_its_database_recovered() {
    let state = |minutes: i64| {
        [(
            db().id,
            crate::domain::DependencyState {
                last_incident: Some(IncidentId::parse("inc-db-1").unwrap()),
                last_recovered_at: Some(minutes_ago(minutes)),
                ..Default::default()
            },
        )]
    };
    let group = web_group(Some("orders-db"));
    assert!(dependency_hold(&group, &state(4), &config(), now()).is_some());
    assert!(dependency_hold(&group, &state(6), &config(), now()).is_none());
}

#[test]
fn a_group_without_a_dependency_or_with_a_healthy_one_is_not_held() {
    let deps = [(db().id, crate::domain::DependencyState::default())];
    assert!(dependency_hold(&web_group(None), &deps, &config(), now()).is_none());
    assert!(dependency_hold(&web_group(Some("orders-db")), &deps, &config(), now()).is_none());
    assert!(dependency_hold(&web_group(Some("bad--id")), &deps, &config(), now()).is_none());
}

#[test]
fn held_refusals_suppress_rather_than_hold_or_escalate() {
    let held = Refusal::DependencyHeld {
        group: "web".into(),
        database: "orders-db".into(),
        incident: "inc-db-1".into(),
        why: "has an open incident".into(),
    };
    let decision = Decision::from_guards(vec![], vec![held.clone()], "1 of 4".into());
    assert_eq!(decision.verdict, Verdict::Suppress);
    let with_escalation = Decision::from_guards(
        vec![],
        vec![held, Refusal::BudgetExhausted { per_hour: 1 }],
        "1 of 4".into(),
    );
    assert_eq!(with_escalation.verdict, Verdict::Escalate);
}
