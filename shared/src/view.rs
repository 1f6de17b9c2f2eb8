//! How incidents read, whatever their kind: what the notifier (e-mail, JSON, chat
//! card), `rebound incidents show` and the report ask of a kind. Each kind supplies an
//! [`IncidentView`] and the [`TypeInfo`] of the resource types it names, registered once
//! in [`crate::kinds`]; nothing that renders an incident matches on its type.

use crate::domain::{Evidence, IncidentRecord, IncidentState, ResourceRef};

/// A resource type as people read it.
#[derive(Debug, Clone, Copy)]
pub struct TypeInfo {
    /// As stored: `target-group`.
    pub name: &'static str,
    /// As people say it: `Target group`.
    pub label: &'static str,
    /// Where its page is in the AWS console, if it has one.
    pub console: Option<Console>,
}

/// A console page: the service's home and the page's fragment, built from the resource
/// id (an ARN or a name) and its short name.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    pub service: &'static str,
    pub fragment: fn(id: &str, name: &str) -> String,
}

/// What a kind's evidence says, worked out once per rendering: every view of an
/// incident (e-mail, chat card, JSON, the CLI) takes what it shows from here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    /// The things observed, counted: "Evidence: 4 targets".
    pub census: Option<Census>,
    /// Facts, one line each in the e-mail after the census: `Database:  available, …`.
    pub facts: Vec<Fact>,
    /// Resources worth a link next to the incident's own (the groups behind a target
    /// group), in the e-mail's links and the chat card's related resources.
    pub related: Vec<ResourceRef>,
    /// The evidence section of `rebound incidents show`.
    pub show: Option<Section>,
}

/// Things observed, counted by state and reason, with the ones not serving listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub total: usize,
    /// `target` / `targets`.
    pub noun: (&'static str, &'static str),
    /// `(state and reason, count)`, what is wrong first.
    pub counts: Vec<(String, usize)>,
    /// One line each for the first ones not serving (as many as any rendering lists).
    pub listed: Vec<String>,
    /// How many are not serving in all.
    pub listed_total: usize,
    /// The heading the listed ones go under: `Not healthy`.
    pub listed_heading: &'static str,
}

impl Census {
    /// `4 targets`, `1 target`.
    pub fn counted(&self) -> String {
        let (one, many) = self.noun;
        format!(
            "{} {}",
            self.total,
            if self.total == 1 { one } else { many }
        )
    }
}

/// One labelled line: the label carries its own colon and padding (`"Database:  "`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

/// A section of a terminal view: a heading and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
}

/// How one kind's incidents read.
pub trait IncidentView: Sync {
    /// The resource types its incidents are about.
    fn resource_types(&self) -> &'static [&'static str];

    /// What a person should check next after a move to `state`, most useful first.
    fn next_steps(&self, state: IncidentState) -> &'static [&'static str];

    /// The evidence, as people read it.
    fn digest(&self, evidence: &Evidence) -> Digest;

    /// What happened that people look for first, one line each, oldest first, as they
    /// say it ("10:02:11 traffic shifted away from us-east-1b (use1-az1)"): the report
    /// lists them under the incident, `rebound incidents show` too. A kind whose actions
    /// read well as they are has none.
    fn highlights(&self, _incident: &IncidentRecord) -> Vec<String> {
        Vec::new()
    }
}

/// What to do about an incident awaiting approval, whatever its kind: its reason (the
/// timeline) names the action and the incident.
pub const AWAITING_APPROVAL_STEPS: &[&str] = &[
    "Rebound would act (Why, above) but the action's mode is approve: a person decides.",
    "To let it act: rebound incidents approve <incident id>. Rebound then reads the resource again at its next check and acts only if the action is still needed and every guard allows it.",
    "To refuse: rebound incidents deny <incident id> --reason TEXT. No action is taken in this incident; it is held until the resource recovers or a person closes it.",
    "Undecided past its expiry, the incident escalates.",
];

/// What a kind brings to the registry: how its incidents read, and the resource types
/// it names (its own and those it acts through).
pub struct KindInfo {
    pub view: &'static dyn IncidentView,
    pub types: &'static [TypeInfo],
}

/// Incidents of a type no registered kind knows (written by a newer version): general
/// advice, and the evidence left to the JSON.
pub struct GenericView;

impl IncidentView for GenericView {
    fn resource_types(&self) -> &'static [&'static str] {
        &[]
    }

    fn next_steps(&self, state: IncidentState) -> &'static [&'static str] {
        use IncidentState::*;
        match state {
            Open => &["Read above why Rebound has not acted yet."],
            Remediating => {
                &["Nothing to do yet: Rebound is remediating and verifies the recovery."]
            }
            Suppressed => &["Rebound holds action (Why, above): look at what it waits for first."],
            Escalated => &["A person is needed: Rebound has stopped acting (Why, above)."],
            AwaitingApproval => AWAITING_APPROVAL_STEPS,
            Resolved => &["Nothing to do: recovery was verified."],
        }
    }

    fn digest(&self, _evidence: &Evidence) -> Digest {
        Digest::default()
    }
}
