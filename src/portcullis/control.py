"""Control endpoints under ``/.portcullis/`` on the proxy's own listener.

A tiny table router: exact paths to handlers. Handlers take the request head and
its (small, bounded) body and answer a :class:`LocalResponse`, or an awaitable
of one when they must do I/O; nothing here is ever proxied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from portcullis.http.pages import LocalResponse, error_response
from portcullis.http.request import RequestHead

__all__ = ["ControlEndpoints", "Handler", "method_not_allowed"]

Handler = Callable[[RequestHead, bytes], LocalResponse | Awaitable[LocalResponse]]

_OK = LocalResponse(200, b"ok\n")
_READY = LocalResponse(200, b"ready\n")
_DRAINING = LocalResponse(503, b"draining\n")


class ControlEndpoints:
    """Routes ``/.portcullis/*`` requests to handlers.

    Built in: ``healthz`` and ``readyz`` (``is_draining`` tells readiness). ``extra``
    adds endpoints (sign-in, sign-out, ...); each checks its own methods. A path that
    ends with ``/`` also answers every path below it (exact paths are tried first).
    """

    def __init__(
        self, is_draining: Callable[[], bool], extra: Mapping[str, Handler] | None = None
    ) -> None:
        self._is_draining = is_draining
        self._routes: dict[str, Handler] = {
            "/.portcullis/healthz": self._healthz,
            "/.portcullis/readyz": self._readyz,
            **(extra or {}),
        }
        self._prefixes = tuple((p, h) for p, h in self._routes.items() if p.endswith("/"))

    def __call__(self, head: RequestHead, body: bytes) -> LocalResponse | Awaitable[LocalResponse]:
        handler = self._routes.get(head.path)
        if handler is None:
            handler = next((h for p, h in self._prefixes if head.path.startswith(p)), None)
        if handler is None:
            return error_response(
                404, "Unknown Portcullis endpoint.", request_id=head.request_id, accept=head.accept
            )
        return handler(head, body)

    def _healthz(self, head: RequestHead, body: bytes) -> LocalResponse:
        """Liveness: the process answers."""
        return method_not_allowed(head, ("GET", "HEAD")) or _OK

    def _readyz(self, head: RequestHead, body: bytes) -> LocalResponse:
        """Readiness: not draining for shutdown."""
        return method_not_allowed(head, ("GET", "HEAD")) or (
            _DRAINING if self._is_draining() else _READY
        )


def method_not_allowed(head: RequestHead, allowed: tuple[str, ...]) -> LocalResponse | None:
    """A 405 when ``head.method`` is not in ``allowed``, else None."""
    if head.method in allowed:
        return None
    return error_response(
        405,
        f"Use {' or '.join(allowed)}.",
        request_id=head.request_id,
        accept=head.accept,
        headers=((b"Allow", ", ".join(allowed).encode()),),
    )
