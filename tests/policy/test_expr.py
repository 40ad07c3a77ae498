"""``all`` / ``any`` / ``not`` over criteria: three-valued (Kleene) logic."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from portcullis.policy.criterion import Context, Tri
from portcullis.policy.expr import compile_expression
from tests.policy.helpers import ADMINS, facts, person

# A criterion that holds, one that fails and one that cannot tell (groups not resolved).
LEAVES: dict[Tri, dict[str, Any]] = {
    True: {"kinds": ["user"]},
    False: {"methods": ["DELETE"]},
    None: {"groups": [ADMINS]},
}
FACTS = facts(person(groups_unknown=True), method="GET")


def _kleene_all(values: tuple[Tri, ...]) -> Tri:
    return False if False in values else (None if None in values else True)


def _kleene_any(values: tuple[Tri, ...]) -> Tri:
    return True if True in values else (None if None in values else False)


def decide(expression: dict[str, Any]) -> Tri:
    return compile_expression(expression, Context(), "allow").test(FACTS)


@pytest.mark.parametrize(
    "values", list(product(LEAVES, repeat=2)) + list(product(LEAVES, repeat=3))
)
def test_all_and_any_follow_kleene_logic(values: tuple[Tri, ...]) -> None:
    children = [LEAVES[v] for v in values]
    assert decide({"all": children}) is _kleene_all(values)
    assert decide({"any": children}) is _kleene_any(values)


@pytest.mark.parametrize("value", list(LEAVES))
def test_not_flips_a_known_result_and_keeps_unknown(value: Tri) -> None:
    assert decide(LEAVES[value]) is value
    assert decide({"not": LEAVES[value]}) is (None if value is None else not value)


def test_the_keys_of_one_mapping_must_all_hold() -> None:
    assert decide({**LEAVES[True], **LEAVES[None]}) is None
    assert decide({**LEAVES[None], **LEAVES[False]}) is False
    assert decide({**LEAVES[True], "any": [LEAVES[False], LEAVES[True]]}) is True
