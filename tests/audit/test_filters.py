"""Query filters: the same answers from SQLite (SQL) and JSON lines (predicate); time parsing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portcullis.audit import AuditIdentity, Event
from portcullis.audit.filters import Filter, parse_duration, parse_when
from portcullis.audit.store import Reader, open_reader
from tests.audit.support import (
    AGENT_ID,
    ALICE,
    API_ROUTE,
    BOB,
    BOB_ID,
    BOT_ID,
    START,
    TID,
    jsonl_store,
    sample,
    sqlite_store,
)

OIDC_ID = AuditIdentity("https://idp.example", "sub-9", "user", "Olga")

RECORDS = [
    sample(0, request_id="alice-page"),
    sample(1, request_id="alice-api", route=API_ROUTE, event=Event.DENY, reason="forbidden"),
    sample(2, request_id="bob-api", identity=BOB_ID, route=API_ROUTE),
    sample(3, request_id="bot-api", identity=BOT_ID, route=API_ROUTE, reason="bearer"),
    sample(4, request_id="agent-for-alice", identity=AGENT_ID, route=API_ROUTE),
    sample(5, request_id="anonymous", identity=None, event=Event.DENY, reason="unauthenticated"),
    sample(6, request_id="oidc-user", identity=OIDC_ID),
    sample(7, request_id="violation", identity=BOB_ID, event=Event.VIOLATION),
]


@pytest.fixture(scope="module", params=["sqlite", "jsonl"])
def reader(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reader]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        path = sqlite_store(tmp / "audit.db", RECORDS[:5], RECORDS[5:])
    else:
        path = jsonl_store(tmp / "audit.jsonl", RECORDS[:5], RECORDS[5:])
    opened = open_reader([str(path)])
    yield opened
    opened.close()


def ids(reader: Reader, match: Filter, limit: int | None = None) -> list[str]:
    return [row.record["request_id"] for row in reader.select(match, limit)]


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Filter(), [r.request_id for r in RECORDS]),
        (Filter(identity=f"{TID}/{ALICE}"), ["alice-page", "alice-api", "agent-for-alice"]),
        (Filter(identity=ALICE), ["alice-page", "alice-api", "agent-for-alice"]),
        (Filter(identity=f"other-tenant/{ALICE}"), []),
        (Filter(identity=BOB), ["bob-api", "violation"]),
        (Filter(identity="https://idp.example#sub-9"), ["oidc-user"]),
        (Filter(kind="app"), ["bot-api"]),
        (Filter(kind="agent"), ["agent-for-alice"]),
        (Filter(route="2"), ["alice-api", "bob-api", "bot-api", "agent-for-alice"]),
        (Filter(route="/api"), ["alice-api", "bob-api", "bot-api", "agent-for-alice"]),
        (
            Filter(route="app.example.com/api"),
            ["alice-api", "bob-api", "bot-api", "agent-for-alice"],
        ),
        (Filter(route="other.example.com"), []),
        (Filter(events=("deny", "violation")), ["alice-api", "anonymous", "violation"]),
        (Filter(reason="bearer"), ["bot-api"]),
        (Filter(since=START + 2, until=START + 4), ["bob-api", "bot-api"]),
        (Filter(identity=BOB, events=("allow",), route="/api"), ["bob-api"]),
    ],
)
def test_filters_mean_the_same_on_every_store(
    reader: Reader, match: Filter, expected: list[str]
) -> None:
    assert ids(reader, match) == expected


def test_limit_keeps_the_most_recent_oldest_first(reader: Reader) -> None:
    assert ids(reader, Filter(), 3) == ["anonymous", "oidc-user", "violation"]


def test_like_wildcards_in_an_identity_are_literal(reader: Reader) -> None:
    assert ids(reader, Filter(identity="%")) == []
    assert ids(reader, Filter(identity="_" * len(ALICE))) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("3600", 3600),
        ("1.5h", 5400),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1y", "-5m", "1h 30m", "nan", "inf", "1e400"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_points_in_time() -> None:
    assert parse_when("1h", START) == START - 3600
    assert parse_when("2025-11-24T16:00:00Z", 0) == START
    assert parse_when("2025-11-24T17:00:00+01:00", 0) == START
    assert parse_when("2025-11-24T16:00:00", 0) == START  # UTC unless it says otherwise
    assert parse_when("2025-11-24", 0) == START - 16 * 3600
    with pytest.raises(ValueError, match="neither a duration ago"):
        parse_when("yesterday", START)
