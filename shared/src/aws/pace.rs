//! Client-side pacing: a token bucket per AWS service, set to a share of the rate the
//! service publishes for the account, so Rebound's own calls (a sweep over thousands of
//! target groups above all) never spend more than that share of an API budget the
//! account's console, deploy tools and people share.
//!
//! Every request through the function's connector takes a token of its service's bucket
//! first (retries too: each attempt costs the account a token), and waits for one when
//! the bucket is empty. The service is read from the request's SigV4 credential scope
//! (`…/<region>/<service>/aws4_request`), which every signed AWS request carries,
//! whatever endpoint it goes to. A service with no published rate is not paced.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

/// A service's published request rate for an account: a bucket of `burst` tokens
/// refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedRate {
    /// The SigV4 signing name (`elasticloadbalancing`, `monitoring`, …).
    pub service: &'static str,
    /// The operation this rate is published for; `None`: the service's other calls.
    pub operation: Option<&'static str>,
    pub burst: f64,
    pub per_second: f64,
}

/// The rates Rebound's sweeps are paced against, per account and region. Sources:
/// - Elastic Load Balancing: the API reference's "Request throttling" example for the
///   `Describe*` actions (a bucket of 40, refilled at 10 a second).
/// - Auto Scaling publishes no figure; the EC2 API's non-mutating actions (a bucket of
///   100, refilled at 20 a second, EC2 API reference "Request throttling") stand in.
/// - CloudWatch: `GetMetricData` 50 transactions a second, `DescribeAlarms` 9 (the
///   service's quotas page), the lower for its other calls.
/// - EC2: non-mutating actions, as above.
///
/// DynamoDB is bounded by the table's throughput, not an API budget; ARC, RDS, SNS,
/// CloudFormation and CodeDeploy are called per incident, never per swept resource:
/// none of them is paced.
pub const PUBLISHED_RATES: &[PublishedRate] = &[
    PublishedRate {
        service: "elasticloadbalancing",
        operation: None,
        burst: 40.0,
        per_second: 10.0,
    },
    PublishedRate {
        service: "autoscaling",
        operation: None,
        burst: 100.0,
        per_second: 20.0,
    },
    PublishedRate {
        service: "monitoring",
        operation: Some("GetMetricData"),
        burst: 50.0,
        per_second: 50.0,
    },
    PublishedRate {
        service: "monitoring",
        operation: None,
        burst: 9.0,
        per_second: 9.0,
    },
    PublishedRate {
        service: "ec2",
        operation: None,
        burst: 100.0,
        per_second: 20.0,
    },
];

/// A token bucket that hands out reservations: each take is granted a moment, at once
/// while tokens are left, else when the refill will have made one, so concurrent callers
/// queue at the bucket's rate instead of all retrying at the same instant.
#[derive(Debug)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    state: Mutex<Level>,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    /// Tokens left; below zero, the reservations not yet refilled.
    tokens: f64,
    /// When `tokens` was last brought up to date (time since the clock's origin).
    at: Duration,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(burst: f64, per_second: f64, now: Duration) -> Self {
        let burst = burst.max(1.0);
        Self {
            burst,
            per_second: per_second.max(f64::MIN_POSITIVE),
            state: Mutex::new(Level {
                tokens: burst,
                at: now,
            }),
        }
    }

    /// Reserves one token at `now`: how long the caller must wait before using it
    /// (zero while tokens are left).
    pub fn reserve(&self, now: Duration) -> Duration {
        let mut level = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_sub(level.at).as_secs_f64();
        level.tokens = (level.tokens + elapsed * self.per_second).min(self.burst);
        level.at = level.at.max(now);
        level.tokens -= 1.0;
        if level.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // Checked: a wait too long to represent waits as long as one can.
            Duration::try_from_secs_f64(-level.tokens / self.per_second).unwrap_or(Duration::MAX)
        }
    }
}

/// Where pacing reads the time and waits: the real clock, or a test's.
pub trait PaceClock: Send + Sync + std::fmt::Debug {
    /// Time since the clock's origin (monotonic).
    fn now(&self) -> Duration;
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The process's monotonic clock and tokio's timer.
#[derive(Debug)]
pub struct RealClock {
    origin: Instant,
}

impl Default for RealClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl PaceClock for RealClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// One bucket per published rate, at `share` of it.
#[derive(Debug, Clone)]
pub struct Pacing {
    buckets: Arc<Vec<(PublishedRate, TokenBucket)>>,
    clock: Arc<dyn PaceClock>,
}

impl Pacing {
    /// `share`: the part of each published rate Rebound may use, in (0, 1].
    pub fn new(share: f64, clock: Arc<dyn PaceClock>) -> Self {
        let share = share.clamp(0.01, 1.0);
        let now = clock.now();
        let buckets = PUBLISHED_RATES
            .iter()
            .map(|rate| {
                (
                    *rate,
                    TokenBucket::new(rate.burst * share, rate.per_second * share, now),
                )
            })
            .collect();
        Self {
            buckets: Arc::new(buckets),
            clock,
        }
    }

    /// Waits until the operation of the service (named by the request's signature)
    /// may be called: its own rate's bucket if it has one, else its service's.
    pub async fn take(&self, service: Option<&str>, operation: Option<&str>) {
        let Some(service) = service else {
            return;
        };
        let of_service = |rate: &PublishedRate| rate.service == service;
        let bucket = self
            .buckets
            .iter()
            .find(|(rate, _)| {
                of_service(rate) && rate.operation.is_some() && rate.operation == operation
            })
            .or_else(|| {
                self.buckets
                    .iter()
                    .find(|(rate, _)| of_service(rate) && rate.operation.is_none())
            })
            .map(|(_, bucket)| bucket);
        let Some(bucket) = bucket else {
            return;
        };
        let wait = bucket.reserve(self.clock.now());
        if !wait.is_zero() {
            self.clock.sleep(wait).await;
        }
    }
}

/// The service a signed request is for: the fourth part of its SigV4 credential scope
/// (`Credential=AKID/20260101/us-east-1/elasticloadbalancing/aws4_request`).
pub fn signed_service(request: &HttpRequest) -> Option<String> {
    let authorization = request.headers().get("authorization")?;
    let credential = authorization
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let service = scope.nth(3)?;
    (scope.next() == Some("aws4_request")).then(|| service.to_owned())
}

/// The operation a request calls, where the protocol names it outside the body: the
/// path of Smithy RPC v2 CBOR (`/service/<service>/operation/<Operation>`) or the
/// `x-amz-target` header of the JSON protocols (`<prefix>.<Operation>`). `None` for the
/// query protocol (the operation is in the body): its service's rate then applies.
pub fn named_operation(request: &HttpRequest) -> Option<String> {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().map(str::to_owned);
    }
    let path = request.uri().split('?').next()?;
    let (_, operation) = path.rsplit_once("/operation/")?;
    (!operation.is_empty() && !operation.contains('/')).then(|| operation.to_owned())
}

/// A connector that paces every request by its service before handing it on.
#[derive(Debug, Clone)]
pub struct PacedConnector {
    inner: SharedHttpConnector,
    pacing: Pacing,
}

impl PacedConnector {
    pub fn new(inner: SharedHttpConnector, pacing: Pacing) -> Self {
        Self { inner, pacing }
    }
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let pacing = self.pacing.clone();
        HttpConnectorFuture::new(async move {
            pacing
                .take(
                    signed_service(&request).as_deref(),
                    named_operation(&request).as_deref(),
                )
                .await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    /// A clock that only moves when told to, or when a caller sleeps (the sleep moves it
    /// by exactly the wait, as a single caller experiences time).
    #[derive(Debug, Default)]
    struct FakeClock {
        now: Mutex<Duration>,
    }

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.now.lock().unwrap() += by;
        }
    }

    impl PaceClock for Arc<FakeClock> {
        fn now(&self) -> Duration {
            *self.now.lock().unwrap()
        }

        fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            self.advance(wait);
            Box::pin(async {})
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_full_bucket_grants_its_burst_at_once_then_one_token_per_refill_interval() {
        let bucket = TokenBucket::new(8.0, 2.0, Duration::ZERO);
        let waits: Vec<Duration> = (0..12).map(|_| bucket.reserve(Duration::ZERO)).collect();
        assert!(waits[..8].iter().all(Duration::is_zero), "{waits:?}");
        // Reservations queue: the 9th waits half a second, each next one half more.
        assert_eq!(waits[8], secs(0.5));
        assert_eq!(waits[9], secs(1.0));
        assert_eq!(waits[11], secs(2.0));
    }

    #[test]
    fn an_idle_bucket_refills_to_its_burst_and_no_more() {
        let bucket = TokenBucket::new(4.0, 1.0, Duration::ZERO);
        for _ in 0..4 {
            assert!(bucket.reserve(Duration::ZERO).is_zero());
        }
        assert_eq!(bucket.reserve(Duration::ZERO), secs(1.0));
        // An hour idle refills four tokens, not 3,600.
        let later = Duration::from_secs(3_600);
        let waits: Vec<Duration> = (0..6).map(|_| bucket.reserve(later)).collect();
        assert_eq!(waits.iter().filter(|w| w.is_zero()).count(), 4, "{waits:?}");
        assert_eq!(waits[4], secs(1.0));
    }

    #[tokio::test]
    async fn a_sweep_s_calls_never_exceed_the_share_of_the_published_rate() {
        // ELB publishes 40 tokens refilled at 10 a second; a fifth is 8, refilled at 2.
        let clock = Arc::new(FakeClock::default());
        let pacing = Pacing::new(0.2, Arc::new(clock.clone()));
        let mut granted = Vec::new();
        for _ in 0..200 {
            pacing.take(Some("elasticloadbalancing"), None).await;
            granted.push(clock.now());
        }
        // In any window, at most the burst plus the refill of the window.
        for (i, start) in granted.iter().enumerate() {
            for window in [1.0, 10.0, 60.0] {
                let end = *start + secs(window);
                let within = granted[i..].iter().take_while(|t| **t < end).count();
                assert!(
                    within as f64 <= 8.0 + 2.0 * window + 1e-9,
                    "{within} calls within {window} s from {start:?}"
                );
            }
        }
        // And it keeps that pace: 200 calls take (200 − 8) / 2 = 96 s.
        assert_eq!(clock.now(), secs(96.0));
        // Unpaced services never wait.
        let before = clock.now();
        for _ in 0..1_000 {
            pacing.take(Some("dynamodb"), Some("Query")).await;
            pacing.take(None, None).await;
        }
        assert_eq!(clock.now(), before);
    }

    #[tokio::test]
    async fn an_operation_with_a_rate_of_its_own_is_paced_by_it() {
        // CloudWatch: GetMetricData 50 a second, its other calls 9; a fifth of each.
        let clock = Arc::new(FakeClock::default());
        let pacing = Pacing::new(0.2, Arc::new(clock.clone()));
        for _ in 0..30 {
            pacing.take(Some("monitoring"), Some("GetMetricData")).await;
        }
        // 10 at once, then 10 a second: 20 more take 2 s.
        assert_eq!(clock.now(), secs(2.0));
        let before = clock.now();
        for _ in 0..4 {
            pacing
                .take(Some("monitoring"), Some("DescribeAlarms"))
                .await;
        }
        // A burst of 1.8 (its own bucket), then 1.8 a second.
        assert!(
            clock.now() > before,
            "DescribeAlarms has its own, smaller bucket"
        );
    }

    #[test]
    fn the_operation_is_read_where_the_protocol_names_it() {
        let mut cbor = HttpRequest::new(SdkBody::empty());
        cbor.set_uri("https://monitoring.us-east-1.amazonaws.com/service/GraniteServiceVersion20100801/operation/GetMetricData")
            .unwrap();
        assert_eq!(named_operation(&cbor).as_deref(), Some("GetMetricData"));
        let mut json = HttpRequest::new(SdkBody::empty());
        json.headers_mut()
            .insert("x-amz-target", "DynamoDB_20120810.Query");
        assert_eq!(named_operation(&json).as_deref(), Some("Query"));
        let mut query = HttpRequest::new(SdkBody::empty());
        query
            .set_uri("https://elasticloadbalancing.us-east-1.amazonaws.com/")
            .unwrap();
        assert_eq!(named_operation(&query), None);
    }

    #[test]
    fn the_service_is_read_from_the_signature_s_credential_scope() {
        let mut request = HttpRequest::new(SdkBody::empty());
        request.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261204/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert_eq!(
            signed_service(&request).as_deref(),
            Some("elasticloadbalancing")
        );
        let unsigned = HttpRequest::new(SdkBody::empty());
        assert_eq!(signed_service(&unsigned), None);
        let mut odd = HttpRequest::new(SdkBody::empty());
        odd.headers_mut()
            .insert("authorization", "Bearer Credential=a/b");
        assert_eq!(signed_service(&odd), None);
    }
}
