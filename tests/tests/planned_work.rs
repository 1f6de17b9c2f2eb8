//! Planned work from AWS Health against the emulator (issue 19 point 4): the real
//! target-health and rds-health handlers with real SDK clients, fed the events the
//! emulator emits in AWS Health's shape. An instance scheduled for retirement is replaced
//! ahead of it once, with every guard (its group's pause, its maintenance window); a
//! database's announced maintenance is recorded on a planned incident, and failed over
//! ahead of it only where a person is asked and approves.

use aws_sdk_rds::Client as RdsClient;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use rebound::config::Mode;
use rebound::domain::{Incident, IncidentState, Verdict};
use rebound::kinds::{database, target_group};
use rebound_tests::sample_event;
use rebound_tests::scenario::{scenario, Scenario};
use rebound_tests::stack::{Database, Managed};
use rebound_tests::{Emulator, Stack};

const RETIREMENT: &str = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED";
const DB_MAINTENANCE: &str = "AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED";

async fn incident_of(s: &Scenario) -> Incident {
    s.incidents()
        .await
        .into_iter()
        .find(|i| i.resource.kind == target_group::TARGET_GROUP)
        .expect("a target group incident")
}

/// A one-hour weekly window (RDS's format) starting `ahead` from now.
fn window_in(ahead: Duration) -> String {
    let at = |t: DateTime<Utc>| {
        let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            [t.weekday().num_days_from_monday() as usize];
        format!("{day}:{:02}:{:02}", t.hour(), t.minute())
    };
    let start = Utc::now() + ahead;
    format!("{}-{}", at(start), at(start + Duration::hours(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_retirement_replaces_its_instance_once_ahead_of_it_and_verifies_the_replacement(
) {
    let s = scenario(Managed::Yes).await;
    let retiring = s.stack.stacks[0].instance_ids[1].clone();
    let event = s
        .emulator
        .health_event("EC2", RETIREMENT, &[&retiring], None);
    let web = s.target_health(Mode::Enforce);

    let report = web.handle(event.clone()).await.unwrap();
    assert_eq!(report.checks.len(), 1, "{report:?}");
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(report.checks[0].actions[0].target.id, retiring);
    let incident = incident_of(&s).await;
    assert_eq!(incident.trigger, format!("health:{RETIREMENT}"));
    let planned = incident.planned.as_ref().expect("a planned incident");
    assert_eq!(planned.event, RETIREMENT);
    assert!(planned.starts_at.is_some());
    assert!(planned.detail.contains(&retiring), "{planned:?}");
    assert!(incident.timeline.iter().any(|t| t.event == "planned"));
    assert_eq!(incident.rto_s, None, "nothing is broken: no objective");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);

    // AWS Health delivers the same announcement again: nothing more is asked.
    web.handle(event).await.unwrap();
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);

    // The group replaces it; the sweep verifies the new instance serves and resolves.
    let resolved = s
        .sweep_until_resolved(&web)
        .await
        .expect("resolved once the replacement serves");
    assert_eq!(resolved.actions.len(), 1, "{:?}", resolved.actions);
    assert!(!s.group_instances().await.contains(&retiring));
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_replacement_waits_for_the_groups_maintenance_window_unless_the_work_comes_first()
{
    let s = scenario(Managed::Yes).await;
    let group = s.stack.stacks[0].auto_scaling_group.clone();
    s.tag_group(
        &group,
        rebound::pause::MAINTENANCE_WINDOW_TAG,
        &window_in(Duration::hours(36)),
    )
    .await;
    let retiring = s.stack.stacks[0].instance_ids[0].clone();
    let web = s.target_health(Mode::Enforce);

    // Retirement in two weeks: the window opens first, so the replacement waits for it.
    let later = Utc::now() + Duration::days(14);
    let report = web
        .handle(
            s.emulator
                .health_event("EC2", RETIREMENT, &[&retiring], Some(later)),
        )
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Hold, "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "waits-for-window");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    let incident = incident_of(&s).await;
    assert_eq!(incident.state, IncidentState::Open);
    assert!(incident.planned.is_some());

    // AWS moves the retirement forward, before the window opens: waiting would let it
    // happen outside any window, so the instance is replaced now.
    let soon = Utc::now() + Duration::hours(6);
    let report = web
        .handle(
            s.emulator
                .health_event("EC2", RETIREMENT, &[&retiring], Some(soon)),
        )
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Remediate, "{report:?}");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 1);
    let incident = incident_of(&s).await;
    assert_eq!(
        incident
            .planned
            .as_ref()
            .and_then(|p| p.starts_at)
            .map(|t| t.timestamp()),
        Some(soon.timestamp()),
        "the latest announcement is the one recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_group_records_its_planned_replacement_and_replaces_nothing() {
    let s = scenario(Managed::Yes).await;
    let group = s.stack.stacks[0].auto_scaling_group.clone();
    let until = (Utc::now() + Duration::hours(2)).to_rfc3339();
    s.tag_group(&group, rebound::pause::PAUSED_UNTIL_TAG, &until)
        .await;
    let retiring = s.stack.stacks[0].instance_ids[2].clone();
    let report = s
        .target_health(Mode::Enforce)
        .handle(
            s.emulator
                .health_event("EC2", RETIREMENT, &[&retiring], None),
        )
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Suppress, "{report:?}");
    assert_eq!(report.checks[0].refusals[0].guard, "paused");
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
    let incident = incident_of(&s).await;
    assert_eq!(incident.state, IncidentState::Suppressed);
    assert!(incident.planned.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_outside_any_managed_group_is_not_touched() {
    let s = scenario(Managed::No).await;
    let retiring = s.stack.stacks[0].instance_ids[0].clone();
    let report = s
        .target_health(Mode::Enforce)
        .handle(
            s.emulator
                .health_event("EC2", RETIREMENT, &[&retiring], None),
        )
        .await
        .unwrap();
    assert!(report.checks.is_empty(), "{report:?}");
    assert!(s.incidents().await.is_empty());
    assert_eq!(s.emulator.calls_of("SetInstanceHealth"), 0);
}

struct DatabaseScenario {
    emulator: Emulator,
    stack: Stack,
    sdk: aws_config::SdkConfig,
}

impl DatabaseScenario {
    async fn new() -> Self {
        Self::provisioned(Managed::Yes).await
    }

    async fn provisioned(managed: Managed) -> Self {
        let emulator = Emulator::start();
        let stack = Stack::provision_database(&emulator, managed, Database::MultiAz);
        let sdk = emulator.sdk_config().await;
        emulator.clear_requests();
        Self {
            emulator,
            stack,
            sdk,
        }
    }

    fn rds_health(&self) -> rebound::aws::RdsHealthFunction {
        rebound::aws::rds_health(&self.stack.rds_health_config(Mode::Enforce), &self.sdk)
    }

    async fn incident(&self) -> Incident {
        use rebound::ports::IncidentStore;
        rebound::aws::incident_store(&self.stack.store_config(), &self.sdk)
            .list(10)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.resource.kind == database::DB_INSTANCE)
            .expect("a database incident")
    }

    async fn tag(&self, key: &str, value: &str) {
        RdsClient::new(&self.sdk)
            .add_tags_to_resource()
            .resource_name(self.stack.db_instance_arn.as_deref().unwrap())
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_databases_announced_maintenance_is_recorded_and_never_failed_over_unasked() {
    let s = DatabaseScenario::new().await;
    let db = s.stack.db().to_owned();
    let report = s
        .rds_health()
        .handle(s.emulator.health_event("RDS", DB_MAINTENANCE, &[&db], None))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Hold, "{report:?}");
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Open);
    assert_eq!(incident.trigger, format!("health:{DB_MAINTENANCE}"));
    assert_eq!(
        incident.planned.as_ref().map(|p| p.event.as_str()),
        Some(DB_MAINTENANCE)
    );
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 0);

    // AWS Health says it is over: the database is available, the incident resolves.
    let closed = s.emulator.control(
        "POST",
        "/_rebound/health-events",
        Some(serde_json::json!({
            "service": "RDS", "event_type_code": DB_MAINTENANCE, "entities": [db],
            "status": "closed",
        })),
    );
    assert_eq!(closed.0, 200, "{}", closed.1);
    s.rds_health()
        .handle(closed.1["event"].clone())
        .await
        .unwrap();
    assert_eq!(s.incident().await.state, IncidentState::Resolved);
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_people_decide_failovers_an_approved_failover_runs_ahead_of_the_maintenance() {
    let s = DatabaseScenario::new().await;
    s.tag(rebound::approval::APPROVAL_TAG, "approve").await;
    let db = s.stack.db().to_owned();
    let event = s.emulator.health_event("RDS", DB_MAINTENANCE, &[&db], None);
    let report = s.rds_health().handle(event).await.unwrap();
    assert_eq!(
        report.checks[0].verdict,
        Verdict::AwaitApproval,
        "{report:?}"
    );
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::AwaitingApproval);
    assert!(incident.planned.is_some());
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 0);

    let store = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk);
    rebound::by_hand::decide_approval(
        &store,
        &incident.id,
        true,
        "arn:aws:iam::123456789012:user/ana",
        None,
    )
    .await
    .unwrap();
    // The next check reads the database again and runs every guard before acting.
    s.rds_health()
        .handle(sample_event("rds-health/scheduled-sweep.json"))
        .await
        .unwrap();
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 1);
    let incident = s.incident().await;
    assert_eq!(incident.state, IncidentState::Remediating);
    assert!(incident
        .actions
        .iter()
        .any(|a| a.kind == database::REBOOT_WITH_FAILOVER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_announced_on_a_database_rebound_does_not_manage_opens_nothing() {
    let s = DatabaseScenario::provisioned(Managed::No).await;
    let db = s.stack.db().to_owned();
    let report = s
        .rds_health()
        .handle(s.emulator.health_event("RDS", DB_MAINTENANCE, &[&db], None))
        .await
        .unwrap();
    assert_eq!(report.checks[0].verdict, Verdict::Healthy, "{report:?}");
    use rebound::ports::IncidentStore;
    let incidents = rebound::aws::incident_store(&s.stack.store_config(), &s.sdk)
        .list(10)
        .await
        .unwrap();
    assert!(incidents.is_empty(), "{incidents:?}");
    assert_eq!(s.emulator.calls_of("RebootDBInstance"), 0);
}
