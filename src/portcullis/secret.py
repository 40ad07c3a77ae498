"""A value that must not leak: into logs, tracebacks, reprs or pickles.

``Secret`` wraps a ``str`` or ``bytes``. Its ``repr()`` and ``str()`` are always
``Secret('**********')`` — also inside containers, pydantic model reprs and
f-strings — and the only way to the value is the explicit :meth:`Secret.reveal`,
which is easy to grep for. Equality is constant-time. Pickling raises
``TypeError`` so a secret cannot end up in a cache or a queue by accident.

Rotation: where a setting accepts several secrets, they arrive as a
``tuple[Secret[str], ...]`` in the order they were configured. The **first**
one signs or encrypts; **all** of them are tried to verify or decrypt (the
pattern of ``cryptography``'s ``MultiFernet``). To rotate: put the new secret
first, keep the old one second until everything it protected has expired, then
remove it.
"""

from __future__ import annotations

import hmac
from typing import Any, Generic, NoReturn, TypeVar

__all__ = ["Secret"]

T = TypeVar("T", str, bytes)

_REDACTED = "Secret('**********')"


class Secret(Generic[T]):
    """A redacted ``str`` or ``bytes``; ``reveal()`` returns the value."""

    __slots__ = ("_value",)

    _value: T

    def __init__(self, value: T) -> None:
        if not isinstance(value, str | bytes):
            raise TypeError(f"a Secret holds str or bytes, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> T:
        """The secret value itself. Call it only where the value is used."""
        return self._value

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(_as_bytes(self._value), _as_bytes(other._value))

    def __hash__(self) -> int:
        return hash((Secret, _as_bytes(self._value)))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; pass the configuration, not the value")

    def __copy__(self) -> Secret[T]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret[T]:
        return self


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value
