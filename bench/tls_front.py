#!/usr/bin/env python3
"""Serve the local emulator over TLS: a TLS-terminating TCP relay in front of its plain HTTP.

    .venv/bin/python bench/tls_front.py --upstream http://127.0.0.1:PORT --dir target/bench/tls

Generates, per run, a throw-away certificate authority and a server certificate for
127.0.0.1 and localhost signed by it (ECDSA P-256, valid one day) into --dir:
``ca.pem`` (the CA certificate: give it to the function process, and only to it, as
SSL_CERT_FILE, which rustls-native-certs and so the AWS SDK's default HTTPS client use
*instead of* the system's roots), ``server.pem`` / ``server.key`` (the server's chain
and key) and ``other-ca.pem`` (a second CA that signed nothing here: with it as
SSL_CERT_FILE every handshake must fail, the negative control of scripts/bench).
Then listens on 127.0.0.1 (free port unless --port), prints ``REBOUND_TLS_URL=https://127.0.0.1:<port>``
on stdout once it accepts connections, and relays each HTTP/1.1 request of an accepted TLS
connection, decrypted, to --upstream over a new plain connection, and the answer back.
The client's connection is kept alive between requests (as AWS's endpoints keep theirs),
even though the emulator answers every request with ``Connection: close``: otherwise
every call would pay a new TLS handshake, and opening connections during init could not
change anything. Runs until SIGTERM/SIGINT, or, with --exit-with-parent, until its parent
process exits.

--latency-ms N (default 0) gives each new connection the two round trips of N ms that a
TCP + TLS 1.3 handshake costs over a network before the first request can leave: the
front waits 2 × N ms after accepting a connection before it answers the ClientHello. The
kernel completes the TCP handshake at once on loopback, so both round trips are charged to
the TLS handshake; a client sees connect + handshake take 2 × N ms plus the crypto. The
requests themselves get their round trip from the emulator (POST /_rebound/latency), not
from here; a kept-alive connection pays neither handshake again.

--listeners N (default 1) listens on N ports, all relaying to the one emulator with the
same certificate, and prints them all, comma-separated, as ``REBOUND_TLS_URLS=...``: one
per AWS service (``AWS_ENDPOINT_URL_<SERVICE>``), so a client keeps one pool of
connections per service, as it does with AWS's per-service hosts, instead of one
connection serving every service.

Handshakes that fail are counted and written to stderr (``handshake failed: ...``).
Standard library plus ``cryptography`` (installed with moto).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import ipaddress
import os
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def generate(directory: Path) -> dict[str, Path]:
    """Writes ca.pem, other-ca.pem, server.pem (leaf + CA) and server.key; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("Rebound bench throw-away CA")
    _, other_cert = _ca("Rebound bench unrelated CA")
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {name: directory / name for name in ("ca.pem", "other-ca.pem", "server.pem", "server.key")}
    paths["ca.pem"].write_bytes(ca_cert.public_bytes(pem))
    paths["other-ca.pem"].write_bytes(other_cert.public_bytes(pem))
    paths["server.pem"].write_bytes(leaf.public_bytes(pem) + ca_cert.public_bytes(pem))
    paths["server.key"].write_bytes(_pem_key(key))
    os.chmod(paths["server.key"], 0o600)
    return paths


class Front:
    def __init__(self, upstream: tuple[str, int], context: ssl.SSLContext, port: int) -> None:
        self.upstream = upstream
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", port), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.failed_handshakes = 0
        self.accepted = 0
        self.verbose = False
        self.lock = threading.Lock()
        # A new connection's TCP and TLS 1.3 round trips (--latency-ms), slept before the
        # handshake.
        self.connect_delay_s = 0.0

    def serve_forever(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, raw: socket.socket) -> None:
        with self.lock:
            self.accepted += 1
            number = self.accepted
        if self.verbose:
            print(f"tls_front: connection {number} accepted", file=sys.stderr, flush=True)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.connect_delay_s > 0:
            time.sleep(self.connect_delay_s)
        try:
            tls = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as err:
            with self.lock:
                self.failed_handshakes += 1
            print(f"tls_front: handshake failed: {err}", file=sys.stderr, flush=True)
            raw.close()
            return
        try:
            reader = tls.makefile("rb")
            while self._exchange(reader, tls):
                pass
        except (OSError, ValueError, http.client.HTTPException) as err:
            print(f"tls_front: connection {number}: {err}", file=sys.stderr, flush=True)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def _exchange(self, reader, tls: ssl.SSLSocket) -> bool:
        """One request relayed; False when the client is done with the connection."""
        request_line = reader.readline(65537)
        if not request_line or not request_line.strip():
            return False
        method, target, _version = request_line.decode("latin-1").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lower = {k.lower(): v for k, v in headers}
        if "chunked" in lower.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while reader.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(reader.read(size))
                reader.readline()
            body = b"".join(chunks)
        else:
            body = reader.read(int(lower.get("content-length") or 0))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            head = [f"HTTP/1.1 {response.status} {response.reason}"]
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "content-length", "connection", "keep-alive"):
                    head.append(f"{name}: {value}")
        finally:
            upstream.close()
        keep = lower.get("connection", "").lower() != "close"
        head += [f"Content-Length: {len(data)}", "Connection: " + ("keep-alive" if keep else "close")]
        tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        return keep


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        threading.Event().wait(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator's plain URL, http://HOST:PORT")
    parser.add_argument("--dir", required=True, type=Path, help="where the certificates are written")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-parent", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="a line on stderr per accepted connection")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="simulated round trip: each new connection waits two (TCP + TLS 1.3) before its handshake")
    parser.add_argument("--listeners", type=int, default=1,
                        help="ports to listen on (one per AWS service endpoint; --port is the first's)")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    if args.listeners < 1:
        parser.error("--listeners must be >= 1")
    url = urlsplit(args.upstream)
    if url.scheme != "http" or not url.hostname or not url.port:
        parser.error("--upstream must be http://HOST:PORT")
    paths = generate(args.dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths["server.pem"], paths["server.key"])
    fronts = [Front((url.hostname, url.port), context, args.port if n == 0 else 0) for n in range(args.listeners)]
    for front in fronts:
        front.verbose = args.verbose
        front.connect_delay_s = 2 * args.latency_ms / 1000
    for extra in fronts[1:]:
        threading.Thread(target=extra.serve_forever, daemon=True).start()
    front = fronts[0]
    if args.exit_with_parent:
        threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"REBOUND_TLS_URL=https://127.0.0.1:{front.port}", flush=True)
    if args.listeners > 1:
        print("REBOUND_TLS_URLS=" + ",".join(f"https://127.0.0.1:{f.port}" for f in fronts), flush=True)
    print(f"REBOUND_TLS_CA={paths['ca.pem']}", flush=True)
    try:
        front.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
