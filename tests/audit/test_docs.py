"""docs/audit.md documents exactly the record's keys, in order, and exactly the events."""

from __future__ import annotations

import re
from pathlib import Path

import portcullis.audit
from portcullis.audit import FIELDS, Event

DOC = (Path(__file__).parent.parent.parent / "docs" / "audit.md").read_text()


def table_keys(heading: str) -> list[str]:
    section = DOC.split(heading + "\n", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_-]+)` \|", section, re.M)


def test_the_schema_table_lists_every_key_in_order() -> None:
    assert table_keys("## The record") == [*FIELDS, "chain", "seq", "prev", "hash"]


def test_the_events_table_lists_every_event() -> None:
    assert table_keys("### Events") == [e.value for e in Event]


def test_the_public_api_is_pinned() -> None:
    assert portcullis.audit.__all__ == [
        "FIELDS",
        "GENESIS",
        "AuditIdentity",
        "AuditLog",
        "AuditRecord",
        "AuditRoute",
        "Chain",
        "Durability",
        "Event",
        "Verification",
        "build_audit_log",
        "build_sinks",
        "chain_id",
        "verify",
    ]
    for name in portcullis.audit.__all__:
        assert hasattr(portcullis.audit, name)
