//! The event table and every failover guard, one behaviour per test.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::events::{event_rule, EventEffect, EVENT_TABLE};
use super::observation::{
    designated_alarms, AlarmPattern, AlarmState, ClusterMember, DatabaseEvidence, DbCluster,
    DbInstance, Placement, RdsEvent, FAILOVER_ALARMS_TAG,
};
use super::policy::{decide, settle_pending, Cue, Observation};
use super::*;
use crate::config::{Mode, Settings};
use crate::domain::{
    account_scope, Action, Incident, IncidentRecord, Ledger, LedgerEntry, Opening, PlannedAction,
    Refusal,
};
use crate::ids::{DbClusterId, DbInstanceId, IncidentId, RdsEventId};

const TAG: &str = "rebound:managed";
/// The alarm the sample database designates for a failover.
const LATENCY: &str = "orders-db-latency";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
}

fn minutes_ago(m: i64) -> DateTime<Utc> {
    now() - Duration::minutes(m)
}

/// A managed Multi-AZ instance that designates its latency alarm for a failover.
fn db() -> DbInstance {
    DbInstance {
        id: DbInstanceId::parse("orders-db").unwrap(),
        status: "available".into(),
        multi_az: true,
        primary_az: Some("us-east-1a".into()),
        standby_az: Some("us-east-1b".into()),
        tags: BTreeMap::from([
            (TAG.to_owned(), "true".to_owned()),
            (FAILOVER_ALARMS_TAG.to_owned(), LATENCY.to_owned()),
        ]),
        cluster: None,
    }
}

fn config() -> Policy {
    Policy {
        settings: Settings {
            mode: Mode::Enforce,
            ..Settings::default()
        },
        ..Policy::default()
    }
}

fn alarm(name: &str, state: &str, since: Option<DateTime<Utc>>) -> AlarmState {
    AlarmState {
        name: name.into(),
        state: state.into(),
        since,
    }
}

/// The designated alarm, delivered in ALARM.
fn firing() -> Cue {
    Cue::Alarm(alarm(LATENCY, "ALARM", None))
}

fn event(id: &str, category: &str, at: DateTime<Utc>) -> RdsEvent {
    RdsEvent {
        id: RdsEventId::parse(id).ok(),
        categories: vec![category.into()],
        message: format!("{id} happened"),
        at,
        cluster: None,
    }
}

fn cue_for(id: &str, category: &str, at: DateTime<Utc>) -> Cue {
    let event = event(id, category, at);
    let rule = event_rule(event.id.as_ref().unwrap(), &event.categories).unwrap();
    Cue::Event {
        effect: Some(rule.effect),
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

/// The database's incident as stored, opened ten minutes ago.
fn incident() -> IncidentRecord {
    let evidence = Evidence {
        database: Some(DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"))),
    };
    let opened = Incident::open(
        Opening {
            resource: db_instance(&db().id),
            trigger: "alarm:orders-db-latency".into(),
            evidence: crate::domain::Evidence::of(&evidence),
            summary: "orders-db is available".into(),
            rto_s: None,
            drill: None,
        },
        minutes_ago(10),
    );
    IncidentRecord::clone(&opened)
}

fn with_failover(outcome: ActionOutcome, at: DateTime<Utc>) -> IncidentRecord {
    let mut record = incident();
    record.actions.push(failover_action(outcome, at));
    record
}

fn failover_action(outcome: ActionOutcome, at: DateTime<Utc>) -> Action {
    let scope = db_instance(&db().id);
    Action {
        kind: REBOOT_WITH_FAILOVER,
        target: scope.clone(),
        scope,
        requested_at: at,
        outcome,
        dry_run: outcome == ActionOutcome::Simulated,
        detail: None,
        completed_at: None,
        writer: None,
        configuration: None,
    }
}

/// One check, spelled out: what was observed, what the delivery said, the history.
struct Check {
    instance: DbInstance,
    cluster: Option<DbCluster>,
    events: Vec<RdsEvent>,
    alarms: Vec<AlarmState>,
    cue: Cue,
    incident: Option<IncidentRecord>,
    ledgers: BTreeMap<ResourceRef, Ledger>,
    policy: Policy,
}

impl Check {
    fn of(instance: DbInstance) -> Self {
        Self {
            instance,
            cluster: None,
            events: vec![],
            alarms: vec![],
            cue: Cue::Look,
            incident: None,
            ledgers: BTreeMap::new(),
            policy: config(),
        }
    }

    fn cue(self, cue: Cue) -> Self {
        Self { cue, ..self }
    }

    fn alarms(self, alarms: Vec<AlarmState>) -> Self {
        Self { alarms, ..self }
    }

    fn events(self, events: Vec<RdsEvent>) -> Self {
        Self { events, ..self }
    }

    fn incident(self, incident: IncidentRecord) -> Self {
        Self {
            incident: Some(incident),
            ..self
        }
    }

    fn cluster(self, cluster: DbCluster) -> Self {
        Self {
            cluster: Some(cluster),
            ..self
        }
    }

    fn ledgers(self, ledgers: BTreeMap<ResourceRef, Ledger>) -> Self {
        Self { ledgers, ..self }
    }

    fn policy(self, policy: Policy) -> Self {
        Self { policy, ..self }
    }

    fn decide(&self) -> Decision {
        let incident = self.incident.clone().map(Incident::from_record);
        let kept = incident
            .as_ref()
            .and_then(|i| i.evidence.read::<Evidence>().ok())
            .and_then(|e| e.database);
        decide(
            Observation {
                instance: &self.instance,
                cluster: self.cluster.as_ref(),
                events: &self.events,
                alarms: &self.alarms,
                kept: kept.as_ref(),
            },
            &self.cue,
            History {
                incident: incident.as_ref(),
                ledgers: &self.ledgers,
            },
            &self.policy,
            now(),
        )
    }
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
        ("RDS-EVENT-0069", "failover", FailoverSkipped),
        ("RDS-EVENT-0070", "failover", FailoverStarted),
        ("RDS-EVENT-0071", "failover", FailoverCompleted),
        ("RDS-EVENT-0072", "failover", FailoverStarted),
        ("RDS-EVENT-0073", "failover", FailoverStarted),
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

fn unknown() -> Cue {
    Cue::Event {
        event: event("RDS-EVENT-0999", "notification", minutes_ago(1)),
        effect: None,
    }
}

#[test]
fn an_unknown_event_opens_nothing_and_asks_for_nothing() {
    assert_eq!(
        Check::of(db()).cue(unknown()).decide().verdict,
        Verdict::Healthy
    );
}

#[test]
fn an_unknown_event_on_an_open_incident_never_starts_a_failover() {
    let decision = Check::of(db())
        .cue(unknown())
        .incident(incident())
        .alarms(vec![alarm(LATENCY, "OK", None)])
        .decide();
    assert!(decision.actions.is_empty(), "{decision:?}");
}

#[test]
fn a_failure_event_that_a_failover_fixes_fails_over() {
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    assert_eq!(
        Check::of(db()).cue(cue).decide().verdict,
        Verdict::Remediate
    );
}

#[test]
fn a_failure_event_that_a_failover_cannot_fix_escalates() {
    let cue = cue_for("RDS-EVENT-0031", "failure", minutes_ago(1));
    let decision = Check::of(db()).cue(cue).decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "needs-a-person");
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
        let decision = Check::of(down)
            .cue(cue_for(id, category, minutes_ago(1)))
            .decide();
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
        let decision = Check::of(db())
            .cue(cue_for(id, category, minutes_ago(1)))
            .incident(incident())
            .decide();
        assert_eq!(decision.verdict, Verdict::Resolve, "{id}");
    }
}

#[test]
fn a_recovery_event_with_nothing_open_is_healthy() {
    let cue = cue_for("RDS-EVENT-0021", "recovery", minutes_ago(1));
    assert_eq!(Check::of(db()).cue(cue).decide().verdict, Verdict::Healthy);
}

#[test]
fn a_failover_started_by_rds_is_followed_not_acted_on() {
    let cue = cue_for("RDS-EVENT-0013", "failover", minutes_ago(1));
    let decision = Check::of(db()).cue(cue).decide();
    assert_eq!(decision.verdict, Verdict::Underway);
    assert!(decision.actions.is_empty());
    let healing = decision.native_healing.expect("RDS's own failover");
    assert_eq!(healing.by, "failed over by RDS");
    assert!(healing.detail.contains("RDS-EVENT-0013"), "{healing:?}");
}

#[test]
fn an_instance_failing_over_by_itself_is_followed_on_an_alarm_too() {
    let mut moving = db();
    moving.status = "failing-over".into();
    assert_eq!(
        Check::of(moving).cue(firing()).decide().verdict,
        Verdict::Underway
    );
}

#[test]
fn a_failover_rds_made_by_itself_is_verified_from_where_the_primary_was_when_it_began() {
    let mut followed = incident();
    followed.evidence = crate::domain::Evidence::of(&Evidence {
        database: Some(DatabaseEvidence {
            before_failover: Some(placement("us-east-1a", "us-east-1b")),
            ..DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"))
        }),
    });
    let waiting = Check::of(db()).incident(followed.clone()).decide();
    assert_eq!(waiting.verdict, Verdict::Recovering);
    assert_eq!(
        waiting.native_healing.map(|h| h.by),
        Some("failed over by RDS")
    );
    let mut moved = db();
    moved.primary_az = Some("us-east-1b".into());
    let verified = Check::of(moved).incident(followed).decide();
    assert_eq!(verified.verdict, Verdict::Resolve);
    assert!(verified.native_healing.is_some());
}

#[test]
fn every_failover_completed_event_resolves_our_failover_once_available() {
    for (id, category) in [
        ("RDS-EVENT-0015", "failover"),
        ("RDS-EVENT-0049", "failover"),
        ("RDS-EVENT-0065", "failover"),
    ] {
        // Completed, but the zones read back unchanged: the event alone is proof.
        let decision = Check::of(db())
            .cue(cue_for(id, category, minutes_ago(1)))
            .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
            .decide();
        assert_eq!(decision.verdict, Verdict::Resolve, "{id}");
    }
}

#[test]
fn a_completed_event_from_before_our_failover_proves_nothing() {
    let decision = Check::of(db())
        .cue(cue_for("RDS-EVENT-0049", "failover", minutes_ago(8)))
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(3)))
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(12)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Recovering);
}

#[test]
fn a_skipped_failover_of_a_database_still_sick_escalates() {
    let decision = Check::of(db())
        .cue(cue_for("RDS-EVENT-0034", "failover", minutes_ago(1)))
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(12)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "failover-skipped");
}

#[test]
fn a_skipped_failover_of_a_database_that_recovered_resolves_without_it() {
    let decision = Check::of(db())
        .cue(cue_for("RDS-EVENT-0034", "failover", minutes_ago(1)))
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
        .alarms(vec![alarm(LATENCY, "OK", Some(minutes_ago(2)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Resolve);
    assert!(
        decision.summary.contains("recovered without failover"),
        "{decision:?}"
    );
}

// ---- the signal: only designated alarms fail a database over (invariant 12) ----------

#[test]
fn an_alarm_the_database_does_not_designate_never_fails_it_over() {
    for name in [
        "orders-db-cpu",
        "orders-db-free-storage",
        "orders-db-connections",
    ] {
        let decision = Check::of(db())
            .cue(Cue::Alarm(alarm(name, "ALARM", None)))
            .decide();
        assert_eq!(decision.verdict, Verdict::Healthy, "{name}");
        assert!(decision.actions.is_empty(), "{name}");
    }
    let mut undesignated = db();
    undesignated.tags.remove(FAILOVER_ALARMS_TAG);
    assert_eq!(
        Check::of(undesignated).cue(firing()).decide().verdict,
        Verdict::Healthy,
        "no tag: no alarm may fail it over"
    );
}

#[test]
fn an_alarm_designated_by_its_prefix_fails_the_database_over() {
    let mut by_prefix = db();
    by_prefix.tags.insert(
        FAILOVER_ALARMS_TAG.into(),
        "orders-db-down, orders-db-lat*".into(),
    );
    assert_eq!(
        Check::of(by_prefix).cue(firing()).decide().verdict,
        Verdict::Remediate
    );
}

#[test]
fn the_tag_names_alarms_and_prefixes_and_never_every_alarm() {
    let tags = |value: &str| BTreeMap::from([(FAILOVER_ALARMS_TAG.to_owned(), value.to_owned())]);
    assert_eq!(
        designated_alarms(&tags(" a , b*,, ")),
        vec![
            AlarmPattern::Name("a".into()),
            AlarmPattern::Prefix("b".into())
        ]
    );
    assert_eq!(designated_alarms(&tags("*")), vec![]);
    assert_eq!(designated_alarms(&BTreeMap::new()), vec![]);
}

#[test]
fn the_sweep_fails_over_on_a_designated_alarm_it_reads_in_alarm() {
    let decision = Check::of(db())
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(2)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn an_alarm_that_is_not_designated_on_an_open_incident_is_evidence_never_a_reason() {
    let decision = Check::of(db())
        .cue(Cue::Alarm(alarm("orders-db-cpu", "ALARM", None)))
        .incident(incident())
        .alarms(vec![alarm(LATENCY, "OK", None)])
        .decide();
    assert!(decision.actions.is_empty(), "{decision:?}");
    assert_eq!(decision.verdict, Verdict::Resolve);
}

// ---- guards -------------------------------------------------------------------------

#[test]
fn an_alarm_on_a_managed_multi_az_instance_fails_it_over_to_its_standby() {
    let decision = Check::of(db()).cue(firing()).decide();
    assert_eq!(decision.verdict, Verdict::Remediate);
    let scope = db_instance(&db().id);
    assert_eq!(
        decision.actions,
        vec![PlannedAction {
            kind: REBOOT_WITH_FAILOVER,
            target: scope.clone(),
            scope,
            configuration: None,
            cooldown: std::time::Duration::from_secs(1800),
            repeat_limit: None,
        }]
    );
}

#[test]
fn an_unmanaged_instance_is_observed_only() {
    let mut unmanaged = db();
    unmanaged.tags.remove(TAG);
    let decision = Check::of(unmanaged).cue(firing()).decide();
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard, "not-managed");
}

#[test]
fn a_single_az_instance_is_escalated_never_rebooted() {
    let mut single = db();
    single.multi_az = false;
    single.standby_az = None;
    let decision = Check::of(single).cue(firing()).decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "not-multi-az");
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
        let decision = Check::of(busy).cue(firing()).decide();
        assert_eq!(decision.verdict, Verdict::Hold, "{status}");
        assert_eq!(only_refusal(&decision).guard, "not-available", "{status}");
    }
}

#[test]
fn a_status_no_failover_fixes_escalates() {
    for status in ["storage-full", "incompatible-parameters", "failed"] {
        let mut broken = db();
        broken.status = status.into();
        let decision = Check::of(broken).cue(firing()).decide();
        assert_eq!(decision.verdict, Verdict::Escalate, "{status}");
        assert_eq!(only_refusal(&decision).guard, "needs-a-person", "{status}");
    }
}

#[test]
fn an_instance_not_available_for_longer_than_recovery_may_take_escalates() {
    let mut busy = db();
    busy.status = "modifying".into();
    let mut stuck = incident();
    stuck.opened_at = minutes_ago(20);
    let decision = Check::of(busy)
        .incident(stuck)
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(20)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert!(decision.refusals.iter().any(|r| r.guard == "not-recovered"));
}

#[test]
fn a_failover_by_rds_within_the_cooldown_holds_a_new_one() {
    let decision = Check::of(db())
        .events(vec![event("RDS-EVENT-0049", "failover", minutes_ago(10))])
        .cue(firing())
        .decide();
    assert_eq!(decision.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&decision).guard, "recent-failover");
}

#[test]
fn a_failover_by_rds_before_the_cooldown_does_not_count() {
    let decision = Check::of(db())
        .events(vec![event("RDS-EVENT-0049", "failover", minutes_ago(31))])
        .cue(firing())
        .decide();
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
                configuration: None,
            }],
            version: 1,
        },
    )])
}

#[test]
fn our_own_failover_within_the_instance_cooldown_holds_a_new_one() {
    let decision = Check::of(db())
        .cue(firing())
        .ledgers(ledger_of(db_instance(&db().id), minutes_ago(20)))
        .decide();
    assert_eq!(only_refusal(&decision).guard, "cooldown");
}

#[test]
fn the_instance_cooldown_is_its_own_not_the_groups() {
    // 31 minutes is past the database's 30 (RDS_COOLDOWN_SECONDS).
    let decision = Check::of(db())
        .cue(firing())
        .ledgers(ledger_of(db_instance(&db().id), minutes_ago(31)))
        .decide();
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn a_late_copy_of_an_alarm_our_last_failover_answered_opens_nothing() {
    let ledgers = ledger_of(db_instance(&db().id), minutes_ago(20));
    let late = Cue::Alarm(alarm(LATENCY, "ALARM", Some(minutes_ago(25))));
    let decision = Check::of(db()).cue(late).ledgers(ledgers.clone()).decide();
    assert_eq!(decision.verdict, Verdict::Healthy);
    let new_episode = Cue::Alarm(alarm(LATENCY, "ALARM", Some(minutes_ago(5))));
    let decision = Check::of(db()).cue(new_episode).ledgers(ledgers).decide();
    assert_eq!(only_refusal(&decision).guard, "cooldown");
}

#[test]
fn past_the_account_budget_a_failover_escalates() {
    let mut tight = config();
    tight.settings.action_budget_per_hour = 1;
    let decision = Check::of(db())
        .cue(firing())
        .ledgers(ledger_of(account_scope(), minutes_ago(5)))
        .policy(tight)
        .decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "budget-exhausted");
}

#[test]
fn never_a_second_failover_while_one_is_in_progress() {
    for outcome in [ActionOutcome::Pending, ActionOutcome::Succeeded] {
        let decision = Check::of(db())
            .cue(firing())
            .incident(with_failover(outcome, minutes_ago(2)))
            .decide();
        assert_eq!(decision.verdict, Verdict::Recovering, "{outcome:?}");
        assert!(decision.actions.is_empty());
    }
}

#[test]
fn dry_run_simulates_one_failover_and_then_holds() {
    let mut dry = config();
    dry.settings.mode = Mode::DryRun;
    let first = Check::of(db()).cue(firing()).policy(dry.clone()).decide();
    assert_eq!(first.verdict, Verdict::Remediate);
    let simulated = with_failover(ActionOutcome::Simulated, minutes_ago(1));
    let again = Check::of(db())
        .cue(firing())
        .incident(simulated.clone())
        .policy(dry)
        .decide();
    assert_eq!(again.verdict, Verdict::Hold);
    assert_eq!(only_refusal(&again).guard, "already-failing-over");
    // The simulated failover is not one taken: enforce acts for real.
    let enforcing = Check::of(db())
        .incident(simulated)
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(2)))])
        .decide();
    assert_eq!(enforcing.verdict, Verdict::Remediate);
}

#[test]
fn the_sweep_retries_while_the_designated_alarm_fires_and_resolves_once_it_is_ok() {
    let retry = Check::of(db())
        .incident(incident())
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(10)))])
        .decide();
    assert_eq!(retry.verdict, Verdict::Remediate);
    let ok = Check::of(db())
        .incident(incident())
        .alarms(vec![alarm(LATENCY, "OK", Some(minutes_ago(1)))])
        .decide();
    assert_eq!(ok.verdict, Verdict::Resolve);
    assert!(ok.summary.contains("recovered without failover"), "{ok:?}");
}

// ---- verified recovery --------------------------------------------------------------

#[test]
fn recovery_is_verified_when_available_with_primary_and_standby_swapped() {
    let mut swapped = db();
    swapped.primary_az = Some("us-east-1b".into());
    swapped.standby_az = Some("us-east-1a".into());
    let decision = Check::of(swapped)
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
        .decide();
    assert_eq!(decision.verdict, Verdict::Resolve);
}

#[test]
fn after_the_failover_recovery_waits_for_the_designated_alarm_to_be_ok_again() {
    let mut swapped = db();
    swapped.primary_az = Some("us-east-1b".into());
    swapped.standby_az = Some("us-east-1a".into());
    let still_firing = Check::of(swapped.clone())
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
        .alarms(vec![alarm(LATENCY, "ALARM", Some(minutes_ago(6)))])
        .decide();
    assert_eq!(
        still_firing.verdict,
        Verdict::Recovering,
        "{still_firing:?}"
    );
    assert!(still_firing
        .waiting_for
        .as_deref()
        .unwrap()
        .contains("still in ALARM"));
    let ok = Check::of(swapped)
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(5)))
        .alarms(vec![alarm(LATENCY, "OK", Some(minutes_ago(1)))])
        .decide();
    assert_eq!(ok.verdict, Verdict::Resolve);
}

#[test]
fn recovery_is_not_declared_while_rebooting_or_before_the_primary_moved() {
    let mut rebooting = db();
    rebooting.status = "rebooting".into();
    for (instance, waiting) in [
        (rebooting, "orders-db is rebooting"),
        (
            db(),
            "the failover has not completed: the primary is still in us-east-1a",
        ),
    ] {
        let decision = Check::of(instance)
            .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(2)))
            .decide();
        assert_eq!(decision.verdict, Verdict::Recovering);
        assert_eq!(decision.waiting_for.as_deref(), Some(waiting));
    }
}

#[test]
fn a_failover_accepted_without_effect_is_settled_by_reading_state() {
    // Past the pending timeout, available, primary where it was: nothing happened.
    let accepted = with_failover(ActionOutcome::Succeeded, minutes_ago(6));
    let recovered = Check::of(db())
        .incident(accepted.clone())
        .alarms(vec![alarm(LATENCY, "OK", Some(minutes_ago(3)))])
        .decide();
    assert_eq!(recovered.verdict, Verdict::Resolve);
    assert!(recovered.summary.contains("recovered without failover"));
    // Still sick: asked once more, without waiting for a cooldown nothing started.
    let sick = vec![alarm(LATENCY, "ALARM", Some(minutes_ago(12)))];
    let retried = Check::of(db())
        .incident(accepted.clone())
        .alarms(sick.clone())
        .ledgers(ledger_of(db_instance(&db().id), minutes_ago(6)))
        .decide();
    assert_eq!(retried.verdict, Verdict::Remediate, "{retried:?}");
    // A second one without effect: a person is needed.
    let mut twice = accepted;
    twice
        .actions
        .push(failover_action(ActionOutcome::Succeeded, minutes_ago(6)));
    let decision = Check::of(db()).incident(twice).alarms(sick).decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "failover-had-no-effect");
}

#[test]
fn a_failover_whose_call_failed_is_not_under_way_and_recovery_still_resolves() {
    let failed = with_failover(ActionOutcome::Failed, minutes_ago(2));
    let decision = Check::of(db())
        .incident(failed)
        .alarms(vec![alarm(LATENCY, "OK", Some(minutes_ago(1)))])
        .decide();
    assert_eq!(decision.verdict, Verdict::Resolve);
}

#[test]
fn a_failover_that_never_completes_escalates_after_the_recovery_timeout() {
    let mut rebooting = db();
    rebooting.status = "rebooting".into();
    let decision = Check::of(rebooting)
        .incident(with_failover(ActionOutcome::Succeeded, minutes_ago(16)))
        .decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "not-recovered");
}

#[test]
fn an_overdue_pending_failover_is_settled_from_what_the_database_did() {
    let kept = DatabaseEvidence {
        before_failover: Some(placement("us-east-1a", "us-east-1b")),
        ..DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"))
    };
    let settle = |action: &Action, instance: &DbInstance| {
        settle_pending(
            action,
            Observation {
                instance,
                cluster: None,
                events: &[],
                alarms: &[],
                kept: Some(&kept),
            },
            &config(),
            now(),
        )
    };
    let action = failover_action(ActionOutcome::Pending, minutes_ago(10));
    let mut swapped = db();
    swapped.primary_az = Some("us-east-1b".into());
    assert_eq!(
        settle(&action, &swapped).unwrap().0,
        ActionOutcome::Succeeded
    );
    assert_eq!(settle(&action, &db()).unwrap().0, ActionOutcome::Failed);
    let recent = failover_action(ActionOutcome::Pending, minutes_ago(1));
    assert_eq!(settle(&recent, &db()), None);
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
    let decision = Check::of(member())
        .cluster(cluster("orders-db"))
        .cue(firing())
        .decide();
    assert_eq!(decision.verdict, Verdict::Remediate);
    assert_eq!(decision.actions[0].kind, FAILOVER_DB_CLUSTER);
    assert_eq!(decision.actions[0].scope.kind, DB_CLUSTER);
    assert_eq!(decision.actions[0].target.id, "orders");
}

#[test]
fn an_alarm_the_cluster_designates_fails_its_writer_over() {
    let mut writer = member();
    writer.tags.remove(FAILOVER_ALARMS_TAG);
    let mut designating = cluster("orders-db");
    designating
        .tags
        .insert(FAILOVER_ALARMS_TAG.into(), LATENCY.into());
    let decision = Check::of(writer)
        .cluster(designating)
        .cue(firing())
        .decide();
    assert_eq!(decision.verdict, Verdict::Remediate);
}

#[test]
fn a_sick_reader_is_escalated_not_failed_over() {
    let decision = Check::of(member())
        .cluster(cluster("orders-db-2"))
        .cue(firing())
        .decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "not-the-writer");
}

#[test]
fn a_cluster_without_a_reader_has_nothing_to_fail_over_to() {
    let mut alone = cluster("orders-db");
    alone.members.truncate(1);
    let decision = Check::of(member()).cluster(alone).cue(firing()).decide();
    assert_eq!(decision.verdict, Verdict::Escalate);
    assert_eq!(only_refusal(&decision).guard, "not-multi-az");
}

#[test]
fn a_cluster_that_is_not_available_or_not_managed_is_not_failed_over() {
    let mut busy = cluster("orders-db");
    busy.status = "modifying".into();
    let decision = Check::of(member()).cluster(busy).cue(firing()).decide();
    assert_eq!(only_refusal(&decision).guard, "not-available");
    let mut unmanaged = cluster("orders-db");
    unmanaged.tags.clear();
    let decision = Check::of(member())
        .cluster(unmanaged)
        .cue(firing())
        .decide();
    assert_eq!(only_refusal(&decision).guard, "not-managed");
}

#[test]
fn a_cluster_failover_is_verified_when_the_writer_changed() {
    let mut ours = incident();
    ours.evidence = crate::domain::Evidence::of(&Evidence {
        database: Some(DatabaseEvidence {
            before_failover: Some(Placement {
                writer: Some("orders-db".into()),
                ..placement("us-east-1a", "us-east-1b")
            }),
            ..DatabaseEvidence::new(placement("us-east-1a", "us-east-1b"))
        }),
    });
    let scope = db_cluster(&DbClusterId::parse("orders").unwrap());
    ours.actions.push(Action {
        kind: FAILOVER_DB_CLUSTER,
        target: scope.clone(),
        scope,
        ..failover_action(ActionOutcome::Succeeded, minutes_ago(3))
    });
    let waiting = Check::of(member())
        .cluster(cluster("orders-db"))
        .incident(ours.clone())
        .decide();
    assert_eq!(waiting.verdict, Verdict::Recovering);
    assert!(
        waiting.native_healing.is_none(),
        "Rebound's own failover: {waiting:?}"
    );
    let done = Check::of(member())
        .cluster(cluster("orders-db-2"))
        .incident(ours)
        .decide();
    assert_eq!(done.verdict, Verdict::Resolve);
}

// ---- a person's "not now" -----------------------------------------------------------

fn db_tagged(tags: &[(&str, &str)]) -> DbInstance {
    let mut instance = db();
    for (key, value) in tags {
        instance.tags.insert((*key).to_owned(), (*value).to_owned());
    }
    instance
}

#[test]
fn a_paused_database_is_suppressed_with_the_pause_and_never_failed_over() {
    let paused = db_tagged(&[
        (crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T12:00:00Z"),
        (crate::pause::PAUSE_REASON_TAG, "engine upgrade"),
    ]);
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    let decision = Check::of(paused).cue(cue).decide();
    assert_eq!(decision.verdict, Verdict::Suppress, "{decision:?}");
    let refusal = only_refusal(&decision);
    assert!(refusal.is("paused"));
    assert!(
        refusal
            .to_string()
            .contains("database orders-db is paused until 2026-11-26 12:00 UTC: engine upgrade"),
        "{refusal}"
    );
}

#[test]
fn a_database_fails_over_once_its_pause_expired_and_waits_out_its_maintenance_window() {
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    let expired = db_tagged(&[(crate::pause::PAUSED_UNTIL_TAG, "2026-11-26T09:00:00Z")]);
    assert_eq!(
        Check::of(expired).cue(cue.clone()).decide().verdict,
        Verdict::Remediate
    );
    // now() is Thursday 10:00 UTC.
    let in_window = db_tagged(&[(crate::pause::MAINTENANCE_WINDOW_TAG, "thu:10:00-thu:11:00")]);
    let decision = Check::of(in_window).cue(cue).decide();
    assert_eq!(decision.verdict, Verdict::Hold, "{decision:?}");
    assert!(only_refusal(&decision).is("maintenance-window"));
}

// ---- approvals: auto, approve, never ------------------------------------------------

fn approving(kind: ActionKind, mode: crate::config::ApprovalMode) -> Policy {
    let mut policy = config();
    policy.settings.approvals.modes = BTreeMap::from([(kind, mode)]);
    policy
}

#[test]
fn a_failover_in_approve_mode_awaits_a_person_and_never_mode_escalates() {
    use crate::config::ApprovalMode::{Approve, Never};
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    let asked = Check::of(db())
        .cue(cue.clone())
        .policy(approving(REBOOT_WITH_FAILOVER, Approve))
        .decide();
    assert_eq!(asked.verdict, Verdict::AwaitApproval, "{asked:?}");
    assert_eq!(asked.actions[0].kind, REBOOT_WITH_FAILOVER);
    assert!(asked.refusals[0].is("approval-required"));
    let refused = Check::of(db())
        .cue(cue)
        .policy(approving(REBOOT_WITH_FAILOVER, Never))
        .decide();
    assert_eq!(refused.verdict, Verdict::Escalate, "{refused:?}");
    let refusal = only_refusal(&refused);
    assert!(refusal.is("approval-never"));
    assert!(
        refusal
            .detail
            .contains("reboot-with-failover orders-db in orders-db"),
        "{refusal}"
    );
}

#[test]
fn a_databases_approval_tag_overrides_the_mode_and_a_bad_one_is_ignored() {
    use crate::config::ApprovalMode::Approve;
    let cue = cue_for("RDS-EVENT-0022", "failure", minutes_ago(1));
    let tagged = db_tagged(&[(
        crate::approval::APPROVAL_TAG,
        "reboot-with-failover=approve",
    )]);
    let decision = Check::of(tagged).cue(cue.clone()).decide();
    assert_eq!(decision.verdict, Verdict::AwaitApproval, "{decision:?}");
    assert!(decision.refusals[0]
        .detail
        .contains("the tag rebound:approval on db-instance orders-db"));
    let auto = db_tagged(&[(crate::approval::APPROVAL_TAG, "auto")]);
    let decision = Check::of(auto)
        .cue(cue.clone())
        .policy(approving(REBOOT_WITH_FAILOVER, Approve))
        .decide();
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
    let bad = db_tagged(&[(crate::approval::APPROVAL_TAG, "reboot-with-failover=yes")]);
    let decision = Check::of(bad).cue(cue).decide();
    assert_eq!(decision.verdict, Verdict::Remediate, "{decision:?}");
}

#[test]
fn a_cluster_failover_reads_the_clusters_approval_tag() {
    let mut tagged = cluster("orders-db");
    tagged
        .tags
        .insert(crate::approval::APPROVAL_TAG.into(), "approve".into());
    let decision = Check::of(member()).cluster(tagged).cue(firing()).decide();
    assert_eq!(decision.verdict, Verdict::AwaitApproval, "{decision:?}");
    assert_eq!(decision.actions[0].kind, FAILOVER_DB_CLUSTER);
}
