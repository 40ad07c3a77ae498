"""How soon: the pure part, with ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portcullis.credentials import Dated, Urgency, expiring, findings
from tests.credentials.support import certificate
from tests.credentials.test_dated import write_config

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def dated(days: float, key: str = "k") -> Dated:
    return Dated("secret", key, NOW + timedelta(days=days))


@pytest.mark.parametrize(
    ("days", "urgency"),
    [
        (400, Urgency.OK),
        (30.5, Urgency.OK),
        (30, Urgency.SOON),  # the warning window includes its last day
        (0.25, Urgency.SOON),
        (0, Urgency.EXPIRED),
        (-3, Urgency.EXPIRED),
    ],
)
def test_urgency(days: float, urgency: Urgency) -> None:
    [finding] = findings([dated(days)], now=NOW, warn_days=30)
    assert finding.urgency is urgency
    assert finding.days_left == pytest.approx(days)


def test_soonest_first_and_readable() -> None:
    result = findings([dated(10, "b"), dated(-2, "a"), dated(0.1, "c")], now=NOW, warn_days=30)
    assert [f.key_path for f in result] == ["a", "c", "b"]
    assert [str(f) for f in result] == [
        "a: secret expired 2026-02-27 12:00 UTC (2 days ago)",
        "c: secret expires 2026-03-01 14:24 UTC (in 2 hours)",
        "b: secret expires 2026-03-11 12:00 UTC (in 10 days)",
    ]


def test_expiring_reads_a_configuration(tmp_path: Path) -> None:
    cert, key = certificate("portal.example.com", NOW + timedelta(days=5))
    (tmp_path / "tls.pem").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    config = write_config(
        tmp_path,
        {
            "listen": {"tls": {"cert_file": "tls.pem", "key_file": "tls.key"}},
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "auth": {
                "external_url": "https://portal.example.com",
                "providers": [
                    {
                        "type": "oidc",
                        "issuer": "https://idp.example.com",
                        "client_id": "portal",
                        "client_secret": [
                            {"value": "new", "expires": "2028-01-01"},
                            {"value": "old", "expires": "2026-02-01"},
                        ],
                    }
                ],
                "session": {"keys": [{"value": "k" * 40}]},
            },
        },
    )
    found = expiring(config, now=NOW, warn_days=30)
    assert [(f.key_path, f.urgency) for f in found] == [
        ("auth.providers[0].client_secret[1]", Urgency.EXPIRED),
        ("listen.tls.cert_file", Urgency.SOON),
    ]
    assert found[1].what == "TLS certificate CN=portal.example.com"
    assert expiring(config, now=NOW, warn_days=1) == found[:1]
