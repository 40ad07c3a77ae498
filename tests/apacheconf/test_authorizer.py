"""``--mode authorizer``: Apache asks Portcullis; public routes and /.portcullis/ do not."""

from __future__ import annotations

import pytest

from portcullis.apacheconf import GenerateError, generate
from tests.apacheconf.configs import make_config


def section(text: str, opening: str) -> str:
    start = text.index(opening)
    return text[start : text.index("</", start)]


def test_provider_address_comes_from_authorizer_listen() -> None:
    text = generate(make_config(authorizer={"listen": "127.0.0.1:9123"}), "authorizer")
    assert "AuthnzFcgiDefineProvider authnz portcullis fcgi://127.0.0.1:9123/\n" in text
    assert "(authorizer.listen)" in text


def test_without_authorizer_listen_the_flag_or_its_default_is_used() -> None:
    assert "fcgi://127.0.0.1:9001/" in generate(make_config(), "authorizer")
    text = generate(make_config(), "authorizer", authorizer="10.0.0.2:7000")
    assert "fcgi://10.0.0.2:7000/" in text
    assert "add authorizer.listen" in text


@pytest.mark.parametrize(
    ("changes", "flag", "message"),
    [
        ({"authorizer": {"listen": "unix:/run/p.sock"}}, None, "TCP only"),
        ({"authorizer": {"listen": "127.0.0.1:9001"}}, "127.0.0.1:9002", "differs"),
        ({}, "nowhere", "--authorizer"),
    ],
)
def test_unusable_addresses_are_refused(
    changes: dict[str, object], flag: str | None, message: str
) -> None:
    with pytest.raises(GenerateError, match=message):
        generate(make_config(**changes), "authorizer", authorizer=flag)


def test_protected_paths_ask_portcullis_and_get_the_user_from_its_answer() -> None:
    text = generate(make_config(), "authorizer")
    root = section(text, '<Location "/">')
    assert "AuthType Portcullis" in root  # the check_user_id phase needs an AuthType
    assert "CGIPassAuth On" in root  # bearer tokens reach the authorizer
    assert 'UserExpr "%{reqenv:PORTCULLIS_USER}"' in root
    assert "Require portcullis" in root
    assert 'RequestHeader set X-Portcullis-User "%{PORTCULLIS_USER}e" env=PORTCULLIS_USER' in root
    assert "RequestHeader unset X_Portcullis_User" in root
    assert "Require portcullis" in section(text, "^/admin")
    assert text.count('<Location "/">') == 1


def test_public_routes_and_portcullis_endpoints_skip_the_authorizer() -> None:
    text = generate(make_config(), "authorizer")
    static = section(text, "^/static")
    assert "AuthnzFcgiCheckAuthnProvider None" in static
    assert "Require all granted" in static
    own = section(text, '<Location "/.portcullis/">')
    assert "AuthnzFcgiCheckAuthnProvider None" in own
    assert 'ProxyPass "/.portcullis/" "http://127.0.0.1:4180/.portcullis/"' in text
    assert text.index('<Location "/.portcullis/">') > text.index("^/static")


def test_portcullis_cookies_stay_away_from_the_application() -> None:
    text = generate(make_config(), "authorizer")
    root = section(text, '<Location "/">')
    cookie = "(?:__Host-)?portcullis(?:_login)?=[^;]*"
    edit = f'RequestHeader edit* Cookie "^{cookie}(?:;\\s*|$)|;\\s*{cookie}" ""'
    assert edit in root
    assert "!~ m#^/\\.portcullis/#" in root  # Portcullis' own endpoints still get them
