"""The verified identity as headers for the upstream, including the signed assertion.

Built once per (session, upstream) and reused for ``_REUSE`` seconds: the hot
path of a signed-in request is a dict lookup, not string building and ECDSA.
Values come from tokens, so control characters are removed before they can
reach a header (CR/LF injection); names are configurable.
"""

from __future__ import annotations

from portcullis.assertion import AssertionSigner
from portcullis.config.auth_schema import IdentityHeaders
from portcullis.identity import Identity
from portcullis.policy.forwarding import ALL_GROUPS, GroupForwarding

__all__ = ["IdentityHeaderBuilder"]

Headers = bytes  # header lines, b"Name: value\r\n" repeated

_REUSE = 30.0
_MAX_ENTRIES = 20_000
_CONTROL = dict.fromkeys([*range(0x20), 0x7F])


def clean(value: str) -> bytes:
    """A header-safe value: control characters dropped, UTF-8 encoded."""
    return value.translate(_CONTROL).strip().encode("utf-8")


class IdentityHeaderBuilder:
    def __init__(self, names: IdentityHeaders, signer: AssertionSigner) -> None:
        self._names = {field: value.encode() for field, value in names.model_dump().items()}
        self._signer = signer
        self._cache: dict[
            tuple[str | bytes, str, bool, GroupForwarding], tuple[float, Headers]
        ] = {}

    @property
    def names(self) -> tuple[bytes, ...]:
        return tuple(self._names.values())

    def for_identity(
        self,
        owner: str | bytes,
        identity: Identity,
        audience: str,
        now: float,
        forwarding: GroupForwarding = ALL_GROUPS,
    ) -> Headers:
        """The header lines for ``identity`` at ``audience``; ``owner`` is the session id or
        the token's hash (what the cached lines belong to)."""
        key = (owner, audience, identity.groups_unknown, forwarding)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        headers = self._build(
            forwarding.narrow(identity), audience, now, forwarding.friendly_names(identity)
        )
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = (now + _REUSE, headers)
        return headers

    def forget(self, session_id: str) -> None:
        for key in [k for k in self._cache if k[0] == session_id]:
            del self._cache[key]

    def _build(
        self, identity: Identity, audience: str, now: float, names: tuple[str, ...]
    ) -> Headers:
        n = self._names
        headers = [(n["user"], clean(identity.key)), (n["kind"], clean(identity.kind.value))]
        if identity.tenant_id:
            headers.append((n["tenant"], clean(identity.tenant_id)))
        if identity.email:
            headers.append((n["email"], clean(identity.email)))
        if identity.name:
            headers.append((n["name"], clean(identity.name)))
        headers.append((n["roles"], clean(",".join(identity.roles))))
        headers.append((n["groups"], clean(",".join(identity.groups))))
        if names:
            headers.append((n["group_names"], clean(",".join(names))))
        if identity.client_id:
            headers.append((n["client"], clean(identity.client_id)))
        assertion = self._signer.sign(identity, audience=audience, now=now)
        headers.append((n["assertion"], assertion.encode("ascii")))
        return b"".join(name + b": " + value + b"\r\n" for name, value in headers)
