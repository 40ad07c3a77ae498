"""Groups and friendly names for the upstream: `forward_groups: referenced` and `policy.names`."""

from __future__ import annotations

import base64
import json
from typing import Any

from portcullis.assertion import AssertionSigner, generate_key
from portcullis.auth.upstream_headers import IdentityHeaderBuilder
from portcullis.config.auth_schema import IdentityHeaders
from portcullis.config.validate import validate
from portcullis.policy import compile_policy
from portcullis.policy.forwarding import ALL_GROUPS, GroupForwarding
from tests.policy.helpers import ADMINS, NOW, STAFF, person

OTHERS = tuple(f"5f5f5f5f-0000-4000-8000-{n:012d}" for n in range(300))


def config(**policy: Any) -> dict[str, Any]:
    return {
        "routes": [
            {
                "path": "/admin",
                "upstream": "http://a",
                "rules": [{"allow": {"groups": ["admins"]}}],
            },
            {"path": "/", "upstream": "http://a", "rules": [{"deny": {"groups": [STAFF]}}]},
        ],
        "policy": {"groups": {"admins": ADMINS}, **policy},
    }


def headers(forwarding: GroupForwarding, **identity: Any) -> dict[str, str]:
    builder = IdentityHeaderBuilder(
        IdentityHeaders(), AssertionSigner([generate_key()], issuer="https://p")
    )
    raw = builder.for_identity("sid", person(**identity), "http://a", NOW, forwarding)
    lines = raw.decode().split("\r\n")
    return dict(line.split(": ", 1) for line in lines if line)


def assertion_claims(value: str) -> dict[str, Any]:
    payload = value.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_referenced_keeps_only_the_groups_rules_mention() -> None:
    policy = compile_policy(validate(config(forward_groups="referenced")))
    assert policy.referenced_groups == {ADMINS, STAFF}
    sent = headers(policy.forwarding, groups=(*OTHERS, ADMINS, STAFF))
    assert sent["X-Portcullis-Groups"] == f"{ADMINS},{STAFF}"
    claims = assertion_claims(sent["X-Portcullis-Assertion"])
    assert claims["groups"] == [ADMINS, STAFF], "the assertion is narrowed too"


def test_all_groups_by_default() -> None:
    policy = compile_policy(validate(config()))
    sent = headers(policy.forwarding, groups=(*OTHERS[:5], ADMINS))
    assert sent["X-Portcullis-Groups"].count(",") == 5


def test_friendly_names_from_aliases_and_names() -> None:
    policy = compile_policy(validate(config(names={"Portal.Admin": "portal-admins"})))
    sent = headers(policy.forwarding, groups=(ADMINS, STAFF), roles=("Portal.Admin", "Other"))
    assert sent["X-Portcullis-Group-Names"] == "portal-admins,admins"


def test_no_names_header_without_names() -> None:
    assert "X-Portcullis-Group-Names" not in headers(ALL_GROUPS, groups=(ADMINS,))


def test_a_name_cannot_inject_a_header() -> None:
    forwarding = GroupForwarding(None, {ADMINS: "admins\r\nX-Portcullis-User: mallory"})
    sent = headers(forwarding, groups=(ADMINS,))
    assert sent["X-Portcullis-Group-Names"] == "adminsX-Portcullis-User: mallory"
    assert sent["X-Portcullis-User"] != "mallory"
