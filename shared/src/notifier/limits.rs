//! What SNS accepts, in one place: a one-line subject of fewer than 100 characters and a
//! message of at most 256 KB, whatever the size of the incident. The message is composed
//! at the most generous [`Caps`] first and measured as the SNS adapter would send it, to
//! the notifications topic and to the chat topic; if either is too big it is composed
//! again with smaller caps.

use tracing::warn;

use crate::error::bounded;
use crate::ports::Notification;

/// SNS rejects subjects of 100 characters or more.
pub const MAX_SUBJECT_CHARS: usize = 99;
const _: () = assert!(MAX_SUBJECT_CHARS < 100);

/// SNS's limit for one published message: the whole `Message` (with
/// `MessageStructure=json`, every protocol's copy) plus the message attributes.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// What a message may use. Kept below [`MAX_MESSAGE_BYTES`] so that a message SNS
/// refuses can still be parked whole in SQS, whose default limit is the same 256 KiB,
/// inside an envelope (ids, error, sequence number: well under this headroom).
pub const MESSAGE_BUDGET_BYTES: usize = MAX_MESSAGE_BYTES - 4_096;

/// Scalar texts of the incident (its trigger, its resource id) are kept whole up to this
/// length at every level: they are short in practice and say what the incident is.
pub const MAX_SCALAR_CHARS: usize = 1_024;

/// How much of an incident one message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Text: the things observed that are not serving, listed one a line (the first
    /// ones: targets by id).
    pub listed: usize,
    /// Text: lines counting the things observed by state and reason.
    pub counts: usize,
    /// Text: actions listed (the last ones).
    pub listed_actions: usize,
    /// JSON: entries kept of every list in the evidence (the first ones: targets, group
    /// names, …).
    pub evidence_entries: usize,
    /// JSON: actions kept (the last ones).
    pub actions: usize,
    /// JSON: timeline entries kept (the last ones).
    pub timeline: usize,
    /// Every text inside a listed entry, and every free-text line of the readable body.
    pub detail_chars: usize,
}

/// From generous to minimal. The first level fits any incident whose details are of a
/// sane length; the last one keeps no list at all and bounds every text, so it fits
/// whatever the incident holds.
pub const CAPS: [Caps; 3] = [
    Caps {
        listed: 10,
        counts: 10,
        listed_actions: 10,
        evidence_entries: 25,
        actions: 20,
        timeline: 20,
        detail_chars: 500,
    },
    Caps {
        listed: 5,
        counts: 5,
        listed_actions: 5,
        evidence_entries: 5,
        actions: 5,
        timeline: 5,
        detail_chars: 200,
    },
    Caps {
        listed: 0,
        counts: 3,
        listed_actions: 0,
        evidence_entries: 0,
        actions: 0,
        timeline: 0,
        detail_chars: 100,
    },
];

/// One line of text: control characters (newlines and tabs included) become spaces,
/// runs of whitespace one space, no space at either end. Error messages quoted into a
/// subject or a list line bring their own line breaks.
pub fn one_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A subject SNS accepts: one line, fewer than 100 characters.
pub fn subject_line(raw: &str) -> String {
    bounded(one_line(raw), MAX_SUBJECT_CHARS)
}

/// The bytes SNS counts for this notification: the per-protocol message exactly as the
/// adapter sends it, the subject and the message attributes (name, type and value).
/// Measured on the encoding the adapter sends ([`Notification::message_by_protocol`]),
/// so the bound cannot drift from what is sent.
pub fn published_bytes(notification: &Notification) -> usize {
    notification.message_by_protocol().len() + envelope_bytes(notification)
}

/// The bytes SNS counts for the chat topic's copy: the custom notification, published
/// whole, with the same subject and attributes.
pub fn chat_bytes(notification: &Notification) -> usize {
    notification.chatbot.len() + envelope_bytes(notification)
}

fn envelope_bytes(notification: &Notification) -> usize {
    let attributes: usize = notification
        .attributes()
        .iter()
        .map(|(name, value)| name.len() + "String".len() + value.len())
        .sum();
    notification.subject.len() + attributes
}

/// The first composition, from the most generous caps down, whose every copy fits the
/// budget.
pub fn fit(compose: impl Fn(&Caps) -> Notification) -> Notification {
    let mut smallest = None;
    for caps in &CAPS {
        let notification = compose(caps);
        let bytes = published_bytes(&notification).max(chat_bytes(&notification));
        if bytes <= MESSAGE_BUDGET_BYTES {
            return notification;
        }
        smallest = Some((notification, bytes));
    }
    // Unreachable with CAPS as they are (the last level bounds every text); if it ever
    // happens SNS refuses the message and the record is parked, not lost.
    let (notification, bytes) = smallest.unwrap_or_else(|| (compose(&CAPS[0]), 0));
    warn!(
        bytes,
        budget = MESSAGE_BUDGET_BYTES,
        "notification still too big at the smallest caps"
    );
    notification
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_tabs_and_control_characters_become_single_spaces() {
        assert_eq!(
            one_line("  Publish failed:\n\tInvalidParameter\r\n\u{0}  (x)\u{7f}\u{2028}end  "),
            "Publish failed: InvalidParameter (x) end"
        );
    }

    #[test]
    fn a_subject_is_one_line_and_strictly_under_one_hundred_characters() {
        let subject = subject_line(&format!("[Rebound] ESCALATED\n{}", "é\t".repeat(200)));
        assert_eq!(subject.chars().count(), 99);
        assert!(subject.starts_with("[Rebound] ESCALATED é é"), "{subject}");
        assert!(subject.ends_with('…'), "{subject}");
        assert!(!subject.chars().any(char::is_control), "{subject}");
    }

    #[test]
    fn a_short_subject_is_kept_as_it_is() {
        assert_eq!(
            subject_line("[Rebound] OPEN target-group web: 1 of 4 targets unhealthy"),
            "[Rebound] OPEN target-group web: 1 of 4 targets unhealthy"
        );
    }

    #[test]
    fn the_caps_shrink_from_level_to_level() {
        for pair in CAPS.windows(2) {
            let (bigger, smaller) = (pair[0], pair[1]);
            assert!(smaller.evidence_entries <= bigger.evidence_entries);
            assert!(smaller.timeline <= bigger.timeline);
            assert!(smaller.actions <= bigger.actions);
            assert!(smaller.listed <= bigger.listed);
            assert!(smaller.detail_chars < bigger.detail_chars);
        }
    }

    fn notification(text: String) -> Notification {
        Notification {
            subject: "s".into(),
            text,
            json: "{}".into(),
            chatbot: "{}".into(),
            severity: "info".into(),
            resource_type: "target-group".into(),
            state: "open".into(),
            resource_id: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1".into(),
            drill: false,
        }
    }

    #[test]
    fn a_composition_too_big_for_sns_is_made_again_with_smaller_caps() {
        // 300 KB of text at the first level, 120 KB at the second.
        let chosen = fit(|caps| notification("x".repeat(caps.detail_chars * 600)));
        assert_eq!(chosen.text.len(), CAPS[1].detail_chars * 600);
        assert!(published_bytes(&chosen) <= MESSAGE_BUDGET_BYTES);
    }

    #[test]
    fn a_chat_card_too_big_for_sns_is_made_again_with_smaller_caps_too() {
        let chosen = fit(|caps| Notification {
            chatbot: "x".repeat(caps.detail_chars * 600),
            ..notification(String::new())
        });
        assert_eq!(chosen.chatbot.len(), CAPS[1].detail_chars * 600);
        assert!(chat_bytes(&chosen) <= MESSAGE_BUDGET_BYTES);
    }

    #[test]
    fn the_published_size_counts_every_copy_the_subject_and_the_attributes() {
        let small = published_bytes(&notification(String::new()));
        let bigger = published_bytes(&notification("x".repeat(100)));
        // The text goes out once, as `email`.
        assert_eq!(bigger - small, 100);
        let json = |json: &str| {
            published_bytes(&Notification {
                json: json.into(),
                ..notification(String::new())
            })
        };
        // The JSON document once, as `default`, which every other protocol gets.
        assert_eq!(json(&"x".repeat(102)) - json("{}"), 100);
        // Every attribute, `resource_id` included, counts.
        let longer_id = published_bytes(&Notification {
            resource_id: format!("{}x", notification(String::new()).resource_id),
            ..notification(String::new())
        });
        assert_eq!(longer_id - small, 1);
    }
}
