"""A policy's answer for one request: allow or deny, which rule, and why."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.decision import Reason
from portcullis.policy.criterion import Hint

__all__ = ["Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """``rule`` is the deciding rule's name (``"default"`` for default deny).

    ``message`` is short and safe to show the caller; ``reasons`` (filled only by
    ``RoutePolicy.explain``) lists each rule and criterion with pass/fail.
    ``monitored`` names monitor-mode rules that would have denied: the request passed.
    ``hint`` says how the caller could still get in (sign in again, or a CAE context).
    """

    allow: bool
    reason: Reason
    rule: str
    message: str = ""
    reasons: tuple[str, ...] = ()
    monitored: tuple[str, ...] = ()
    hint: Hint | None = None
