//! End-to-end tier: a function binary whose configuration is invalid tells Lambda
//! through the Runtime API's init-error call, and exits without polling for an
//! invocation (issue 19 point 7). The Runtime API here is a recorder that answers every
//! call as Lambda's does (202 to the init error); nothing else is needed, so no emulator.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rebound_tests::lambda::function_binary;
use serde_json::Value;

/// One request the function made to the Runtime API.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    error_type_header: Option<String>,
    body: String,
}

/// A Runtime API that records each call; `next` (a poll for an invocation) is answered
/// with an error, so a function that polls when it should have exited is seen, not hung.
fn recording_runtime_api() -> (String, Arc<Mutex<Vec<Call>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let address = listener
        .local_addr()
        .expect("the bound address")
        .to_string();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&calls);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(call) = read_call(&mut stream) else {
                continue;
            };
            let status = if call.path.ends_with("/init/error") {
                "202 Accepted"
            } else {
                "500 Internal Server Error"
            };
            recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(call);
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (address, calls)
}

fn read_call(stream: &mut std::net::TcpStream) -> Option<Call> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    let mut error_type_header = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "lambda-runtime-function-error-type" => {
                error_type_header = Some(value.trim().to_owned());
            }
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Call {
        method,
        path,
        error_type_header,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[test]
fn every_function_reports_an_invalid_configuration_to_lambda_and_exits() {
    for (function, broken) in [
        ("target-health", "MODE"),
        ("rds-health", "MODE"),
        ("zone-health", "MODE"),
        ("incident-notifier", "PREWARM_CONNECTIONS"),
    ] {
        let binary = function_binary(function).unwrap_or_else(|e| panic!("{e}"));
        let (api, calls) = recording_runtime_api();
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_REGION", "us-east-1")
            .env("INCIDENTS_TABLE", "rebound-incidents")
            .env(
                "NOTIFY_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:rebound",
            )
            .env("MODE", "enforce")
            // The one variable out of its declared values.
            .env(broken, "not-a-valid-value")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{function} did not start: {e}"));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("the child's status") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{function} with an invalid {broken} kept running: it should exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut log = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut log);
        }
        assert!(
            !status.success(),
            "{function} exited successfully on an invalid {broken}"
        );
        let calls = calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            calls.len(),
            1,
            "{function}: one call, the init error, and no poll for an invocation: {calls:?}"
        );
        let call = &calls[0];
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/2018-06-01/runtime/init/error");
        assert_eq!(
            call.error_type_header.as_deref(),
            Some("Runtime.ConfigInvalid")
        );
        let diagnostic: Value = serde_json::from_str(&call.body)
            .unwrap_or_else(|e| panic!("{function}: the body is not JSON ({e}): {}", call.body));
        assert_eq!(diagnostic["errorType"], "Runtime.ConfigInvalid");
        let message = diagnostic["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains(broken),
            "{function}: the message names the variable: {message}"
        );
        assert!(
            log.contains(broken),
            "{function}: the log names the variable too: {log}"
        );
    }
}
