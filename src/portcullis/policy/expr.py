"""Criteria combined with ``all`` / ``any`` / ``not``, compiled into one test.

An expression is a mapping. Each key is a criterion name (see
:mod:`portcullis.policy.criteria`) or a combinator: ``all: [expr, ...]``,
``any: [expr, ...]``, ``not: expr``. The keys of one mapping must all hold.
``{}`` always holds. Logic is three-valued (Kleene): an unknown criterion
(``None``) makes ``all`` unknown unless something else is false, ``any`` unknown
unless something else is true, and ``not`` unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from portcullis.policy.criteria import CRITERIA
from portcullis.policy.criterion import (
    Context,
    Criterion,
    PolicyError,
    PolicyProblem,
    Test,
    Tri,
)
from portcullis.policy.facts import Facts

__all__ = ["Node", "compile_expression"]

_COMBINATORS = ("all", "any", "not")


@dataclass(frozen=True, slots=True)
class Node:
    """One compiled expression: a criterion (``leaf``) or a combinator over ``children``."""

    op: str  # "all", "any", "not" or "leaf"
    test: Test
    path: str
    children: tuple[Node, ...] = ()
    leaf: Criterion | None = None

    def criteria(self, *, positive: bool = True) -> Iterator[tuple[Criterion, bool]]:
        """Every criterion below, with whether it counts positively (not under a ``not``)."""
        if self.leaf is not None:
            yield self.leaf, positive
        for child in self.children:
            yield from child.criteria(positive=positive != (self.op == "not"))

    def explain(self, facts: Facts, depth: int = 0) -> tuple[Tri, list[str]]:
        """The result and one line per node: ``pass``/``fail``/``unknown`` with its summary."""
        if self.leaf is not None:
            result = self.test(facts)
            return result, [f"{'  ' * depth}{_word(result)}: {self.leaf.summary}"]
        lines: list[str] = []
        for child in self.children:
            lines += child.explain(facts, depth + 1)[1]
        result = self.test(facts)
        return result, [f"{'  ' * depth}{_word(result)}: {self.op} of", *lines]


def _word(result: Tri) -> str:
    return "pass" if result is True else ("fail" if result is False else "unknown")


def compile_expression(value: object, ctx: Context, path: str) -> Node:
    """Compile ``value`` (found at key ``path``); raises PolicyError with every problem."""
    if not isinstance(value, Mapping):
        raise PolicyError([PolicyProblem(path, "expected a mapping of criteria")])
    nodes: list[Node] = []
    problems: list[PolicyProblem] = []
    for key, argument in value.items():
        where = f"{path}.{key}"
        try:
            nodes.append(_compile_key(key, argument, ctx, where))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    if len(nodes) == 1:
        return nodes[0]
    return Node("all", _combine(tuple(n.test for n in nodes), decisive=False), path, tuple(nodes))


def _compile_key(key: object, argument: object, ctx: Context, path: str) -> Node:
    if key in ("all", "any"):
        if not isinstance(argument, list) or not argument:
            raise PolicyError([PolicyProblem(path, "expected a non-empty list of expressions")])
        children: list[Node] = []
        problems: list[PolicyProblem] = []
        for index, item in enumerate(argument):
            try:
                children.append(compile_expression(item, ctx, f"{path}[{index}]"))
            except PolicyError as exc:
                problems.extend(exc.problems)
        if problems:
            raise PolicyError(problems)
        tests = tuple(c.test for c in children)
        combined = _combine(tests, decisive=key == "any")
        return Node(str(key), combined, path, tuple(children))
    if key == "not":
        child = compile_expression(argument, ctx, path)
        return Node("not", _not(child.test), path, (child,))
    compiler = CRITERIA.get(key) if isinstance(key, str) else None
    if compiler is None:
        known = ", ".join([*_COMBINATORS, *sorted(CRITERIA)])
        raise PolicyError([PolicyProblem(path, f"unknown criterion; one of: {known}")])
    criterion = compiler(argument, ctx, path)
    return Node("leaf", criterion.test, path, leaf=criterion)


def _combine(tests: tuple[Test, ...], *, decisive: bool) -> Callable[[Facts], Tri]:
    """``all`` (``decisive`` False) or ``any`` (True): the first test answering ``decisive``
    decides; else unknown if any test is, else ``not decisive`` (also for no tests)."""

    def test(facts: Facts) -> Tri:
        unknown = False
        for each in tests:
            result = each(facts)
            if result is decisive:
                return decisive
            if result is None:
                unknown = True
        return None if unknown else not decisive

    return test


def _not(inner: Test) -> Callable[[Facts], Tri]:
    def test(facts: Facts) -> Tri:
        result = inner(facts)
        return None if result is None else not result

    return test
