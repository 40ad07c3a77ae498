"""Property-based: deny wins, default deny, monitor never blocks — over random policies."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portcullis.policy.facts import Facts
from tests.policy.helpers import facts, person, policy

ROLES = ["A", "B", "C"]
METHODS = ["GET", "POST", "DELETE"]
PATHS = ["/", "/a", "/a/b", "/c"]

leaf = st.one_of(
    st.builds(lambda r: {"roles": r}, st.lists(st.sampled_from(ROLES), min_size=1, max_size=2)),
    st.builds(lambda m: {"methods": m}, st.lists(st.sampled_from(METHODS), min_size=1, max_size=2)),
    st.builds(lambda p: {"paths": [p + "/**" if p != "/" else "/**"]}, st.sampled_from(PATHS)),
    st.just({"source_ip": ["10.0.0.0/8"]}),
    st.just({"signed_in": True}),
)
expression = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)
rule = st.builds(
    lambda effect, expr, monitor: {effect: expr, **({"monitor": True} if monitor else {})},
    st.sampled_from(["allow", "deny"]),
    expression,
    st.booleans(),
).map(lambda r: {k: v for k, v in r.items() if not ("allow" in r and k == "monitor")})
request = st.builds(
    lambda roles, method, path, ip: facts(
        person(roles=tuple(roles)), method=method, path=path, source_ip=ip
    ),
    st.lists(st.sampled_from(ROLES), max_size=2),
    st.sampled_from(METHODS),
    st.sampled_from(PATHS),
    st.sampled_from(["10.1.1.1", "192.0.2.1"]),
)


def holds(rules: list[dict[str, Any]], f: Facts, effect: str, *, monitored: bool) -> bool:
    """A reference evaluation, one rule at a time, without the engine's loops."""
    single = [r for r in rules if effect in r and bool(r.get("monitor")) == monitored]
    return any(policy([{"allow": r[effect]}]).decide(f).allow for r in single)


@settings(max_examples=300, deadline=None)
@given(st.lists(rule, max_size=5), request)
def test_deny_wins_and_default_deny(rules: list[dict[str, Any]], f: Facts) -> None:
    verdict = policy(rules).decide(f)
    denied = holds(rules, f, "deny", monitored=False)
    allowed = holds(rules, f, "allow", monitored=False)
    assert verdict.allow == (allowed and not denied)
    if not allowed:
        assert not verdict.allow  # default deny: nothing allowed it
    if denied:
        assert not verdict.allow  # deny wins whatever allows


@settings(max_examples=150, deadline=None)
@given(st.lists(rule, max_size=5), request)
def test_a_monitored_route_never_blocks_and_records_what_it_would_do(
    rules: list[dict[str, Any]], f: Facts
) -> None:
    enforced = policy(rules).decide(f)
    watched = policy(rules, monitor=True).decide(f)
    assert watched.allow
    assert bool(watched.monitored) >= (not enforced.allow)
