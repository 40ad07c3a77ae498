"""``--mode openidc``: the routes and rules for mod_auth_openidc; what it cannot say is listed."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.apacheconf import GenerateError, generate
from tests.apacheconf.configs import (
    BASE,
    CLIENT,
    GROUP,
    HOST,
    INLINE_SECRET,
    TENANT,
    make_config,
    with_routes,
)

UP = "http://127.0.0.1:1"


def section(text: str, opening: str) -> str:
    start = text.index(opening)
    end = text.index("</Location", start)
    return text[start:end]


def denied_list(text: str) -> str:
    start = text.index("# Cannot be expressed")
    return text[start : text.index("# Not the same", start)]


def test_provider_client_and_redirect_uri_from_the_config() -> None:
    text = generate(make_config(), "openidc")
    discovery = f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    assert f"OIDCProviderMetadataURL {discovery}\n" in text
    assert f"OIDCClientID {CLIENT}\n" in text
    assert f"OIDCRedirectURI https://{HOST}/.portcullis/callback\n" in text
    assert "OIDCRemoteUserClaim oid\n" in text
    assert "OIDCPKCEMethod S256\n" in text


def test_secrets_are_never_printed_only_placeholders() -> None:
    text = generate(make_config(), "openidc")
    assert INLINE_SECRET not in text
    assert "s" * 40 not in text
    assert "OIDCClientSecret ${PORTCULLIS_CLIENT_SECRET}\n" in text
    assert "OIDCCryptoPassphrase ${PORTCULLIS_OIDC_PASSPHRASE}\n" in text
    assert "never written here" in text


def test_a_secret_from_the_environment_keeps_its_variable() -> None:
    auth: dict[str, Any] = dict(BASE["auth"])
    auth["providers"] = [dict(auth["providers"][0], client_secret=[{"env": "ENTRA_SECRET"}])]
    text = generate(make_config(auth=auth), "openidc")
    assert "OIDCClientSecret ${ENTRA_SECRET}\n" in text


def test_rules_become_require_claim_lines() -> None:
    text = generate(make_config(), "openidc")
    admin = section(text, "^/admin")
    assert "AuthType openid-connect" in admin
    assert "Require claim roles:Portal.Admin" in admin
    assert f"Require claim groups:{GROUP}" in admin
    root = section(text, '<Location "/">')
    assert "AuthType openid-connect" in root and "Require valid-user" in root
    static = section(text, "^/static")
    assert "AuthType None" in static and "Require all granted" in static


def test_bearer_routes_check_issuer_audience_and_roles() -> None:
    text = generate(make_config(), "openidc")
    keys = f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    assert f"OIDCOAuthVerifyJwksUri {keys}\n" in text
    api = section(text, "^/api")
    assert "AuthType oauth20" in api
    assert f"Require claim iss:https://login.microsoftonline.com/{TENANT}/v2.0" in api
    assert "Require claim aud:api://portal" in api
    assert "Require claim roles:Api.User" in api and "Require claim roles:Api.Machine" in api


def test_paths_no_route_covers_are_denied() -> None:
    config = with_routes({"host": HOST, "path": "/app", "upstream": UP})
    text = generate(config, "openidc")
    assert "Require all denied" in section(text, '<Location "/">')


def test_group_aliases_are_resolved() -> None:
    config = with_routes({"host": HOST, "upstream": UP, "allow": {"groups": ["staff"]}})
    config = config.model_copy(
        update={"policy": config.policy.model_copy(update={"groups": {"staff": GROUP}})}
    )
    assert f"Require claim groups:{GROUP}" in generate(config, "openidc")


UNEXPRESSIBLE = [
    (
        {
            "accept": ["bearer"],
            "api": "portal",
            "allow": {"app_roles": ["X"], "auth_context": "c1"},
        },
        "auth_context",
    ),
    (
        {"accept": ["bearer"], "api": "portal", "allow": {"scopes": ["read"], "roles": ["R"]}},
        "scopes",
    ),
    ({"accept": ["bearer"], "api": "portal", "allow": {"app_roles": ["X"]}}, "any person's token"),
    (
        {"accept": ["bearer"], "api": "portal", "allow": {"roles": ["R"], "kinds": ["user"]}},
        "kinds",
    ),
    ({"accept": ["session", "bearer"], "api": "portal"}, "sessions and bearer tokens"),
    ({"allow": {"kinds": ["app"], "app_roles": ["X"]}}, "kinds without 'user'"),
    ({"allow": {"roles": ["Has Space"]}}, "characters"),
    ({"rules": [{"allow": {"roles": ["R"]}}]}, "rules"),
]


@pytest.mark.parametrize(("route", "why"), UNEXPRESSIBLE, ids=[u[1] for u in UNEXPRESSIBLE])
def test_what_cannot_be_expressed_is_denied_and_listed(route: dict[str, Any], why: str) -> None:
    config = with_routes({"host": HOST, "path": "/x", "upstream": UP, **route})
    text = generate(config, "openidc")
    assert "Require all denied" in section(text, "^/x")
    assert why in denied_list(text)


def test_what_does_not_widen_access_is_listed_as_a_caveat() -> None:
    config = with_routes(
        {"host": HOST, "upstream": UP, "allow": {"roles": ["R"], "scopes": ["s"]}},
    )
    text = generate(config, "openidc")
    assert "Require claim roles:R" in section(text, '<Location "/">')
    assert "scopes/clients/deny_clients apply to tokens" in text
    assert "(nothing)" in denied_list(text)


def test_without_auth_there_is_nothing_to_sign_in_with() -> None:
    with pytest.raises(GenerateError, match="auth"):
        generate(make_config(auth=None), "openidc")
