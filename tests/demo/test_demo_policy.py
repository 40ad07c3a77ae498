"""The demo's policy: its test file passes, and explain and who-can answer for /admin.

The configuration is generated as ``make demo`` generates it (:func:`demo_config`, written
with ``yaml.safe_dump``); nothing is started.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from portcullis.cli import main
from portcullis.demo.run import demo_config
from portcullis.devidp import defaults

POLICY_TESTS = Path(__file__).parent / "policy_tests.yaml"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "portcullis.yaml"
    path.write_text(yaml.safe_dump(demo_config(8081, 4180, 9400, tmp_path), sort_keys=False))
    return path


def test_the_demo_policy_tests_pass(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["policy", "test", "-c", str(config), str(POLICY_TESTS)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"{POLICY_TESTS}: 14 passed, 0 failed" in out


def test_the_test_file_speaks_of_the_dev_idp_identities() -> None:
    claims = yaml.safe_load(POLICY_TESTS.read_text())["x-claims"]
    assert claims["alice"]["oid"] == defaults.ALICE_OID
    assert claims["bob"]["oid"] == defaults.BOB_OID
    assert claims["carol"]["oid"] == defaults.CAROL_OID
    assert claims["alice-token"]["azp"] == defaults.CLIENT_ID
    assert claims["bot"]["azp"] == defaults.BOT_CLIENT_ID
    assert claims["agent"]["azp"] == defaults.AGENT_CLIENT_ID
    assert {c["tid"] for c in claims.values()} == {defaults.TENANT_ID}
    alice = next(u for u in defaults.default_users() if u.username == "alice")
    assert claims["alice"]["roles"] == list(alice.roles)


def test_explain_admin_for_bob(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bob = yaml.safe_load(POLICY_TESTS.read_text())["x-claims"]["bob"]
    claims = tmp_path / "bob.json"
    claims.write_text(json.dumps(bob))
    url = "http://127.0.0.1:4180/admin"
    assert main(["policy", "explain", "-c", str(config), "--claims", str(claims), "GET", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "route     routes[0]: host *, path /admin" in out
    assert f"identity  user {defaults.TENANT_ID}/{defaults.BOB_OID} (via session)" in out
    assert "decision  deny (forbidden, rule default)" in out
    assert "message   You need role in Portal.Admin." in out


def test_who_can_open_admin(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:4180/admin"
    assert main(["policy", "who-can", "-c", str(config), "--json", "GET", url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["who"] == "some"
    assert data["kinds"] == ["user"]
    assert data["grants"] == {"roles": ["Portal.Admin"]}
    assert data["machines"].startswith("refused")
