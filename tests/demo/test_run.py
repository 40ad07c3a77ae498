"""``make demo``: its config is valid, and the demo works as the README promises."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portcullis.config import load_config
from portcullis.config.validate import validate
from portcullis.demo.run import bot_curl, demo_config
from tests.auth.browser import Browser
from tests.support.proxy import wait_for_port


def test_demo_config_is_valid(tmp_path: Path) -> None:
    config = validate(demo_config(8081, 4180, 9400, tmp_path))  # the rules compile too
    assert config.listen.port == 4180
    admin, api, rest = config.routes
    assert api.accept == ["session", "bearer"] and api.api == "demo-api"
    assert admin.path == "/admin" and admin.rules is not None
    assert admin.rules[0]["allow"] == {"roles": ["Portal.Admin"]}
    assert not rest.public and rest.rules is not None
    assert config.auth is not None
    assert config.auth.providers[0].authority_host == "http://127.0.0.1:9400"


def test_make_demo_signs_alice_in_and_refuses_bob_on_admin(tmp_path: Path) -> None:
    for port in (4180, 8081, 9400):  # the demo's fixed ports: another demo would answer instead
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is in use: stop the running demo before this test")
    state = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "portcullis.demo", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_port(4180, timeout=30)
        except TimeoutError:
            demo.kill()
            pytest.fail("the demo did not start:\n" + demo.communicate()[0].decode())
        base = "http://127.0.0.1:4180"
        assert load_config(state / "portcullis.yaml").auth is not None  # what it runs is valid
        alice = Browser()
        assert alice.login(base, "alice", rd="/admin").location == "/admin"
        page = alice.get(base + "/admin", headers={"Accept": "text/html"})
        assert page.status == 200 and b"Alice Admin" in page.body
        seen = json.loads(alice.get(base + "/x", headers={"Accept": "application/json"}).body)
        assert seen["identity"]["roles"] == "Portal.Admin"
        bob = Browser()
        bob.login(base, "bob")
        refused = bob.get(base + "/admin", headers={"Accept": "text/html"})
        assert refused.status == 403 and b"Portal.Admin" in refused.body
        # The bot's curl line, exactly as printed, works.
        called = subprocess.run(
            ["bash", "-c", bot_curl(9400, 4180)], capture_output=True, text=True, timeout=30
        )
        assert called.returncode == 0, called.stderr
        answer = json.loads(called.stdout)
        assert answer["path"] == "/api/reports"
        assert answer["identity"]["kind"] == "app"
        assert answer["identity"]["roles"] == "Reports.Read"
        assert answer["identity"]["client"] == "reporting-bot"
        # Without a token (and not signed in), the API answers 401 with RFC 6750 headers.
        anonymous = Browser().get(base + "/api/reports", headers={"Accept": "application/json"})
        assert anonymous.status == 401
        for _ in range(4):  # a scripted burst of refusals: with the one above, five
            assert bob.get(base + "/admin", headers={"Accept": "text/html"}).status == 403
        config = str(state / "portcullis.yaml")
        violations = _audit("query", "-c", config, "--event", "violation", "--json", wait=True)
        assert json.loads(violations.stdout.splitlines()[0])["rule"] == "probing"
    finally:
        demo.send_signal(signal.SIGTERM)
        output = demo.communicate(timeout=30)[0].decode()
    assert demo.returncode == 0, output
    assert "alice" in output and "http://127.0.0.1:4180/" in output
    assert bot_curl(9400, 4180) in output
    # Who did what, with reasons; the chain verifies; token lifetimes are reported.
    table = _audit("query", "-c", config).stdout
    assert "sign-in" in table and "deny" in table and "/admin" in table and "forbidden" in table
    assert _audit("verify", "-c", config).returncode == 0
    tokens = _audit("tokens", "-c", config)
    assert "reporting-bot" in tokens.stdout, tokens.stdout
    store = state / "audit.db"
    data = bytearray(store.read_bytes())
    at = data.find(b'"path":"/admin"')
    data[at + 9] = ord("A")  # one byte of one record
    store.write_bytes(bytes(data))
    assert _audit("verify", "-c", config).returncode == 1


def _audit(*args: str, wait: bool = False) -> subprocess.CompletedProcess[str]:
    """``portcullis audit ARGS``; with ``wait``, until it prints something (records are batched)."""
    deadline = time.monotonic() + 5
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "portcullis", "audit", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if not wait or done.stdout.strip() or time.monotonic() > deadline:
            return done
        time.sleep(0.1)
