"""Who a verified token speaks for: kinds (user / obo / app / agent) and the token's facts."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.bearer.principal import principal_from_claims
from portcullis.identity import Kind
from tests.bearer.harness import (
    AGENT_APP,
    APP_OID,
    DAEMON,
    DROP,
    MIDDLE_TIER,
    NOW,
    SIGNIN_APP,
    TID,
    USER_CLIENT,
    USER_OID,
    V1_ISSUER,
    agent_claims,
    app_claims,
    make_env,
    token,
    v1_claims,
    v2_claims,
)

USER_CLIENTS = frozenset({SIGNIN_APP, USER_CLIENT})


def _principal(claims: dict[str, Any]) -> Any:
    return principal_from_claims(claims, user_clients=USER_CLIENTS)


KINDS = [
    pytest.param(v2_claims(), Kind.USER, USER_CLIENT, ("Reports.Read",), id="delegated-user"),
    pytest.param(v2_claims(scp="Reports.Read Reports.Write"), Kind.USER, USER_CLIENT,
                 ("Reports.Read", "Reports.Write"), id="delegated-user-two-scopes"),
    pytest.param(v2_claims(azp=SIGNIN_APP), Kind.USER, SIGNIN_APP, ("Reports.Read",),
                 id="delegated-via-sign-in-client"),
    pytest.param(v2_claims(azp=MIDDLE_TIER), Kind.ON_BEHALF_OF, MIDDLE_TIER, ("Reports.Read",),
                 id="delegated-from-another-client-is-obo"),
    pytest.param(v2_claims(idtyp="user", azp=MIDDLE_TIER), Kind.ON_BEHALF_OF, MIDDLE_TIER,
                 ("Reports.Read",), id="idtyp-user-obo"),
    pytest.param(app_claims(), Kind.APP, DAEMON, (), id="idtyp-app"),
    pytest.param(app_claims(scp="Reports.Read"), Kind.APP, DAEMON, (),
                 id="idtyp-app-wins-over-scp"),
    pytest.param(app_claims(idtyp=DROP), Kind.APP, DAEMON, (), id="no-scp-with-roles-is-app"),
    pytest.param(app_claims(idtyp=DROP, roles=DROP), Kind.APP, DAEMON, (),
                 id="no-scp-no-roles-is-app"),
    pytest.param(app_claims(idtyp=DROP, scp=""), Kind.APP, DAEMON, (), id="empty-scp-is-app"),
    pytest.param(agent_claims(), Kind.AGENT, AGENT_APP, (), id="agent-scp-slash"),
    pytest.param(agent_claims(scp=""), Kind.AGENT, AGENT_APP, (), id="agent-scp-empty"),
    pytest.param(agent_claims(scp=DROP, idtyp=DROP), Kind.AGENT, AGENT_APP, (),
                 id="agent-no-scp"),
    pytest.param(agent_claims(scp="Reports.Read"), Kind.AGENT, AGENT_APP, (),
                 id="agent-with-a-scope-still-agent-without-scopes"),
    pytest.param(agent_claims(xms_sub_fct=DROP), Kind.AGENT, AGENT_APP, (),
                 id="agent-act-facet-only"),
    pytest.param(agent_claims(xms_act_fct=DROP), Kind.AGENT, AGENT_APP, (),
                 id="agent-sub-facet-only"),
    pytest.param(v1_claims(), Kind.USER, USER_CLIENT, ("Reports.Read",), id="v1-appid-user"),
    pytest.param(v1_claims(appid=MIDDLE_TIER), Kind.ON_BEHALF_OF, MIDDLE_TIER, ("Reports.Read",),
                 id="v1-appid-obo"),
    pytest.param(v1_claims(appid=DAEMON, scp=DROP, roles=["Reports.Read.All"]), Kind.APP, DAEMON,
                 (), id="v1-app-only"),
    pytest.param(v2_claims(azp=MIDDLE_TIER, appid=USER_CLIENT), Kind.ON_BEHALF_OF, MIDDLE_TIER,
                 ("Reports.Read",), id="azp-before-appid"),
]  # fmt: skip


@pytest.mark.parametrize(("claims", "kind", "client", "scopes"), KINDS)
def test_kind_client_and_scopes(
    claims: dict[str, Any], kind: Kind, client: str, scopes: tuple[str, ...]
) -> None:
    identity = _principal(claims).identity
    assert identity.kind is kind
    assert identity.client_id == client
    assert identity.scopes == scopes


def test_obo_keeps_the_user_and_names_the_calling_app() -> None:
    identity = _principal(v2_claims(azp=MIDDLE_TIER)).identity
    assert identity.kind is Kind.ON_BEHALF_OF
    assert identity.object_id == USER_OID
    assert identity.client_id == MIDDLE_TIER
    assert identity.tenant_id == TID
    assert identity.key == f"{TID}/{USER_OID}"


def test_app_identity_is_the_service_principal() -> None:
    identity = _principal(app_claims()).identity
    assert identity.object_id == APP_OID
    assert identity.roles == ("Reports.Read.All",)
    assert identity.key == f"{TID}/{APP_OID}"


def test_scope_slash_alone_is_no_scope() -> None:
    """Without agent facets, ``scp: "/"`` is no delegated scope at all: an app-only token."""
    identity = _principal(v2_claims(scp="/")).identity
    assert identity.kind is Kind.APP
    assert identity.scopes == ()


def test_group_overage_is_unknown_not_empty() -> None:
    claims = v2_claims(
        groups=["g-1"],
        _claim_names={"groups": "src1"},
        _claim_sources={"src1": {"endpoint": "https://graph.windows.net/x/getMemberObjects"}},
    )
    identity = _principal(claims).identity
    assert identity.groups_unknown is True
    assert identity.groups == ()


def test_claims_of_the_wrong_type_are_ignored() -> None:
    identity = _principal(v2_claims(roles="Admin Other", groups=[1, "g"], scp=["Reports.Read"]))
    assert identity.identity.roles == ("Admin Other",)  # one role named "Admin Other"
    assert identity.identity.groups == ("g",)
    assert identity.identity.scopes == ()
    assert identity.identity.kind is Kind.APP  # scp that is not a string is no delegated scope


def test_token_facts() -> None:
    facts = _principal(v2_claims(acrs=["c1", "c2"], xms_cc=["cp1"], uti="uti-1", jti="jti-1")).token
    assert facts.token_id == "uti-1"
    assert facts.issued_at == int(NOW) - 300
    assert facts.expires_at == int(NOW) + 3600
    assert facts.version == "2.0"
    assert facts.auth_contexts == ("c1", "c2")
    assert facts.capabilities == ("cp1",)
    assert _principal(v2_claims(uti=DROP, jti="jti-1")).token.token_id == "jti-1"
    single = _principal(v2_claims(acrs="c1", xms_cc="cp1")).token
    assert single.auth_contexts == ("c1",) and single.capabilities == ("cp1",)


def test_display_claims_are_display_only() -> None:
    identity = _principal(v1_claims(upn="ceo@contoso.example", email="ceo@contoso.example"))
    assert identity.identity.username == "ceo@contoso.example"
    assert identity.identity.key == f"{TID}/{USER_OID}"  # keyed by (tid, oid), never the upn


def test_through_the_validator_v1_appid_is_the_client() -> None:
    env = make_env()
    principal = env.check(token(v1_claims(appid=MIDDLE_TIER)))
    assert principal.identity.issuer == V1_ISSUER
    assert principal.identity.kind is Kind.ON_BEHALF_OF
    assert principal.identity.client_id == MIDDLE_TIER
    assert principal.identity.object_id == USER_OID
    assert principal.token.version == "1.0"
    app = env.check(token(v1_claims(appid=DAEMON, scp=DROP, roles=["Reports.Read.All"])))
    assert app.identity.kind is Kind.APP and app.identity.client_id == DAEMON


def test_through_the_validator_the_api_user_clients_decide_user_or_obo() -> None:
    env = make_env(user_clients=(SIGNIN_APP,))
    assert env.check(token(v2_claims())).identity.kind is Kind.ON_BEHALF_OF
    assert env.check(token(v2_claims(azp=SIGNIN_APP))).identity.kind is Kind.USER
