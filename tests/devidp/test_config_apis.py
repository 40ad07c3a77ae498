"""``--config`` for APIs, grants, machine and agent clients, auth contexts and test lifetimes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import portcullis.devidp as devidp
from portcullis.config.validate import ConfigError
from portcullis.devidp import DevIdp, DevIdpConfig, default_config, load_config
from portcullis.devidp.cli import _config
from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    DEMO_API_ID,
    LEGACY_API_ID,
    default_apis,
    default_grants,
)
from tests.devidp.helpers import (
    authorize,
    check_access_token,
    client_credentials,
    jwks_of,
    redeem,
)

API_ID = "0f1e2d3c-4b5a-4968-8776-655443322110"
AGENT_OID = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"


def load(tmp_path: Path, text: str) -> DevIdpConfig:
    path = tmp_path / "idp.yaml"
    path.write_text(text)
    return load_config(path, host="127.0.0.1", port=0, force_bind=False)


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return "\n".join(str(p) for p in info.value.problems)


CONFIG = f"""
allow_test_lifetimes: true
apis:
  - app_id: {API_ID.upper()}
    app_id_uri: https://api.contoso.example/orders
    app_roles: [Orders.Read, Orders.Admin]
    scopes: [Orders.Manage]
    access_token_version: 1
users:
  - username: dave
    api_roles: {{https://api.contoso.example/orders: [Orders.Admin]}}
    acrs: [c3]
clients:
  - client_id: cli-web
    client_secret: web-secret
    redirect_uris: [http://127.0.0.1:8080/cb]
  - client_id: orders-bot
    client_secret: bot-secret
  - client_id: orders-agent
    client_secret: agent-secret
    agent: true
    service_principal_oid: {AGENT_OID}
grants:
  orders-bot: {{https://api.contoso.example/orders: [Orders.Read]}}
  orders-agent: {{{API_ID}: [Orders.Read, Orders.Admin]}}
"""


def test_apis_grants_and_machine_clients_from_config(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG)
    (api,) = config.apis
    assert api.app_id == API_ID
    assert api.access_token_version == 1
    assert api.audience == "https://api.contoso.example/orders"
    assert config.allow_test_lifetimes
    assert dict(config.grants) == {
        "orders-bot": {API_ID: ("Orders.Read",)},
        "orders-agent": {API_ID: ("Orders.Read", "Orders.Admin")},
    }
    (dave,) = config.users
    assert dave.roles_for(api) == ("Orders.Admin",)
    assert dave.acrs == ("c3",)
    bot, agent = config.clients[1:]
    assert bot.redirect_uris == () and not bot.agent
    assert agent.agent and agent.sp_oid == AGENT_OID
    with DevIdp(config) as idp:
        scope = "https://api.contoso.example/orders/.default"
        reply = client_credentials(idp, "orders-agent", "agent-secret", scope)
        assert reply.status == 200, reply.body
        _, claims = check_access_token(
            idp, reply.json()["access_token"], audience=api.app_id_uri, v1=True
        )
        assert claims["roles"] == ["Orders.Read", "Orders.Admin"]
        assert claims["oid"] == AGENT_OID
        assert claims["xms_act_fct"] == "11"
        reply = client_credentials(idp, "cli-web", "web-secret", scope)
        _, claims = check_access_token(
            idp, reply.json()["access_token"], audience=api.app_id_uri, v1=True
        )
        assert "roles" not in claims


def test_delegated_token_from_a_configured_api(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG)
    with DevIdp(config) as idp:
        login = authorize(
            idp,
            "dave",
            client_id="cli-web",
            redirect_uri="http://127.0.0.1:8080/cb",
            scope="openid https://api.contoso.example/orders/Orders.Manage",
        )
        reply = redeem(idp, login, how="none", client_id="cli-web", client_secret="web-secret")
        assert reply.status == 200, reply.body
        _, claims = check_access_token(
            idp,
            reply.json()["access_token"],
            audience="https://api.contoso.example/orders",
            v1=True,
        )
        assert claims["scp"] == "Orders.Manage"
        assert claims["roles"] == ["Orders.Admin"]
        assert claims["acrs"] == ["c3"]
        assert claims["appid"] == "cli-web"


def test_without_apis_or_grants_the_demo_ones_stay(tmp_path: Path) -> None:
    config = load(tmp_path, "users: [{username: erin}]")
    assert config.apis == default_apis()
    assert dict(config.grants) == dict(default_grants())
    assert not config.allow_test_lifetimes


def test_demo_grants_are_kept_only_for_clients_and_apis_that_remain(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        f"""
clients:
  - client_id: {BOT_CLIENT_ID}
    client_secret: s
apis:
  - app_id: {LEGACY_API_ID}
    app_id_uri: api://portcullis-legacy
    app_roles: [Legacy.Read]
""",
    )
    assert dict(config.grants) == {BOT_CLIENT_ID: {LEGACY_API_ID: ("Legacy.Read",)}}
    assert config.api(DEMO_API_ID) is None


def test_api_and_grant_problems_name_their_key_paths(tmp_path: Path) -> None:
    text = problems(
        tmp_path,
        f"""
allow_test_lifetimes: yes please
apis:
  - app_id: nope
    app_id_uri: portcullis
    app_roles: [Has Space]
    scopes: [a/b]
    access_token_version: 3
    colour: red
  - app_id: {API_ID}
    app_id_uri: api://x/
  - app_id_uri: api://y
  - app_id: {API_ID}
    app_id_uri: api://y
users:
  - username: u
    api_roles: {{api://y: [Nope], api://ghost: [X]}}
    acrs: c1
clients:
  - client_id: c
    client_secret: s
    agent: 1
    service_principal_oid: 42
  - client_id: d
    client_secret: s
    redirect_uris: []
grants:
  c: {{api://y: Reports.Read}}
  ghost: {{api://y: []}}
  d: []
""",
    )
    for path in (
        "allow_test_lifetimes: expected true or false",
        "apis[0].app_id: expected a GUID",
        "apis[0].app_id_uri: expected a URI",
        "apis[0].app_roles[0]: no spaces",
        "apis[0].scopes[0]: no spaces or '/'",
        "apis[0].access_token_version: expected 1 or 2",
        "apis[0].colour: unknown key",
        "apis[1].app_id_uri: expected a URI",
        "apis[2].app_id: required",
        "apis[3].app_id: duplicate",
        "apis[3].app_id_uri: duplicate",
        "users[0].api_roles.api://y[0]: 'Nope' is not an app role of api://y",
        "users[0].api_roles.api://ghost: no such API",
        "users[0].acrs: expected a list",
        "clients[0].agent: expected true or false",
        "clients[0].service_principal_oid:",
        "clients[1].redirect_uris: register at least one",
        "grants.c.api://y: expected a non-empty list",
        "grants.ghost: no such client_id",
        "grants.d: expected a mapping",
    ):
        assert path in text, (path, text)


def test_the_cli_default_config_keeps_the_apis_and_grants() -> None:
    args = argparse.Namespace(config=None, host="127.0.0.1", port=0, force_bind=False)
    config = _config(args)
    assert config.apis == default_config().apis
    assert dict(config.grants) == dict(default_config().grants)
    assert config.clients == default_config().clients


def test_a_configured_key_keeps_its_x5t_across_restarts(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = load(tmp_path, "signing_key_file: k.pem")
    seen = []
    for _ in range(2):
        with DevIdp(config) as idp:
            (jwk,) = jwks_of(idp)["keys"]
            seen.append((jwk["kid"], jwk["x5t"], jwk["x5c"][0]))
    assert seen[0] == seen[1]


def test_public_names() -> None:
    assert sorted(devidp.__all__) == sorted(
        [
            "AGENT_CLIENT_ID", "AGENT_CLIENT_SECRET", "ALICE_OID", "BOB_OID", "BOT_CLIENT_ID",
            "BOT_CLIENT_SECRET", "CAROL_OID", "CLIENT_ID", "CLIENT_SECRET", "DEMO_API_ID",
            "DEMO_API_URI", "GRAPH_APP_ID", "LEGACY_API_ID", "LEGACY_API_URI", "REDIRECT_URIS",
            "TENANT_ID", "Api", "BindRefused", "Client", "DevIdp", "DevIdpConfig", "User",
            "default_config", "load_config",
        ]
    )  # fmt: skip
    assert all(hasattr(devidp, name) for name in devidp.__all__)
