"""Process lifecycle: graceful shutdown on SIGTERM, several workers, TLS termination."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.http.conftest import assert_no_traceback, config, route
from tests.http.rawhttp import Conn, fetch
from tests.http.upstream_app import Upstream
from tests.support.proxy import _children, run_proxy


def uid() -> str:
    return uuid.uuid4().hex[:12]


def refused_within(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def _workers(master: int, count: int) -> list[int]:
    """The supervisor's workers, once ``count`` of them run (10 s at most)."""
    deadline = time.monotonic() + 10
    while len(workers := _children(master)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= count, f"children of the master: {workers}"
    return workers


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- graceful shutdown --------------------------------------------------------------------------


def test_sigterm_finishes_in_flight_request_then_exits_0(
    upstream: Upstream, tmp_path: Path
) -> None:
    cfg = config([route("app.test", "/", upstream.url)], server={"timeouts": {"shutdown": 15}})
    with run_proxy(cfg, tmp_path) as proxy:
        tag = uid()
        with Conn(proxy.port, timeout=15) as slow, Conn(proxy.port, timeout=15) as idle:
            assert idle.exchange("GET", "/echo?idle-before-shutdown").status == 200
            slow.request("GET", f"/slow?delay=3&{tag}")
            upstream.wait_seen(tag)
            signalled = time.monotonic()
            proxy.process.send_signal(signal.SIGTERM)
            assert refused_within(proxy.port, 2.0), (
                "new connections still accepted 2 s after SIGTERM"
            )
            resp = slow.read_response()
            assert resp.status == 200
            assert resp.json()["target"] == f"/slow?delay=3&{tag}"
            assert resp.has_token("connection", "close"), resp.headers
            assert idle.read_to_close(10) == b""
            code = proxy.process.wait(15)
            exited_after = time.monotonic() - signalled
        assert code == 0
        assert exited_after < 10, (
            f"exit took {exited_after:.1f}s: an idle connection held shutdown up?"
        )
        assert_no_traceback(proxy.log())


def test_shutdown_deadline_ends_stuck_requests(upstream: Upstream, tmp_path: Path) -> None:
    cfg = config([route("app.test", "/", upstream.url)], server={"timeouts": {"shutdown": 1}})
    with run_proxy(cfg, tmp_path) as proxy:
        tag = uid()
        with Conn(proxy.port, timeout=15) as stuck:
            stuck.request("GET", f"/slow?delay=30&{tag}")
            upstream.wait_seen(tag)
            signalled = time.monotonic()
            proxy.process.send_signal(signal.SIGTERM)
            proxy.process.wait(10)
            exited_after = time.monotonic() - signalled
            stuck.read_to_close(5)
        assert exited_after < 6, f"exit took {exited_after:.1f}s with timeouts.shutdown 1"
        assert_no_traceback(proxy.log())


# -- workers ------------------------------------------------------------------------------------


def test_two_workers_serve_and_stop(upstream: Upstream, tmp_path: Path) -> None:
    cfg = config([route("app.test", "/", upstream.url)])
    with run_proxy(cfg, tmp_path, args=("--workers", "2")) as proxy:
        master = proxy.process.pid
        workers = _workers(master, 2)
        for i in range(20):
            assert fetch(proxy.port, "GET", f"/echo?worker={i}").status == 200
        assert all(alive(pid) for pid in workers)
        # A worker that dies is replaced, and the port keeps being served.
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            workers = [pid for pid in _children(master) if alive(pid)]
            if len(workers) >= 2 and victim not in workers:
                break
            time.sleep(0.1)
        assert len(workers) >= 2 and victim not in workers, f"no replacement worker: {workers}"
        for i in range(10):
            assert fetch(proxy.port, "GET", f"/echo?after-kill={i}").status == 200
        with Conn(proxy.port) as c:
            for i in range(5):
                assert c.exchange("GET", f"/echo?worker-ka={i}").status == 200
        code = proxy.stop(timeout=20)
        assert code == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "workers outlived the master"
        assert_no_traceback(proxy.log())


def test_workers_stop_when_their_supervisor_is_killed(upstream: Upstream, tmp_path: Path) -> None:
    """An orphan would keep serving the old configuration on the shared port."""
    cfg = config([route("app.test", "/", upstream.url)])
    with run_proxy(cfg, tmp_path, args=("--workers", "2")) as proxy:
        master = proxy.process.pid
        workers = _workers(master, 2)
        assert fetch(proxy.port, "GET", "/echo").status == 200
        proxy.stop(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "workers outlived a killed supervisor"
        assert f"the supervisor (pid {master}) is gone" in proxy.log()


# -- TLS ----------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("app.test"),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_termination(upstream: Upstream, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    cfg = config(
        [route("app.test", "/", upstream.url)],
        listen={"tls": {"cert_file": str(cert), "key_file": str(key)}},
    )
    context = ssl.create_default_context(cafile=str(cert))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with run_proxy(cfg, tmp_path) as proxy:
        with Conn(proxy.port, ssl_context=context, server_hostname="app.test") as conn:
            assert isinstance(conn.sock, ssl.SSLSocket)
            assert conn.sock.selected_alpn_protocol() in (None, "http/1.1")
            resp = conn.exchange("GET", "/echo?tls")
            assert resp.status == 200
            assert resp.echo_header_all("x-forwarded-proto") == ["https"]
            assert resp.echo_header_all("x-forwarded-for") == ["127.0.0.1"]
            body = b"t" * 300000
            upload = conn.exchange("POST", "/upload", body=body)
            assert upload.json()["length"] == len(body)
            assert len(conn.exchange("GET", "/big?size=2000000").body) == 2000000
        # Plain HTTP on the TLS port is not served as HTTP.
        with Conn(proxy.port, timeout=5) as plain:
            plain.request("GET", "/echo?plain")
            data = plain.read_available(3)
        assert b'"target"' not in data
        assert_no_traceback(proxy.log())
