"""``portcullis policy test | explain | who-can``, run as CI runs them: a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "policy"
CONFIG = EXAMPLES / "portcullis.yaml"
ADMIN_CLAIMS = {
    "tid": "7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10",
    "oid": "4f1a9c2e-6b3d-4e8a-9c71-0d2e5f8a1b01",
    "groups": ["1b8f4d62-3e5a-4c7b-8f9d-2a4b6c8e0d12"],
    "amr": ["pwd", "mfa"],
    "auth_time": 1800000000,
}


def portcullis(*argv: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portcullis", *map(str, argv)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_the_example_policy_tests_pass() -> None:
    files = sorted(EXAMPLES.glob("*.test.yaml"))
    assert len(files) == 2
    done = portcullis("policy", "test", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("total: ") and lines[-1].endswith(" passed, 0 failed")
    assert all(line.startswith(("PASS ", "examples", str(EXAMPLES), "total")) for line in lines)
    assert done.stderr == ""


def test_a_broken_expectation_fails_and_names_the_case(tmp_path: Path) -> None:
    suite = yaml.safe_load((EXAMPLES / "portal.test.yaml").read_text())
    broken = next(
        c for c in suite["cases"] if c["name"] == "staff without admin rights are refused"
    )
    broken["expect"] = {"allow": True}
    path = tmp_path / "broken.test.yaml"
    path.write_text(yaml.safe_dump(suite))
    done = portcullis("policy", "test", "-c", CONFIG, path)
    assert done.returncode == 1
    failing = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert failing == [
        "FAIL staff without admin rights are refused: expected allow, got deny "
        "(forbidden, rule default): You need member of portal-admins and multi-factor sign-in;"
        " or role in Portal.Helpdesk."
    ]
    assert f"{path}: 11 passed, 1 failed" in done.stdout


def test_an_invalid_test_file_fails_with_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "bad.test.yaml"
    path.write_text(
        "config: portcullis.yaml\n"
        "cases:\n"
        "  - {name: a, request: {url: /}, identity: anonymous, expect: {allow: maybe}}\n"
    )
    done = portcullis("policy", "test", path)
    assert done.returncode == 1
    assert done.stderr == f"{path}: cases[0].expect.allow: expected true or false\n"


def test_an_invalid_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "portcullis.yaml"
    config.write_text(
        "routes:\n  - {upstream: 'http://127.0.0.1:1', rules: [{allow: {role: [A]}}]}\n"
    )
    suite = tmp_path / "t.test.yaml"
    suite.write_text(
        "config: portcullis.yaml\n"
        "cases: [{name: a, request: {url: /}, identity: anonymous, expect: {allow: false}}]\n"
    )
    done = portcullis("policy", "test", suite)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{config}: routes[0].rules[0].allow.role: unknown criterion")
    assert portcullis("policy", "who-can", "-c", config, "GET", "/").returncode == 2


def test_explain_reads_claims_from_stdin() -> None:
    done = portcullis(
        "policy", "explain", "-c", CONFIG, "--claims", "-", "--source-ip", "10.1.2.3",
        "--time", "2027-01-15T09:00:00Z", "--json",
        "post", "https://portal.example.com/admin/%2e%2e/admin/users",
        stdin=json.dumps(ADMIN_CLAIMS),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["path"] == "/admin/users"
    assert data["route"] == {
        "index": 2,
        "host": "portal.example.com",
        "path": "/admin",
        "public": False,
    }
    assert data["identity"]["kind"] == "user"
    assert data["decision"]["allow"] is True and data["decision"]["rule"] == "admins"
    assert "allow rule admins: matches" in data["reasons"]


def test_explain_anonymous_and_bad_arguments(tmp_path: Path) -> None:
    done = portcullis("policy", "explain", "-c", CONFIG, "GET", "https://portal.example.com/")
    assert done.returncode == 0
    assert "decision  deny (unauthenticated)" in done.stdout
    assert "message   Sign-in required." in done.stdout
    claims = tmp_path / "claims.json"
    claims.write_text('{"exp": "soon"}')
    bad = portcullis("policy", "explain", "-c", CONFIG, "--claims", claims, "GET", "/")
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        f"--claims {claims}: exp: expected a whole number of seconds since the epoch"
    )
    late = portcullis("policy", "explain", "-c", CONFIG, "--time", "late", "GET", "/")
    assert late.returncode == 2 and "--time: expected an ISO 8601 time" in late.stderr
    office = portcullis("policy", "explain", "-c", CONFIG, "--source-ip", "office", "GET", "/")
    assert office.returncode == 2 and "--source-ip: expected an IP address" in office.stderr


def test_who_can() -> None:
    done = portcullis("policy", "who-can", "-c", CONFIG, "GET", "https://api.example.com/v1/orders")
    assert done.returncode == 0, done.stderr
    assert "machines  admitted only by rule sync-jobs (naming app_roles or clients)" in done.stdout
    as_json = portcullis(
        "policy", "who-can", "-c", CONFIG, "--json", "GET", "https://portal.example.com/admin"
    )
    data = json.loads(as_json.stdout)
    assert data["who"] == "some" and data["kinds"] == ["user"]
    assert data["grants"] == {
        "roles": ["Portal.Helpdesk"],
        "groups": ["portal-admins (1b8f4d62-3e5a-4c7b-8f9d-2a4b6c8e0d12)"],
    }
    public = portcullis(
        "policy", "who-can", "-c", CONFIG, "GET", "https://portal.example.com/healthz"
    )
    assert "who       everyone" in public.stdout
