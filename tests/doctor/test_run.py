"""The credential part of a diagnosis, with ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime

from portcullis.config import validate
from portcullis.doctor import Check, Status, credential_checks

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_each_dated_credential_is_a_check_and_undated_client_secrets_get_a_hint() -> None:
    config = validate(
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "server": {"expiry_warn_days": 10},
            "auth": {
                "external_url": "https://p.example.com",
                "providers": [
                    {
                        "type": "oidc",
                        "issuer": "https://i.example.com",
                        "client_id": "c",
                        "client_secret": [
                            {"value": "a", "expires": "2026-03-05"},
                            {"value": "b"},
                            {"value": "c", "expires": "2027-01-01"},
                        ],
                    }
                ],
                "session": {"keys": [{"value": "k" * 40, "expires": "2026-02-01"}]},
            },
        }
    )
    assert credential_checks(config, now=NOW) == [
        Check(
            "expiry auth.session.keys[0]",
            Status.FAIL,
            "secret expired 2026-02-01 00:00 UTC (28 days ago)",
        ),
        Check(
            "expiry auth.providers[0].client_secret[0]",
            Status.WARN,
            "secret expires 2026-03-05 00:00 UTC (in 4 days)",
        ),
        Check(
            "expiry auth.providers[0].client_secret[2]",
            Status.OK,
            "secret expires 2027-01-01 00:00 UTC (in 306 days)",
        ),
        Check(
            "expiry",
            Status.OK,
            "no 'expires' date on auth.providers[0].client_secret[1]: add one to be warned "
            "10 days ahead",
        ),
    ]
