"""What a group lookup yields: the groups, or why there are none to trust.

``Unresolved`` is not "no groups": a rule that needs a group must deny (fail
closed). Its ``reason`` is for logs and the audit trail, never for the client.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GroupsResult", "Resolved", "Unresolved"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """The principal's group object ids (lowercase GUIDs), as Graph reported them at ``at``."""

    groups: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Unresolved:
    """The memberships are unknown; ``reason`` says why (no token, no secret in it)."""

    reason: str


GroupsResult = Resolved | Unresolved
