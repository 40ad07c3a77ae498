"""Configuration schema for the policy section: group aliases and what reaches upstreams.

Per-route rules live on each route (``routes[i].rules``); they are compiled, with key
paths in every error, by :mod:`portcullis.policy`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portcullis.config.schema import _Model

__all__ = ["PolicySettings"]


class PolicySettings(_Model):
    """Names for groups, and the groups and names forwarded to upstreams."""

    groups: dict[str, str] = Field(
        default_factory=dict,
        description="Group aliases usable in rules: alias -> group object id (Entra) or, for "
        "providers whose groups claim carries names, the exact group value.",
    )
    names: dict[str, str] = Field(
        default_factory=dict,
        description="Friendly names forwarded upstream (auth.headers.group_names): app role "
        "or group object id -> name. Group aliases are names too.",
    )
    forward_groups: Literal["all", "referenced"] = Field(
        "all",
        description="Group ids in the groups header: all of the identity's, or only those "
        "some rule mentions (small headers for users in hundreds of groups).",
    )
