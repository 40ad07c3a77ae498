"""What in a configuration has an end date: secrets' expires, certificates' notAfter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from portcullis.config import load_config
from portcullis.config.schema import Config
from portcullis.credentials import Dated, dated_credentials, secret_expiry
from tests.credentials.support import certificate

T1 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
KEY = "k" * 40


def write_config(tmp_path: Path, data: dict[str, Any]) -> Config:
    path = tmp_path / "portcullis.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def auth(**provider: Any) -> dict[str, Any]:
    return {
        "external_url": "https://portal.example.com",
        "providers": [
            {
                "type": "oidc",
                "issuer": "https://idp.example.com",
                "client_id": "portal",
                **provider,
            }
        ],
        "session": {"keys": [{"value": KEY, "expires": "2026-09-30"}, {"value": KEY + "x"}]},
    }


def test_secret_dates_are_midnight_utc_of_that_day() -> None:
    assert secret_expiry(date(2027, 3, 1)) == datetime(2027, 3, 1, tzinfo=UTC)


def test_dated_secrets_and_certificates(tmp_path: Path) -> None:
    leaf, leaf_key = certificate("portal.example.com", T1)
    intermediate, _ = certificate("Example CA", T2)
    (tmp_path / "tls.pem").write_bytes(leaf + intermediate)
    (tmp_path / "tls.key").write_bytes(leaf_key)
    client_cert, client_key = certificate("portal client", T2)
    (tmp_path / "client.pem").write_bytes(client_cert)
    (tmp_path / "client.key").write_bytes(client_key)
    (tmp_path / "ca.pem").write_bytes(intermediate)
    config = write_config(
        tmp_path,
        {
            "listen": {"tls": {"cert_file": "tls.pem", "key_file": "tls.key"}},
            "routes": [
                {"upstream": "http://127.0.0.1:1"},
                {"path": "/x", "upstream": "https://10.0.0.1", "tls_ca_file": "ca.pem"},
            ],
            "auth": auth(
                client_auth="private_key_jwt",
                private_key=[{"file": "client.key"}],
                certificate_file=str(tmp_path / "client.pem"),
                client_secret=[{"env": "HOME", "expires": date(2027, 3, 1)}],
            ),
        },
    )
    found, problems = dated_credentials(config)
    assert problems == []
    assert sorted(found, key=lambda d: d.key_path) == [
        Dated("client certificate CN=portal client", "auth.providers[0].certificate_file", T2),
        Dated("secret", "auth.providers[0].client_secret[0]", datetime(2027, 3, 1, tzinfo=UTC)),
        Dated("secret", "auth.session.keys[0]", datetime(2026, 9, 30, tzinfo=UTC)),
        Dated("TLS certificate CN=portal.example.com", "listen.tls.cert_file[0]", T1),
        Dated("TLS certificate CN=Example CA", "listen.tls.cert_file[1]", T2),
        Dated("upstream CA certificate CN=Example CA", "routes[1].tls_ca_file", T2),
    ]


def test_a_certificate_bundled_with_a_key_secret_counts(tmp_path: Path) -> None:
    cert, key = certificate("assertion signer", T1)
    (tmp_path / "signer.pem").write_bytes(key + cert)
    config = write_config(
        tmp_path,
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "auth": {
                **auth(client_secret=[{"value": "s"}]),
                "assertion": {"keys": [{"file": "signer.pem"}]},
            },
        },
    )
    found, _ = dated_credentials(config)
    assert Dated("certificate CN=assertion signer", "auth.assertion.keys[0]", T1) in found


def test_unreadable_certificates_are_problems_never_content(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "auth": auth(
                client_auth="private_key_jwt",
                private_key=[{"value": "-----BEGIN PRIVATE KEY-----\nnot really\n"}],
                certificate_file=str(tmp_path / "missing.pem"),
            ),
        },
    )
    found, problems = dated_credentials(config)
    assert [str(p) for p in problems] == [
        "auth.providers[0].certificate_file: cannot read: No such file or directory"
    ]
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    empty = tmp_path / "empty.pem"
    empty.write_text("nothing here\n")
    for path, message in ((broken, "a certificate in it cannot be parsed"), (empty, "no PEM")):
        changed = config.model_copy(
            update={
                "auth": config.auth.model_copy(  # type: ignore[union-attr]
                    update={
                        "providers": [
                            config.auth.providers[0].model_copy(  # type: ignore[union-attr]
                                update={"certificate_file": str(path)}
                            )
                        ]
                    }
                )
            }
        )
        _, problems = dated_credentials(changed)
        assert len(problems) == 1 and message in problems[0].message
    assert not any(d.key_path.endswith("private_key[0]") for d in found)


def test_reading_goes_through_the_given_reader(tmp_path: Path) -> None:
    cert, key = certificate("on disk", T1)
    (tmp_path / "tls.pem").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    config = write_config(
        tmp_path,
        {
            "listen": {"tls": {"cert_file": "tls.pem", "key_file": "tls.key"}},
            "routes": [{"upstream": "http://127.0.0.1:1"}],
        },
    )
    served, _ = certificate("in memory", T2)
    found, _ = dated_credentials(config, read=lambda path: served)
    assert found == [Dated("TLS certificate CN=in memory", "listen.tls.cert_file", T2)]
