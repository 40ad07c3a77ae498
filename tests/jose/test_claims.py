from __future__ import annotations

from typing import Any

import pytest

from portcullis.jose import (
    ENTRA_V1_TEMPLATE,
    IssuerRule,
    TokenError,
    is_graph_token,
    validate_claims,
)
from portcullis.jose.errors import ERROR_CODES

NOW = 1_700_000_000.0
ISS = "https://idp.example/tenant"
CLIENT = "11111111-2222-3333-4444-555555555555"
API = "api://portcullis"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TID2 = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
V2 = f"https://login.microsoftonline.com/{TID}/v2.0"
V1 = f"https://sts.windows.net/{TID}/"
SECRET_NONCE = "n-0S6_WzA2Mj-very-secret-nonce"


def base(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": CLIENT,
        "sub": "alice",
        "exp": NOW + 3600,
        "iat": NOW - 300,
        "nbf": NOW - 300,
        "nonce": SECRET_NONCE,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


DROP: Any = object()


def check(claims: dict[str, Any], **options: Any) -> None:
    kwargs: dict[str, Any] = {
        "now": NOW,
        "issuer": IssuerRule.exact(ISS),
        "audiences": frozenset({CLIENT}),
        "require_iat": True,
        "nonce": SECRET_NONCE,
        "client_id": CLIENT,
    }
    kwargs.update(options)
    validate_claims(claims, **kwargs)


def code_of(claims: dict[str, Any], **options: Any) -> str:
    with pytest.raises(TokenError) as caught:
        check(claims, **options)
    assert SECRET_NONCE not in str(caught.value)
    assert caught.value.code in ERROR_CODES
    return caught.value.code


ENTRA = IssuerRule.entra_template(tenants=frozenset({TID, TID2}))
ENTRA_V1 = IssuerRule.entra_template(ENTRA_V1_TEMPLATE, tenants=frozenset({TID}))

TABLE: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # exp / nbf / iat
    ("exp-missing", base(exp=DROP), {}, "exp_missing"),
    ("exp-string", base(exp="9999999999"), {}, "malformed"),
    ("exp-bool", base(exp=True), {}, "malformed"),
    ("exp-null", base(exp=None), {}, "malformed"),
    ("exp-nan", base(exp=float("nan")), {}, "malformed"),
    ("exp-huge", base(exp=10**400), {}, "malformed"),
    ("exp-inf", base(exp=float("inf")), {}, "malformed"),
    ("expired", base(exp=NOW - 61), {}, "expired"),
    ("expired-at-leeway", base(exp=NOW - 60), {}, "expired"),
    ("expired-no-leeway", base(exp=NOW), {"leeway": 0}, "expired"),
    ("nbf-future", base(nbf=NOW + 61), {}, "not_yet_valid"),
    ("nbf-string", base(nbf="0"), {}, "malformed"),
    ("iat-missing", base(iat=DROP), {}, "iat_missing"),
    ("iat-future", base(iat=NOW + 61), {}, "iat_future"),
    ("iat-future-no-iat-rule", base(iat=NOW + 61), {"require_iat": False}, "iat_future"),
    ("iat-list", base(iat=[NOW]), {}, "malformed"),
    # iss, exact
    ("iss-wrong", base(iss="https://evil.example/tenant"), {}, "bad_issuer"),
    ("iss-trailing-slash", base(iss=ISS + "/"), {}, "bad_issuer"),
    ("iss-missing-slash", base(iss=V1[:-1]), {"issuer": IssuerRule.exact(V1)}, "bad_issuer"),
    ("iss-case", base(iss=ISS.upper()), {}, "bad_issuer"),
    ("iss-prefix", base(iss=ISS + "x"), {}, "bad_issuer"),
    ("iss-missing", base(iss=DROP), {}, "bad_issuer"),
    ("iss-list", base(iss=[ISS]), {}, "bad_issuer"),
    (
        "iss-exact-ver",
        base(iss=V2, ver="1.0"),
        {"issuer": IssuerRule.exact(V2, ver="2.0")},
        "bad_issuer",
    ),
    # iss, Entra multi-tenant template
    (
        "entra-tenant-not-allowed",
        base(iss=V2.replace(TID, OTHER), tid=OTHER),
        {"issuer": ENTRA},
        "tenant_not_allowed",
    ),
    ("entra-tid-missing", base(iss=V2), {"issuer": ENTRA}, "tenant_not_allowed"),
    (
        "entra-tid-common",
        base(iss=V2.replace(TID, "common"), tid="common"),
        {"issuer": ENTRA},
        "tenant_not_allowed",
    ),
    (
        "entra-tid-upper",
        base(iss=V2.replace(TID, TID.upper()), tid=TID.upper()),
        {"issuer": ENTRA},
        "tenant_not_allowed",
    ),
    (
        "entra-tid-traversal",
        base(iss=V2, tid=f"{TID}/../{TID}"),
        {"issuer": ENTRA},
        "tenant_not_allowed",
    ),
    ("entra-tid-newline", base(iss=V2, tid=TID + "\n"), {"issuer": ENTRA}, "tenant_not_allowed"),
    ("entra-tid-number", base(iss=V2, tid=1), {"issuer": ENTRA}, "tenant_not_allowed"),
    ("entra-tid-vs-iss", base(iss=V2, tid=TID2), {"issuer": ENTRA}, "bad_issuer"),
    (
        "entra-iss-other-tenant",
        base(iss=V2.replace(TID, OTHER), tid=TID),
        {"issuer": ENTRA},
        "bad_issuer",
    ),
    ("entra-iss-trailing-slash", base(iss=V2 + "/", tid=TID), {"issuer": ENTRA}, "bad_issuer"),
    (
        "entra-iss-other-host",
        base(iss=V2.replace("microsoftonline", "evil"), tid=TID),
        {"issuer": ENTRA},
        "bad_issuer",
    ),
    ("entra-v1-iss-under-v2", base(iss=V1, tid=TID), {"issuer": ENTRA}, "bad_issuer"),
    ("entra-v2-iss-under-v1", base(iss=V2, tid=TID), {"issuer": ENTRA_V1}, "bad_issuer"),
    ("entra-v1-no-slash", base(iss=V1[:-1], tid=TID), {"issuer": ENTRA_V1}, "bad_issuer"),
    ("entra-ver-mix-v2", base(iss=V2, tid=TID, ver="1.0"), {"issuer": ENTRA}, "bad_issuer"),
    ("entra-ver-mix-v1", base(iss=V1, tid=TID, ver="2.0"), {"issuer": ENTRA_V1}, "bad_issuer"),
    # aud
    ("aud-wrong", base(aud="someone-else"), {}, "bad_audience"),
    ("aud-missing", base(aud=DROP), {}, "bad_audience"),
    ("aud-empty-list", base(aud=[]), {}, "bad_audience"),
    ("aud-not-string", base(aud=[1]), {}, "bad_audience"),
    ("aud-mixed-list", base(aud=[CLIENT, 1]), {}, "bad_audience"),
    ("aud-case", base(aud=API.upper()), {"audiences": frozenset({API})}, "bad_audience"),
    ("aud-trailing-slash", base(aud=API + "/"), {"audiences": frozenset({API})}, "bad_audience"),
    ("aud-substring", base(aud=CLIENT[:-1]), {}, "bad_audience"),
    ("aud-graph-guid", base(aud="00000003-0000-0000-c000-000000000000"), {}, "graph_token"),
    ("aud-graph-url", base(aud="https://graph.microsoft.com"), {}, "graph_token"),
    (
        "aud-graph-even-if-configured",
        base(aud="https://graph.microsoft.com"),
        {"audiences": frozenset({"https://graph.microsoft.com"})},
        "graph_token",
    ),
    # azp (ID tokens: client_id given)
    ("azp-several-aud-no-azp", base(aud=[CLIENT, "other"]), {}, "azp_mismatch"),
    ("azp-several-aud-wrong-azp", base(aud=[CLIENT, "other"], azp="other"), {}, "azp_mismatch"),
    ("azp-single-aud-wrong-azp", base(azp="other"), {}, "azp_mismatch"),
    # nonce
    ("nonce-mismatch", base(nonce="other"), {}, "nonce_mismatch"),
    ("nonce-missing", base(nonce=DROP), {}, "nonce_mismatch"),
    ("nonce-prefix", base(nonce=SECRET_NONCE[:-1]), {}, "nonce_mismatch"),
    ("nonce-not-string", base(nonce=1), {}, "nonce_mismatch"),
]


@pytest.mark.parametrize(("name", "claims", "options", "code"), TABLE, ids=[t[0] for t in TABLE])
def test_rejected(name: str, claims: dict[str, Any], options: dict[str, Any], code: str) -> None:
    assert code_of(claims, **options) == code


ACCEPTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", base(), {}),
    ("exp-within-leeway", base(exp=NOW - 59), {}),
    ("nbf-within-leeway", base(nbf=NOW + 59), {}),
    ("iat-within-leeway", base(iat=NOW + 59), {}),
    ("no-nbf", base(nbf=DROP), {}),
    ("float-times", base(exp=NOW + 0.5, iat=NOW - 0.5), {}),
    ("iat-optional", base(iat=DROP), {"require_iat": False}),
    ("aud-list", base(aud=["x", CLIENT], azp=CLIENT), {}),
    ("aud-one-of-set", base(aud=API), {"audiences": frozenset({API, CLIENT}), "client_id": None}),
    ("access-token-azp-is-caller", base(azp="some-client"), {"client_id": None}),
    ("access-token-several-aud", base(aud=[CLIENT, "x"]), {"client_id": None}),
    ("no-nonce-check", base(nonce=DROP), {"nonce": None}),
    ("max-leeway", base(exp=NOW - 299), {"leeway": 300}),
    ("entra-v2", base(iss=V2, tid=TID, ver="2.0"), {"issuer": ENTRA}),
    ("entra-v2-second-tenant", base(iss=V2.replace(TID, TID2), tid=TID2), {"issuer": ENTRA}),
    ("entra-v1", base(iss=V1, tid=TID, ver="1.0"), {"issuer": ENTRA_V1}),
    ("exact-with-ver", base(iss=V2, ver="2.0"), {"issuer": IssuerRule.exact(V2, ver="2.0")}),
]


@pytest.mark.parametrize(("name", "claims", "options"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(name: str, claims: dict[str, Any], options: dict[str, Any]) -> None:
    check(claims, **options)


def test_error_names_the_claim() -> None:
    with pytest.raises(TokenError) as caught:
        check(base(nonce="guess"))
    assert caught.value.claim == "nonce"
    assert "guess" not in str(caught.value)
    with pytest.raises(TokenError) as caught:
        check(base(iss="https://evil.example/"))
    assert caught.value.claim == "iss"
    assert ISS in str(caught.value)  # the configured issuer may be named
    assert "evil" not in str(caught.value)  # the token's value is not echoed


@pytest.mark.parametrize("leeway", [-1, 300.5, 3600, float("inf")])
def test_leeway_is_capped(leeway: float) -> None:
    with pytest.raises(ValueError):
        check(base(), leeway=leeway)


def test_empty_audiences_is_a_config_error() -> None:
    with pytest.raises(ValueError):
        check(base(), audiences=frozenset())


def test_now_must_be_finite() -> None:
    with pytest.raises(ValueError):
        check(base(), now=float("nan"))


def test_issuer_is_required() -> None:
    with pytest.raises(TypeError):
        validate_claims(base(), now=NOW, audiences=frozenset({CLIENT}), require_iat=True)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("template", "tenants"),
    [
        ("https://login.microsoftonline.com/common/v2.0", frozenset({TID})),
        ("https://login.microsoftonline.com/{tenantid}/{tenantid}", frozenset({TID})),
        ("https://login.microsoftonline.com/t{tenantid}/v2.0", frozenset({TID})),
        ("https://login.microsoftonline.com/{tenantid}x/v2.0", frozenset({TID})),
        ("https://{tenantid}.example/v2.0", frozenset({TID})),
        ("https://{tenantid}/v2.0", frozenset({TID})),
        ("http://login.microsoftonline.com/{tenantid}/v2.0", frozenset({TID})),
        ("https://login.microsoftonline.com/{tenantid}/v2.0", frozenset()),
        ("https://login.microsoftonline.com/{tenantid}/v2.0", frozenset({"common"})),
        ("https://login.microsoftonline.com/{tenantid}/v2.0", frozenset({TID.upper()})),
    ],
)
def test_bad_templates(template: str, tenants: frozenset[str]) -> None:
    with pytest.raises(ValueError):
        IssuerRule.entra_template(template, tenants=tenants)


@pytest.mark.parametrize("iss", ["", "https://login.microsoftonline.com/{tenantid}/v2.0"])
def test_bad_exact_issuer(iss: str) -> None:
    with pytest.raises(ValueError):
        IssuerRule.exact(iss)


def test_is_graph_token() -> None:
    assert is_graph_token({"alg": "RS256"}, {"aud": "00000003-0000-0000-c000-000000000000"})
    assert is_graph_token({"alg": "RS256"}, {"aud": ["x", "https://graph.microsoft.com"]})
    assert is_graph_token({"alg": "RS256", "nonce": "abc"}, {"aud": CLIENT})
    assert not is_graph_token({"alg": "RS256", "kid": "k"}, {"aud": CLIENT})
    assert not is_graph_token({"alg": "RS256"}, {})


def test_error_codes_are_closed() -> None:
    with pytest.raises(ValueError):
        TokenError("whatever")  # type: ignore[arg-type]
