//! The one HTTPS connector every SDK client of a process shares, built on its first
//! call, and the optional opening of its connections during init.
//!
//! The SDK's default client is rustls with aws-lc-rs; ring does the same TLS 1.2/1.3
//! with the same cipher suites in 2.7 MB less binary (1.0 MB less zip), which keeps
//! each Lambda zip under 3 MB (bench/RESULTS.md, "Build levers"). The `tls-aws-lc`
//! feature of this crate switches back (to compare, or as the start of a FIPS build).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

#[cfg(feature = "tls-aws-lc")]
const CRYPTO: CryptoMode = CryptoMode::AwsLc;
#[cfg(not(feature = "tls-aws-lc"))]
const CRYPTO: CryptoMode = CryptoMode::Ring;

/// The SDK's own default connect timeout (aws-config, every behaviour version since
/// 2023-11-09): the connector is built here, so it has to be set here.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);

/// How long init may spend opening connections before it gives up on them: a
/// connection that is not open by then is opened by the first call, as without
/// warm-up.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);

/// One HTTPS connector (one connection pool) for every client built from the same SDK
/// configuration.
#[derive(Clone, Debug)]
pub struct Https {
    connector: SharedHttpConnector,
    ahead: OpenAhead,
    #[cfg(test)]
    lazy: LazyConnector,
}

/// Endpoints to open a connection to as the first request goes out (lazy connections):
/// a first delivery's later rounds of parallel reads then find a connection open to each
/// service instead of each paying its own handshake, so a cold delivery costs about one
/// handshake more than a warm one, and init none.
#[derive(Clone, Debug, Default)]
struct OpenAhead {
    endpoints: Arc<Mutex<Option<Ahead>>>,
}

/// What to open: endpoints, or the services whose endpoints to resolve first (resolved
/// in the background too, so init does not evaluate any endpoint rules).
#[derive(Debug)]
enum Ahead {
    /// Endpoints given as they are: the tests' seam (local servers, no service to resolve).
    #[cfg(test)]
    Endpoints(BTreeSet<String>),
    // Boxed: the configuration is large, and held once per process.
    Services(Box<aws_types::SdkConfig>, Vec<super::Service>),
}

impl Ahead {
    async fn endpoints(self) -> BTreeSet<String> {
        match self {
            #[cfg(test)]
            Self::Endpoints(endpoints) => endpoints,
            Self::Services(sdk, services) => super::endpoints(&sdk, &services).await,
        }
    }
}

impl OpenAhead {
    fn put(&self, ahead: Ahead) {
        *self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(ahead);
    }

    fn take(&self) -> Option<Ahead> {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Hands every request on; the first one also starts opening the connections
/// [`OpenAhead`] holds, in the background, alongside it.
#[derive(Clone, Debug)]
struct OpensAheadConnector {
    inner: SharedHttpConnector,
    ahead: OpenAhead,
}

impl HttpConnector for OpensAheadConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if let Some(ahead) = self.ahead.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let inner = self.inner.clone();
                runtime.spawn(async move {
                    let endpoints = ahead.endpoints().await;
                    let opened = open_all(&inner, &endpoints).await;
                    tracing::debug!(
                        opened,
                        of = endpoints.len(),
                        "connections opened with the first call"
                    );
                });
            }
        }
        self.inner.call(request)
    }
}

/// The real connector, built by the first request through it.
///
/// Building it reads and parses the platform's trust store (about 140 roots): 2.3 of the
/// 4.1 ms a function's init took (target-health's init with the system's roots against
/// SSL_CERT_FILE holding one, bench/harness.py), spent before an event that may need no
/// connection at all. Built on first use instead, on the function's one thread: that
/// call is about to make a TLS handshake that needs the roots anyway, and nothing else
/// runs on the thread meanwhile, so blocking it once costs what init did.
#[derive(Clone, Debug, Default)]
struct LazyConnector {
    built: Arc<OnceLock<SharedHttpConnector>>,
}

impl LazyConnector {
    fn get(&self) -> &SharedHttpConnector {
        self.built.get_or_init(build_connector)
    }
}

impl HttpConnector for LazyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.get().call(request)
    }
}

/// rustls with the crate's crypto provider, the platform's trusted roots (SSL_CERT_FILE /
/// SSL_CERT_DIR are honoured), the SDK's connect timeout.
fn build_connector() -> SharedHttpConnector {
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build();
    let mut builder = Connector::builder().connector_settings(settings);
    if let Some(sleep) = default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    SharedHttpConnector::new(builder.tls_provider(tls::Provider::Rustls(CRYPTO)).build())
}

impl Https {
    /// The connector, to be built by its first request.
    pub fn new() -> Self {
        Self::layered(None)
    }

    /// The connector, to be built by its first request, with every request paced by
    /// its service's token bucket first.
    pub fn paced(pacing: super::pace::Pacing) -> Self {
        Self::layered(Some(pacing))
    }

    fn layered(pacing: Option<super::pace::Pacing>) -> Self {
        let lazy = LazyConnector::default();
        let mut inner = SharedHttpConnector::new(lazy.clone());
        if let Some(pacing) = pacing {
            inner = SharedHttpConnector::new(super::pace::PacedConnector::new(inner, pacing));
        }
        let ahead = OpenAhead::default();
        Self {
            connector: SharedHttpConnector::new(OpensAheadConnector {
                inner,
                ahead: ahead.clone(),
            }),
            ahead,
            #[cfg(test)]
            lazy,
        }
    }

    /// Opens a connection to each endpoint when the first request goes out, alongside
    /// it (see [`OpenAhead`]); nothing during init. The functions name services
    /// ([`Https::open_services_with_first_call`]); the tests, local servers.
    #[cfg(test)]
    pub fn open_with_first_call(&self, endpoints: BTreeSet<String>) {
        self.ahead.put(Ahead::Endpoints(endpoints));
    }

    /// Opens a connection to each of these services' endpoints when the first request
    /// goes out, resolving them then, in the background: init does no work for it.
    pub fn open_services_with_first_call(
        &self,
        sdk: &aws_types::SdkConfig,
        services: &[super::Service],
    ) {
        self.ahead
            .put(Ahead::Services(Box::new(sdk.clone()), services.to_vec()));
    }

    /// Whether a request has built the real connector yet.
    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.lazy.built.get().is_some()
    }

    /// The client to hand to the SDK configuration. Every client it serves uses this
    /// one connector, whatever timeouts it asks for: Rebound sets none but the SDK's
    /// defaults, which the connector already has.
    pub fn client(&self) -> SharedHttpClient {
        let connector = self.connector.clone();
        http_client_fn(move |_settings, _components| connector.clone())
    }

    /// Opens a connection to each endpoint (TCP, TLS handshake) with an unsigned
    /// `GET /` and leaves it in the pool for the first real call, all endpoints at
    /// once. No AWS API is called: the request carries no credentials and no action.
    /// Failures only mean the first call connects as it would have anyway; they are
    /// logged, never returned. Returns how many endpoints answered.
    pub async fn open(&self, endpoints: &BTreeSet<String>) -> usize {
        open_all(&self.connector, endpoints).await
    }

    /// Sends one request a caller built and signed itself (S3's `PutObject`): the
    /// answer's status and body.
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpAnswer, String> {
        let response = self
            .connector
            .call(request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(HttpAnswer {
            status,
            headers,
            body: body.into_bytes().to_vec(),
        })
    }

    #[cfg(test)]
    async fn touch(&self, endpoint: &str) -> Result<(), String> {
        touch(&self.connector, endpoint).await
    }
}

/// Opens a connection to each endpoint (TCP, TLS handshake) with an unsigned `GET /`
/// and leaves it in the pool, all endpoints at once; how many answered.
async fn open_all(connector: &SharedHttpConnector, endpoints: &BTreeSet<String>) -> usize {
    let opened = futures::future::join_all(endpoints.iter().map(|endpoint| async move {
        match tokio::time::timeout(OPEN_TIMEOUT, touch(connector, endpoint)).await {
            Ok(Ok(())) => true,
            Ok(Err(reason)) => {
                tracing::debug!(endpoint, %reason, "could not open a connection ahead");
                false
            }
            Err(_) => {
                tracing::debug!(endpoint, "opening a connection ahead timed out");
                false
            }
        }
    }))
    .await;
    opened.into_iter().filter(|&ok| ok).count()
}

async fn touch(connector: &SharedHttpConnector, endpoint: &str) -> Result<(), String> {
    let mut request = HttpRequest::new(SdkBody::empty());
    request.set_uri(endpoint).map_err(|e| e.to_string())?;
    let response = connector
        .call(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    // Read the answer to its end, so hyper returns the connection to the pool.
    ByteStream::new(response.into_body())
        .collect()
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The answer to a request sent with [`Https::send`], read to its end.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Default for Https {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A keep-alive HTTP/1.1 server that answers every request `200 ok` and counts the
    /// connections it accepted.
    async fn server() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    while let Ok(read) = socket.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn the_trust_store_is_read_by_the_first_request_not_by_init() {
        let (url, accepted) = server().await;
        let https = Https::new();
        // What a function's init builds: the SDK's client on this connector.
        let sdk_client = https.client();
        let shared_copy = https.clone();
        assert!(!https.is_built(), "built before any request");
        drop(sdk_client);

        shared_copy.touch(&url).await.unwrap();
        assert!(https.is_built(), "every copy shares the one connector");
        https.touch(&url).await.unwrap();
        // One pool: the second request reused the first one's connection.
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_opened_during_init_is_the_one_the_first_call_uses() {
        let (url, accepted) = server().await;
        let https = Https::new();
        let endpoints = BTreeSet::from([url.clone()]);

        assert_eq!(https.open(&endpoints).await, 1);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // The next request through the same connector (what the first SDK call does)
        // finds the connection in the pool instead of opening another.
        https.touch(&url).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lazy_connections_are_all_opened_alongside_the_first_call() {
        let (first, first_accepted) = server().await;
        let (other, other_accepted) = server().await;
        let https = Https::new();
        https.open_with_first_call(BTreeSet::from([first.clone(), other.clone()]));
        assert_eq!(
            other_accepted.load(Ordering::SeqCst),
            0,
            "nothing during init"
        );

        https.touch(&first).await.unwrap();
        // The other endpoint's connection opens in the background, at the same time.
        for _ in 0..200 {
            if other_accepted.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(other_accepted.load(Ordering::SeqCst), 1);
        // Later calls to it find that connection; nothing is opened ahead twice.
        https.touch(&other).await.unwrap();
        https.touch(&first).await.unwrap();
        assert_eq!(other_accepted.load(Ordering::SeqCst), 1);
        assert!(first_accepted.load(Ordering::SeqCst) <= 2);
    }

    #[tokio::test]
    async fn an_endpoint_that_cannot_be_reached_is_left_to_the_first_call() {
        let unreachable = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", listener.local_addr().unwrap())
        };
        let https = Https::new();
        assert_eq!(https.open(&BTreeSet::from([unreachable])).await, 0);
    }
}
