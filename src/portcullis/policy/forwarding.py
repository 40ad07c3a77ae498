"""Which groups, and which friendly names, an identity carries to the upstream.

``policy.forward_groups: referenced`` keeps only the groups some rule mentions (Entra users
can be in hundreds of groups; headers stay small). ``policy.names`` (and the group aliases)
give roles and groups names that Apache ``Require expr`` rules and app code can read
instead of GUIDs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from portcullis.identity import Identity

__all__ = ["ALL_GROUPS", "GroupForwarding"]


@dataclass(frozen=True, eq=False)
class GroupForwarding:
    """One per compiled policy; compared (and hashed) by identity, so caches key on it."""

    referenced: frozenset[str] | None = None  # None: forward all groups
    names: Mapping[str, str] | None = None  # role value or group id -> friendly name

    def narrow(self, identity: Identity) -> Identity:
        """The identity with only the groups to forward."""
        if self.referenced is None or not identity.groups:
            return identity
        kept = tuple(g for g in identity.groups if g in self.referenced)
        return identity if len(kept) == len(identity.groups) else replace(identity, groups=kept)

    def friendly_names(self, identity: Identity) -> tuple[str, ...]:
        """Names of the roles and groups the identity holds, in a stable order, no repeats."""
        names = self.names
        if not names:
            return ()
        found = [names[v] for v in (*identity.roles, *identity.groups) if v in names]
        return tuple(dict.fromkeys(found))


ALL_GROUPS = GroupForwarding()
