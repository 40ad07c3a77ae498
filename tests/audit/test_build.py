"""From the `audit` settings to a running writer; the settings' own validation."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from pathlib import Path

import orjson
import pytest

from portcullis.audit import GENESIS, build_audit_log
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.sqlite import SqliteSink
from portcullis.audit.syslog import SyslogSink
from portcullis.config import ConfigError, validate
from portcullis.config.schema import AuditSettings
from tests.audit.support import indexed, sample

ROUTES = [{"upstream": "http://127.0.0.1:1", "public": True}]


def settings(**audit: object) -> AuditSettings:
    return validate({"routes": ROUTES, "audit": audit}).audit


def test_defaults_keep_sqlite_next_to_the_sessions() -> None:
    audit = validate({"routes": ROUTES}).audit
    assert (audit.sqlite.enabled, audit.sqlite.path) == (True, "portcullis-audit.db")
    assert (audit.jsonl, audit.syslog, audit.durability) == (None, None, "batched")
    assert (audit.flush_interval, audit.queue_max) == (0.1, 100_000)


def test_problems_carry_key_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        validate(
            {
                "routes": ROUTES,
                "audit": {
                    "sqlite": {"pth": "x"},
                    "jsonl": {"max_files": 0},
                    "syslog": {"address": "tcp://siem:514", "facility": "local9"},
                    "durability": "always",
                    "flush_interval": 0,
                },
            }
        )
    assert [str(p) for p in caught.value.problems] == [
        "audit.sqlite.pth: unknown key (did you mean 'path'?)",
        "audit.jsonl.path: required",
        "audit.jsonl.max_files: must be at least 1, got 0",
        "audit.syslog.address: expected udp://host:port, unix:///path or an absolute socket path",
        "audit.syslog.facility: expected 'kern', 'user', 'daemon', 'auth', 'syslog', 'authpriv', "
        "'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6' or 'local7', "
        "got 'local9'",
        "audit.durability: expected 'batched' or 'sync', got 'always'",
        "audit.flush_interval: must be greater than 0, got 0",
    ]


def test_stdout_is_not_rotated() -> None:
    with pytest.raises(ConfigError) as caught:
        settings(jsonl={"path": "-", "max_bytes": 1 << 20})
    assert [str(p) for p in caught.value.problems] == [
        "audit.jsonl: max_bytes and rotate_seconds need a file; stdout is not rotated"
    ]


def test_every_configured_sink_is_built(tmp_path: Path) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    audit = settings(
        sqlite={"path": str(tmp_path / "a.db")},
        jsonl={"path": str(tmp_path / "a.jsonl"), "max_bytes": 1 << 20},
        syslog={"address": f"udp://127.0.0.1:{receiver.getsockname()[1]}"},
        flush_interval=0.01,
    )

    async def scenario() -> None:
        log = build_audit_log(audit, asyncio.get_running_loop(), now=1_764_000_000.0)
        assert [type(s) for s in log.sinks] == [SqliteSink, JsonlSink, SyslogSink]
        assert log.chain.id.startswith(f"{socket.gethostname()}/{os.getpid()}/")
        assert log.chain.prev == GENESIS
        log.record(sample(0))
        await log.close()

    asyncio.run(scenario())
    line = (tmp_path / "a.jsonl").read_bytes().strip()
    assert receiver.recv(65536).endswith(line)
    receiver.close()


def test_a_restarted_writer_continues_from_the_store(tmp_path: Path) -> None:
    audit = settings(sqlite={"path": str(tmp_path / "a.db")})

    async def run_once(n: int) -> str:
        log = build_audit_log(audit, asyncio.get_running_loop())
        first_prev = log.chain.prev
        log.record(sample(n))
        await log.close()
        return first_prev

    assert asyncio.run(run_once(0)) == GENESIS
    indexed(tmp_path / "a.db")
    with sqlite3.connect(tmp_path / "a.db") as db:
        first_hash = orjson.loads(db.execute("SELECT record FROM audit").fetchone()[0])["hash"]
    assert asyncio.run(run_once(1)) == first_hash


def test_disabled_sqlite_and_no_sinks_means_no_audit(tmp_path: Path) -> None:
    audit = settings(sqlite={"enabled": False, "path": str(tmp_path / "a.db")})

    async def scenario() -> None:
        log = build_audit_log(audit, asyncio.get_running_loop())
        log.record(sample(0))
        assert log.sinks == () and log.queued == 0
        await log.close()

    asyncio.run(scenario())
    assert not (tmp_path / "a.db").exists()


def test_a_store_that_cannot_be_opened_fails_at_start(tmp_path: Path) -> None:
    audit = settings(
        sqlite={"path": str(tmp_path / "a.db")},
        jsonl={"path": str(tmp_path / "missing-dir" / "a.jsonl")},
    )

    async def scenario() -> None:
        build_audit_log(audit, asyncio.get_running_loop())

    with pytest.raises(FileNotFoundError):
        asyncio.run(scenario())
