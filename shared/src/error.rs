//! Errors that know whether trying again can help. Adapters classify SDK errors at the
//! boundary; handlers turn the classification into the error type Lambda reports, so
//! EventBridge, async invocation and stream retries do the right thing.

use std::error::Error as StdError;

use aws_smithy_types::error::display::DisplayErrorContext;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is not what its shape promised. Retrying cannot help; the event goes
    /// to the dead-letter queue through the normal failure path, so nothing is lost.
    #[error("invalid event: {0}")]
    InvalidEvent(String),

    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// An AWS call failed. `retryable` is decided by the adapter from the error code.
    #[error("{operation} failed: {detail}")]
    Aws {
        operation: &'static str,
        retryable: bool,
        detail: String,
        #[source]
        source: BoxError,
    },

    /// A stored item that does not decode into an incident.
    #[error("stored record {key} is malformed")]
    CorruptRecord {
        key: String,
        #[source]
        source: BoxError,
    },

    /// Concurrent writers kept winning; the next delivery will converge.
    #[error("gave up after {attempts} conflicting writes on {resource}")]
    Contention { resource: String, attempts: u32 },
}

impl Error {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Aws { retryable, .. } => *retryable,
            Self::Contention { .. } => true,
            Self::InvalidEvent(_) | Self::Config(_) | Self::CorruptRecord { .. } => false,
        }
    }

    /// The `errorType` Lambda reports: operators and retry policies can tell a
    /// transient failure from one that needs a person.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "Rebound.InvalidEvent",
            Self::Config(_) => "Rebound.Config",
            Self::CorruptRecord { .. } => "Rebound.CorruptRecord",
            _ if self.is_retryable() => "Rebound.Retryable",
            _ => "Rebound.AwsError",
        }
    }

    /// Wraps an error from an SDK call. `detail` is what people read (in the incident,
    /// the notification, the Lambda error message): the service's error code and
    /// message when there is one, else the error's context, bounded in length. The
    /// full context, raw response included, stays in the source chain for logs
    /// (`DisplayErrorContext`).
    pub fn aws<E>(
        operation: &'static str,
        retryable: bool,
        code: Option<&str>,
        message: Option<&str>,
        err: E,
    ) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        let detail = match (code, message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&err).to_string(),
        };
        Self::Aws {
            operation,
            retryable,
            detail: bounded(detail, MAX_DETAIL_CHARS),
            source: Box::new(err),
        }
    }

    /// A construction error of the SDK's own builders (a required field missing).
    pub fn build<E>(operation: &'static str, err: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        Self::aws(operation, false, None, None, err)
    }
}

/// Error details kept in incidents and messages stay short: a raw response dump is for
/// logs, not for a pager.
pub const MAX_DETAIL_CHARS: usize = 300;

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn bounded(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Error codes after which the same call may well succeed.
pub fn is_retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "Throttled"
                | "ThrottledException"
                | "KMSThrottling"
                | "KMSThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "ProvisionedThroughputExceededException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "TransactionInProgressException"
                | "ResourceContention"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_retryable_and_client_errors_are_not() {
        assert!(is_retryable_code(Some("Throttling")));
        assert!(is_retryable_code(Some("ServiceUnavailable")));
        // SNS's own spellings: a notifier parks what is not retryable, so these matter.
        assert!(is_retryable_code(Some("Throttled")));
        assert!(is_retryable_code(Some("KMSThrottling")));
        assert!(!is_retryable_code(Some("InvalidParameter")));
        assert!(!is_retryable_code(Some("ValidationError")));
        assert!(!is_retryable_code(None));
    }

    #[test]
    fn an_aws_error_reads_as_code_and_message_and_stays_short() {
        let source = std::io::Error::other("raw response <ErrorResponse>…</ErrorResponse>");
        let err = Error::aws(
            "SetInstanceHealth",
            true,
            Some("Throttling"),
            Some("Rate exceeded"),
            source,
        );
        assert_eq!(
            err.to_string(),
            "SetInstanceHealth failed: Throttling: Rate exceeded"
        );

        let long = std::io::Error::other("x".repeat(5_000));
        let err = Error::aws("GetItem", true, None, None, long);
        assert!(
            err.to_string().chars().count() < MAX_DETAIL_CHARS + 40,
            "{err}"
        );
    }

    #[test]
    fn the_lambda_error_type_says_whether_to_retry() {
        let invalid = Error::InvalidEvent("no TargetGroup dimension".into());
        assert!(!invalid.is_retryable());
        let diag: lambda_runtime::Diagnostic = invalid.into();
        assert_eq!(diag.error_type, "Rebound.InvalidEvent");
        assert!(diag.error_message.contains("no TargetGroup dimension"));

        let contention = Error::Contention {
            resource: "tg".into(),
            attempts: 3,
        };
        assert_eq!(contention.error_type(), "Rebound.Retryable");
    }
}
