"""Pure validation: every problem, each with its key path and a message for people."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.config import Config, ConfigError, Problem, validate
from portcullis.config.validate import ROOT, format_path

UPSTREAM = "http://127.0.0.1:8080"


def problems(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(data)
    return [str(p) for p in info.value.problems]


def minimal(**extra: Any) -> dict[str, Any]:
    return {"routes": [{"upstream": UPSTREAM}], **extra}


def test_minimal_config_gets_defaults() -> None:
    config = validate(minimal())
    assert isinstance(config, Config)
    assert config.listen.address == "127.0.0.1"
    assert config.listen.port == 4180
    assert config.server.workers == 1
    assert config.routes[0].host == "*"
    assert config.routes[0].path == "/"
    assert config.routes[0].public is False


def test_problem_str_is_path_colon_message() -> None:
    problem = Problem("routes[1].upstream", "not an http(s) URL")
    assert str(problem) == "routes[1].upstream: not an http(s) URL"
    with pytest.raises(AttributeError):
        problem.path = "x"  # type: ignore[misc]


def test_config_error_lists_problems_and_joins_them() -> None:
    error = ConfigError([Problem("a", "one"), Problem("b[0]", "two")])
    assert error.problems == [Problem("a", "one"), Problem("b[0]", "two")]
    assert str(error) == "a: one\nb[0]: two"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ROOT),
        (("listen",), "listen"),
        (("routes", 1, "upstream"), "routes[1].upstream"),
        (("listen", "trusted_proxies", 0), "listen.trusted_proxies[0]"),
        (("a", 0, 2, "b"), "a[0][2].b"),
    ],
)
def test_format_path(loc: tuple[int | str, ...], path: str) -> None:
    assert format_path(loc) == path


def test_format_path_with_prefix() -> None:
    assert format_path(("env",), prefix="auth.client_secret") == "auth.client_secret.env"
    assert format_path((0, "file"), prefix="keys") == "keys[0].file"


def test_custom_validator_message_without_pydantic_prefix() -> None:
    data = {"routes": [{"upstream": UPSTREAM}, {"upstream": "ftp://files.example"}]}
    assert problems(data) == ["routes[1].upstream: not an http(s) URL"]


def test_missing_key_is_required() -> None:
    assert problems({"routes": [{"host": "a.example"}]}) == ["routes[0].upstream: required"]
    assert problems({}) == ["routes: required"]


def test_unknown_key_suggests_the_closest_known_one() -> None:
    data = {"routes": [{"upstrem": UPSTREAM}]}
    assert problems(data) == [
        "routes[0].upstream: required",
        "routes[0].upstrem: unknown key (did you mean 'upstream'?)",
    ]


def test_unknown_key_suggestions_at_every_depth() -> None:
    data = minimal(
        lsten={},
        server={"limits": {"max_url_byte": 1000}, "timeouts": {"headers": 5}},
        listen={"tls": {"cert_file": "c.pem", "key_file": "k.pem", "chain": "x"}},
    )
    data["routes"][0]["timeouts"] = {"conect": 1}
    assert problems(data) == [
        "listen.tls.chain: unknown key",
        "server.limits.max_url_byte: unknown key (did you mean 'max_url_bytes'?)",
        "server.timeouts.headers: unknown key (did you mean 'header'?)",
        "routes[0].timeouts.conect: unknown key (did you mean 'connect'?)",
        "lsten: unknown key (did you mean 'listen'?)",
    ]


def test_unknown_key_without_a_close_match() -> None:
    assert problems(minimal(colour="blue")) == ["colour: unknown key"]


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "listen": {"port": 70000, "trusted_proxies": ["10.0.0.0/8", "not-a-net"]},
        "server": {"workers": 0, "timeouts": {"header": -1}},
        "log": {"level": "loud", "access": "maybe"},
        "routes": [
            {"upstream": UPSTREAM, "host": "a.example:8080"},
            {"upstream": UPSTREAM, "path": "api"},
        ],
    }
    assert problems(data) == [
        "listen.port: must be at most 65535, got 70000",
        "listen.trusted_proxies[1]: 'not-a-net' is not an IP address or CIDR block",
        "server.workers: must be at least 1, got 0",
        "server.timeouts.header: must be greater than 0, got -1",
        "log.level: expected 'debug', 'info', 'warning' or 'error', got 'loud'",
        "log.access: expected true or false, got a string",
        "routes[0].host: a route host must not carry a port; routes match the host name only",
        "routes[1].path: a path prefix must start with '/'",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (minimal(listen={"port": "http"}), "listen.port: expected an integer, got a string"),
        (minimal(listen={"port": 80.5}), "listen.port: expected a whole number, got a number"),
        (minimal(listen=None), "listen: expected a mapping, got an empty value"),
        (minimal(listen=[1]), "listen: expected a mapping, got a list"),
        (
            minimal(listen={"trusted_proxies": "10.0.0.0/8"}),
            "listen.trusted_proxies: expected a list, got a string",
        ),
        (
            minimal(server={"timeouts": {"body": "soon"}}),
            "server.timeouts.body: expected a number, got a string",
        ),
        (
            minimal(server={"timeouts": {"body": 86401}}),
            "server.timeouts.body: must be at most 86400, got 86401",
        ),
        (
            minimal(server={"limits": {"max_url_bytes": 10}}),
            "server.limits.max_url_bytes: must be at least 256, got 10",
        ),
        (minimal(log={"format": 3}), "log.format: expected 'text' or 'json', got an integer"),
        ({"routes": []}, "routes: must not be empty"),
        ({"routes": {"upstream": UPSTREAM}}, "routes: expected a list, got a mapping"),
        ({"routes": [UPSTREAM]}, "routes[0]: expected a mapping, got a string"),
        ({"routes": [{"upstream": 8080}]}, "routes[0].upstream: expected a string, got an integer"),
    ],
)
def test_messages(data: object, expected: str) -> None:
    assert problems(data) == [expected]


@pytest.mark.parametrize("data", [None, [], "routes", 3])
def test_top_level_must_be_a_mapping(data: object) -> None:
    (problem,) = problems(data)
    assert problem.startswith("(top level): expected a mapping, got ")


def test_duplicate_routes_name_both_indexes() -> None:
    data = {
        "routes": [
            {"upstream": UPSTREAM},
            {"path": "/api", "upstream": UPSTREAM},
            {"host": "a.example", "path": "/api", "upstream": UPSTREAM},
            {"host": "*", "path": "/api", "upstream": "http://127.0.0.1:9"},
            {"host": "A.Example", "path": "/api", "upstream": UPSTREAM},
            {"path": "/api/", "upstream": UPSTREAM},
            {"host": "*", "path": "/", "upstream": UPSTREAM},
        ]
    }
    assert problems(data) == [
        "routes[3]: duplicates routes[1] (host '*', path '/api')",
        "routes[4]: duplicates routes[2] (host 'a.example', path '/api')",
        "routes[5]: duplicates routes[1] (host '*', path '/api/')",
        "routes[6]: duplicates routes[0] (host '*', path '/')",
    ]


def test_same_path_on_other_hosts_and_other_paths_are_fine() -> None:
    data = {
        "routes": [
            {"host": "a.example", "path": "/api", "upstream": UPSTREAM},
            {"host": "*.a.example", "path": "/api", "upstream": UPSTREAM},
            {"host": "a.example", "path": "/api/v2", "upstream": UPSTREAM},
            {"host": "a.example", "upstream": UPSTREAM},
        ]
    }
    assert len(validate(data).routes) == 4


def test_duplicate_routes_are_found_even_when_other_parts_are_invalid() -> None:
    data = {
        "log": {"level": "loud"},
        "routes": [
            {"path": "/x", "upstream": UPSTREAM},
            {"path": "/x", "upstream": "nope"},
            {"path": "/x", "upstream": UPSTREAM},
        ],
    }
    assert problems(data) == [
        "log.level: expected 'debug', 'info', 'warning' or 'error', got 'loud'",
        "routes[1].upstream: not an http(s) URL",
        "routes[2]: duplicates routes[0] (host '*', path '/x')",
    ]


def test_tls_ca_file_needs_an_https_upstream_with_verification() -> None:
    data = {
        "routes": [
            {"path": "/a", "upstream": UPSTREAM, "tls_ca_file": "ca.pem"},
            {"path": "/b", "upstream": "https://b.internal", "tls_ca_file": "ca.pem"},
            {
                "path": "/c",
                "upstream": "https://c.internal",
                "tls_ca_file": "ca.pem",
                "tls_verify": False,
            },
        ]
    }
    assert problems(data) == [
        "routes[0].tls_ca_file: only used with an https upstream",
        "routes[2].tls_ca_file: has no effect with tls_verify: false",
    ]


def test_validate_does_not_touch_files() -> None:
    data = minimal(listen={"tls": {"cert_file": "/nonexistent/c.pem", "key_file": "/no/k.pem"}})
    config = validate(data)
    assert config.listen.tls is not None
    assert config.listen.tls.cert_file == "/nonexistent/c.pem"
