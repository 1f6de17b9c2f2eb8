//! CloudWatch: the states of the alarms a database designates for a failover.

use aws_sdk_cloudwatch::types::{AlarmType, MetricAlarm};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Utc};

use super::classify;
use super::LazyClient;
use crate::error::Error;
use crate::kinds::database::observation::{AlarmPattern, AlarmState};
use crate::kinds::database::ports::AlarmStates;

/// DescribeAlarms takes at most this many alarm names per call.
const MAX_NAMES_PER_CALL: usize = 100;

/// Pages read at most per call: a prefix matching more alarms than this is a tag that
/// names too much, and what is past it is left unread (and logged).
const MAX_PAGES: usize = 10;

#[derive(Clone)]
pub struct CloudWatch {
    client: LazyClient<Client>,
}

impl CloudWatch {
    pub fn new(client: impl Into<LazyClient<Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }

    /// One DescribeAlarms, every page: by names, or by a prefix.
    async fn describe(
        &self,
        names: Option<&[String]>,
        prefix: Option<&str>,
    ) -> Result<Vec<AlarmState>, Error> {
        let mut states = Vec::new();
        let mut next = None;
        for _ in 0..MAX_PAGES {
            let output = self
                .client
                .describe_alarms()
                .set_alarm_names(names.map(<[String]>::to_vec))
                .set_alarm_name_prefix(prefix.map(str::to_owned))
                .alarm_types(AlarmType::MetricAlarm)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("DescribeAlarms", e))?;
            states.extend(output.metric_alarms().iter().filter_map(state_of));
            match output.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(states),
            }
        }
        tracing::warn!(
            ?prefix,
            pages = MAX_PAGES,
            "DescribeAlarms: more alarms than read"
        );
        Ok(states)
    }
}

fn state_of(alarm: &MetricAlarm) -> Option<AlarmState> {
    Some(AlarmState {
        name: alarm.alarm_name()?.to_owned(),
        state: alarm.state_value()?.as_str().to_owned(),
        since: alarm
            .state_updated_timestamp()
            .and_then(|at| DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos())),
    })
}

impl AlarmStates for CloudWatch {
    async fn alarm_states(&self, patterns: &[AlarmPattern]) -> Result<Vec<AlarmState>, Error> {
        let names: Vec<String> = patterns
            .iter()
            .filter_map(|p| match p {
                AlarmPattern::Name(name) => Some(name.clone()),
                AlarmPattern::Prefix(_) => None,
            })
            .collect();
        let mut states = Vec::new();
        for chunk in names.chunks(MAX_NAMES_PER_CALL) {
            states.extend(self.describe(Some(chunk), None).await?);
        }
        for pattern in patterns {
            if let AlarmPattern::Prefix(prefix) = pattern {
                states.extend(self.describe(None, Some(prefix)).await?);
            }
        }
        states.sort_by(|a, b| a.name.cmp(&b.name));
        states.dedup_by(|a, b| a.name == b.name);
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::StateValue;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn alarm(name: &str, state: StateValue) -> MetricAlarm {
        MetricAlarm::builder()
            .alarm_name(name)
            .state_value(state)
            .state_updated_timestamp(aws_smithy_types::DateTime::from_secs(1_795_000_000))
            .build()
    }

    #[tokio::test]
    async fn names_are_asked_together_and_each_prefix_on_its_own() {
        let by_name = mock!(Client::describe_alarms)
            .match_requests(|req| {
                req.alarm_names() == ["orders-db-down".to_owned()]
                    && req.alarm_name_prefix().is_none()
                    && req.alarm_types() == [AlarmType::MetricAlarm]
            })
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(alarm("orders-db-down", StateValue::Alarm))
                    .build()
            });
        let by_prefix = mock!(Client::describe_alarms)
            .match_requests(|req| req.alarm_name_prefix() == Some("orders-db-latency-"))
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(alarm("orders-db-latency-read", StateValue::Ok))
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, [&by_name, &by_prefix]);
        let states = CloudWatch::new(client)
            .alarm_states(&[
                AlarmPattern::Name("orders-db-down".into()),
                AlarmPattern::Prefix("orders-db-latency-".into()),
            ])
            .await
            .unwrap();
        assert_eq!(states.len(), 2);
        assert!(states[0].is_firing());
        assert_eq!(states[0].since.unwrap().timestamp(), 1_795_000_000);
        assert_eq!(states[1].state, "OK");
        assert_eq!((by_name.num_calls(), by_prefix.num_calls()), (1, 1));
    }
}
