//! `bare-runtime`: a Lambda function that does nothing. lambda_runtime on a
//! current-thread tokio runtime answers every event with `{"ok": true}`: no SDK, no
//! configuration, no telemetry. scripts/bench measures it in the same run as the
//! functions, as the physical floor of a Rust Lambda's init time and RSS on that machine.

use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<Value, lambda_runtime::Error>(json!({"ok": true}))
    }))
    .await
}
