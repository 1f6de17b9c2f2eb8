//! SDK clients built by their first call, not during init.
//!
//! Building an SDK client builds its endpoint resolver, which parses the crate's copy of
//! the AWS partitions table (JSON) and compiles a region pattern per partition: four
//! clients took 0.7 of target-health's 2.1 ms from start to exit at a closed Runtime API
//! port (perf stat over 300 starts, the release binary with and without building
//! them; the bare runtime takes 1.3 ms). A function that
//! answers an event with no AWS call never pays it; one that calls pays it once, in its
//! first call, next to a connection and TLS handshake that cost far more.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

/// An SDK client (any value) built on first use, shared by its clones.
pub struct LazyClient<C>(Arc<Inner<C>>);

struct Inner<C> {
    built: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// The client `build` makes, when it is first used.
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self(Arc::new(Inner {
            built: OnceLock::new(),
            build: Box::new(build),
        }))
    }

    /// The client of `sdk` (e.g. `aws_sdk_rds::Client::new`), when it is first used.
    pub fn from_sdk(sdk: &SdkConfig, client: fn(&SdkConfig) -> C) -> Self
    where
        C: 'static,
    {
        let sdk = sdk.clone();
        Self::new(move || client(&sdk))
    }

    /// Whether it has been built yet.
    pub fn is_built(&self) -> bool {
        self.0.built.get().is_some()
    }
}

/// A client already built (tests' mocks, the CLI): nothing left to defer.
impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        let built = Self::new(move || client.clone());
        let _ = &*built; // built now: nothing left to defer
        built
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.0.built.get_or_init(|| (self.0.build)())
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.is_built())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let client = LazyClient::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            "client"
        });
        let copy = client.clone();
        assert!(!client.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 0);

        assert_eq!(*copy, "client");
        assert_eq!(*client, "client");
        assert!(client.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_client_of_the_sdk_configuration_is_built_when_first_used() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let client = LazyClient::from_sdk(&sdk, aws_sdk_sns::Client::new);
        assert!(!client.is_built());
        assert_eq!(
            client.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        assert!(client.is_built());
    }

    #[test]
    fn a_client_given_built_stays_built() {
        let client: LazyClient<&str> = "mock".into();
        assert!(client.is_built());
        assert_eq!(*client, "mock");
    }
}
