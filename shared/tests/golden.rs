//! Golden files: every stored incident shape (`tests/golden/<case>/incident.json`, a record
//! as Rebound wrote it, with `previous.txt` the state it moved from) rendered as people
//! and machines get it, compared byte for byte with the files beside it (the JSON ones
//! after parsing, as JSON). The records were written by the release before the kinds
//! opened up, so every later version is held to decoding and rendering them the same. A
//! change to the wording shows up as a diff to review; `UPDATE_GOLDEN=1 cargo nextest run
//! -p rebound-shared --test golden` rewrites the renderings (never the records) after an
//! intended change.

use std::path::{Path, PathBuf};

use rebound::domain::{Incident, IncidentState};
use rebound::notifier::{notification_at, MAX_MESSAGE_BYTES};
use rebound::ports::Notification;
use rebound::readable::Location;
use serde_json::Value;

/// The incidents table's stream, as the notifier gets it on every record.
const STREAM: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/rebound-IncidentsTable-1XQ7ZK3N8M2PD/stream/2026-11-20T08:42:17.305";

fn pretty(json: &str) -> String {
    let value: Value = serde_json::from_str(json).expect("valid JSON");
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap())
}

/// The files of one message: what each audience gets.
fn rendered(notification: &Notification) -> Vec<(&'static str, String)> {
    let attributes: serde_json::Map<String, Value> = notification
        .attributes()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String((*value).to_owned())))
        .collect();
    vec![
        ("subject.txt", format!("{}\n", notification.subject)),
        (
            "attributes.json",
            pretty(&Value::Object(attributes).to_string()),
        ),
        ("email.txt", notification.text.clone()),
        ("message.json", pretty(&notification.json)),
        ("chatbot.json", pretty(&notification.chatbot)),
    ]
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The incidents of the golden cases as stored: each `golden/<case>/incident.json` is a
/// record as Rebound wrote it (and `previous.txt` the state it moved from, or `none`),
/// so every later version is held to decoding them and rendering them the same.
fn recorded_cases() -> Vec<(String, Incident, Option<IncidentState>)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("incident.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let record = std::fs::read_to_string(dir.join("incident.json")).unwrap();
            let incident: Incident = serde_json::from_str(&record)
                .unwrap_or_else(|e| panic!("{name}/incident.json does not decode: {e}"));
            let previous = std::fs::read_to_string(dir.join("previous.txt"))
                .unwrap_or_else(|e| panic!("{name}/previous.txt: {e}"));
            let previous = match previous.trim() {
                "none" => None,
                state => Some(
                    serde_json::from_value(Value::String(state.to_owned()))
                        .unwrap_or_else(|e| panic!("{name}/previous.txt: {e}")),
                ),
            };
            (name, incident, previous)
        })
        .collect()
}

#[test]
fn every_kind_of_message_renders_as_its_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let home = Location::of_arn(STREAM);
    let mut mismatches = Vec::new();
    for (name, incident, previous) in recorded_cases() {
        let notification = notification_at(&incident, previous, home.as_ref());
        for (file, content) in rendered(&notification) {
            let path = golden_dir().join(&name).join(file);
            if update {
                std::fs::write(&path, &content).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            if expected != content {
                mismatches.push(format!(
                    "{name}/{file} differs from {}:\n--- expected\n{expected}\n--- rendered\n{content}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo nextest run -p rebound-shared --test golden)",
        mismatches.join("\n")
    );
}

#[test]
fn every_stored_incident_reads_back_as_the_same_json() {
    for (name, incident, _) in recorded_cases() {
        let stored: Value = serde_json::from_str(
            &std::fs::read_to_string(golden_dir().join(&name).join("incident.json")).unwrap(),
        )
        .unwrap();
        // Records written before 0.2 name an action's target and group bare; they read
        // as typed references, which is what they are written back as.
        if name.starts_with("legacy-") {
            continue;
        }
        let again = serde_json::to_value(&incident).unwrap();
        assert_eq!(again, stored, "{name}");
    }
}

#[test]
fn every_golden_subject_is_one_line_under_one_hundred_characters() {
    for (kind, incident, previous) in recorded_cases() {
        let subject = notification_at(&incident, previous, None).subject;
        assert!(subject.chars().count() < 100, "{kind}: {subject}");
        assert!(
            !subject.chars().any(char::is_control),
            "{kind}: {subject:?}"
        );
        let drill = if incident.drill.is_some() {
            "[DRILL] "
        } else {
            ""
        };
        assert!(
            subject.starts_with(&format!(
                "[Rebound] {drill}{} ",
                incident.state.as_str().to_uppercase()
            )),
            "{kind}: {subject}"
        );
    }
}

#[test]
fn every_golden_message_is_far_inside_the_sns_limit_on_both_topics() {
    for (kind, incident, previous) in recorded_cases() {
        let n = notification_at(&incident, previous, None);
        let attributes: usize = n
            .attributes()
            .iter()
            .map(|(k, v)| k.len() + 6 + v.len())
            .sum();
        let topic = n.message_by_protocol().len() + n.subject.len() + attributes;
        let chat = n.chatbot.len() + n.subject.len() + attributes;
        assert!(topic < MAX_MESSAGE_BYTES / 10, "{kind}: {topic} bytes");
        assert!(chat < MAX_MESSAGE_BYTES / 10, "{kind}: chat {chat} bytes");
    }
}
