"""A minimal Lambda Runtime API for benchmarking one function process at a time.

    from runtime_api import RuntimeApi
    api = RuntimeApi(function_name="target-health")   # listens on 127.0.0.1:<free port>
    api.start()
    env["AWS_LAMBDA_RUNTIME_API"] = api.address        # "127.0.0.1:<port>"
    generation = api.new_generation()                  # before each new process
    ... start the process ...
    t_first_poll_ns = api.wait_first_poll(generation, timeout=30)
    result = api.invoke(b'{"event": 1}', timeout=60)   # Invocation: outcome, timings, body
    api.stop()

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

- ``GET  /2018-06-01/runtime/invocation/next`` blocks until an event is queued, then
  answers 200 with the event body and the headers ``Lambda-Runtime-Aws-Request-Id``,
  ``Lambda-Runtime-Deadline-Ms``, ``Lambda-Runtime-Invoked-Function-Arn``,
  ``Lambda-Runtime-Trace-Id``;
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error``: 202;
- ``POST /2018-06-01/runtime/init/error``: 202.

Timestamps are ``time.perf_counter_ns()`` of this process, so they compare directly
with the caller's own ``perf_counter_ns()`` readings (e.g. taken just before
``subprocess.Popen``):

- the first ``/next`` poll of a *generation* (one generation per process started: the
  caller opens a new one before starting each process), taken as soon as the request
  line and headers are parsed;
- each hand-out, taken just before the event is written to the socket;
- each ``/response`` or ``/error``, taken once its body has been read completely.

A process that is killed while it waits in ``/next`` leaves a handler thread behind;
opening a new generation wakes such threads and they end their connection without
taking an event, so an event is never written to a dead process's socket.

Standard library only.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
DEFAULT_TIMEOUT_MS = 30_000  # template.yaml: Timeout: 30


@dataclass
class Invocation:
    """One event handed to the function and what came back."""

    request_id: str
    body: bytes
    queued_ns: int
    handed_out_ns: int | None = None
    done_ns: int | None = None
    # "response", "error", or, set by the caller, "timeout" / "crashed".
    outcome: str | None = None
    response_body: bytes = b""
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def latency_ns(self) -> int | None:
        if self.handed_out_ns is None or self.done_ns is None:
            return None
        return self.done_ns - self.handed_out_ns

    def response_json(self) -> Any:
        try:
            return json.loads(self.response_body or b"null")
        except ValueError:
            return None


@dataclass
class InitError:
    at_ns: int
    error_type: str | None
    body: bytes


class _State:
    def __init__(self, function_name: str, region: str, account: str, timeout_ms: int) -> None:
        self.lock = threading.Condition()
        self.generation = 0
        self.queue: deque[Invocation] = deque()
        self.invocations: dict[str, Invocation] = {}
        self.first_poll_ns: dict[int, int] = {}
        self.polls: dict[int, int] = {}
        self.init_errors: dict[int, InitError] = {}
        self.unknown_posts: list[str] = []
        self.function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.timeout_ms = timeout_ms


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    # Quiet: the server is driven by a benchmark, not read by a person.
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # --- helpers ---------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def setup(self) -> None:
        super().setup()
        # No Nagle delay on small answers (the client would wait out a delayed ACK).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        # Status line, headers and body in one write (one segment for small answers).
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _send_json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())

    # --- GET /next -----------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        arrived_ns = time.perf_counter_ns()
        if self.path != f"{PREFIX}/invocation/next":
            self._send_json(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        state = self.server.state
        with state.lock:
            generation = state.generation
            state.first_poll_ns.setdefault(generation, arrived_ns)
            state.polls[generation] = state.polls.get(generation, 0) + 1
            state.lock.notify_all()
            while not state.queue and state.generation == generation and not self.server.stopping:
                state.lock.wait()
            if state.generation != generation or self.server.stopping:
                # The process this poll came from has been replaced (or we are stopping):
                # give no event to it and drop the connection.
                self.close_connection = True
                stale = True
                invocation = None
            else:
                stale = False
                invocation = state.queue.popleft()
                invocation.handed_out_ns = time.perf_counter_ns()
        if stale or invocation is None:
            try:
                self._send_json(410, {"errorType": "Gone", "errorMessage": "superseded"})
            except OSError:
                pass
            return
        deadline_ms = int(time.time() * 1000) + state.timeout_ms
        trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
        self._send(
            200,
            invocation.body,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": state.function_arn,
                "Lambda-Runtime-Trace-Id": trace,
            },
        )

    # --- POST response / error / init error --------------------------------------------

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        done_ns = time.perf_counter_ns()
        state = self.server.state
        path = self.path
        if path == f"{PREFIX}/init/error":
            with state.lock:
                state.init_errors.setdefault(
                    state.generation,
                    InitError(done_ns, self.headers.get("Lambda-Runtime-Function-Error-Type"), body),
                )
                state.lock.notify_all()
            self._send_json(202, {"status": "OK"})
            return
        parts = path[len(PREFIX) :].strip("/").split("/") if path.startswith(PREFIX) else []
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            request_id, kind = parts[1], parts[2]
            with state.lock:
                invocation = state.invocations.get(request_id)
                accepted = invocation is not None and invocation.outcome is None and invocation.handed_out_ns is not None
                if accepted:
                    invocation.done_ns = done_ns
                    invocation.outcome = kind
                    invocation.response_body = body
                    if kind == "error":
                        invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                        if not invocation.error_type:
                            try:
                                invocation.error_type = json.loads(body).get("errorType")
                            except (ValueError, AttributeError):
                                pass
                    invocation.done.set()
                else:
                    state.unknown_posts.append(path)
            if accepted:
                self._send_json(202, {"status": "OK"})
            else:
                self._send_json(
                    400,
                    {"errorType": "InvalidRequestID", "errorMessage": f"unknown or finished request id {request_id}"},
                )
            return
        self._send_json(404, {"errorType": "NotFound", "errorMessage": path})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, state: _State) -> None:
        self.state = state
        self.stopping = False
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed function process resets its connections: expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class RuntimeApi:
    """The Runtime API server plus the calls a harness needs."""

    def __init__(
        self,
        function_name: str,
        region: str = "us-east-1",
        account: str = "123456789012",
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.state = _State(function_name, region, account, timeout_ms)
        self._server = _Server(self.state)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "RuntimeApi":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="runtime-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.state.lock:
            self._server.stopping = True
            self.state.lock.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def new_generation(self) -> int:
        """Call before starting a process: forgets queued events and wakes (and ends)
        any poll left by an earlier process."""
        with self.state.lock:
            self.state.generation += 1
            self.state.queue.clear()
            self.state.lock.notify_all()
            return self.state.generation

    def wait_first_poll(self, generation: int, timeout: float, alive: Any = None) -> int | None:
        """perf_counter_ns of the generation's first /next poll; None on timeout, on an
        init error, or when ``alive()`` turns false (the process exited)."""
        deadline = time.monotonic() + timeout
        with self.state.lock:
            while True:
                if generation in self.state.first_poll_ns:
                    return self.state.first_poll_ns[generation]
                if generation in self.state.init_errors:
                    return None
                if alive is not None and not alive():
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.state.lock.wait(min(remaining, 0.05))

    def init_error(self, generation: int) -> InitError | None:
        with self.state.lock:
            return self.state.init_errors.get(generation)

    def polls(self, generation: int) -> int:
        with self.state.lock:
            return self.state.polls.get(generation, 0)

    def enqueue(self, body: bytes) -> Invocation:
        invocation = Invocation(request_id=str(uuid.uuid4()), body=body, queued_ns=time.perf_counter_ns())
        with self.state.lock:
            self.state.invocations[invocation.request_id] = invocation
            self.state.queue.append(invocation)
            self.state.lock.notify_all()
        return invocation

    def invoke(self, body: bytes, timeout: float, alive: Any = None) -> Invocation:
        """Queues one event and waits for its response or error. On timeout the outcome
        is "timeout"; if ``alive()`` turns false first, "crashed"."""
        invocation = self.enqueue(body)
        deadline = time.monotonic() + timeout
        while not invocation.done.wait(0.05):
            if alive is not None and not alive():
                # One last look: the answer may have landed just before the exit.
                if invocation.done.wait(0.2):
                    break
                self._abandon(invocation, "crashed")
                break
            if time.monotonic() >= deadline:
                self._abandon(invocation, "timeout")
                break
        return invocation

    def _abandon(self, invocation: Invocation, outcome: str) -> None:
        with self.state.lock:
            if invocation.outcome is None:
                invocation.outcome = outcome
                try:
                    self.state.queue.remove(invocation)
                except ValueError:
                    pass
            invocation.done.set()

    def unknown_posts(self) -> list[str]:
        with self.state.lock:
            return list(self.state.unknown_posts)
