//! The functions run as Lambda runs them: their binaries polling a Lambda Runtime API,
//! here the one `cargo lambda watch --only-lambda-apis` serves (cargo-lambda from PyPI).
//! Invocations go through its Invoke API, as `aws lambda invoke` would. The binaries are
//! those of the running test's own cargo profile and target directory
//! ([`function_binary`]): `cargo build --workspace --all-targets` builds them with the
//! tests, in one go and with the same features (scripts/test).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::http_json;
use crate::repo_root;

pub struct LocalLambda {
    watch: Child,
    functions: Vec<Child>,
    pub port: u16,
    log_dir: PathBuf,
}

/// The binary `name` built in the same profile and target directory as the running
/// program: a test runs from `<target dir>/<profile dir>/deps/`, a binary from
/// `<target dir>/<profile dir>/`, and cargo puts every binary of that profile in
/// `<target dir>/<profile dir>/`. So CARGO_TARGET_DIR, .cargo/config.toml and any profile
/// are honoured. An error says which command builds a missing binary.
pub fn function_binary(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find {name}: the running program's path is unknown: {e}"))?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| format!("cannot find {name}: {} has no directory", exe.display()))?;
    if dir.file_name().is_some_and(|d| d == "deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let binary = dir.join(name);
    if binary.is_file() {
        return Ok(binary);
    }
    let profile_dir = dir
        .file_name()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let profile_flag = match profile_dir.as_str() {
        "debug" => String::new(),
        "release" => " --release".to_owned(),
        other => format!(" --profile {other}"),
    };
    Err(format!(
        "{} is missing: the end-to-end tests run the function binaries of their own build \
         ({}). Build them with the tests, then run the tests: \
         `cargo build --workspace --all-targets --locked{profile_flag}` (scripts/test does)",
        binary.display(),
        dir.display(),
    ))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl LocalLambda {
    /// Starts the Runtime and Invoke APIs and waits until they accept connections.
    pub fn start() -> Self {
        let port = free_port();
        let log_dir =
            std::env::temp_dir().join(format!("rebound-lambda-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let log = std::fs::File::create(log_dir.join("cargo-lambda.log")).expect("log file");
        let watch = Command::new(repo_root().join(".venv/bin/cargo-lambda"))
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start cargo lambda watch (.venv/bin/cargo-lambda; scripts/test installs it)");
        let mut local = Self {
            watch,
            functions: Vec::new(),
            port,
            log_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = local.watch.try_wait() {
                panic!(
                    "cargo lambda watch exited with {status}: {}",
                    local.log("cargo-lambda")
                );
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        local
    }

    /// Starts a function binary against the Runtime API, as Lambda's init phase would.
    pub fn start_function(&mut self, name: &str, env: &[(String, String)]) {
        let log =
            std::fs::File::create(self.log_dir.join(format!("{name}.log"))).expect("log file");
        let binary = function_binary(name).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{name}", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.functions.push(child);
    }

    /// Invokes a function synchronously; `(HTTP status, response payload)`.
    pub fn invoke(&self, name: &str, payload: &Value) -> (u16, Value) {
        http_json(
            self.port,
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            Some(payload.clone()),
        )
    }

    /// The URL `emulator/stream_pump.py` delivers stream batches to.
    pub fn invoke_url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{name}/invocations",
            self.port
        )
    }

    /// Everything a process wrote (stdout and stderr).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// True while every function process is still running.
    pub fn functions_alive(&mut self) -> bool {
        self.functions
            .iter_mut()
            .all(|f| matches!(f.try_wait(), Ok(None)))
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        for child in self
            .functions
            .iter_mut()
            .chain(std::iter::once(&mut self.watch))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
    }
}
