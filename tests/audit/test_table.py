"""The human table of query and tail."""

from __future__ import annotations

from portcullis.audit.table import HEADER, format_row, printable


def test_row_columns() -> None:
    row = format_row(
        {
            "time": 1764000000.5,
            "event": "deny",
            "name": "Alice Example",
            "object_id": "oid",
            "kind": "user",
            "method": "GET",
            "path": "/api/reports",
            "reason": "forbidden",
        }
    )
    assert row.split() == [
        "2025-11-24T16:00:00Z",
        "deny",
        "Alice",
        "Example",
        "user",
        "GET",
        "/api/reports",
        "forbidden",
    ]
    assert HEADER.split() == ["TIME", "EVENT", "IDENTITY", "KIND", "REQUEST", "REASON"]
    assert row.index("deny") == HEADER.index("EVENT")
    assert row.index("forbidden") == HEADER.index("REASON")


def test_identity_falls_back_to_ids_and_long_cells_are_cut() -> None:
    row = format_row({"time": 0, "event": "allow", "object_id": "o" * 50, "path": "/" + "p" * 80})
    assert "o" * 29 + "…" in row and "o" * 30 not in row
    assert format_row({"event": "config-reloaded"}).split()[:3] == ["-", "config-reloaded", "-"]


def test_control_characters_are_shown_escaped() -> None:
    assert printable("Mallory\x1b[31m\r\n") == "Mallory\\x1b[31m\\r\\n"
    assert printable("Zoë Ünïcode") == "Zoë Ünïcode"
    assert "\x1b" not in format_row({"name": "\x1b]0;owned\x07", "path": "/\x1b"})
