"""Portcullis as a FastCGI authorizer: the web server asks, the proxy's own gate decides.

For each request Apache's mod_authnz_fcgi sends: the CGI parameters become a
:class:`RequestHead` (:mod:`portcullis.fastcgi.params`), the route is found by the
same router and the same gate decides, with the same cached fast path as for
proxied requests. The decision becomes a CGI response:

- allow: ``Status: 200`` and one ``Variable-PORTCULLIS_*`` line per identity
  header the gate produced (:mod:`portcullis.fastcgi.variables`); Apache makes
  them environment variables, and ``UserExpr "%{reqenv:PORTCULLIS_USER}"`` makes
  the user ``REMOTE_USER``. Nothing else: Apache would send any other header of a
  200 to the client.
- deny: :func:`portcullis.http.pages.decision_response` (the one place that maps
  decisions) written as CGI: 302 to sign in, 401 with ``WWW-Authenticate``, 403,
  503, ... Apache sends the status, headers and body to the client. It serves the
  body as ``text/html`` whatever its type, so a JSON body has ``<``, ``>`` and
  ``&`` escaped (still the same JSON, inert as HTML).

Requests for ``/.portcullis/`` are refused: Apache must pass them to Portcullis
without asking the authorizer (docs/apache.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from itertools import count
from time import monotonic
from typing import Any

from portcullis.config.auth_schema import IdentityHeaders
from portcullis.decided import Record
from portcullis.decision import Decision, Reason
from portcullis.fastcgi.params import BadParams, request_head
from portcullis.fastcgi.server import Pairs
from portcullis.fastcgi.variables import IdentityVariables
from portcullis.http.headers import request_id_prefix
from portcullis.http.pages import LocalResponse, decision_response, error_response
from portcullis.http.request import RequestHead
from portcullis.http.server import ProxyState

__all__ = ["Authorizer", "cgi_response"]

log = logging.getLogger("portcullis.authorizer")
access_log = logging.getLogger("portcullis.access")

_ALLOW = b"Status: 200\r\n"
_JSON_INERT = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def cgi_response(response: LocalResponse, request_id: str) -> bytes:
    """A denial as a CGI response: status, headers and a body that is safe as text/html."""
    body = response.body
    if response.content_type.startswith(b"application/json"):
        body = body.decode().translate(_JSON_INERT).encode()
    lines = [
        b"Status: %d %s\r\n" % (response.status, HTTPStatus(response.status).phrase.encode()),
        b"Content-Type: " + response.content_type + b"\r\n",
        b"Cache-Control: no-store\r\n",
        b"X-Request-Id: " + request_id.encode() + b"\r\n",
    ]
    lines.extend(name + b": " + value + b"\r\n" for name, value in response.headers)
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


class Authorizer:
    """The FastCGI handler: parameters in, CGI response out (at once when the gate can)."""

    def __init__(
        self,
        state: Callable[[], ProxyState],
        names: Callable[[], IdentityHeaders | None] = lambda: None,
        record: Record = lambda *_: None,
    ) -> None:
        """``state``: the worker's current proxy state; ``names``: the current
        ``auth.headers`` (both may change with a reload); ``record``: told of every
        decision, with the status answered to Apache (metrics, audit)."""
        self._state = state
        self._names = names
        self._record = record
        self._variables_for = names()
        self._variables = IdentityVariables(self._variables_for)
        self._ids = count(1)
        self._id_prefix = request_id_prefix()
        self.too_large = self._refusal(431, "The request header fields are too large.")
        self.failure = self._refusal(500, "Internal error.")

    def __call__(self, pairs: Pairs) -> bytes | Awaitable[bytes]:
        started = monotonic()
        state = self._state()
        try:
            head = request_head(pairs, new_request_id=self._next_id, strip=state.strip_headers)
        except BadParams as exc:
            log.info("authorizer request refused: %s", exc)
            return self._refusal(400, "Bad request.")
        path = head.path
        if path.startswith("/.portcullis/") or path == "/.portcullis":
            log.warning(
                "the authorizer was asked about %s: pass /.portcullis/ to Portcullis "
                "without the authorizer (see docs/apache.md)",
                path,
            )
            message = "Portcullis' own paths are not authorized here."
            return self._deny(state, head, started, 404, message)
        route = state.router.match(head.host, path)
        if route is None:
            return self._deny(state, head, started, 404, "No route matches this host and path.")
        decision = state.gate.check(head, route)
        if isinstance(decision, Decision):
            return self._answer(state, head, route, decision, started)
        return self._answer_later(state, head, route, decision, started)

    async def _answer_later(
        self,
        state: ProxyState,
        head: RequestHead,
        route: Any,
        pending: Awaitable[Decision],
        started: float,
    ) -> bytes:
        return self._answer(state, head, route, await pending, started)

    def _answer(
        self, state: ProxyState, head: RequestHead, route: Any, decision: Decision, started: float
    ) -> bytes:
        if decision.allow:
            status = 200
            answer = _ALLOW + self._identity_lines(decision.upstream_headers) + b"\r\n"
        else:
            response = decision_response(decision, head)
            status = response.status
            answer = cgi_response(response, head.request_id)
        if state.access_log:
            self._log(head, status)
        self._record(head, route, decision, status, monotonic() - started)
        return answer

    def _identity_lines(self, headers: bytes) -> bytes:
        names = self._names()
        if names is not self._variables_for:  # auth.headers changed with a reload
            self._variables = IdentityVariables(names)
            self._variables_for = names
        return self._variables.lines(headers)

    def _deny(
        self, state: ProxyState, head: RequestHead, started: float, status: int, message: str
    ) -> bytes:
        """``status`` before the gate could decide; recorded as a denial with ``message``."""
        if state.access_log:
            self._log(head, status)
        refusal = Decision(False, Reason.FORBIDDEN, message, rule="authorizer")
        self._record(head, None, refusal, status, monotonic() - started)
        response = error_response(status, message, request_id=head.request_id, accept=head.accept)
        return cgi_response(response, head.request_id)

    @staticmethod
    def _refusal(status: int, message: str) -> bytes:
        """A refusal before there is a request head (and so a request id)."""
        return cgi_response(error_response(status, message, request_id="-"), "-")

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids):x}"

    @staticmethod
    def _log(head: RequestHead, status: int) -> None:
        access_log.info(
            '%s "%s %s" %d %s authorizer',
            head.client_ip,
            head.method,
            head.path,
            status,
            head.request_id,
        )
