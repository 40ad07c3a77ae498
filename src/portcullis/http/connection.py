"""A protocol that owns its transport: writes while open, closes or aborts once.

The proxy's client connections and the FastCGI authorizer's connections both derive from
:class:`OwnedTransport`; ``closed`` turns true on the first close (or when the peer went
away), after which writes are dropped instead of reaching a closed transport.
"""

from __future__ import annotations

import asyncio

__all__ = ["OwnedTransport"]


class OwnedTransport(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        """Close after what is buffered has been written."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Close now, dropping what is buffered."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.abort()
