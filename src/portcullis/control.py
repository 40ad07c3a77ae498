"""Control endpoints under ``/.portcullis/`` on the proxy's own listener.

A tiny table router: exact paths to handlers. Handlers take the request head
and answer a :class:`LocalResponse`; nothing here is ever proxied.
"""

from __future__ import annotations

from collections.abc import Callable

from portcullis.http.pages import LocalResponse, error_response
from portcullis.http.request import RequestHead

__all__ = ["ControlEndpoints"]

Handler = Callable[[RequestHead], LocalResponse]

_OK = LocalResponse(200, b"ok\n")
_READY = LocalResponse(200, b"ready\n")
_DRAINING = LocalResponse(503, b"draining\n")


class ControlEndpoints:
    """Routes ``/.portcullis/*`` requests; ``is_draining`` tells readiness."""

    def __init__(self, is_draining: Callable[[], bool]) -> None:
        self._is_draining = is_draining
        self._routes: dict[str, Handler] = {
            "/.portcullis/healthz": self._healthz,
            "/.portcullis/readyz": self._readyz,
        }

    def __call__(self, head: RequestHead) -> LocalResponse:
        handler = self._routes.get(head.path)
        if handler is None:
            return error_response(
                404, "Unknown Portcullis endpoint.", request_id=head.request_id, accept=head.accept
            )
        if head.method not in ("GET", "HEAD"):
            return error_response(
                405,
                "Use GET.",
                request_id=head.request_id,
                accept=head.accept,
                headers=((b"Allow", b"GET, HEAD"),),
            )
        return handler(head)

    def _healthz(self, head: RequestHead) -> LocalResponse:
        """Liveness: the process answers."""
        return _OK

    def _readyz(self, head: RequestHead) -> LocalResponse:
        """Readiness: not draining for shutdown."""
        return _DRAINING if self._is_draining() else _READY
