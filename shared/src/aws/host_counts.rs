//! The sweep's triage: CloudWatch's `UnHealthyHostCount` of every managed target group,
//! 500 metrics a `GetMetricData` call, so that only the target groups it does not show
//! all healthy cost a `DescribeTargetHealth`.
//!
//! The metric's dimensions name the load balancer as well as the target group, so the
//! load balancers in front come first: every page of `DescribeTargetGroups` (400 target
//! groups a call), read alongside the sweep's listing and kept for the next sweeps of a
//! warm function for a while. A target group behind several load balancers has a metric
//! per load balancer; its count is the highest of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_cloudwatch::Client;
use aws_smithy_types::DateTime as SmithyTime;

use super::classify;
use super::{LazyClient, LoadBalancing};
use crate::error::Error;
use crate::ids::{LoadBalancerArn, TargetGroupArn};
use crate::kinds::target_group::ports::{Fronts, HostCounts};

/// GetMetricData takes at most this many queries per call.
pub const MAX_METRICS_PER_CALL: usize = 500;

/// The metric's period, and how far back the latest datapoints go: the last few
/// minutes, so one missed datapoint is not missing data.
const PERIOD: Duration = Duration::from_secs(60);
const LOOK_BACK: Duration = Duration::from_secs(180);

/// How long a reading of the load balancers in front serves the next sweeps of a warm
/// function: a target group seldom changes load balancer, and one created since is
/// missing from the reading, so it has no data and is described anyway.
const FRONTS_KEPT_FOR: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct HostCountReader {
    cloudwatch: LazyClient<Client>,
    balancers: LoadBalancing,
    /// The last reading of the load balancers in front, and when it was made.
    fronts: Arc<Mutex<Option<(Instant, Fronts)>>>,
}

impl HostCountReader {
    pub fn new(cloudwatch: impl Into<LazyClient<Client>>, balancers: LoadBalancing) -> Self {
        Self {
            cloudwatch: cloudwatch.into(),
            balancers,
            fronts: Arc::default(),
        }
    }

    /// One call's worth of queries; the highest value each query's datapoints hold
    /// (`None`: no datapoint).
    async fn read(
        &self,
        queries: &[(String, MetricDataQuery)],
        start: SmithyTime,
        end: SmithyTime,
    ) -> Result<BTreeMap<String, Option<f64>>, Error> {
        let mut highest: BTreeMap<String, Option<f64>> =
            queries.iter().map(|(id, _)| (id.clone(), None)).collect();
        let mut next = None;
        loop {
            let output = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.iter().map(|(_, q)| q.clone()).collect()))
                .start_time(start)
                .end_time(end)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("GetMetricData", e))?;
            for result in output.metric_data_results() {
                let Some(id) = result.id() else { continue };
                let top = result
                    .values()
                    .iter()
                    .copied()
                    .fold(None, |top: Option<f64>, v| {
                        Some(top.map_or(v, |t| t.max(v)))
                    });
                if let (Some(slot), Some(top)) = (highest.get_mut(id), top) {
                    *slot = Some(slot.map_or(top, |s| s.max(top)));
                }
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(highest),
            }
        }
    }
}

/// The query for one target group behind one load balancer, if its kind of load
/// balancer publishes the metric (Application and Network Load Balancers).
fn query(
    id: String,
    target_group: &TargetGroupArn,
    balancer: &LoadBalancerArn,
) -> Option<MetricDataQuery> {
    let namespace = match balancer.full_name().split('/').next() {
        Some("app") => "AWS/ApplicationELB",
        Some("net") => "AWS/NetworkELB",
        _ => return None,
    };
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name("UnHealthyHostCount")
        .dimensions(dimension("TargetGroup", target_group.full_name()))
        .dimensions(dimension("LoadBalancer", balancer.full_name()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(PERIOD.as_secs() as i32)
        .stat("Maximum")
        .build();
    Some(
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(stat)
            .return_data(true)
            .build(),
    )
}

impl HostCounts for HostCountReader {
    async fn fronts(&self) -> Result<Fronts, Error> {
        let kept = self
            .fronts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(read_at, _)| read_at.elapsed() < FRONTS_KEPT_FOR)
            .map(|(_, fronts)| fronts.clone());
        if let Some(fronts) = kept {
            return Ok(fronts);
        }
        let fronts = self.balancers.load_balancers_by_target_group().await?;
        *self.fronts.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), fronts.clone()));
        Ok(fronts)
    }

    async fn unhealthy_hosts(
        &self,
        target_groups: &[TargetGroupArn],
        fronted: &Fronts,
    ) -> Result<BTreeMap<TargetGroupArn, Option<f64>>, Error> {
        if target_groups.is_empty() {
            return Ok(BTreeMap::new());
        }
        // Query ids must start with a lowercase letter: q<n>, mapped back afterwards.
        let mut queries = Vec::new();
        let mut asked: BTreeMap<String, &TargetGroupArn> = BTreeMap::new();
        for target_group in target_groups {
            for balancer in fronted.get(target_group).into_iter().flatten() {
                let id = format!("q{}", queries.len());
                if let Some(q) = query(id.clone(), target_group, balancer) {
                    asked.insert(id.clone(), target_group);
                    queries.push((id, q));
                }
            }
        }
        let now = std::time::SystemTime::now();
        let start = SmithyTime::from(now - LOOK_BACK);
        let end = SmithyTime::from(now);
        let answers = futures::future::join_all(
            queries
                .chunks(MAX_METRICS_PER_CALL)
                .map(|chunk| self.read(chunk, start, end)),
        )
        .await;
        let mut counts: BTreeMap<TargetGroupArn, Option<f64>> = BTreeMap::new();
        for answer in answers {
            for (id, highest) in answer? {
                let Some(target_group) = asked.get(&id) else {
                    continue;
                };
                let slot = counts.entry((*target_group).clone()).or_insert(highest);
                // Any load balancer without data leaves the target group without data.
                *slot = match (*slot, highest) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_is_asked_of_application_and_network_load_balancers_only() {
        let tg = TargetGroupArn::parse(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
        )
        .unwrap();
        let lb = |kind: &str| {
            LoadBalancerArn::parse(format!(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/{kind}/front/0123456789abcdef"
            ))
            .unwrap()
        };
        let app = query("q0".into(), &tg, &lb("app")).unwrap();
        let stat = app.metric_stat().unwrap();
        let metric = stat.metric().unwrap();
        assert_eq!(metric.namespace(), Some("AWS/ApplicationELB"));
        assert_eq!(metric.metric_name(), Some("UnHealthyHostCount"));
        let dims: Vec<(&str, &str)> = metric
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dims,
            [
                ("TargetGroup", "targetgroup/web/0123456789abcdef"),
                ("LoadBalancer", "app/front/0123456789abcdef")
            ]
        );
        assert_eq!(
            query("q1".into(), &tg, &lb("net"))
                .unwrap()
                .metric_stat()
                .unwrap()
                .metric()
                .unwrap()
                .namespace(),
            Some("AWS/NetworkELB")
        );
        assert!(query("q2".into(), &tg, &lb("gwy")).is_none());
    }
}
