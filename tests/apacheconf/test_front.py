"""``--mode front``: identity headers only from Portcullis, the identity in the log, rules."""

from __future__ import annotations

import re

import pytest

from portcullis.apacheconf import GenerateError, generate
from tests.apacheconf.configs import BASE, HOST, make_config, with_routes

UP = "http://127.0.0.1:1"


def front(**kwargs: object) -> str:
    return generate(make_config(), "front", **kwargs)  # type: ignore[arg-type]


def block(text: str, opening: str) -> str:
    start = text.index(opening)
    return text[start : text.index("</", start)]


def test_identity_headers_are_removed_unless_from_portcullis() -> None:
    text = front()
    stripping = block(text, "<If \"! (-R '127.0.0.1' || -R '::1')\">")
    for name in ("X-Portcullis-User", "X_Portcullis_User", "X-Portcullis-Roles", "X-Request-Id"):
        assert f"RequestHeader unset {name}\n" in stripping


def test_configured_header_names_are_used() -> None:
    auth = dict(BASE["auth"], headers={"user": "X-Remote-User", "roles": "X-Remote-Roles"})
    text = generate(make_config(auth=auth), "front")
    assert "RequestHeader unset X-Remote-User\n" in text
    assert "RequestHeader unset X_Remote_User\n" in text
    assert "%{X-Remote-User}i" in text
    assert "%{HTTP:X-Remote-Roles} =~ m#(^|,)(Portal\\.Admin)(,|$)#" in text


def test_log_format_names_user_tenant_kind_roles_and_request_id() -> None:
    (line,) = [line for line in front().splitlines() if line.startswith("LogFormat")]
    assert line.endswith(" portcullis")
    for field in (
        "%{X-Portcullis-User}i",
        "tenant=%{X-Portcullis-Tenant}i",
        "kind=%{X-Portcullis-Kind}i",
        'roles=\\"%{X-Portcullis-Roles}i\\"',
        "request_id=%{X-Request-Id}i",
    ):
        assert field in line


def test_every_rule_requires_portcullis_address_and_a_user() -> None:
    text = front(portcullis_from=["10.1.2.0/24"])
    admin = block(text, '<LocationMatch "^/admin(/|$)">')
    assert "Require expr \"(-R '10.1.2.0/24') && -n %{HTTP:X-Portcullis-User} && " in admin
    assert "%{HTTP:X-Portcullis-Kind} in { 'user', 'obo' }" in admin
    assert "m#(^|,)(Portal\\.Admin)(,|$)#" in admin
    assert "%{HTTP:X-Portcullis-Groups} =~ m#(^|,)(5b6f0b42" in admin
    assert "Require all granted" in block(text, '<LocationMatch "^/static(/|$)">')


def test_machines_pass_only_with_app_roles() -> None:
    api = block(front(), '<LocationMatch "^/api(/|$)">')
    assert "in { 'app', 'agent' } && (%{HTTP:X-Portcullis-Roles} =~ m#(^|,)(Api\\.Machine)" in api
    root = block(front(), '<Location "/">')
    assert "'app'" not in root  # no app_roles: machines are refused, as in Portcullis


def test_role_regex_matches_whole_items_only() -> None:
    text = front()
    found = re.search(r"%\{HTTP:X-Portcullis-Roles\} =~ m#(.*?)#", block(text, "^/admin"))
    assert found is not None
    regex = re.compile(found.group(1))
    assert regex.search("Portal.Admin") and regex.search("A,Portal.Admin,B")
    assert not regex.search("Portal.Admins") and not regex.search("PortalXAdmin")


def test_parts_that_headers_cannot_show_are_named() -> None:
    config = with_routes(
        {
            "host": HOST,
            "upstream": UP,
            "accept": ["bearer"],
            "api": "portal",
            "allow": {"scopes": ["a"], "app_roles": ["X"], "auth_context": "c1"},
        },
    )
    text = generate(config, "front")
    assert "# not repeated (Portcullis enforces it): scopes" in text
    assert "auth_context" in text


@pytest.mark.parametrize("address", ["", "not-an-ip", "10.0.0.0/33"])
def test_bad_from_address_names_the_flag(address: str) -> None:
    with pytest.raises(GenerateError, match="--from"):
        front(portcullis_from=[address] if address else [])


def test_assertion_check_needs_https() -> None:
    auth = dict(BASE["auth"], external_url="http://127.0.0.1:4180")
    with pytest.raises(GenerateError, match=r"--verify-assertion.*https"):
        generate(make_config(auth=auth), "front", verify_assertion=True)


def test_assertion_check_verifies_iss_and_aud_per_route() -> None:
    text = front(verify_assertion=True)
    assert f"OIDCOAuthVerifyJwksUri https://{HOST}/.portcullis/jwks.json" in text
    admin = block(text, "^/admin")
    assert "AuthType oauth20" in admin
    assert f"Require claim iss:https://{HOST}" in admin
    assert "Require claim aud:http://127.0.0.1:8080" in admin
