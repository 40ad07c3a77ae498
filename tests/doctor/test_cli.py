"""``portcullis doctor`` in-process: the dev IdP and a real upstream, then things broken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from portcullis.cli import main
from portcullis.devidp import DevIdp
from tests.credentials.support import certificate
from tests.doctor.support import closed_port, http_server


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdp]:
    with DevIdp() as running:
        yield running


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with http_server() as url:
        yield url


def config(tmp_path: Path, idp_url: str, tenant: str, upstream: str, **provider: Any) -> Path:
    data = {
        "routes": [{"upstream": upstream}],
        "auth": {
            "external_url": "http://127.0.0.1:4180",
            "providers": [
                {
                    "type": "entra",
                    "tenant": tenant,
                    "authority_host": idp_url,
                    "client_id": "demo",
                    "client_secret": [{"value": "s3cret-value"}],
                    **provider,
                }
            ],
            "session": {"keys": [{"value": "k" * 40}], "sqlite_path": str(tmp_path / "s.db")},
        },
        "audit": {"sqlite": {"path": str(tmp_path / "a.db")}},
    }
    path = tmp_path / "portcullis.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def doctor(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["doctor", "-c", str(path), "--timeout", "2", *args])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def statuses(out: str) -> dict[str, str]:
    return {line[6:].split("  ")[0].strip(): line[:4].strip() for line in out.splitlines()[:-1]}


def test_a_healthy_deployment(
    tmp_path: Path, idp: DevIdp, upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, idp.url, idp.tenant_id, upstream)
    code, out = doctor(path, capsys)
    assert code == 0, out
    assert statuses(out) == {
        "config": "OK",
        "expiry": "OK",  # the hint: no expires date on the client secret
        "idp default: discovery": "OK",
        "idp default: keys": "OK",
        "idp default: clock": "OK",
        f"upstream {upstream}": "OK",
        "session store": "OK",
        "audit store": "OK",
        "audit spool": "OK",
    }
    assert out.splitlines()[-1] == "OK: 9 ok, 0 warnings, 0 failures"
    assert "s3cret-value" not in out


def test_an_expired_secret_fails_and_one_expiring_soon_warns(
    tmp_path: Path, idp: DevIdp, upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date()
    secrets = [
        {"value": "new-secret", "expires": (today + timedelta(days=10)).isoformat()},
        {"value": "old-secret", "expires": (today - timedelta(days=1)).isoformat()},
    ]
    path = config(tmp_path, idp.url, idp.tenant_id, upstream, client_secret=secrets)
    code, out = doctor(path, capsys)
    assert code == 1
    found = statuses(out)
    assert found["expiry auth.providers[0].client_secret[0]"] == "WARN"
    assert found["expiry auth.providers[0].client_secret[1]"] == "FAIL"
    assert "secret expired" in out
    assert "(in 9 days)" in out or "(in 10 days)" in out  # the secret's day starts at 00:00 UTC
    assert "old-secret" not in out and "new-secret" not in out


def test_an_expired_client_certificate_fails(
    tmp_path: Path, idp: DevIdp, upstream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = certificate("portal client", datetime.now(UTC) - timedelta(hours=1))
    (tmp_path / "client.pem").write_bytes(cert)
    (tmp_path / "client.key").write_bytes(key)
    path = config(
        tmp_path,
        idp.url,
        idp.tenant_id,
        upstream,
        client_auth="private_key_jwt",
        client_secret=None,
        private_key=[{"file": "client.key"}],
        certificate_file=str(tmp_path / "client.pem"),
    )
    code, out = doctor(path, capsys)
    assert code == 1
    line = next(x for x in out.splitlines() if "certificate_file" in x)
    assert line.startswith("FAIL  expiry auth.providers[0].certificate_file")
    assert "client certificate CN=portal client expired" in line


def test_everything_down_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    path = config(tmp_path, down, "contoso.example", down)
    code, out = doctor(path, capsys, "--json")
    assert code == 1
    document = json.loads(out)
    assert document["status"] == "fail"
    failed = {c["name"] for c in document["checks"] if c["status"] == "fail"}
    assert failed == {"idp default: discovery", f"upstream {down}"}


def test_an_invalid_configuration_lists_its_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "portcullis.yaml"
    path.write_text("routes:\n  - {upstream: 'ftp://x'}\nserver: {expiry_warn_days: 0}\n")
    code, out = doctor(path, capsys)
    assert code == 1
    assert out.splitlines() == [
        "FAIL  config  server.expiry_warn_days: must be at least 1, got 0",
        "FAIL  config  routes[0].upstream: not an http(s) URL",
        "FAIL: 0 ok, 0 warnings, 2 failures",
    ]


def test_a_bad_timeout_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "-c", str(tmp_path / "x.yaml"), "--timeout", "0"]) == 2
    assert "--timeout: must be more than 0" in capsys.readouterr().err
