"""The worker's watch: log lines at start and daily, the current config, the metric."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portcullis.config.schema import Config
from portcullis.credentials import ExpiryWatch
from tests.credentials.support import certificate
from tests.credentials.test_dated import write_config

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def config_with(tmp_path: Path, expires: str) -> Config:
    return write_config(
        tmp_path,
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "server": {"expiry_warn_days": 14},
            "auth": {
                "external_url": "https://portal.example.com",
                "providers": [
                    {
                        "type": "oidc",
                        "issuer": "https://idp.example.com",
                        "client_id": "portal",
                        "client_secret": [{"value": "hunter2-secret", "expires": expires}],
                    }
                ],
                "session": {"keys": [{"value": "k" * 40}]},
            },
        },
    )


def test_warns_within_the_window_and_errs_once_expired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    current = [config_with(tmp_path, "2026-03-31")]
    watch = ExpiryWatch(lambda: current[0], clock=NOW.timestamp)
    caplog.set_level(logging.WARNING, "portcullis.credentials")
    assert watch.check() == []  # 30 days away; the window is 14
    current[0] = config_with(tmp_path, "2026-03-10")  # a reload
    [soon] = watch.check()
    assert soon.key_path == "auth.providers[0].client_secret[0]"
    current[0] = config_with(tmp_path, "2026-02-28")
    watch.check()
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        (
            logging.WARNING,
            "auth.providers[0].client_secret[0]: secret expires 2026-03-10 00:00 UTC "
            "(in 9 days); rotate it (docs/operations.md)",
        ),
        (
            logging.ERROR,
            "auth.providers[0].client_secret[0]: secret expired 2026-02-28 00:00 UTC "
            "(1 day ago); rotate it (docs/operations.md)",
        ),
    ]
    assert "hunter2" not in caplog.text


def test_checks_at_start_and_then_on_its_timer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_with(tmp_path, "2026-03-02")
    caplog.set_level(logging.WARNING, "portcullis.credentials")

    async def main() -> None:
        watch = ExpiryWatch(lambda: config, clock=NOW.timestamp)
        watch.start(asyncio.get_running_loop(), interval=0.02)
        assert len(caplog.records) == 1  # at once
        await asyncio.sleep(0.07)
        watch.stop()

    asyncio.run(main())
    assert len(caplog.records) >= 3


def test_the_tls_certificate_is_the_one_read_at_start(tmp_path: Path) -> None:
    served, key = certificate("served.example.com", NOW + timedelta(days=3))
    (tmp_path / "tls.pem").write_bytes(served)
    (tmp_path / "tls.key").write_bytes(key)
    config = write_config(
        tmp_path,
        {
            "listen": {"tls": {"cert_file": "tls.pem", "key_file": "tls.key"}},
            "routes": [{"upstream": "http://127.0.0.1:1"}],
        },
    )
    now = [NOW.timestamp()]
    watch = ExpiryWatch(lambda: config, clock=lambda: now[0])
    assert [f.what for f in watch.check()] == ["TLS certificate CN=served.example.com"]
    renewed, _ = certificate("renewed.example.com", NOW + timedelta(days=90))
    (tmp_path / "tls.pem").write_bytes(renewed)  # on disk, but served only after a restart
    now[0] += 2 * 3600  # files are read again after an hour
    assert [f.what for f in watch.check()] == ["TLS certificate CN=served.example.com"]
    fresh = ExpiryWatch(lambda: config, clock=lambda: now[0])  # what a restart would see
    assert fresh.check() == []


def test_the_expiry_gauge(tmp_path: Path) -> None:
    watch = ExpiryWatch(lambda: config_with(tmp_path, "2026-03-10"), clock=NOW.timestamp)
    [family] = watch.families()
    assert family.name == "portcullis_secret_expiry_timestamp_seconds"
    assert family.type == "gauge"
    [sample] = family.samples
    assert sample.labels == (("what", "secret"), ("key", "auth.providers[0].client_secret[0]"))
    assert sample.value == datetime(2026, 3, 10, tzinfo=UTC).timestamp()


def test_unreadable_certificates_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_with(tmp_path, "2030-01-01")
    assert config.auth is not None
    provider = config.auth.providers[0].model_copy(
        update={"certificate_file": str(tmp_path / "gone.pem")}
    )
    broken = config.model_copy(
        update={"auth": config.auth.model_copy(update={"providers": [provider]})}
    )
    ExpiryWatch(lambda: broken, clock=NOW.timestamp).check()
    assert "cannot tell when auth.providers[0].certificate_file expires" in caplog.text
