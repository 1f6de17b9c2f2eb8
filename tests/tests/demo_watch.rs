//! scripts/demo fails clearly or not at all: the helpers it starts and watches the
//! function processes with (scripts/lib/functions.sh, scripts/lib/function_watch.py)
//! report a function that exits, or never polls the Runtime API, at once, with its exit
//! status and the end of its log, instead of an invocation waiting two minutes and a
//! Python traceback. Each case runs the helpers as the demo does, on stand-in processes.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rebound_tests::{python, repo_root};

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `script` in bash after sourcing scripts/lib/functions.sh with a fresh functions
/// directory, as scripts/demo does; stops what it started on exit.
fn demo_lib(script: &str, env: &[(&str, &str)]) -> Outcome {
    let started = Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail
             source scripts/lib/functions.sh
             D=\"$(mktemp -d)\"
             trap 'functions_stop; rm -rf \"$D\"' EXIT
             functions_init \"$D\"
             {script}"
        ))
        .current_dir(repo_root())
        .env("REBOUND_PYTHON", python())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// A stand-in Runtime API: accepts connections and never answers (a function's long
/// poll, or an invocation nobody serves, waits on it).
fn silent_runtime_api() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_function_that_exits_at_start_up_stops_the_demo_with_its_status_and_log() {
    let port = silent_runtime_api();
    let out = demo_lib(
        &format!(
            "function_start target-health sh -c 'echo starting; echo \"config error: MODE must be dry-run or enforce\" >&2; exit 3'
             functions_ready {port} target-health
             echo READY"
        ),
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(!out.stdout.contains("READY"), "{}", out.stdout);
    assert!(
        out.stderr.contains("target-health (pid ")
            && out.stderr.contains("exited with status 3 during start-up"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("| config error: MODE must be dry-run or enforce"),
        "the end of its log: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("Traceback"), "{}", out.stderr);
    assert!(out.took < Duration::from_secs(5), "took {:?}", out.took);
}

#[test]
fn a_function_that_never_polls_stops_the_demo_after_the_ready_time() {
    let port = silent_runtime_api();
    let out = demo_lib(
        &format!(
            "function_start rds-health sh -c 'echo waiting for nothing; exec sleep 60'
             functions_ready {port} rds-health
             echo READY"
        ),
        &[("REBOUND_FUNCTION_READY_SECONDS", "1")],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("rds-health (pid ")
            && out.stderr.contains(&format!(
            "is running but has not polled the Lambda Runtime API on 127.0.0.1:{port} within 1 s"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("| waiting for nothing"),
        "{}",
        out.stderr
    );
    // Stopped on exit, not left sleeping.
    assert!(out.took < Duration::from_secs(8), "took {:?}", out.took);
}

#[test]
fn a_function_that_exits_during_an_invocation_fails_it_at_once() {
    let port = silent_runtime_api();
    // Connects to the Runtime API (its poll), then dies the way a panic outside the
    // handler would, while the invocation below waits for its answer.
    let function = format!(
        "import socket, sys, time; s = socket.create_connection(('127.0.0.1', {port})); \
         time.sleep(1.5); print('thread main panicked at src/main.rs:9:5', flush=True); sys.exit(101)"
    );
    let out = demo_lib(
        &format!(
            "function_start incident-notifier \"$REBOUND_PYTHON\" -c \"{function}\"
             functions_ready {port} incident-notifier
             echo READY
             echo '{{}}' >\"$D/event.json\"
             \"$REBOUND_PYTHON\" scripts/lib/demo_helpers.py invoke \
                 http://127.0.0.1:{port}/2015-03-31/functions/incident-notifier/invocations \"$D/event.json\"
             echo ANSWERED"
        ),
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.contains("READY"), "it polled: {}", out.stderr);
    assert!(!out.stdout.contains("ANSWERED"), "{}", out.stdout);
    assert!(
        out.stderr.contains("incident-notifier (pid ")
            && out
                .stderr
                .contains("exited with status 101 while an invocation waited for an answer"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("| thread main panicked at src/main.rs:9:5"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Traceback"), "{}", out.stderr);
    // Not the two minutes an unanswered invocation would wait.
    assert!(out.took < Duration::from_secs(10), "took {:?}", out.took);
}

#[test]
fn an_invocation_nobody_serves_is_one_line_not_a_traceback() {
    // A port nothing listens on (bound, then closed).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = demo_lib(
        &format!(
            "echo '{{}}' >\"$D/event.json\"
             \"$REBOUND_PYTHON\" scripts/lib/demo_helpers.py invoke \
                 http://127.0.0.1:{port}/2015-03-31/functions/target-health/invocations \"$D/event.json\""
        ),
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("demo_helpers.py invoke: POST http://127.0.0.1:")
            && out.stderr.contains("Connection refused"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Traceback"), "{}", out.stderr);
}
