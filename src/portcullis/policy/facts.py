"""What a policy decides on: who is asking, with which token, for what, from where, when."""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.bearer.principal import TokenFacts
from portcullis.identity import Identity

__all__ = ["Facts"]


@dataclass(frozen=True, slots=True)
class Facts:
    """One request as a policy sees it.

    ``path`` is the normalized path the upstream receives; ``now`` is the caller's clock
    (epoch seconds), so decisions are reproducible. ``fresh`` is set only while the engine
    asks "would a new sign-in (or authentication context) satisfy this rule?".
    """

    identity: Identity
    method: str = "GET"
    path: str = "/"
    source_ip: str = ""
    now: float = 0.0
    token: TokenFacts | None = None
    fresh: bool = False
