"""Every generated file passes ``apache2 -t`` with the modules it names (real Debian Apache)."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.apacheconf import MODES, Mode, generate
from portcullis.config.schema import Config
from tests.apacheconf.configs import BASE, HOST, apache_syntax, make_config, with_routes

UP = "http://127.0.0.1:1"
OIDC_AUTH: dict[str, Any] = {
    **BASE["auth"],
    "providers": [
        {
            "type": "oidc",
            "issuer": "https://idp.example.com",
            "client_id": "portal",
            "client_secret": [{"env": "PORTAL_SECRET"}],
            "client_auth": "client_secret_post",
            "response_mode": "form_post",
        }
    ],
}


def configs() -> dict[str, Config]:
    return {
        "base": make_config(authorizer={"listen": "127.0.0.1:9001"}),
        "wildcard-host": with_routes(
            {"upstream": UP, "allow": {"roles": ["R"]}},
            {"path": "/Docs.v1", "case_insensitive": True, "upstream": UP, "public": True},
            {"path": "/a%20b/c", "upstream": UP, "allow": {"groups": ["not-a-guid"]}},
            {
                "path": "/step",
                "upstream": UP,
                "accept": ["bearer"],
                "api": "portal",
                "allow": {"app_roles": ["X"], "auth_context": "c1", "clients": ["t/a"]},
            },
            {"path": "/both", "upstream": UP, "accept": ["session", "bearer"], "api": "portal"},
        ),
        "oidc-provider": make_config(auth=OIDC_AUTH),
    }


CASES = [(name, mode) for name in configs() for mode in MODES]


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_generated_configuration_passes_apache_syntax_check(name: str, mode: Mode) -> None:
    text = generate(configs()[name], mode)
    result = apache_syntax(text)
    assert result.returncode == 0, result.stderr + "\n" + text
    assert "Syntax OK" in result.stderr


def test_front_with_assertion_check_passes_syntax_check() -> None:
    text = generate(make_config(), "front", verify_assertion=True, host=HOST)
    result = apache_syntax(text)
    assert result.returncode == 0, result.stderr + "\n" + text


def test_the_syntax_check_does_catch_mistakes() -> None:
    """The check above can fail: a broken expression is refused."""
    text = generate(make_config(), "front").replace("-R '127.0.0.1'", "-R '127.0.0.1", 1)
    assert apache_syntax(text).returncode != 0
