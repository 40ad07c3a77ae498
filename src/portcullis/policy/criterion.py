"""The contract every criterion module fulfils, and the tri-state logic they share.

A criterion compiles its configuration once into a :class:`Criterion`: a test over
:class:`~portcullis.policy.facts.Facts` returning ``True``, ``False`` or ``None``
(unknown: e.g. group membership that could not be resolved), and a description
used by ``explain`` and ``who-can``. Compilation errors are :class:`PolicyProblem`
values carrying the key path of the offending setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from portcullis.policy.facts import Facts

__all__ = [
    "Compiler",
    "Context",
    "Criterion",
    "Hint",
    "PolicyError",
    "PolicyProblem",
    "Test",
    "Tri",
    "duration",
    "flag",
    "string_list",
]

Tri = bool | None
"""True, False, or None for "cannot tell" (fails closed)."""

Test = Callable[[Facts], Tri]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PolicyError(Exception):
    """Raised while compiling; ``problems`` lists each one with its key path."""

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Hint:
    """How a failing criterion could still be satisfied by the caller."""

    kind: str  # "step-up" (sign in again) or "auth-context" (CAE claims challenge)
    value: str  # max age in seconds, or the authentication context id


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    test: Test
    summary: str  # "role in Portal.Admin, Portal.Owner": what it requires, for people
    machines: bool = False  # names machines explicitly (app roles, client apps)
    hint: Hint | None = None
    grants: tuple[tuple[str, tuple[str, ...]], ...] = ()  # who-can: (what, values)


@dataclass
class Context:
    """Compile-time state shared by the criteria of one policy."""

    group_aliases: Mapping[str, str] = field(default_factory=dict)
    referenced_groups: set[str] = field(default_factory=set)
    case_insensitive: bool = False  # the route matches paths case-insensitively


Compiler = Callable[[object, Context, str], Criterion]
"""(value from the config, context, key path) -> Criterion; raises PolicyError."""


def string_list(value: object, path: str, *, what: str = "value") -> tuple[str, ...]:
    """A non-empty string or list of non-empty strings, else a PolicyError at ``path``."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise PolicyError([PolicyProblem(path, f"expected a {what} or a list of them")])
    problems = [
        PolicyProblem(f"{path}[{i}]", f"expected a non-empty {what}")
        for i, item in enumerate(items)
        if not isinstance(item, str) or not item
    ]
    if problems:
        raise PolicyError(problems)
    return tuple(items)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: object, path: str) -> int:
    """Seconds from ``300``, ``"90s"``, ``"30m"``, ``"8h"`` or ``"1d"``; positive."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value[:-1].isdigit() and value[-1:] in _UNITS:
        seconds = int(value[:-1]) * _UNITS[value[-1]]
    if seconds is None or seconds <= 0:
        raise PolicyError(
            [PolicyProblem(path, "expected a positive duration: seconds, or e.g. '30m', '8h'")]
        )
    return seconds


def flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError([PolicyProblem(path, "expected true or false")])
    return value
