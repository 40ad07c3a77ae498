"""Token lifespan report: per client app and kind, each token once, long ones flagged."""

from __future__ import annotations

from portcullis.audit.tokens import (
    LifetimeStats,
    LongToken,
    format_duration,
    format_token_report,
    token_report,
)


def rec(
    token: str | None,
    lifetime: float | None,
    client: str = "app-1",
    kind: str = "app",
    **extra: object,
) -> dict[str, object]:
    data: dict[str, object] = {"time": 100.0, "client_id": client, "kind": kind, **extra}
    if token is not None:
        data["token_id"] = token
    if lifetime is not None:
        data["token_lifetime"] = lifetime
    return data


def test_stats_per_client_and_kind_counting_each_token_once() -> None:
    records = [rec(f"t{n}", float(n * 600)) for n in range(1, 11)]  # 10 min .. 100 min
    records += [rec("t1", 600.0, time=200.0)] * 5  # the same token, used again
    records += [rec("u1", 3600.0, client="web", kind="user"), rec(None, None)]
    report = token_report(records, max_lifetime=86400)
    assert report.groups == (
        LifetimeStats("app-1", "app", 10, 600.0, 3000.0, 5400.0, 6000.0),
        LifetimeStats("web", "user", 1, 3600.0, 3600.0, 3600.0, 3600.0),
    )
    assert report.too_long == ()


def test_lifetime_from_age_and_remaining_and_records_without_an_id() -> None:
    records = [
        {"client_id": "c", "kind": "obo", "token_age": 100.0, "token_remaining": 3500.0},
        {"client_id": "c", "kind": "obo", "token_age": 100.0},  # not enough to know
        {"client_id": "c", "kind": "obo", "token_lifetime": 7200},
    ]
    report = token_report(records, max_lifetime=86400)
    assert report.groups == (LifetimeStats("c", "obo", 2, 3600.0, 3600.0, 7200.0, 7200.0),)


def test_tokens_longer_than_the_maximum_are_listed_longest_first() -> None:
    records = [
        rec("short", 3600.0),
        rec("long", 90000.0, time=5.0),
        rec("longer", 172800.0, client="legacy", kind="user", time=7.0),
    ]
    report = token_report(records, max_lifetime=86400)
    assert report.too_long == (
        LongToken("longer", "legacy", "user", 172800.0, 7.0),
        LongToken("long", "app-1", "app", 90000.0, 5.0),
    )
    text = format_token_report(report)
    assert "2 tokens lived longer than 1d:" in text
    assert "longer" in text and "2d" in text
    assert report.to_dict()["too_long"][0]["token_id"] == "longer"


def test_format() -> None:
    assert format_token_report(token_report([], max_lifetime=60)) == "no token lifetimes recorded"
    text = format_token_report(token_report([rec("a", 4500.0)], max_lifetime=86400))
    assert text.splitlines()[1].split() == ["app-1", "app", "1", "1h15m", "1h15m", "1h15m", "1h15m"]
    assert text.endswith("no token lived longer than 1d")
    assert [format_duration(s) for s in (0, 45, 90, 5400, 86400, 90061)] == [
        "0s",
        "45s",
        "1m30s",
        "1h30m",
        "1d",
        "1d1h",
    ]


def test_display_names_cannot_drive_the_terminal() -> None:
    text = format_token_report(token_report([rec("a\x1b[2J", 9e9, client="c\x07")], max_lifetime=1))
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[2J" in text
