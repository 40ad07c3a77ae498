"""``routes[*].guardrails``: what validates, and every problem reported with its key path."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.config import ConfigError, validate
from portcullis.config.schema import Config

AUTH: dict[str, Any] = {
    "external_url": "https://portal.example.com",
    "providers": [
        {
            "name": "entra",
            "type": "entra",
            "tenant": "7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10",
            "client_id": "2f8a6c1e-9d4b-4e7a-8c3f-5b1d7e9a0c42",
            "client_secret": [{"env": "UNSET_IN_TESTS"}],
        }
    ],
    "apis": [{"name": "api", "provider": "entra", "audiences": ["api://x"]}],
    "session": {"keys": [{"env": "UNSET_IN_TESTS"}]},
}
DENY_DROP = {"json": {"pointer": "/command", "matches": "(?i)drop"}, "message": "No DDL."}


def config(guardrails: object, **route: Any) -> Config:
    entry = {
        "path": "/api",
        "upstream": "http://127.0.0.1:8080",
        "accept": ["bearer"],
        "api": "api",
        "guardrails": guardrails,
        **route,
    }
    return validate({"routes": [entry], "auth": AUTH})


def problems(guardrails: object, **route: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(guardrails, **route)
    return [str(p) for p in caught.value.problems]


def test_a_full_section_validates_with_its_defaults() -> None:
    loaded = config(
        {
            "methods": ["get", "POST"],
            "max_body_bytes": 1_000_000,
            "rate_limit": {"requests": 60},
            "deny": [{"path": "^/api/admin", "message": "No."}, DENY_DROP],
        }
    ).routes[0]
    assert loaded.guardrails is not None
    assert loaded.guardrails.applies_to == ["app", "agent"]
    assert loaded.guardrails.methods == ["GET", "POST"]
    assert loaded.guardrails.rate_limit is not None
    assert (loaded.guardrails.rate_limit.per, loaded.guardrails.rate_limit.burst) == (60.0, None)
    assert (loaded.guardrails.json_max_bytes, loaded.guardrails.json_only) == (65536, True)
    assert loaded.guardrails.deny[1].json is not None
    assert loaded.guardrails.deny[1].json.pointer == "/command"


def test_no_guardrails_by_default() -> None:
    assert validate({"routes": [{"upstream": "http://127.0.0.1:1"}]}).routes[0].guardrails is None


G = "routes[0].guardrails"


@pytest.mark.parametrize(
    ("guardrails", "expected"),
    [
        ({}, f"{G}: nothing to enforce: give methods, max_body_bytes, rate_limit or deny"),
        (
            {"deny": [{"path": "(unclosed", "message": "m"}]},
            f"{G}.deny[0].path: not a valid regular expression: missing ), unterminated "
            "subpattern at position 0",
        ),
        (
            {"deny": [{"query": "a{2,1}", "message": "m"}]},
            f"{G}.deny[0].query: not a valid regular expression: min repeat greater than max "
            "repeat at position 2",
        ),
        (
            {"deny": [{"json": {"pointer": "/a", "matches": "*x"}, "message": "m"}]},
            f"{G}.deny[0].json.matches: not a valid regular expression: nothing to repeat at "
            "position 0",
        ),
        (
            {"deny": [{"json": {"pointer": "command", "matches": "x"}, "message": "m"}]},
            f"{G}.deny[0].json.pointer: a JSON pointer is '' (the whole body) or starts with "
            "'/', e.g. '/command'",
        ),
        (
            {"deny": [{"json": {"pointer": "/a~2b", "matches": "x"}, "message": "m"}]},
            f"{G}.deny[0].json.pointer: '~' must be followed by 0 or 1 (RFC 6901: '~0' is '~', "
            "'~1' is '/')",
        ),
        (
            {"deny": [{"json": {"pointer": "/a"}, "message": "m"}]},
            f"{G}.deny[0].json.matches: required",
        ),
        (
            {"deny": [{"message": "m"}]},
            f"{G}.deny[0]: give exactly one of 'path', 'query' or 'json' (got none)",
        ),
        (
            {"deny": [{"path": "a", "query": "b", "message": "m"}]},
            f"{G}.deny[0]: give exactly one of 'path', 'query' or 'json' (got 'path' and 'query')",
        ),
        ({"deny": [{"path": "a"}]}, f"{G}.deny[0].message: required"),
        ({"deny": [{"path": "a", "message": ""}]}, f"{G}.deny[0].message: must not be empty"),
        ({"deny": [{"path": "", "message": "m"}]}, f"{G}.deny[0].path: must not be empty"),
        (
            {"deny": [{"jsn": {}, "message": "m"}]},
            f"{G}.deny[0].jsn: unknown key (did you mean 'json'?)",
        ),
        ({"methods": ["GET", "B@D"]}, f"{G}.methods[1]: 'B@D' is not an HTTP method"),
        ({"methods": []}, f"{G}.methods: must not be empty"),
        (
            {"methods": ["GET"], "applies_to": ["robot"]},
            f"{G}.applies_to[0]: expected 'user', 'obo', 'app' or 'agent', got 'robot'",
        ),
        ({"methods": ["GET"], "applies_to": []}, f"{G}.applies_to: must not be empty"),
        ({"max_body_bytes": -1}, f"{G}.max_body_bytes: must be at least 0, got -1"),
        ({"rate_limit": {"requests": 0}}, f"{G}.rate_limit.requests: must be at least 1, got 0"),
        ({"rate_limit": {"per": 60}}, f"{G}.rate_limit.requests: required"),
        (
            {"rate_limit": {"requests": 1, "per": 0}},
            f"{G}.rate_limit.per: must be greater than 0, got 0",
        ),
        (
            {"rate_limit": {"requests": 1, "burst": 0}},
            f"{G}.rate_limit.burst: must be at least 1, got 0",
        ),
        (
            {"deny": [DENY_DROP], "json_max_bytes": 8},
            f"{G}.json_max_bytes: must be at least 16, got 8",
        ),
        (
            {"methods": ["GET"], "json_max_bytes": 1024},
            f"{G}: json_max_bytes: only used with json deny patterns",
        ),
        (
            {"deny": [{"path": "a", "message": "m"}], "json_only": False},
            f"{G}: json_only: only used with json deny patterns",
        ),
        ({"method": ["GET"]}, f"{G}.method: unknown key (did you mean 'methods'?)"),
        ("strict", f"{G}: expected a mapping, got a string"),
    ],
)
def test_problems_with_key_paths(guardrails: object, expected: str) -> None:
    assert expected in problems(guardrails)


def test_guardrails_on_a_public_route_are_refused() -> None:
    found = problems({"methods": ["GET"]}, public=True, accept=["session"], api=None)
    assert "routes[0]: guardrails: a public route has no signed-in caller to hold to them" in found


def test_a_session_route_needs_user_in_applies_to() -> None:
    expected = (
        "routes[0]: guardrails.applies_to: this route accepts sessions only (people, kind "
        "user); add 'user' or accept bearer tokens"
    )
    assert expected in problems({"methods": ["GET"]}, accept=["session"], api=None)
    held = config({"methods": ["GET"], "applies_to": ["user"]}, accept=["session"], api=None)
    assert held.routes[0].guardrails is not None


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "methods": ["B@D"],
            "rate_limit": {"requests": 0},
            "deny": [{"path": "(", "message": "m"}, {"query": "x"}],
        }
    )
    assert [p.split(":")[0] for p in found] == [
        f"{G}.methods[0]",
        f"{G}.rate_limit.requests",
        f"{G}.deny[0].path",
        f"{G}.deny[1].message",
    ]
