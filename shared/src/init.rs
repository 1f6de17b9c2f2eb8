//! Lambda's init phase. A function whose configuration is invalid reports it through the
//! Runtime API's init-error call and then exits, as the Runtime API asks: Lambda then
//! shows the error as the function's (`Runtime.ConfigInvalid` with the message naming
//! the variable) on the invocation that started the environment, logs it, and retries
//! the init on the next invocation as designed. Exiting without the report would read
//! as an unexplained crash (`Runtime.ExitError`).

use http::{Method, Uri};
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{build_request, Client};
use tracing::error;

/// The error type Lambda records for an invalid configuration.
pub const CONFIG_INVALID: &str = "Runtime.ConfigInvalid";

const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// The function's configuration, or — when it is invalid — the error, after it was
/// logged and reported to the Runtime API (so `main` returns it and the process exits).
pub async fn configured<T, E>(config: Result<T, E>) -> Result<T, lambda_runtime::Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match config {
        Ok(config) => Ok(config),
        Err(err) => {
            error!(error = %err, "invalid configuration: reporting it to Lambda and exiting");
            report_init_error(CONFIG_INVALID, &err.to_string()).await;
            Err(err.into())
        }
    }
}

/// Posts the init error to the Runtime API named by `AWS_LAMBDA_RUNTIME_API`. Outside
/// Lambda (the variable unset) or when the call fails, the error is only logged: the
/// process exits with it either way.
pub async fn report_init_error(error_type: &str, message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        error!("AWS_LAMBDA_RUNTIME_API is not set: the init error is only logged");
        return;
    };
    if let Err(why) = post_init_error(&api, error_type, message).await {
        error!(runtime_api = %api, error = %why, "the init error could not be reported");
    }
}

async fn post_init_error(api: &str, error_type: &str, message: &str) -> Result<(), String> {
    let base: Uri = format!("http://{api}")
        .parse()
        .map_err(|e| format!("AWS_LAMBDA_RUNTIME_API is not an address: {e}"))?;
    let client = Client::builder()
        .with_endpoint(base)
        .build()
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_owned(),
    })
    .map_err(|e| e.to_string())?;
    let request = build_request()
        .method(Method::POST)
        .uri(INIT_ERROR_PATH)
        .header("lambda-runtime-function-error-type", error_type)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    let response = client.call(request).await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()));
    }
    Ok(())
}
