"""Route rules (``evaluate``) for sessions and bearer tokens: kinds, roles, scopes, clients, CAE.

Pure: identities and token facts are built by hand. Bearer denials are
INSUFFICIENT_SCOPE (RFC 6750, 403) or INSUFFICIENT_CLAIMS (CAE, 401); the same rule
applied to a browser session (``token=None``) is FORBIDDEN, never a token error.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from portcullis.auth.rules import evaluate
from portcullis.bearer.principal import TokenFacts
from portcullis.config.auth_schema import Allow
from portcullis.decision import Reason
from portcullis.identity import Identity, Kind
from portcullis.policy import PolicyError

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TID = "3c1e7f2a-5b4d-4e6f-8a9b-0c1d2e3f4a5b"
USER_OID = "77777777-7777-4777-8777-777777777777"
APP_OID = "88888888-8888-4888-8888-888888888888"
SPA = "33333333-3333-4333-8333-333333333333"
MIDDLE_TIER = "44444444-4444-4444-8444-444444444444"
DAEMON = "5a5b5c5d-5555-4555-8555-55555555abcd"
AGENT_APP = "66666666-6666-4666-8666-666666666666"
GROUP = "9a6c0d1e-0000-4000-8000-000000000001"
ROLE = "Reports.Read.All"
ISS = f"https://login.microsoftonline.com/{TID}/v2.0"


def facts(*, acrs: tuple[str, ...] = (), xms_cc: tuple[str, ...] = ()) -> TokenFacts:
    return TokenFacts(
        token_id="uti",
        issued_at=1_750_000_000,
        expires_at=1_750_003_600,
        version="2.0",
        auth_contexts=acrs,
        capabilities=xms_cc,
    )


def user(**changes: Any) -> Identity:
    base: dict[str, Any] = {
        "issuer": ISS,
        "subject": "pairwise-alice",
        "kind": Kind.USER,
        "tenant_id": TID,
        "object_id": USER_OID,
        "client_id": SPA,
        "scopes": ("Reports.Read",),
    }
    return Identity(**{**base, **changes})


def obo(**changes: Any) -> Identity:
    return user(**{"kind": Kind.ON_BEHALF_OF, "client_id": MIDDLE_TIER, **changes})


def app(**changes: Any) -> Identity:
    base: dict[str, Any] = {
        "kind": Kind.APP,
        "object_id": APP_OID,
        "subject": APP_OID,
        "client_id": DAEMON,
        "scopes": (),
        "roles": (ROLE,),
    }
    return user(**{**base, **changes})


def agent(**changes: Any) -> Identity:
    return app(**{"kind": Kind.AGENT, "client_id": AGENT_APP, **changes})


TOKEN = facts()

# (identity, rule, expected reason for a bearer token or None when admitted)
BEARER = [
    # machines: never by a valid signature alone (SECURITY 6)
    pytest.param(app(roles=()), None, Reason.INSUFFICIENT_SCOPE, id="app-no-roles-default"),
    pytest.param(app(roles=()), Allow(), Reason.INSUFFICIENT_SCOPE, id="app-no-roles-any-user"),
    pytest.param(app(), Allow(), Reason.INSUFFICIENT_SCOPE, id="app-roles-but-none-required"),
    pytest.param(app(roles=()), Allow(app_roles=[ROLE]), Reason.INSUFFICIENT_SCOPE,
                 id="app-no-roles"),
    pytest.param(app(roles=("Other",)), Allow(app_roles=[ROLE]), Reason.INSUFFICIENT_SCOPE,
                 id="app-other-role"),
    pytest.param(app(), Allow(app_roles=[ROLE]), None, id="app-role-admits"),
    pytest.param(app(), Allow(app_roles=["X", ROLE]), None, id="app-any-of-the-roles"),
    pytest.param(app(), Allow(roles=[ROLE]), Reason.INSUFFICIENT_SCOPE,
                 id="app-role-only-listed-for-people"),
    pytest.param(app(roles=(), groups=(GROUP,)), Allow(groups=[GROUP]),
                 Reason.INSUFFICIENT_SCOPE, id="app-groups-do-not-admit"),
    pytest.param(app(roles=(), scopes=("Reports.Read",)), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, id="app-scopes-do-not-admit"),
    # clients allowlist, tenant-scoped form
    pytest.param(app(roles=()), Allow(clients=[DAEMON]), None, id="client-listed"),
    pytest.param(app(roles=()), Allow(clients=[f"{TID}/{DAEMON}"]), None,
                 id="client-listed-with-tenant"),
    pytest.param(app(roles=(), tenant_id=OTHER_TID), Allow(clients=[f"{TID}/{DAEMON}"]),
                 Reason.INSUFFICIENT_SCOPE, id="client-listed-for-another-tenant"),
    pytest.param(app(roles=(), tenant_id=None), Allow(clients=[f"{TID}/{DAEMON}"]),
                 Reason.INSUFFICIENT_SCOPE, id="client-listed-token-without-tenant"),
    pytest.param(app(roles=()), Allow(clients=[f"{DAEMON}/{TID}"]), Reason.INSUFFICIENT_SCOPE,
                 id="client-tenant-form-reversed"),
    pytest.param(app(roles=()), Allow(clients=[DAEMON.upper()]), Reason.INSUFFICIENT_SCOPE,
                 id="client-compared-exactly"),
    pytest.param(app(roles=(), client_id=None, tenant_id=None), Allow(clients=["None"]),
                 Reason.INSUFFICIENT_SCOPE, id="no-client-id-never-matches-none"),
    # deny_clients wins
    pytest.param(app(), Allow(app_roles=[ROLE], deny_clients=[DAEMON]),
                 Reason.INSUFFICIENT_SCOPE, id="deny-client-wins-over-role"),
    pytest.param(app(), Allow(clients=[DAEMON], deny_clients=[DAEMON]),
                 Reason.INSUFFICIENT_SCOPE, id="deny-client-wins-over-allowlist"),
    pytest.param(app(), Allow(app_roles=[ROLE], deny_clients=[f"{TID}/{DAEMON}"]),
                 Reason.INSUFFICIENT_SCOPE, id="deny-client-tenant-form"),
    pytest.param(app(tenant_id=OTHER_TID), Allow(app_roles=[ROLE],
                                                 deny_clients=[f"{TID}/{DAEMON}"]),
                 None, id="deny-client-tenant-form-other-tenant-passes"),
    pytest.param(user(), Allow(deny_clients=[SPA]), Reason.INSUFFICIENT_SCOPE,
                 id="deny-client-delegated"),
    pytest.param(obo(), Allow(deny_clients=[MIDDLE_TIER]), Reason.INSUFFICIENT_SCOPE,
                 id="deny-client-obo-middle-tier"),
    # kinds
    pytest.param(agent(), Allow(app_roles=[ROLE], kinds=["user", "obo"]),
                 Reason.INSUFFICIENT_SCOPE, id="agent-on-human-only-route"),
    pytest.param(app(), Allow(app_roles=[ROLE], kinds=["user", "obo"]),
                 Reason.INSUFFICIENT_SCOPE, id="app-on-human-only-route"),
    pytest.param(agent(), Allow(app_roles=[ROLE], kinds=["agent"]), None,
                 id="agent-on-agent-route"),
    pytest.param(agent(), Allow(app_roles=[ROLE], kinds=["app"]), Reason.INSUFFICIENT_SCOPE,
                 id="agent-is-not-app"),
    pytest.param(agent(roles=()), Allow(clients=[AGENT_APP]), None, id="agent-client-listed"),
    pytest.param(agent(roles=()), Allow(), Reason.INSUFFICIENT_SCOPE, id="agent-no-roles"),
    pytest.param(user(), Allow(app_roles=[ROLE], kinds=["app", "agent"]),
                 Reason.INSUFFICIENT_SCOPE, id="user-on-machine-only-route"),
    pytest.param(obo(), Allow(kinds=["user"]), Reason.INSUFFICIENT_SCOPE,
                 id="obo-on-direct-only-route"),
    pytest.param(obo(), Allow(kinds=["user", "obo"]), None, id="obo-on-human-route"),
    # delegated scopes
    pytest.param(user(), Allow(scopes=["Reports.Read"]), None, id="scope-held"),
    pytest.param(user(scopes=("Other",)), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, id="scope-missing"),
    pytest.param(user(scopes=()), Allow(scopes=["Reports.Read"]), Reason.INSUFFICIENT_SCOPE,
                 id="no-scopes"),
    pytest.param(user(scopes=("reports.read",)), Allow(scopes=["Reports.Read"]),
                 Reason.INSUFFICIENT_SCOPE, id="scope-compared-exactly"),
    pytest.param(obo(), Allow(scopes=["Reports.Read"]), None, id="obo-scope-held"),
    pytest.param(user(roles=("Viewer",)), Allow(scopes=["Reports.Read"], roles=["Admin"]),
                 Reason.INSUFFICIENT_SCOPE, id="scope-held-role-missing"),
    # delegated: client allowlist applies to the client acting for the user
    pytest.param(user(), Allow(clients=[SPA]), None, id="people-client-listed"),
    pytest.param(obo(), Allow(clients=[SPA]), Reason.INSUFFICIENT_SCOPE,
                 id="people-client-not-listed"),
    # roles and groups for people
    pytest.param(user(roles=("Admin",)), Allow(roles=["Admin"]), None, id="user-role"),
    pytest.param(user(roles=("Viewer",)), Allow(roles=["Admin"]), Reason.INSUFFICIENT_SCOPE,
                 id="user-role-missing"),
    pytest.param(user(groups=(GROUP,)), Allow(groups=[GROUP]), None, id="user-group"),
    pytest.param(user(groups=("other",)), Allow(groups=[GROUP]), Reason.INSUFFICIENT_SCOPE,
                 id="user-group-missing"),
    pytest.param(user(groups_unknown=True), Allow(groups=[GROUP]), Reason.GROUPS_UNRESOLVED,
                 id="group-overage"),
    pytest.param(user(groups_unknown=True), Allow(roles=["Admin"], groups=[GROUP]),
                 Reason.GROUPS_UNRESOLVED, id="group-overage-role-missing"),
    pytest.param(user(groups_unknown=True, roles=("Admin",)),
                 Allow(roles=["Admin"], groups=[GROUP]), None, id="group-overage-role-held"),
    pytest.param(user(groups_unknown=True), Allow(roles=["Admin"]), Reason.INSUFFICIENT_SCOPE,
                 id="group-overage-irrelevant-to-role-rule"),
    pytest.param(user(name="Admin", username="Admin", email="Admin"), Allow(roles=["Admin"]),
                 Reason.INSUFFICIENT_SCOPE, id="display-claims-never-authorize"),
]  # fmt: skip


@pytest.mark.parametrize(("identity", "rule", "reason"), BEARER)
def test_bearer_rule(identity: Identity, rule: Allow | None, reason: Reason | None) -> None:
    decision = evaluate(identity, rule, TOKEN)
    if reason is None:
        assert decision is None
        return
    assert decision is not None
    assert not decision.allow
    assert decision.reason is reason
    assert decision.challenge == b""


@pytest.mark.parametrize(("identity", "rule", "reason"), BEARER)
def test_the_same_rule_for_a_session_is_never_a_token_error(
    identity: Identity, rule: Allow | None, reason: Reason | None
) -> None:
    """Sessions (token=None) are FORBIDDEN (or GROUPS_UNRESOLVED), never INSUFFICIENT_*."""
    decision = evaluate(identity, rule, None)
    if decision is None:
        return
    assert not decision.allow
    assert decision.reason in (Reason.FORBIDDEN, Reason.GROUPS_UNRESOLVED)
    assert decision.challenge == b""
    if reason is Reason.GROUPS_UNRESOLVED:
        assert decision.reason is Reason.GROUPS_UNRESOLVED


SESSION = [
    pytest.param(user(roles=("Viewer",)), Allow(roles=["Admin"]), Reason.FORBIDDEN,
                 id="role-missing"),
    pytest.param(user(groups=()), Allow(groups=[GROUP]), Reason.FORBIDDEN, id="group-missing"),
    pytest.param(user(groups_unknown=True), Allow(groups=[GROUP]), Reason.GROUPS_UNRESOLVED,
                 id="group-overage"),
    pytest.param(user(), Allow(kinds=["app"]), Reason.FORBIDDEN, id="kind"),
    pytest.param(user(), Allow(deny_clients=[SPA]), Reason.FORBIDDEN, id="deny-client"),
    pytest.param(user(roles=("Admin",)), Allow(roles=["Admin"]), None, id="role-held"),
    pytest.param(user(scopes=()), None, None, id="any-signed-in-user"),
    # Scopes and the client allowlist are about tokens: a browser session has neither.
    pytest.param(user(scopes=()), Allow(scopes=["Reports.Read"]), None, id="scopes-not-asked"),
    pytest.param(user(client_id="sign-in"), Allow(clients=[SPA]), None,
                 id="clients-not-asked"),
]  # fmt: skip


@pytest.mark.parametrize(("identity", "rule", "reason"), SESSION)
def test_session_rule(identity: Identity, rule: Allow | None, reason: Reason | None) -> None:
    decision = evaluate(identity, rule, None)
    if reason is None:
        assert decision is None
    else:
        assert decision is not None and decision.reason is reason


def test_denials_name_what_is_missing_but_nothing_from_the_token() -> None:
    decision = evaluate(user(scopes=("Secret.Scope",)), Allow(scopes=["Reports.Read"]), TOKEN)
    assert decision is not None
    assert "Reports.Read" in decision.detail
    assert "Secret.Scope" not in decision.detail


# continuous access evaluation: authentication contexts ----------------------------------------


def _challenge_claims(challenge: bytes) -> dict[str, Any]:
    text = challenge.decode("ascii")
    assert text.startswith("Bearer ")
    assert 'error="insufficient_claims"' in text
    match = re.search(r'claims="([A-Za-z0-9+/=_-]+)"', text)
    assert match, text
    encoded = match.group(1)
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return json.loads(raw)


def test_cae_capable_client_gets_a_claims_challenge() -> None:
    decision = evaluate(user(), Allow(auth_context="c1"), facts(xms_cc=("cp1",)))
    assert decision is not None
    assert decision.reason is Reason.INSUFFICIENT_CLAIMS
    assert b"\r" not in decision.challenge and b"\n" not in decision.challenge
    assert _challenge_claims(decision.challenge) == {
        "access_token": {"acrs": {"essential": True, "value": "c1"}}
    }


def test_cae_challenge_for_app_tokens_too() -> None:
    decision = evaluate(app(), Allow(app_roles=[ROLE], auth_context="c1"), facts(xms_cc=("cp1",)))
    assert decision is not None and decision.reason is Reason.INSUFFICIENT_CLAIMS


def test_client_without_cp1_gets_403() -> None:
    for capabilities in [(), ("cp2",), ("CP1",)]:
        decision = evaluate(user(), Allow(auth_context="c1"), facts(xms_cc=capabilities))
        assert decision is not None
        assert decision.reason is Reason.INSUFFICIENT_SCOPE
        assert decision.challenge == b""


def test_token_with_the_auth_context_passes() -> None:
    assert evaluate(user(), Allow(auth_context="c1"), facts(acrs=("c2", "c1"))) is None
    wrong = evaluate(user(), Allow(auth_context="c1"), facts(acrs=("c10",), xms_cc=("cp1",)))
    assert wrong is not None and wrong.reason is Reason.INSUFFICIENT_CLAIMS


def test_authorization_is_decided_before_the_step_up() -> None:
    """No point asking the user to step up when the role is missing anyway."""
    decision = evaluate(
        user(roles=()), Allow(roles=["Admin"], auth_context="c1"), facts(xms_cc=("cp1",))
    )
    assert decision is not None and decision.reason is Reason.INSUFFICIENT_SCOPE
    denied = evaluate(app(), Allow(app_roles=[ROLE], deny_clients=[DAEMON], auth_context="c1"),
                      facts(xms_cc=("cp1",)))  # fmt: skip
    assert denied is not None and denied.reason is Reason.INSUFFICIENT_SCOPE


def test_auth_context_route_does_not_admit_a_session_without_it() -> None:
    decision = evaluate(user(), Allow(auth_context="c1"), None)
    assert decision is not None
    assert decision.reason is Reason.FORBIDDEN


@pytest.mark.parametrize("entry", [DAEMON, f"{TID}/{DAEMON}"])
def test_token_without_a_client_id_never_matches_a_clients_entry(entry: str) -> None:
    decision = evaluate(app(roles=(), client_id=None), Allow(clients=[entry]), TOKEN)
    assert decision is not None and decision.reason is Reason.INSUFFICIENT_SCOPE


@pytest.mark.parametrize("entry", ["", f"{TID}/"])
def test_an_empty_clients_entry_is_refused_when_compiled(entry: str) -> None:
    with pytest.raises(PolicyError, match=r"clients\[0\]"):
        evaluate(app(roles=(), client_id=None), Allow(clients=[entry]), TOKEN)
