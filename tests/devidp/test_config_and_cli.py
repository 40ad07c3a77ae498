"""``--config`` loading, the loopback-only bind rule, and the CLI in-process."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.config.validate import ConfigError
from portcullis.devidp import BindRefused, DevIdp, DevIdpConfig, default_config, load_config
from portcullis.devidp.cli import describe, main
from portcullis.devidp.model import is_loopback
from portcullis.jose import public_jwk
from tests.devidp.helpers import authorize, fetch, jwks_of, redeem, tokens, verify_rs256


def load(tmp_path: Path, text: str, name: str = "idp.yaml") -> DevIdpConfig:
    path = tmp_path / name
    path.write_text(text)
    return load_config(path, host="127.0.0.1", port=0, force_bind=False)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_config_replaces_users_and_clients(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "idp-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "client.jwks").write_text(
        json.dumps({"keys": [public_jwk(ec_key, kid="c1", alg="ES256")]})
    )
    config = load(
        tmp_path,
        """
signing_key_file: idp-key.pem
users:
  - username: dave
    name: Dave Demo
    oid: 0B6C1D2E-3F4A-4B5C-8D6E-7F8A9B0C1D2E
    roles: [Portal.Reader]
    synthetic_groups: 201
clients:
  - client_id: 6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098
    client_secret: s3cret
    redirect_uris: [http://127.0.0.1:8080/cb]
  - client_id: second
    jwks_file: client.jwks
    redirect_uris: [https://app.example/cb]
""",
    )
    (dave,) = config.users
    assert dave.oid == "0b6c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e"
    assert dave.preferred_username == dave.email == "dave@contoso.example"
    assert len(dave.groups) == 201
    assert [c.client_id for c in config.clients] == [
        "6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098",
        "second",
    ]
    assert "s3cret" not in repr(config)
    with DevIdp(config) as idp:
        client_id = "6e5d4c3b-2a19-4807-b6f5-e4d3c2b1a098"
        login = authorize(idp, "dave", client_id=client_id, redirect_uri="http://127.0.0.1:8080/cb")
        reply = redeem(idp, login, how="none", client_id=client_id, client_secret="s3cret")
        assert reply.status == 200, reply.body
        jwks = jwks_of(idp)
        assert jwks["keys"][0]["n"] == public_jwk(key, kid=None, alg=None)["n"]
        _, claims = verify_rs256(reply.json()["id_token"], jwks)
        assert claims["aud"] == client_id
        assert claims["roles"] == ["Portal.Reader"]
        assert "_claim_names" in claims and "groups" not in claims


def test_config_json_is_accepted(tmp_path: Path) -> None:
    config = load(tmp_path, json.dumps({"users": [{"username": "erin"}]}), name="idp.json")
    assert [u.username for u in config.users] == ["erin"]
    assert config.clients == default_config().clients


def test_config_problems_name_their_key_paths(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
tenant_id: not-a-guid
colour: blue
signing_key_file: missing.pem
users:
  - name: No Username
    groups: [nope]
    synthetic_groups: 99999
  - username: x
    oid: 1
clients:
  - client_id: c
    redirect_uris: ["javascript:alert(1)"]
    jwks: {keys: [{kty: oct, k: AAAA}]}
  - redirect_uris: []
""",
    )
    text = "\n".join(found)
    for path in (
        "tenant_id:",
        "colour: unknown key",
        "signing_key_file: cannot read",
        "users[0].username: required",
        "users[0].groups[0]:",
        "users[0].synthetic_groups:",
        "users[1].oid:",
        "clients[0].redirect_uris[0]:",
        "clients[0].jwks.keys[0]:",
        "clients[1].client_id: required",
        "clients[1].redirect_uris:",
        "clients[1]: give client_secret",
    ):
        assert path in text, (path, text)


def test_private_jwk_in_config_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
clients:
  - client_id: c
    redirect_uris: [http://127.0.0.1/cb]
    jwks: {keys: [{kty: EC, crv: P-256, x: a, y: b, d: c}]}
""",
    )
    assert found == ["clients[0].jwks.keys[0]: expected a public JWK (no private members)"]


def test_bad_signing_key_file(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key")
    assert problems(tmp_path, "signing_key_file: key.pem") == [
        "signing_key_file: 'key.pem': not an unencrypted PEM private key"
    ]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_binding_a_non_loopback_address_is_refused_without_force_bind() -> None:
    with pytest.raises(BindRefused, match="--force-bind"):
        DevIdp(default_config(host="0.0.0.0"))


def test_force_bind_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    config = default_config(host="0.0.0.0")
    forced = DevIdpConfig(
        users=config.users,
        clients=config.clients,
        tenant_id=config.tenant_id,
        host="0.0.0.0",
        port=0,
        force_bind=True,
    )
    with caplog.at_level(logging.WARNING, "portcullis.devidp"), DevIdp(forced) as idp:
        assert idp.url.startswith("http://127.0.0.1:")
        assert fetch(idp.discovery_url).status == 200
    assert "--force-bind" in caplog.text


def test_cli_refuses_non_loopback_without_force_bind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--force-bind" in capsys.readouterr().err


def test_cli_reports_config_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("users: 3\n")
    assert main(["--config", str(path)]) == 2
    assert "users: expected a list" in capsys.readouterr().err


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "70000"]) == 2
    assert main(["--help"]) == 0
    assert "--force-bind" in capsys.readouterr().out


def test_start_banner_lists_issuer_client_and_users(idp: DevIdp) -> None:
    banner = describe(idp)
    assert idp.issuer in banner
    assert "2f8a6c1e-9d4b-4e7a-8c3f-5b1d7e9a0c42" in banner
    assert "portcullis-demo-secret" in banner
    for user in ("alice", "bob", "carol"):
        assert user in banner


def test_logs_carry_no_codes_tokens_or_secrets(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "portcullis.devidp"), DevIdp() as idp:
        login, body = tokens(idp, "alice")
        fetch(f"{idp.endpoint('logout')}?id_token_hint={body['id_token']}")
    text = caplog.text
    assert "POST" in text  # the request log is on
    for secret in (login.code, body["id_token"], body["access_token"], login.state, "demo-secret"):
        assert secret not in text


def test_id_tokens_from_a_configured_key_verify(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    with DevIdp(load(tmp_path, "signing_key_file: k.pem")) as idp:
        jwks = jwks_of(idp)
        assert jwks["keys"][0]["n"] == public_jwk(key, kid=None, alg=None)["n"]
        verify_rs256(tokens(idp)[1]["id_token"], jwks)
