"""What every rule shares: its name, severity, scope, cooldown and block.

A rule is compiled once from its configuration (a
:class:`~portcullis.config.schema.GuardrailRule`) into an object whose
:meth:`Rule.check` looks at one :class:`Observation` and returns the detail
text of a violation, or ``None``. ``check`` is pure apart from the rule's own
bounded memory (:mod:`portcullis.guardrails.window`); the time is the
observation's.

The monitor only calls ``check`` for the observations a rule watches:
identity ``kinds`` (``None``: every kind) and ``outcomes`` (allowed, denied or
both), so the common case costs one dictionary lookup for all the rules.
Cooldown and blocks are applied by the monitor, not by the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from portcullis.config.schema import GuardrailRule
from portcullis.guardrails.events import Observation
from portcullis.guardrails.violation import Severity

__all__ = ["ALL_KINDS", "DEFAULT_COOLDOWN", "Compiler", "Rule", "need"]

T = TypeVar("T")

ALL_KINDS = frozenset({"user", "app", "agent", "obo"})
DEFAULT_COOLDOWN = 3600.0  # seconds, for rules without a window


class Rule:
    """The common part; subclasses implement :meth:`check`."""

    __slots__ = ("block", "cooldown", "kind", "kinds", "name", "outcomes", "severity")

    def __init__(
        self,
        spec: GuardrailRule,
        *,
        kinds: Iterable[str] | None = None,
        outcomes: frozenset[bool] = frozenset({True, False}),
        window: float | None = None,
    ) -> None:
        self.name = spec.name
        self.kind = spec.kind
        self.severity = Severity(spec.severity)
        watched = spec.kinds if spec.kinds is not None else kinds
        self.kinds: frozenset[str] = ALL_KINDS if watched is None else frozenset(watched)
        self.outcomes = outcomes  # True: allowed requests, False: denied ones
        if spec.cooldown_minutes is not None:
            self.cooldown = spec.cooldown_minutes * 60
        else:
            self.cooldown = window if window is not None else DEFAULT_COOLDOWN
        self.block = spec.block.minutes * 60 if spec.block is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def check(self, obs: Observation) -> str | None:
        """The detail of a violation by ``obs``, or ``None``."""
        raise NotImplementedError


class Compiler(Protocol):
    """How each rule kind is built: its spec, the memory bound, the start time (epoch s)."""

    def __call__(self, spec: GuardrailRule, *, max_identities: int, started: float) -> Rule: ...


def need(value: T | None, key: str) -> T:
    """A parameter the schema requires for this kind (checked again: never ``assert``)."""
    if value is None:
        raise ValueError(f"'{key}' is required")
    return value
