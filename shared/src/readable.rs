//! What people read: the short name they know a resource by, where the AWS console is
//! for an ARN's partition and region, durations in words. Shared by the notifier's
//! messages and the CLI's views and report; which page a resource type has in the
//! console is its kind's to say (`kinds::console_url`).

use std::borrow::Cow;

/// The partition and region a resource lives in: enough to address the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub partition: String,
    pub region: String,
}

impl Location {
    /// From any regional ARN (`arn:<partition>:<service>:<region>:…`): a resource's own,
    /// or that of the stream the incident came from when the resource id is a bare name.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("arn"), Some(partition), Some(_service), Some(region), Some(_account))
                if !partition.is_empty() && is_region(region) =>
            {
                Some(Self {
                    partition: partition.to_owned(),
                    region: region.to_owned(),
                })
            }
            _ => None,
        }
    }

    /// The console's address in this partition, with the region selected. `None` for
    /// partitions whose console is not on the public internet.
    pub fn console_home(&self, service: &str) -> Option<String> {
        let region = &self.region;
        let host = match self.partition.as_str() {
            "aws" => format!("{region}.console.aws.amazon.com"),
            "aws-us-gov" => "console.amazonaws-us-gov.com".to_owned(),
            "aws-cn" => "console.amazonaws.cn".to_owned(),
            _ => return None,
        };
        Some(format!("https://{host}/{service}/home?region={region}"))
    }
}

/// Letters, digits and dashes, as every region name is: nothing that could break out
/// of a URL.
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The short name people know a resource by: `web` for `…:targetgroup/web/73e2…`,
/// `alb` for `…:loadbalancer/app/alb/50dc…`, `alb/us-east-1b` for a zone of it
/// (`…/50dc…#us-east-1b`), the id itself for names (`web-asg`, `i-0abc`, `orders-db`).
pub fn short_name(resource_id: &str) -> Cow<'_, str> {
    if let Some((whole, part)) = resource_id.rsplit_once('#') {
        return Cow::Owned(format!("{}/{part}", short_name(whole)));
    }
    let tail = resource_id.rsplit(':').next().unwrap_or(resource_id);
    let mut parts = tail.split('/');
    Cow::Borrowed(match (parts.next(), parts.next(), parts.next()) {
        (Some("loadbalancer"), Some("app" | "net" | "gwy"), Some(name)) if !name.is_empty() => name,
        (Some(_), Some(name), _) if !name.is_empty() => name,
        _ => tail,
    })
}

/// A duration as people say it: `45 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`. Two units
/// at most: past an hour nobody cares about the seconds.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    let pair = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    };
    match () {
        _ if d > 0 => pair(d, "d", h, "h"),
        _ if h > 0 => pair(h, "h", m, "min"),
        _ if m > 0 => pair(m, "min", sec, "s"),
        _ => format!("{sec} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str =
        "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/web/73e2d6bc24d8a067";

    fn home(partition: &str, region: &str) -> Location {
        Location {
            partition: partition.into(),
            region: region.into(),
        }
    }

    #[test]
    fn the_location_comes_from_any_regional_arn() {
        assert_eq!(
            Location::of_arn(
                "arn:aws:dynamodb:us-east-1:123456789012:table/rebound-incidents/stream/2026-11-26T10:00:00.000"
            ),
            Some(home("aws", "us-east-1"))
        );
        assert_eq!(Location::of_arn("arn:aws:sns:US EAST:1:t"), None);
        assert_eq!(Location::of_arn("web-asg"), None);
    }

    #[test]
    fn durations_read_in_at_most_two_units() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(184), "3 min 4 s");
        assert_eq!(human_duration(180), "3 min");
        assert_eq!(human_duration(7_500), "2 h 5 min");
        assert_eq!(human_duration(273_600), "3 d 4 h");
        assert_eq!(human_duration(-5), "0 s");
    }

    #[test]
    fn short_names_are_what_people_call_the_resource() {
        assert_eq!(short_name(TG), "web");
        let alb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/alb/50dc6c495c0c9188";
        assert_eq!(short_name(alb), "alb");
        assert_eq!(short_name(&format!("{alb}#us-east-1b")), "alb/us-east-1b");
        assert_eq!(short_name("web-asg"), "web-asg");
        assert_eq!(
            short_name("arn:aws:rds:us-east-1:1:db:orders-db"),
            "orders-db"
        );
    }
}
