//! The workflow with fakes, for any world: in dry-run no replacement call is ever made
//! and every recorded action is a simulation; in enforce, calls go only to instances of
//! managed groups (safety invariant 1, end to end through the handler).

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use super::json::samples;
use super::world::{instance, target_group, world, TAG_KEY};
use super::{block_on, config, enough_cases_for_coverage_checks};
use crate::config::{Mode, Settings};
use crate::domain::ActionOutcome;
use crate::fakes::{FakeFleet, MemoryStore};
use crate::ids::AutoScalingGroupName;
use crate::kinds::target_group::observation::{
    GroupInstance, ScalingGroup, TargetHealth, TargetState,
};
use crate::kinds::target_group::Policy;

type Handler = crate::fakes::TargetHealthFunction;

pub struct SampleWorld {
    pub fleet: FakeFleet,
    pub store: MemoryStore,
    pub handler: Handler,
}

use crate::fakes::target_health as handler_for;

/// The target group of the sample events, four instances of a managed group, the first
/// failing its health checks.
pub fn sample_world(mode: Mode) -> SampleWorld {
    let fleet = FakeFleet::default();
    let store = MemoryStore::default();
    let targets = (0..4)
        .map(|n| TargetHealth {
            instance_id: instance(n),
            port: Some(80),
            state: if n == 0 {
                TargetState::Unhealthy
            } else {
                TargetState::Healthy
            },
            reason: (n == 0).then(|| "Target.FailedHealthChecks".to_owned()),
            description: None,
        })
        .collect();
    fleet.set_targets(&target_group(), targets);
    fleet.add_group(ScalingGroup {
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        name: AutoScalingGroupName::parse("rebound-demo-web-asg").expect("a valid name"),
        tags: [(TAG_KEY.to_owned(), "true".to_owned())].into(),
        suspended_processes: vec![],
        instances: (0..4)
            .map(|n| GroupInstance {
                instance_id: instance(n),
                lifecycle_state: "InService".into(),
                health_status: "Healthy".into(),
                availability_zone: None,
            })
            .collect(),
        target_group_arns: vec![target_group()],
        instance_refresh_in_progress: false,
        desired_capacity: 4,
        health_check_grace_period_s: 0,
        launch_template: None,
        arn: None,
        max_size: 100,
        zonal_shift_enabled: false,
        health_check_type: "EC2".into(),
    });
    let policy = Policy {
        settings: Settings {
            mode,
            ..Settings::default()
        },
        ..Policy::default()
    };
    let handler = handler_for(&fleet, &store, policy);
    SampleWorld {
        fleet,
        store,
        handler,
    }
}

/// Every sample event of target-health, in a random order with repeats: alarms, the
/// alarm action, the sweep, the OK transition, an unrelated alarm.
fn deliveries() -> impl Strategy<Value = Vec<Value>> {
    let events = samples("target-health");
    prop::collection::vec(prop::sample::select(events), 1..6)
}

#[test]
fn dry_run_never_calls_and_enforce_calls_only_on_managed_groups() {
    let config = config();
    let check_coverage = enough_cases_for_coverage_checks(&config);
    let enforced_calls = AtomicUsize::new(0);
    let simulated = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config);
    runner
        .run(
            &(world(), deliveries(), any::<bool>()),
            |(world, events, enforce)| {
                let fleet = FakeFleet::default();
                let store = MemoryStore::default();
                fleet.set_targets(&target_group(), world.targets.clone());
                for group in &world.groups {
                    fleet.add_group(group.clone());
                }
                for (scope, ledger) in &world.ledgers {
                    store.set_ledger(scope, ledger.clone());
                }
                let mut policy = world.config.clone();
                policy.settings.mode = if enforce { Mode::Enforce } else { Mode::DryRun };
                let handler = handler_for(&fleet, &store, policy);
                block_on(async {
                    for event in events {
                        // Errors are fine (a fake may refuse); panics and calls are not.
                        let _ = handler.handle(event).await;
                    }
                });
                let calls = fleet.replaced();
                let actions: Vec<_> = store
                    .incidents()
                    .into_iter()
                    .flat_map(|i| i.actions.clone())
                    .collect();
                if enforce {
                    enforced_calls.fetch_add(calls.len(), Ordering::Relaxed);
                    for (_, group, called) in &calls {
                        let managed = world.groups.iter().any(|g| {
                            &g.name == group
                                && g.is_managed(TAG_KEY)
                                && g.instance(called).is_some()
                        });
                        prop_assert!(managed, "called {} in unmanaged {}", called, group);
                    }
                } else {
                    prop_assert!(calls.is_empty(), "dry-run called {:?}", calls);
                    for action in &actions {
                        prop_assert_eq!(action.outcome, ActionOutcome::Simulated);
                        prop_assert!(action.dry_run);
                    }
                    simulated.fetch_add(actions.len(), Ordering::Relaxed);
                }
                Ok(())
            },
        )
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
    if check_coverage {
        assert!(
            enforced_calls.load(Ordering::Relaxed) > 0,
            "enforce never acted"
        );
        assert!(
            simulated.load(Ordering::Relaxed) > 0,
            "dry-run never simulated"
        );
    }
}
