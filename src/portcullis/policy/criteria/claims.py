"""``claims: {NAME: {equals|contains|matches|in: ...}}``: any claim of the token.

Several claims (and several tests on one claim) must all hold. ``equals`` compares the
whole value; ``contains`` a member of a list claim (or a substring of a string claim);
``matches`` a regular expression that must match the whole string (or one member);
``in`` one of several values. A missing claim never matches. Display claims such as
``email`` or ``name`` are mutable: prefer roles, groups and ids for access.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem
from portcullis.policy.facts import Facts

NAME = "claims"
_SCALAR = (str, int, float, bool)
_OPERATORS = ("equals", "contains", "matches", "in")
_MAX_PATTERN = 512

Check = Callable[[object], bool]


def compile(value: object, ctx: Context, path: str) -> Criterion:
    if not isinstance(value, Mapping) or not value:
        raise PolicyError([PolicyProblem(path, "expected a mapping of claim name to tests")])
    checks: list[tuple[str, Check]] = []
    shown: list[str] = []
    problems: list[PolicyProblem] = []
    for claim, tests in value.items():
        where = f"{path}.{claim}"
        if not isinstance(claim, str) or not claim:
            problems.append(PolicyProblem(path, "claim names must be non-empty strings"))
            continue
        if not isinstance(tests, Mapping) or not tests:
            problems.append(PolicyProblem(where, "expected {equals|contains|matches|in: value}"))
            continue
        for op, operand in tests.items():
            try:
                checks.append((claim, _check(op, operand, f"{where}.{op}")))
                shown.append(f"claim {claim} {op} {operand!r}")
            except PolicyError as exc:
                problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    frozen = tuple(checks)

    def test(facts: Facts) -> bool:
        claims = facts.identity.claims
        for claim, check in frozen:
            found = claims.get(claim)
            if found is None or not check(found):
                return False
        return True

    return Criterion(NAME, test, " and ".join(shown))


def _check(op: object, operand: object, path: str) -> Check:
    if op == "equals":
        if not isinstance(operand, _SCALAR):
            raise PolicyError([PolicyProblem(path, "expected a string, number or boolean")])
        return lambda found: found == operand
    if op == "in":
        if not isinstance(operand, list) or not all(isinstance(v, _SCALAR) for v in operand):
            raise PolicyError([PolicyProblem(path, "expected a list of values")])
        options = tuple(operand)
        return lambda found: found in options
    if op == "contains":
        if not isinstance(operand, _SCALAR):
            raise PolicyError([PolicyProblem(path, "expected a string, number or boolean")])
        return lambda found: (
            operand in found
            if isinstance(found, list)
            else isinstance(found, str) and isinstance(operand, str) and operand in found
        )
    if op == "matches":
        if not isinstance(operand, str) or len(operand) > _MAX_PATTERN:
            raise PolicyError([PolicyProblem(path, "expected a regular expression (≤ 512 chars)")])
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise PolicyError([PolicyProblem(path, f"invalid regular expression: {exc}")]) from None

        def matches(found: object) -> bool:
            values = found if isinstance(found, list) else [found]
            return any(isinstance(v, str) and pattern.fullmatch(v) for v in values)

        return matches
    raise PolicyError([PolicyProblem(path, f"unknown test {op!r}: one of {', '.join(_OPERATORS)}")])
