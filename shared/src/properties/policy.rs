//! The policy, for any observation: every action it picks passes every safety invariant
//! of DESIGN.md, checked here independently of how `policy::alb` checks it, and it
//! resolves only what verifiably serves again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

use super::world::{is_group_scope, now, world, World};
use super::{config, enough_cases_for_coverage_checks};
use crate::config::Mode;
use crate::domain::{account_scope, ActionOutcome, Decision, ResourceRef, Verdict};
use crate::ids::InstanceId;
use crate::kinds::target_group::observation::{ScalingGroup, TargetState};
use crate::kinds::target_group::policy::{self as alb, Observation};
use crate::kinds::target_group::{self, INSTANCE};
use crate::policy::History;

fn decide(world: &World) -> Decision {
    alb::decide(
        Observation {
            targets: &world.targets,
            groups: &world.groups,
            dependencies: &[],
            shifted: &[],
            changes: &crate::change::InFlight::default(),
            scheduled: &[],
        },
        History {
            incident: world.incident.as_ref(),
            ledgers: &world.ledgers,
        },
        &world.config,
        now(),
    )
}

fn owner<'a>(world: &'a World, instance: &str) -> Option<&'a ScalingGroup> {
    let id = InstanceId::parse(instance).ok()?;
    world.groups.iter().find(|g| g.instance(&id).is_some())
}

fn secs(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// Every invariant an action must meet, stated from DESIGN.md.
fn check_actions(world: &World, decision: &Decision) -> Result<(), TestCaseError> {
    let config = &world.config;
    let serving = world
        .targets
        .iter()
        .filter(|t| t.state.is_serving())
        .count();
    let unhealthy = world
        .targets
        .iter()
        .filter(|t| t.state.is_unhealthy())
        .count();
    prop_assert_eq!(
        decision.verdict == Verdict::Remediate,
        !decision.actions.is_empty(),
        "Remediate exactly when there are actions"
    );
    if decision.actions.is_empty() {
        return Ok(());
    }
    // 3. Blast radius: never when all serving targets, or more than the limit, fail.
    prop_assert!(
        unhealthy < serving,
        "acted with all {} targets unhealthy",
        serving
    );
    prop_assert!(
        unhealthy * 100 <= config.max_unhealthy_percent as usize * serving,
        "acted with {} of {} unhealthy above {}%",
        unhealthy,
        serving,
        config.max_unhealthy_percent
    );
    let mut per_scope: BTreeMap<&ResourceRef, usize> = BTreeMap::new();
    let mut targets_seen = Vec::new();
    for action in &decision.actions {
        prop_assert_eq!(&action.kind, &config.replacement);
        prop_assert_eq!(&action.target.kind, &INSTANCE);
        prop_assert!(is_group_scope(&action.scope));
        prop_assert!(
            !targets_seen.contains(&&action.target.id),
            "two actions on {}",
            action.target.id
        );
        targets_seen.push(&action.target.id);
        // Only instances that failed their health checks.
        let target = world
            .targets
            .iter()
            .find(|t| t.instance_id.as_str() == action.target.id);
        prop_assert!(
            target.is_some_and(|t| t.failed_health_checks()),
            "{} did not fail its health checks",
            action.target.id
        );
        // 1. Opt-in: the group carries the managed tag with value "true".
        let group = owner(world, &action.target.id);
        prop_assert!(group.is_some(), "{} has no group", action.target.id);
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        let group = group.expect("checked");
        prop_assert_eq!(
            &action.scope,
            &target_group::auto_scaling_group(&group.name)
        );
        prop_assert_eq!(
            group
                .tags
                .get(&config.settings.managed_tag_key)
                .map(String::as_str),
            Some("true"),
            "acted on unmanaged group {}",
            group.name
        );
        // 4. The group can heal and the instance is InService.
        prop_assert!(
            group.suspended_healing_processes().is_empty(),
            "acted on {} with {:?} suspended",
            group.name,
            group.suspended_processes
        );
        prop_assert!(!group.instance_refresh_in_progress);
        let member = group
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            .instance(&InstanceId::parse(action.target.id.as_str()).expect("checked"))
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            .expect("the owner holds the instance");
        prop_assert_eq!(member.lifecycle_state.as_str(), "InService");
        prop_assert!(!member.marked_unhealthy(), "already marked unhealthy");
        // One action per instance: nothing pending for it (or simulated, in dry-run).
        if let Some(incident) = &world.incident {
            for earlier in incident.actions_on(&action.target.id) {
                prop_assert_ne!(earlier.outcome, ActionOutcome::Pending);
                if config.settings.mode == Mode::DryRun {
                    prop_assert_ne!(earlier.outcome, ActionOutcome::Simulated);
                }
            }
        }
        // 6. Per-group cooldown.
        if let Some(ledger) = world.ledgers.get(&action.scope) {
            for entry in &ledger.entries {
                prop_assert!(
                    entry.at + secs(config.cooldown) <= now(),
                    "acted on {} within the cooldown of {}",
                    group.name,
                    entry.at
                );
            }
            // 11. The replacement-loop guard.
            if let Some(template) = &action.configuration {
                let since = now() - secs(config.replacement_loop_window);
                let same = ledger
                    .entries
                    .iter()
                    .filter(|e| e.at > since && e.configuration.as_ref() == Some(template))
                    .count();
                prop_assert!(same < config.replacement_loop_limit as usize);
            }
        }
        *per_scope.entry(&action.scope).or_default() += 1;
    }
    // 3. In flight: this decision's replacements plus those under way, per group.
    for (scope, planned) in per_scope {
        let group = world
            .groups
            .iter()
            .find(|g| target_group::auto_scaling_group(&g.name) == *scope)
            // allow: property test (the module is cfg(test)): a panic is how a case fails
            .expect("every scope is an observed group");
        prop_assert!(
            planned + group.leaving_count() <= config.max_in_flight_per_group,
            "{} planned + {} leaving in {} above {}",
            planned,
            group.leaving_count(),
            group.name,
            config.max_in_flight_per_group
        );
    }
    // 6. The account's rolling-hour budget.
    let spent = world
        .ledgers
        .get(&account_scope())
        .map(|l| l.within(Duration::hours(1), now()).count())
        .unwrap_or(0);
    prop_assert!(
        spent + decision.actions.len() <= config.settings.action_budget_per_hour as usize,
        "{} spent + {} planned above the budget of {}",
        spent,
        decision.actions.len(),
        config.settings.action_budget_per_hour
    );
    Ok(())
}

/// 9. Verified recovery: resolve only an open incident whose target group serves again.
fn check_resolution(world: &World, decision: &Decision) -> Result<(), TestCaseError> {
    if decision.verdict != Verdict::Resolve {
        return Ok(());
    }
    let incident = world.incident.as_ref();
    prop_assert!(incident.is_some(), "resolved without an incident");
    // allow: property test (the module is cfg(test)): a panic is how a case fails
    let incident = incident.expect("checked");
    prop_assert!(!world.targets.is_empty(), "resolved an empty target group");
    prop_assert!(world
        .targets
        .iter()
        .all(|t| t.state == TargetState::Healthy));
    for action in incident
        .actions
        .iter()
        .filter(|a| a.outcome.was_requested())
    {
        // Still registered only when the request had no effect (invariant 13): the
        // instance serves again in its group, and every request on it is older than
        // the later of the pending-action timeout and the group's grace period.
        let had_no_effect = |target: &crate::kinds::target_group::observation::TargetHealth| {
            world.groups.iter().any(|group| {
                let deadline = secs(world.config.settings.pending_action_timeout)
                    .max(Duration::seconds(group.health_check_grace_period_s.into()));
                group
                    .instance(&target.instance_id)
                    .is_some_and(|member| member.serving())
                    && incident
                        .actions_on(action.target.id.as_str())
                        .filter(|a| a.outcome.was_requested())
                        .all(|a| {
                            a.requested_at
                                .checked_add_signed(deadline)
                                .is_some_and(|due| now() >= due)
                        })
            })
        };
        prop_assert!(
            world
                .targets
                .iter()
                .filter(|t| t.instance_id.as_str() == action.target.id)
                .all(had_no_effect),
            "replaced {} still registered",
            action.target.id
        );
        if let Some(group) = world
            .groups
            .iter()
            .find(|g| g.name.as_str() == action.scope.id)
        {
            prop_assert!(group.at_desired_capacity(), "{} below desired", group.name);
        }
    }
    Ok(())
}

#[test]
fn the_policy_never_picks_an_action_that_breaks_an_invariant() {
    let config = config();
    let check_coverage = enough_cases_for_coverage_checks(&config);
    let remediations = AtomicUsize::new(0);
    let refusals: std::sync::Mutex<std::collections::BTreeSet<&'static str>> = Default::default();
    let mut runner = TestRunner::new(config);
    runner
        .run(&world(), |world| {
            let decision = decide(&world);
            if decision.verdict == Verdict::Remediate {
                remediations.fetch_add(1, Ordering::Relaxed);
            }
            refusals
                .lock()
                // allow: property test (the module is cfg(test)): a panic is how a case fails
                .expect("not poisoned")
                .extend(decision.refusals.iter().map(|r| r.guard));
            check_actions(&world, &decision)?;
            check_resolution(&world, &decision)?;
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
    if check_coverage {
        // Not vacuous: the generators reach the action path and most guards.
        assert!(
            remediations.load(Ordering::Relaxed) > 0,
            "no case remediated"
        );
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        let seen = refusals.into_inner().expect("not poisoned");
        for guard in [
            "all-targets-unhealthy",
            "not-an-instance-failure",
            "not-managed",
            "group-cannot-heal",
            "not-in-service",
            "cooldown",
            "in-flight-limit",
            "budget-exhausted",
        ] {
            assert!(
                seen.contains(guard),
                "no case hit the {guard} guard: {seen:?}"
            );
        }
    }
}

#[test]
fn the_policy_decides_the_same_way_twice() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&world(), |world| {
            prop_assert_eq!(decide(&world), decide(&world));
            Ok(())
        })
        // allow: property test (the module is cfg(test)): a panic is how a case fails
        .unwrap();
}
