"""Audit records end to end: real sign-ins and tokens through a real Portcullis process.

Every record type the proxy produces is provoked once and read back from the SQLite
store with ``portcullis audit query``; the hash chain verifies, and fails after a byte
of the store is changed; nothing written holds a token, cookie or secret; and a SIGTERM
under load loses no record (requests answered = records written).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import BOT_CLIENT_ID, BOT_CLIENT_SECRET, DEMO_API_ID, DEMO_API_URI
from tests.audit.support import indexed
from tests.auth.browser import Browser
from tests.e2e.policy_support import EchoUpstream, app_token, run_echo, send, tenant
from tests.guardrails.receiver import receiver
from tests.support.audit import audit_query, wait_for_records
from tests.support.proxy import Proxy, free_port, run_proxy

SESSION_KEY = "audit-e2e-session-key-0123456789abcdef0123"
_AUDIT = (sys.executable, "-m", "portcullis", "audit")


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def idp(port: int) -> Iterator[DevIdp]:
    with DevIdp(tenant(port)) as running:
        yield running


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    with run_echo() as running:
        yield running


def _config(idp: DevIdp, echo: EchoUpstream, port: int, tmp: Path) -> dict[str, Any]:
    client = idp.config.clients[0]
    assert client.secret is not None
    upstream = echo.url
    return {
        "listen": {"port": port},
        "routes": [
            {
                "path": "/app",
                "upstream": upstream,
                "rules": [
                    {"name": "people", "allow": {"kinds": ["user"]}},
                    {"name": "no-deletes", "deny": {"methods": ["DELETE"]}, "monitor": True},
                ],
            },
            {
                "path": "/admin",
                "upstream": upstream,
                "rules": [{"name": "admins", "allow": {"roles": ["Portal.Admin"]}}],
            },
            {
                "path": "/fresh",
                "upstream": upstream,
                "rules": [{"name": "recent", "allow": {"kinds": ["user"], "max_auth_age": 1}}],
            },
            {
                "path": "/api",
                "upstream": upstream,
                "accept": ["bearer"],
                "api": "demo-api",
                "rules": [{"name": "reporting-apps", "allow": {"app_roles": ["Reports.Read"]}}],
            },
            {"path": "/", "upstream": upstream, "public": True},
        ],
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "type": "entra",
                    "tenant": idp.tenant_id,
                    "authority_host": idp.url,
                    "client_id": client.client_id,
                    "client_secret": [{"value": client.secret.reveal()}],
                }
            ],
            "apis": [
                {
                    "name": "demo-api",
                    "provider": "default",
                    "audiences": [DEMO_API_ID, DEMO_API_URI],
                }
            ],
            "session": {
                "keys": [{"value": SESSION_KEY}],
                "sqlite_path": str(tmp / "sessions.db"),
                "idle_timeout": 2,
            },
        },
        "audit": {"sqlite": {"path": str(tmp / "audit.db")}, "flush_interval": 0.05},
    }


def _query(proxy: Proxy, *args: str) -> list[dict[str, Any]]:
    return audit_query(proxy.config_path, *args)


def _verify(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_AUDIT, "verify", "-c", str(config_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _wait_for(proxy: Proxy, event: str, count: int = 1) -> list[dict[str, Any]]:
    return wait_for_records(proxy.config_path, "--event", event, count=count)


def test_every_record_type_from_real_requests(
    idp: DevIdp, echo: EchoUpstream, port: int, tmp_path: Path
) -> None:
    config = _config(idp, echo, port, tmp_path)
    with run_proxy(config, tmp_path) as proxy:
        base = proxy.url
        alice, bob = Browser(), Browser()
        assert alice.login(base, "alice").status == 302  # sign-in
        assert bob.login(base, "bob").status == 302
        assert send(f"{base}/app/x", alice).status == 200  # allow
        assert send(f"{base}/app/x", alice, method="DELETE").status == 200  # monitor-deny
        assert send(f"{base}/admin/x", bob).status == 403  # deny
        time.sleep(1.2)
        stale = send(f"{base}/fresh/x", alice)  # step-up (API caller: 401)
        assert stale.status == 401
        bot = app_token(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET)
        assert send(f"{base}/api/reports", bot).status == 200  # a machine allowed
        forged = bot[:-4] + ("AAAA" if not bot.endswith("AAAA") else "BBBB")
        assert send(f"{base}/api/reports", forged).status == 401  # token-rejected
        csrf = alice.get(f"{base}/.portcullis/logout").body.decode()
        token = csrf.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert alice.post(f"{base}/.portcullis/logout", {"csrf": token}).status == 303  # sign-out
        time.sleep(2.2)  # bob's session idles out
        assert send(f"{base}/app/x", bob).status == 401  # session-expired
        proxy.process.send_signal(signal.SIGHUP)  # config-reloaded
        reloaded = _wait_for(proxy, "config-reloaded")
        assert reloaded and reloaded[0]["reason"] == "reloaded"

        by_event: dict[str, list[dict[str, Any]]] = {}
        for record in _query(proxy):
            by_event.setdefault(record["event"], []).append(record)
        expected = {
            "sign-in",
            "allow",
            "monitor-deny",
            "deny",
            "step-up",
            "token-rejected",
            "sign-out",
            "session-expired",
            "config-reloaded",
        }
        assert expected <= set(by_event), sorted(by_event)

        alice_id = alice_oid(idp)
        [deny] = by_event["deny"]
        assert deny["rule"] == "default" and deny["reason"] == "forbidden"
        assert deny["path"] == "/admin/x" and deny["status"] == 403
        assert any("allow rule admins: no match" in r for r in deny["reasons"])
        [watched] = by_event["monitor-deny"]
        assert watched["object_id"] == alice_id and watched["method"] == "DELETE"
        assert "would deny: no-deletes" in watched["reasons"]
        allowed = [r for r in by_event["allow"] if r.get("kind") == "app"]
        assert allowed and allowed[0]["client_id"] == BOT_CLIENT_ID
        assert allowed[0]["token_lifetime"] > 0 and allowed[0]["token_remaining"] > 0
        people = [r for r in by_event["allow"] if r.get("object_id") == alice_id]
        assert people and people[0]["tenant_id"] == idp.tenant_id
        assert people[0]["session_age"] >= 0 and people[0]["status"] == 200
        assert by_event["step-up"][0]["reason"] == "step-up"
        assert by_event["sign-in"][0]["object_id"] in {alice_id, bob_oid(idp)}

        # Nothing written holds a token, a cookie or a secret.
        # The store, its WAL and its spool (the last records may not be indexed yet).
        files = [path for path in tmp_path.rglob("audit.db*") if path.is_file()]
        assert any(path.name == "audit.db" for path in files)
        stored = b"".join(path.read_bytes() for path in files)
        for secret in (bot, forged, SESSION_KEY, BOT_CLIENT_SECRET):
            assert secret.encode() not in stored
        for chunk in bot.split("."):
            assert chunk.encode() not in stored
    # The store verifies; a changed byte is found.
    done = _verify(proxy.config_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(indexed(tmp_path / "audit.db")) as db:
        db.execute(
            "UPDATE audit SET record = replace(record, '\"/admin/x\"', '\"/admin/y\"') "
            "WHERE record LIKE '%/admin/x%'"
        )
    tampered = _verify(proxy.config_path)
    assert tampered.returncode == 1, tampered.stdout


def alice_oid(idp: DevIdp) -> str:
    user = idp.config.user("alice")
    assert user is not None
    return user.oid


def bob_oid(idp: DevIdp) -> str:
    user = idp.config.user("bob")
    assert user is not None
    return user.oid


def test_sigterm_under_load_loses_no_record(
    idp: DevIdp, echo: EchoUpstream, port: int, tmp_path: Path
) -> None:
    config = _config(idp, echo, port, tmp_path)
    config["audit"]["flush_interval"] = 1.0  # records still queued when SIGTERM arrives
    with run_proxy(config, tmp_path, args=("--workers", "2")) as proxy:
        alice = Browser()
        assert alice.login(proxy.url, "alice").status == 302
        cookie = "; ".join(f"{c.name}={c.value}" for c in alice.jar)
        answered = [0]
        lock = threading.Lock()
        stop = threading.Event()

        def client() -> None:
            browser = Browser()
            while not stop.is_set():
                try:
                    resp = browser.get(f"{proxy.url}/app/load", headers={"Cookie": cookie})
                except OSError:
                    return  # the listener is closed: shutting down
                if resp.status == 200:
                    with lock:
                        answered[0] += 1
                elif resp.status != 503:
                    return

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(30) == 0
        stop.set()
        for thread in threads:
            thread.join(10)
    assert answered[0] > 50
    with sqlite3.connect(indexed(tmp_path / "audit.db")) as db:
        (written,) = db.execute(
            "SELECT count(*) FROM audit WHERE event = 'allow' AND record LIKE '%\"/app/load\"%'"
        ).fetchone()
    assert written == answered[0]
    assert _verify(Path(proxy.config_path)).returncode == 0


def test_a_burst_of_denials_raises_a_violation_an_alert_and_a_block(
    idp: DevIdp, echo: EchoUpstream, port: int, tmp_path: Path
) -> None:
    config = _config(idp, echo, port, tmp_path)
    config["auth"]["session"]["idle_timeout"] = 3600
    with receiver() as hook:
        config["guardrails"] = {
            "rules": [
                {
                    "name": "probing",
                    "kind": "denials",
                    "count": 3,
                    "window_minutes": 1,
                    "severity": "high",
                    "block": {"minutes": 5},
                }
            ],
            "webhooks": [{"url": {"value": hook.url}, "format": "json"}],
            "blocks": {"sqlite_path": str(tmp_path / "blocks.db")},
        }
        with run_proxy(config, tmp_path) as proxy:
            bob = Browser()
            assert bob.login(proxy.url, "bob").status == 302
            assert send(f"{proxy.url}/app/x", bob).status == 200
            for _ in range(3):  # the scripted burst: three refusals in a row
                assert send(f"{proxy.url}/admin/x", bob).status == 403
            [alert] = hook.wait_for(1)
            sent = json.loads(alert.body)["violation"]
            assert sent["rule"] == "probing" and sent["severity"] == "high"
            assert sent["identity"] == f"{idp.tenant_id}/{bob_oid(idp)}"
            blocked = send(f"{proxy.url}/app/x", bob)  # blocked now, even where allowed
            assert blocked.status == 403
            assert json.loads(blocked.body)["error"] == "blocked"
            [violation] = _wait_for(proxy, "violation")
            assert violation["rule"] == "probing" and violation["object_id"] == bob_oid(idp)
            listed = _blocks(proxy, "list")
            assert bob_oid(idp) in listed.stdout
            lifted = _blocks(proxy, "lift", f"{idp.tenant_id}/{bob_oid(idp)}")
            assert lifted.returncode == 0, lifted.stdout + lifted.stderr
            deadline = time.monotonic() + 5
            while send(f"{proxy.url}/app/x", bob).status != 200:
                assert time.monotonic() < deadline, "the lifted block still applies"
                time.sleep(0.2)


def _blocks(proxy: Proxy, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "portcullis",
            "blocks",
            args[0],
            "-c",
            str(proxy.config_path),
            *args[1:],
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_activity_keeps_a_session_alive_past_a_short_idle_timeout(
    idp: DevIdp, echo: EchoUpstream, port: int, tmp_path: Path
) -> None:
    config = _config(idp, echo, port, tmp_path)  # idle_timeout: 2 s
    with run_proxy(config, tmp_path) as proxy:
        carol = Browser()
        assert carol.login(proxy.url, "carol").status == 302
        for _ in range(8):  # 3.2 s of activity, never idle for 2 s
            assert send(f"{proxy.url}/app/x", carol).status == 200
            time.sleep(0.4)
        time.sleep(2.3)
        assert send(f"{proxy.url}/app/x", carol).status == 401  # now idle too long
