//! Tags and clocks, through the whole decision of every kind (issue 17, point 7): whatever
//! the tags Rebound reads hold (`rebound:managed`, `rebound:rto-seconds`,
//! `rebound:depends-on`, `rebound:failover-alarms`,
//! `rebound:suspended-replace-unhealthy`: huge numbers, negatives, unicode, blanks, very
//! long lists with odd separators), and whatever the clock reads (chrono's first and last
//! instants, a check before the incident it reads was opened, ledger entries, alarms, RDS
//! events, zonal shifts and event times at any instant), every delivery and sweep answers
//! with a report or a clear error, never a panic; and every incident is held to the
//! recovery objective its tags set when that is within 60 s..=7 days, to the kind's
//! default otherwise.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;

use super::json::{interesting_string, samples};
use super::world::{instance, now as sample_time, target_group as sample_target_group, TAG_KEY};
use super::{block_on, config, enough_cases_for_coverage_checks};
use crate::config::{Mode, Settings};
use crate::domain::{account_scope, Ledger, LedgerEntry, ResourceRef, ResourceType};
use crate::error::Error;
use crate::fakes::{FakeDatabases, FakeFleet, MemoryStore};
use crate::ids::{
    AutoScalingGroupName, AvailabilityZone, DbClusterId, DbInstanceId, IncidentId, LoadBalancerArn,
};
use crate::kind::Kind;
use crate::kinds::database::observation::{
    ClusterMember, DbCluster, DbInstance, RdsEvent, FAILOVER_ALARMS_TAG,
};
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState, DEPENDS_ON_TAG_KEY, REPLACE_UNHEALTHY,
    SUSPENDED_BY_TAG_KEY,
};
use crate::kinds::zone::observation::{LoadBalancer, ShiftType};
use crate::kinds::{database, target_group, zone};
use crate::policy::{earlier, later, RTO_TAG};
use crate::shell::{Function, Report};

// The clock.

thread_local! {
    /// What the handlers' clock reads: set before each delivery. [`block_on`] runs the
    /// handler on this thread.
    static NOW: Cell<DateTime<Utc>> = const { Cell::new(DateTime::<Utc>::UNIX_EPOCH) };
}

fn clock() -> DateTime<Utc> {
    NOW.with(Cell::get)
}

fn date(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Any instant: mostly within weeks of the sample events, where recovery objectives,
/// cooldowns and settle times fall due; often at or near the ends of chrono's range,
/// where any unchecked `+` or `-` overflows; sometimes anywhere in between.
fn instant() -> BoxedStrategy<DateTime<Utc>> {
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    prop_oneof![
        6 => (-40 * 86_400i64..=40 * 86_400).prop_map(|s| later(sample_time(), Duration::seconds(s))),
        1 => Just(min),
        1 => Just(max),
        1 => (0i64..=10 * 86_400).prop_map(move |s| later(min, Duration::seconds(s))),
        1 => (0i64..=10 * 86_400).prop_map(move |s| earlier(max, Duration::seconds(s))),
        1 => (min.timestamp()..=max.timestamp())
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)),
        1 => prop::sample::select(vec![
            DateTime::<Utc>::UNIX_EPOCH,
            date(0, 1, 1, 0, 0, 0),
            date(9999, 12, 31, 23, 59, 59),
            date(10_000, 1, 1, 0, 0, 0),
            date(-1, 12, 31, 23, 59, 59),
        ]),
    ]
        .boxed()
}

/// How the clock moves between two deliveries: on by up to a week and a half (or back a
/// little, as two machines' clocks disagree), or anywhere at all.
#[derive(Debug, Clone, Copy)]
enum Tick {
    By(i64),
    To(DateTime<Utc>),
}

impl Tick {
    fn from(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::By(s) => later(now, Duration::seconds(s)),
            Self::To(at) => at,
        }
    }
}

fn tick() -> BoxedStrategy<Tick> {
    prop_oneof![
        4 => (-600i64..=10 * 86_400).prop_map(Tick::By),
        1 => instant().prop_map(Tick::To),
    ]
    .boxed()
}

// Tag values.

/// Text a tag may hold: numbers of every size and sign, blanks, unicode, very long
/// values, lists with any separator.
fn tag_value() -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        3 => prop::sample::select(vec![
            "", " ", "\t\n", "\u{a0}", "\u{3000}", "true", "TRUE", "True", " true", "true ",
            "false", "yes", "1", "0", "-0", "-1", "+1", "null", "NaN", "inf", "1e3", "0x3c",
            "60s", "60.0", "1_000", "10 000", "٦٠٠", "６００", "18446744073709551616",
            "99999999999999999", "99999999999999999999999999999", "-9223372036854775809",
            "*", "**", "prefix:", "prefix:*", ",", ",,,", " , ", "a,b,,c", "a b\tc\nd", ";|/",
            "rebound-demo-db", "arn:aws:rds:us-east-1:123456789012:db:rebound-demo-db",
            "inc-earlier", "inc-20261126T101500Z-3f9a1c2b", "\u{0}", "\u{202e}rtl", "💥",
            "e\u{301}", "\u{fffd}",
        ])
        .prop_map(str::to_owned),
        2 => interesting_string(),
        1 => (1usize..3_000).prop_map(|n| "9".repeat(n)),
        1 => (1usize..500).prop_map(|n| "a,".repeat(n)),
        1 => prop::collection::vec(any::<char>(), 256..2_000).prop_map(|c| c.into_iter().collect()),
    ]
    .boxed()
}

/// `rebound:rto-seconds`: around the documented range's ends (60 and 604,800) and far
/// beyond, in every spelling.
fn rto_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0u64..=2 * 604_800).prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            0, 1, 59, 60, 61, 900, 604_799, 604_800, 604_801, 99_999_999_999_999_999,
            9_223_372_036_854_775, 9_223_372_036_854_775_807, u64::MAX,
        ])
        .prop_map(|n: u64| n.to_string()),
        1 => (0u64..=700_000).prop_map(|n| format!(" {n}\t")),
        1 => (0u64..=700_000).prop_map(|n| format!("-{n}")),
        2 => tag_value(),
    ]
    .boxed()
}

/// A list of alarm names as `rebound:failover-alarms` may spell it, with any separators,
/// prefixes (empty ones too) and up to far more entries than are kept.
fn alarm_list() -> BoxedStrategy<String> {
    let entry = prop_oneof![
        3 => prop::sample::select(vec![
            "rebound-demo-db-read-latency", "rebound-demo-db-*", "prefix:rebound-demo-db-",
            "rebound-demo-*", "*", "prefix:", "", "rebound-demo-web-high-cpu", "💥*",
            "REBOUND-DEMO-DB-READ-LATENCY", "rebound-demo-db-read-latency*",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z*:-]{0,12}",
    ];
    let separator = prop::sample::select(vec![
        ",", " ", ", ", ",,", "\t", "\n", ";", "|", "\u{3000}", "\u{a0}", "",
    ]);
    prop::collection::vec((entry, separator), 0..80)
        .prop_map(|entries| {
            entries
                .into_iter()
                .map(|(entry, separator)| format!("{entry}{separator}"))
                .collect()
        })
        .boxed()
}

/// `rebound:depends-on`: the sample database, spelt well or not, or anything.
fn depends_on() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "rebound-demo-db", " rebound-demo-db\t", "rebound-demo-db\u{a0}", "REBOUND-DEMO-DB",
            "rebound-demo-db,rebound-demo-db-2", "rebound-demo-db rebound-demo-db-2",
            "arn:aws:rds:us-east-1:123456789012:db:rebound-demo-db", "rebound-demo-cluster",
            "-", "a--b", "1db",
        ])
        .prop_map(str::to_owned),
        1 => (1usize..200).prop_map(|n| "d".repeat(n)),
        2 => tag_value(),
    ]
    .boxed()
}

/// `rebound:suspended-replace-unhealthy`: an incident's id, or anything.
fn suspended_by() -> BoxedStrategy<String> {
    prop_oneof![
        1 => prop::sample::select(vec!["inc-earlier", "inc-20261126T101500Z-3f9a1c2b", ""])
            .prop_map(str::to_owned),
        2 => tag_value(),
    ]
    .boxed()
}

/// The pause's tags (named here as text: the property drives them wherever a kind reads
/// them): `rebound:paused-until` an instant, well written or not, at any time;
/// `rebound:maintenance-window` a weekly window or anything; `rebound:approval` a mode,
/// well written or not.
fn pause_tags() -> Vec<(&'static str, BoxedStrategy<String>)> {
    let until = prop_oneof![
        2 => instant().prop_map(|at| at.to_rfc3339()),
        1 => instant().prop_map(|at| at.format("%Y-%m-%d %H:%M").to_string()),
        1 => tag_value(),
    ];
    let window = prop_oneof![
        2 => prop::sample::select(vec![
            "sun:02:00-sun:04:00", "thu:09:30-thu:10:30", "sun:23:00-mon:01:00",
            "mon:00:00-sun:23:59", "mon:00:00-mon:00:00", "THU:09:00-thu:11:00",
            "thu:24:00-fri:00:00", "thu:9:00-thu:10:00", "-", "::-::",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z]{3}:[0-9]{2}:[0-9]{2}-[a-z]{3}:[0-9]{2}:[0-9]{2}",
        1 => tag_value(),
    ];
    let approval = prop_oneof![
        2 => prop::sample::select(vec![
            "approve", "never", "auto", "reboot-with-failover=approve",
            "set-instance-health=never start-zonal-shift=approve", "approve terminate-instance=auto",
            "aprove", "approve never", "=", "set-instance-health=",
        ])
        .prop_map(str::to_owned),
        1 => tag_value(),
    ];
    vec![
        ("rebound:paused-until", until.boxed()),
        ("rebound:approval", approval.boxed()),
        ("rebound:paused-by", tag_value()),
        ("rebound:pause-reason", tag_value()),
        ("rebound:maintenance-window", window.boxed()),
    ]
}

fn managed() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(Some("true".to_owned())),
        2 => tag_value().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// One resource's tags: the managed tag, the recovery objective, the resource's
/// `others` (each `(key, value strategy)`) and, less often, the pause's; each present or
/// not.
fn tags(
    others: Vec<(&'static str, BoxedStrategy<String>)>,
) -> BoxedStrategy<BTreeMap<String, String>> {
    let present = |weight: f64| {
        move |(key, value): (&'static str, BoxedStrategy<String>)| {
            prop::option::weighted(weight, value).prop_map(move |v| (key, v))
        }
    };
    let others: Vec<_> = others
        .into_iter()
        .map(present(0.6))
        .chain(pause_tags().into_iter().map(present(0.1)))
        .collect();
    (managed(), prop::option::weighted(0.7, rto_value()), others)
        .prop_map(|(managed, rto, others)| {
            let mut tags = BTreeMap::new();
            let entries = [(TAG_KEY, managed), (RTO_TAG, rto)]
                .into_iter()
                .chain(others);
            for (key, value) in entries {
                if let Some(value) = value {
                    tags.insert(key.to_owned(), value);
                }
            }
            tags
        })
        .boxed()
}

// Deliveries.

/// One delivery: when, which of the function's sample events (or its schedule), and
/// the time the event itself says it happened, when moved.
#[derive(Debug, Clone)]
struct Step {
    tick: Tick,
    sweep: bool,
    event: Index,
    said_at: Option<DateTime<Utc>>,
}

fn steps() -> BoxedStrategy<Vec<Step>> {
    let step = (
        tick(),
        prop::bool::weighted(0.35),
        any::<Index>(),
        prop::option::weighted(0.3, instant()),
    )
        .prop_map(|(tick, sweep, event, said_at)| Step {
            tick,
            sweep,
            event,
            said_at,
        });
    prop::collection::vec(step, 1..6).boxed()
}

/// The sample events of a function, and its schedule.
struct Events {
    all: Vec<Value>,
    sweep: Value,
}

impl Events {
    fn of(function: &str) -> Self {
        let all = samples(function);
        let sweep = all
            .iter()
            .find(|e| e["detail-type"] == "Scheduled Event")
            .cloned()
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            .expect("every function ships a scheduled-sweep sample");
        Self { all, sweep }
    }

    fn pick(&self, step: &Step) -> Value {
        let mut event = if step.sweep {
            self.sweep.clone()
        } else {
            step.event.get(&self.all).clone()
        };
        if let Some(at) = step.said_at {
            let text = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            for pointer in ["/time", "/detail/Date", "/detail/state/timestamp"] {
                if let Some(field) = event.pointer_mut(pointer) {
                    *field = Value::String(text.clone());
                }
            }
        }
        event
    }
}

/// Runs the steps through the handler, the clock moving from the sample events' time.
fn drive<K: Kind>(
    handler: &mut Function<K, MemoryStore>,
    events: &Events,
    steps: &[Step],
) -> Vec<Result<Report, Error>> {
    handler.clock = clock;
    block_on(async {
        let mut now = sample_time();
        let mut answers = Vec::new();
        for step in steps {
            now = step.tick.from(now);
            NOW.with(|c| c.set(now));
            answers.push(handler.handle(events.pick(step)).await);
        }
        answers
    })
}

/// A report, or an error that says what failed. Sequential deliveries never lose a
/// race, and the store always reads back what it wrote.
fn clear(answers: &[Result<Report, Error>]) -> Result<(), TestCaseError> {
    for answer in answers {
        match answer {
            Ok(report) => {
                for failure in &report.failures {
                    prop_assert!(!failure.error.trim().is_empty(), "{:?}", failure);
                }
            }
            Err(err) => {
                prop_assert!(
                    matches!(err, Error::InvalidEvent(_) | Error::Aws { .. }),
                    "{:?}",
                    err
                );
                prop_assert!(!err.to_string().trim().is_empty(), "{:?}", err);
            }
        }
    }
    Ok(())
}

/// Ledger entries at any instant.
fn ledger_times() -> BoxedStrategy<Vec<DateTime<Utc>>> {
    prop::collection::vec(instant(), 0..4).boxed()
}

fn set_ledger(store: &MemoryStore, scope: ResourceRef, times: &[DateTime<Utc>]) {
    let mut entries: Vec<LedgerEntry> = times
        .iter()
        .enumerate()
        .map(|(n, at)| LedgerEntry {
            at: *at,
            target: instance(n).to_string(),
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            incident: IncidentId::parse("inc-earlier").expect("a valid incident id"),
            configuration: None,
        })
        .collect();
    entries.sort_by_key(|e| e.at);
    store.set_ledger(
        &scope,
        Ledger {
            entries,
            version: 0,
        },
    );
}

// Recovery objectives.

/// What the documented range accepts: whole seconds from a minute to seven days.
fn objective_in(tags: &BTreeMap<String, String>) -> Option<u64> {
    let seconds = tags.get(RTO_TAG)?.trim().parse::<u64>().ok()?;
    (60..=7 * 86_400).contains(&seconds).then_some(seconds)
}

/// How often an incident was held to a tag's objective, to the default while an
/// objective tag was set out of range, and opened by a clock centuries off: each must
/// happen for the property to say much.
#[derive(Default)]
struct Objectives {
    from_tags: AtomicUsize,
    ignored: AtomicUsize,
    far_off: AtomicUsize,
}

impl Objectives {
    /// Every incident of `kind` in the store holds `expected`: the tags' objective, or
    /// the default when none is in range.
    fn check(
        &self,
        store: &MemoryStore,
        kind: ResourceType,
        tags: &[&BTreeMap<String, String>],
        by_tags: Option<u64>,
        default: std::time::Duration,
    ) -> Result<(), TestCaseError> {
        let expected = by_tags.unwrap_or(default.as_secs());
        for incident in store.incidents().iter().filter(|i| i.resource.kind == kind) {
            prop_assert_eq!(
                incident.rto_s,
                Some(expected),
                "{} with tags {:?}",
                incident.id,
                tags
            );
            if !(1900..=2200).contains(&incident.opened_at.year()) {
                self.far_off.fetch_add(1, Ordering::Relaxed);
            }
            if by_tags.is_some() {
                self.from_tags.fetch_add(1, Ordering::Relaxed);
            } else if tags.iter().any(|t| t.contains_key(RTO_TAG)) {
                self.ignored.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn assert_covered(&self, what: &str) {
        assert!(
            self.from_tags.load(Ordering::Relaxed) > 0,
            "{what}: no incident held to a tag's objective"
        );
        assert!(
            self.ignored.load(Ordering::Relaxed) > 0,
            "{what}: no incident with an out-of-range objective tag"
        );
        assert!(
            self.far_off.load(Ordering::Relaxed) > 0,
            "{what}: no incident opened by a clock near chrono's limits"
        );
    }
}

fn enforce() -> Settings {
    Settings {
        mode: Mode::Enforce,
        ..Settings::default()
    }
}

/// Runs `property` over `strategy` with the module's runner, and checks that the
/// objectives were seen both ways when enough cases ran.
fn run<S: Strategy>(
    what: &str,
    strategy: S,
    property: impl Fn(S::Value, &Objectives) -> Result<(), TestCaseError>,
) {
    let config = config();
    let check_coverage = enough_cases_for_coverage_checks(&config);
    let objectives = Objectives::default();
    TestRunner::new(config)
        .run(&strategy, |value| property(value, &objectives))
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
    if check_coverage {
        objectives.assert_covered(what);
    }
}

// rds-health.

const DB: &str = "rebound-demo-db";
const CLUSTER: &str = "rebound-demo-cluster";
const DB_ALARM: &str = "rebound-demo-db-read-latency";

#[derive(Debug, Clone)]
struct DatabaseWorld {
    tags: BTreeMap<String, String>,
    multi_az: bool,
    status: &'static str,
    /// The instance is a member of the sample cluster, with these tags.
    cluster: Option<BTreeMap<String, String>>,
    /// The sample alarm's state, and since when.
    alarm: Option<(&'static str, DateTime<Utc>)>,
    /// RDS events DescribeEvents returns: category, when, and whether about the
    /// cluster.
    events: Vec<(&'static str, DateTime<Utc>, bool)>,
    ledger: Vec<DateTime<Utc>>,
}

fn database_world() -> BoxedStrategy<DatabaseWorld> {
    let db_tags = || tags(vec![(FAILOVER_ALARMS_TAG, alarm_list().boxed())]);
    (
        db_tags(),
        prop::bool::weighted(0.8),
        prop::sample::select(vec!["available", "available", "rebooting", "storage-full"]),
        prop::option::weighted(0.3, db_tags()),
        prop::option::weighted(
            0.8,
            (
                prop::sample::select(vec!["ALARM", "OK", "INSUFFICIENT_DATA"]),
                instant(),
            ),
        ),
        prop::collection::vec(
            (
                prop::sample::select(vec!["failover", "availability", "failure", "notification"]),
                instant(),
                any::<bool>(),
            ),
            0..4,
        ),
        ledger_times(),
    )
        .prop_map(
            |(tags, multi_az, status, cluster, alarm, events, ledger)| DatabaseWorld {
                tags,
                multi_az,
                status,
                cluster,
                alarm,
                events,
                ledger,
            },
        )
        .boxed()
}

fn db_id() -> DbInstanceId {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    DbInstanceId::parse(DB).expect("a valid DB instance id")
}

fn cluster_id() -> DbClusterId {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    DbClusterId::parse(CLUSTER).expect("a valid DB cluster id")
}

impl DatabaseWorld {
    fn fakes(&self, store: &MemoryStore) -> FakeDatabases {
        let rds = FakeDatabases::default();
        rds.add_instance(DbInstance {
            id: db_id(),
            status: self.status.into(),
            multi_az: self.multi_az,
            primary_az: Some("us-east-1a".into()),
            standby_az: self.multi_az.then(|| "us-east-1b".into()),
            tags: self.tags.clone(),
            cluster: self.cluster.as_ref().map(|_| cluster_id()),
        });
        if let Some(tags) = &self.cluster {
            rds.add_cluster(DbCluster {
                id: cluster_id(),
                status: "available".into(),
                tags: tags.clone(),
                members: vec![ClusterMember {
                    instance: db_id(),
                    writer: true,
                }],
            });
        }
        if let Some((state, since)) = self.alarm {
            rds.set_alarm(DB_ALARM, state, since);
        }
        for (category, at, about_cluster) in &self.events {
            rds.add_event(RdsEvent {
                id: None,
                categories: vec![(*category).to_owned()],
                message: format!("an RDS event ({category})"),
                at: *at,
                cluster: (*about_cluster && self.cluster.is_some()).then(cluster_id),
            });
        }
        let scope = match &self.cluster {
            Some(_) => database::db_cluster(&cluster_id()),
            None => database::db_instance(&db_id()),
        };
        set_ledger(store, scope, &self.ledger);
        set_ledger(store, account_scope(), &self.ledger);
        rds
    }

    fn handler(&self, rds: &FakeDatabases, store: &MemoryStore) -> crate::fakes::RdsHealthFunction {
        crate::fakes::rds_health(
            rds,
            store,
            database::Policy {
                settings: enforce(),
                ..database::Policy::default()
            },
        )
    }

    /// The instance's objective, else its cluster's.
    fn objective(&self) -> Option<u64> {
        objective_in(&self.tags).or_else(|| self.cluster.as_ref().and_then(objective_in))
    }

    fn all_tags(&self) -> Vec<&BTreeMap<String, String>> {
        std::iter::once(&self.tags).chain(&self.cluster).collect()
    }
}

#[test]
fn rds_health_answers_any_tags_at_any_time_and_holds_incidents_to_an_objective_in_range() {
    let events = Events::of(database::FUNCTION);
    run(
        "rds-health",
        (database_world(), steps()),
        |(world, steps), objectives| {
            let store = MemoryStore::default();
            let rds = world.fakes(&store);
            let mut handler = world.handler(&rds, &store);
            clear(&drive(&mut handler, &events, &steps))?;
            objectives.check(
                &store,
                database::DB_INSTANCE,
                &world.all_tags(),
                world.objective(),
                database::Policy::default().rto,
            )
        },
    );
}

// target-health.

const GROUPS: usize = 2;
const INSTANCES: usize = 4;

#[derive(Debug, Clone)]
struct GroupWorld {
    tags: BTreeMap<String, String>,
    /// `ELB` health checks: a hold suspends ReplaceUnhealthy.
    elb: bool,
    replace_unhealthy_suspended: bool,
    grace_s: u32,
}

#[derive(Debug, Clone)]
struct TargetGroupWorld {
    groups: Vec<GroupWorld>,
    failing: usize,
    ledgers: Vec<Vec<DateTime<Utc>>>,
    /// The database the groups may depend on, and the deliveries rds-health had before
    /// the target group's (its incident may open in their future).
    database: Option<(DatabaseWorld, Vec<Step>)>,
}

fn group_world() -> BoxedStrategy<GroupWorld> {
    (
        tags(vec![
            (DEPENDS_ON_TAG_KEY, depends_on().boxed()),
            (SUSPENDED_BY_TAG_KEY, suspended_by().boxed()),
        ]),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop_oneof![3 => Just(0u32), 1 => any::<u32>()],
    )
        .prop_map(
            |(tags, elb, replace_unhealthy_suspended, grace_s)| GroupWorld {
                tags,
                elb,
                replace_unhealthy_suspended,
                grace_s,
            },
        )
        .boxed()
}

fn target_group_world() -> BoxedStrategy<TargetGroupWorld> {
    (
        prop::collection::vec(group_world(), 1..=GROUPS),
        1..=INSTANCES,
        prop::collection::vec(ledger_times(), GROUPS + 1),
        prop::option::weighted(0.5, (database_world(), steps())),
    )
        .prop_map(|(groups, failing, ledgers, database)| TargetGroupWorld {
            groups,
            failing,
            ledgers,
            database,
        })
        .boxed()
}

fn group_name(g: usize) -> AutoScalingGroupName {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    AutoScalingGroupName::parse(format!("rebound-demo-web-asg-{g}")).expect("a valid group name")
}

impl TargetGroupWorld {
    fn fleet(&self, store: &MemoryStore) -> FakeFleet {
        let fleet = FakeFleet::default();
        let targets = (0..INSTANCES)
            .map(|n| TargetHealth {
                instance_id: instance(n),
                port: Some(80),
                state: if n < self.failing {
                    TargetState::Unhealthy
                } else {
                    TargetState::Healthy
                },
                reason: (n < self.failing).then(|| "Target.FailedHealthChecks".to_owned()),
                description: None,
            })
            .collect();
        fleet.set_targets(&sample_target_group(), targets);
        for (g, group) in self.groups.iter().enumerate() {
            fleet.add_group(ScalingGroup {
                name: group_name(g),
                tags: group.tags.clone(),
                suspended_processes: if group.replace_unhealthy_suspended {
                    vec![REPLACE_UNHEALTHY.into()]
                } else {
                    vec![]
                },
                instances: (0..INSTANCES)
                    .filter(|n| n % self.groups.len() == g)
                    .map(|n| GroupInstance {
                        instance_id: instance(n),
                        lifecycle_state: "InService".into(),
                        health_status: "Healthy".into(),
                        availability_zone: None,
                    })
                    .collect(),
                target_group_arns: vec![sample_target_group()],
                instance_refresh_in_progress: false,
                desired_capacity: 4,
                health_check_grace_period_s: group.grace_s,
                launch_template: Some("lt-0abc version 7".into()),
                arn: None,
                max_size: 100,
                zonal_shift_enabled: false,
                health_check_type: if group.elb { "ELB" } else { "EC2" }.into(),
            });
        }
        let scopes = (0..self.groups.len())
            .map(|g| target_group::auto_scaling_group(&group_name(g)))
            .chain([account_scope()]);
        for (scope, times) in scopes.zip(&self.ledgers) {
            set_ledger(store, scope, times);
        }
        fleet
    }

    /// The strictest objective of the groups behind the target group.
    fn objective(&self) -> Option<u64> {
        self.groups
            .iter()
            .filter_map(|g| objective_in(&g.tags))
            .min()
    }

    fn all_tags(&self) -> Vec<&BTreeMap<String, String>> {
        self.groups.iter().map(|g| &g.tags).collect()
    }
}

#[test]
fn target_health_answers_any_tags_at_any_time_and_holds_incidents_to_an_objective_in_range() {
    let events = Events::of(target_group::FUNCTION);
    let database_events = Events::of(database::FUNCTION);
    run(
        "target-health",
        (target_group_world(), steps()),
        |(world, steps), objectives| {
            let store = MemoryStore::default();
            // The database the groups may depend on, its incident in the same store.
            if let Some((database, database_steps)) = &world.database {
                let rds = database.fakes(&store);
                let mut handler = database.handler(&rds, &store);
                clear(&drive(&mut handler, &database_events, database_steps))?;
            }
            let fleet = world.fleet(&store);
            let mut handler = crate::fakes::target_health(
                &fleet,
                &store,
                target_group::Policy {
                    settings: enforce(),
                    ..target_group::Policy::default()
                },
            );
            clear(&drive(&mut handler, &events, &steps))?;
            objectives.check(
                &store,
                target_group::TARGET_GROUP,
                &world.all_tags(),
                world.objective(),
                target_group::Policy::default().rto,
            )
        },
    );
}

// zone-health.

const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/rebound-demo-alb/50dc6c495c0c9188";
const ZONE_GROUP_ARN: &str = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/rebound-demo-web-asg";

#[derive(Debug, Clone)]
struct ZoneWorld {
    balancer: BTreeMap<String, String>,
    group: BTreeMap<String, String>,
    /// Targets failing in us-east-1b, and in us-east-1a.
    failing: (usize, usize),
    /// A shift someone else started: its kind, on the load balancer or the group, away
    /// from us-east-1b or not, and when it expires.
    shift: Option<(ShiftType, bool, bool, Option<DateTime<Utc>>)>,
    ledgers: Vec<Vec<DateTime<Utc>>>,
}

fn zone_world() -> BoxedStrategy<ZoneWorld> {
    let shift_type = prop::sample::select(vec![
        ShiftType::ZonalShift,
        ShiftType::PracticeRun,
        ShiftType::FisExperiment,
        ShiftType::ZonalAutoshift,
    ]);
    (
        tags(vec![]),
        tags(vec![]),
        (0usize..=2, prop_oneof![3 => Just(0usize), 1 => 0usize..=2]),
        prop::option::weighted(
            0.3,
            (
                shift_type,
                any::<bool>(),
                any::<bool>(),
                prop::option::of(instant()),
            ),
        ),
        prop::collection::vec(ledger_times(), 4),
    )
        .prop_map(|(balancer, group, failing, shift, ledgers)| ZoneWorld {
            balancer,
            group,
            failing,
            shift,
            ledgers,
        })
        .boxed()
}

fn zone(name: &str) -> AvailabilityZone {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    AvailabilityZone::parse(name).expect("a valid zone")
}

fn lb() -> LoadBalancerArn {
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    LoadBalancerArn::parse(LB).expect("a valid load balancer ARN")
}

impl ZoneWorld {
    /// Four instances, two per zone, behind the sample target group.
    fn fleet(&self, store: &MemoryStore) -> FakeFleet {
        let fleet = FakeFleet::default();
        let zone_of = |n: usize| zone(if n < 2 { "us-east-1a" } else { "us-east-1b" });
        let failing = |n: usize| {
            if n < 2 {
                n < self.failing.1
            } else {
                n - 2 < self.failing.0
            }
        };
        fleet.add_group(ScalingGroup {
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            name: AutoScalingGroupName::parse("rebound-demo-web-asg").expect("a valid name"),
            tags: self.group.clone(),
            suspended_processes: vec![],
            instances: (0..INSTANCES)
                .map(|n| GroupInstance {
                    instance_id: instance(n),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                    availability_zone: Some(zone_of(n)),
                })
                .collect(),
            target_group_arns: vec![sample_target_group()],
            instance_refresh_in_progress: false,
            desired_capacity: 4,
            health_check_grace_period_s: 0,
            launch_template: None,
            arn: Some(ZONE_GROUP_ARN.into()),
            max_size: 8,
            zonal_shift_enabled: true,
            health_check_type: "EC2".into(),
        });
        fleet.add_load_balancer(LoadBalancer {
            arn: lb(),
            tags: self.balancer.clone(),
            zonal_shift_enabled: true,
            zones: vec![zone("us-east-1a"), zone("us-east-1b")],
            target_groups: vec![sample_target_group()],
        });
        fleet.set_targets(
            &sample_target_group(),
            (0..INSTANCES)
                .map(|n| TargetHealth {
                    instance_id: instance(n),
                    port: Some(80),
                    state: if failing(n) {
                        TargetState::Unhealthy
                    } else {
                        TargetState::Healthy
                    },
                    reason: failing(n).then(|| "Target.Timeout".to_owned()),
                    description: None,
                })
                .collect(),
        );
        if let Some((shift_type, on_balancer, away_from_b, expires_at)) = &self.shift {
            let resource = if *on_balancer { LB } else { ZONE_GROUP_ARN };
            let away = zone(if *away_from_b {
                "us-east-1b"
            } else {
                "us-east-1a"
            });
            let id = fleet.shift_by_others(resource, &away, shift_type.clone(), "by others");
            if let Some(at) = expires_at {
                fleet.set_shift_expiry(&id, *at);
            }
        }
        let scopes = [
            zone::load_balancer(&lb()),
            zone::zone_ref(&lb(), &zone("us-east-1b")),
            target_group::auto_scaling_group(
                &AutoScalingGroupName::parse("rebound-demo-web-asg")
                    // allow: property test (the module is cfg(test)): a panic is how a case fails
                    .expect("a valid name"),
            ),
            account_scope(),
        ];
        for (scope, times) in scopes.into_iter().zip(&self.ledgers) {
            set_ledger(store, scope, times);
        }
        fleet
    }

    /// The strictest objective of the load balancer and the group behind it.
    fn objective(&self) -> Option<u64> {
        [&self.balancer, &self.group]
            .into_iter()
            .filter_map(objective_in)
            .min()
    }
}

#[test]
fn zone_health_answers_any_tags_at_any_time_and_holds_incidents_to_an_objective_in_range() {
    let events = Events::of(zone::FUNCTION);
    run(
        "zone-health",
        (zone_world(), steps()),
        |(world, steps), objectives| {
            let store = MemoryStore::default();
            let fleet = world.fleet(&store);
            let mut handler = crate::fakes::zone_health(
                &fleet,
                &store,
                zone::Policy {
                    settings: enforce(),
                    ..zone::Policy::default()
                },
            );
            clear(&drive(&mut handler, &events, &steps))?;
            objectives.check(
                &store,
                zone::AVAILABILITY_ZONE,
                &[&world.balancer, &world.group],
                world.objective(),
                zone::Policy::default().rto,
            )
        },
    );
}
