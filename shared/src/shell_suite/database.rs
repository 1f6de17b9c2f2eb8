//! The shell suite for rds-health: the sample Multi-AZ instance, managed, designates its
//! read-latency alarm for a failover (`rebound:failover-alarms`), and that alarm is in
//! ALARM; its delivery (or the sweep reading the alarm's state) fails it over.

use std::collections::BTreeMap;

use chrono::Utc;

use super::{throttled, KindUnderTest};
use crate::config::{Mode, Settings};
use crate::domain::ResourceRef;
use crate::fakes::{FakeDatabases, MemoryStore};
use crate::ids::DbInstanceId;
use crate::kinds::database::observation::{DbInstance, FAILOVER_ALARMS_TAG};
use crate::kinds::database::{self, db_instance, DbInstances, Policy};
use crate::shell::Function;

/// The instance and the alarm the sample events name.
const DB: &str = "rebound-demo-db";
const ALARM: &str = "rebound-demo-db-read-latency";
const SECOND_DB: &str = "rebound-demo-db-2";

/// A managed Multi-AZ instance, available, designating `alarm` for a failover.
fn instance(id: &str, alarm: &str) -> DbInstance {
    DbInstance {
        id: DbInstanceId::parse(id).unwrap(),
        status: "available".into(),
        multi_az: true,
        primary_az: Some("us-east-1a".into()),
        standby_az: Some("us-east-1b".into()),
        tags: BTreeMap::from([
            ("rebound:managed".to_owned(), "true".to_owned()),
            (FAILOVER_ALARMS_TAG.to_owned(), alarm.to_owned()),
        ]),
        cluster: None,
    }
}

pub(crate) struct World {
    rds: FakeDatabases,
    store: MemoryStore,
}

pub(crate) struct RdsHealthSuite;

impl KindUnderTest for RdsHealthSuite {
    type Kind = DbInstances<FakeDatabases, FakeDatabases, FakeDatabases, MemoryStore>;
    type World = World;

    const FUNCTION: &'static str = database::FUNCTION;

    fn world() -> World {
        let rds = FakeDatabases::default();
        rds.add_instance(instance(DB, ALARM));
        // What the alarm's delivery says is what CloudWatch shows: the sweep sees it too.
        rds.set_alarm(ALARM, "ALARM", Utc::now() - chrono::Duration::minutes(1));
        World {
            rds,
            store: MemoryStore::default(),
        }
    }

    fn handler(w: &World) -> Function<Self::Kind, MemoryStore> {
        crate::fakes::rds_health(
            &w.rds,
            &w.store,
            Policy {
                settings: Settings {
                    mode: Mode::Enforce,
                    ..Settings::default()
                },
                ..Policy::default()
            },
        )
    }

    fn store(w: &World) -> &MemoryStore {
        &w.store
    }

    fn failing_resource() -> ResourceRef {
        db_instance(&DbInstanceId::parse(DB).unwrap())
    }

    fn mutating_calls(w: &World) -> Vec<String> {
        w.rds
            .failovers()
            .iter()
            .map(|(kind, id)| format!("{kind} {id}"))
            .collect()
    }

    fn one_remediation(_: &World) -> Vec<String> {
        vec![format!("{} {DB}", database::REBOOT_WITH_FAILOVER)]
    }

    fn reads(w: &World) -> usize {
        w.rds.describe_calls()
    }

    /// A second managed Multi-AZ instance, its own designated alarm OK.
    async fn add_second_resource(w: &World) -> ResourceRef {
        let alarm = format!("{SECOND_DB}-read-latency");
        w.rds.add_instance(instance(SECOND_DB, &alarm));
        w.rds.set_alarm(&alarm, "OK", Utc::now());
        db_instance(&DbInstanceId::parse(SECOND_DB).unwrap())
    }

    /// The sick instance's failover call is throttled. The fake databases cannot fail a
    /// read (DescribeDBInstances, DescribeEvents, DescribeAlarms answer always), so the
    /// check that fails is the one that acts; the second instance's check only reads.
    async fn fail_one_of_two_checks(w: &World) -> (ResourceRef, ResourceRef) {
        let second = Self::add_second_resource(w).await;
        w.rds.fail_next_failover(throttled("RebootDBInstance"));
        (Self::failing_resource(), second)
    }
}

super::shell_suite!(RdsHealthSuite);
