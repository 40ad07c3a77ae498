"""Responses Portcullis writes itself: error pages and control-endpoint bodies.

Pages are tiny, escaped, and never carry a traceback, a token or a header
value from the request. A client that prefers JSON gets JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from urllib.parse import urlencode

import orjson

from portcullis.decision import Decision, Reason
from portcullis.http.request import RequestHead
from portcullis.session.model import MAX_LOGIN_AGE

__all__ = ["LocalResponse", "decision_response", "error_response", "serialize", "status_line"]

_JSON = b"application/json"
_STEP_UP_CODE = "step_up"


@dataclass(frozen=True, slots=True)
class LocalResponse:
    status: int
    body: bytes
    content_type: bytes = b"text/plain; charset=utf-8"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    close: bool = False


def _wants_json(accept: bytes) -> bool:
    return _JSON in accept and b"text/html" not in accept


def error_response(
    status: int,
    message: str,
    *,
    request_id: str,
    accept: bytes = b"",
    code: str | None = None,
    close: bool = False,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> LocalResponse:
    """A small error page in HTML or JSON, naming the request id."""
    phrase = HTTPStatus(status).phrase
    if _wants_json(accept):
        payload = {
            "error": code or phrase.lower().replace(" ", "_"),
            "message": message,
            "request_id": request_id,
        }
        return LocalResponse(status, orjson.dumps(payload), _JSON, headers, close)
    body = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{status} {escape(phrase)}</title></head><body>"
        f"<h1>{status} {escape(phrase)}</h1><p>{escape(message)}</p>"
        f"<p><small>Request id: <code>{escape(request_id)}</code></small></p>"
        "</body></html>\n"
    ).encode()
    return LocalResponse(status, body, b"text/html; charset=utf-8", headers, close)


def decision_response(decision: Decision, head: RequestHead) -> LocalResponse:
    """The one place a denial becomes a response.

    Not signed in: browsers are sent to sign in (302, the original URL as ``rd``);
    API clients (JSON, fetch/XHR, other methods than GET/HEAD) get 401 JSON naming
    the sign-in URL. Signed in too long ago (step-up): the same, with ``max_age``
    in the sign-in URL; a bearer caller gets 401 with the gate's RFC 9470 challenge.
    Denied: 403 with a short reason (HTML escaped, or JSON). Refused by a request
    guardrail: 403, 405, 413, 415, 429 or 400 with the guardrail's message, in JSON.
    """
    request_id, accept = head.request_id, head.accept
    if decision.reason is Reason.UNAUTHENTICATED:
        return _sign_in(head, {}, "Sign-in is required for this resource.", "unauthenticated")
    if decision.reason is Reason.STEP_UP:
        return _step_up(decision, head)
    if decision.reason in _TOKEN_STATUS:
        return _token_denial(decision, head)
    status = _GUARDRAIL_STATUS.get(decision.reason)
    if status is not None:
        # Request guardrails answer machines: JSON with their message, unless HTML is asked for.
        return error_response(
            status,
            decision.detail,
            request_id=request_id,
            accept=accept if b"text/html" in accept else _JSON,
            code=decision.reason.value,
            headers=decision.response_headers,
        )
    if decision.reason is Reason.AUTH_UNAVAILABLE:
        # Not a verdict on the token: a 401 would make clients throw good tokens away.
        return error_response(
            503,
            decision.detail or "Credentials cannot be checked right now; try again shortly.",
            request_id=request_id,
            accept=accept,
            code="auth_unavailable",
            headers=((b"Retry-After", b"5"),),
        )
    if decision.reason is Reason.SIGN_IN_UNAVAILABLE:
        return error_response(
            401,
            "Sign-in is required for this resource.",
            request_id=request_id,
            accept=accept,
            code="unauthenticated",
        )
    return error_response(
        403,
        decision.detail or "You are not allowed to access this resource.",
        request_id=request_id,
        accept=accept,
        code=decision.reason.value,
    )


_GUARDRAIL_STATUS = {
    Reason.GUARDRAIL: 403,
    Reason.METHOD_NOT_ALLOWED: 405,  # with Allow
    Reason.RATE_LIMITED: 429,  # with Retry-After
    Reason.BODY_TOO_LARGE: 413,
    Reason.MALFORMED_BODY: 400,
    Reason.UNSUPPORTED_BODY: 415,
}
_TOKEN_STATUS = {
    Reason.TOKEN_TOO_LARGE: 431,
    Reason.TOKEN_MISSING: 401,
    Reason.INVALID_TOKEN: 401,
    Reason.INSUFFICIENT_CLAIMS: 401,
    Reason.INSUFFICIENT_SCOPE: 403,
}
_RFC6750_ERROR = {
    Reason.TOKEN_TOO_LARGE: "invalid_token",
    Reason.INVALID_TOKEN: "invalid_token",
    Reason.INSUFFICIENT_SCOPE: "insufficient_scope",
    Reason.INSUFFICIENT_CLAIMS: "insufficient_claims",
}


def _token_denial(decision: Decision, head: RequestHead) -> LocalResponse:
    """RFC 6750: a WWW-Authenticate challenge and a JSON body; the token is never echoed."""
    error = _RFC6750_ERROR.get(decision.reason)
    challenge = decision.challenge
    if not challenge:
        challenge = b'Bearer realm="portcullis"'
        if error is not None:
            description = decision.detail.replace('"', "'").encode("ascii", "replace")
            challenge += b', error="%s", error_description="%s"' % (error.encode(), description)
    payload = {
        "error": error or "unauthenticated",
        "message": decision.detail or "A bearer token is required.",
        "request_id": head.request_id,
    }
    return LocalResponse(
        _TOKEN_STATUS[decision.reason],
        orjson.dumps(payload),
        _JSON,
        headers=((b"WWW-Authenticate", challenge),),
    )


def _sign_in(head: RequestHead, extra: dict[str, str], message: str, code: str) -> LocalResponse:
    """Browsers: 302 to the sign-in URL; API clients: 401 JSON naming it as ``login_url``."""
    target = head.path + head.query.decode("latin-1")
    login = "/.portcullis/login?" + urlencode({"rd": target, **extra})
    if _is_browser_navigation(head):
        return LocalResponse(302, b"", headers=((b"Location", login.encode("latin-1")),))
    payload = {"error": code, "message": message, "request_id": head.request_id}
    return LocalResponse(401, orjson.dumps(payload | {"login_url": login}), _JSON)


def _step_up(decision: Decision, head: RequestHead) -> LocalResponse:
    """RFC 9470 for bearer tokens (the gate wrote the challenge); a fresh sign-in for sessions.

    A rule's age above what a login accepts is capped (stricter, never looser); a
    step-up without an age asks for a sign-in right now (``max_age=0``).
    """
    message = "A more recent sign-in is required for this resource."
    if decision.challenge:
        payload: dict[str, str | int] = {
            "error": _STEP_UP_CODE,
            "message": message,
            "request_id": head.request_id,
        }
        if decision.max_age is not None:
            payload["max_age"] = decision.max_age
        return LocalResponse(
            401,
            orjson.dumps(payload),
            _JSON,
            headers=((b"WWW-Authenticate", decision.challenge),),
        )
    max_age = min(max(decision.max_age or 0, 0), MAX_LOGIN_AGE)
    return _sign_in(head, {"max_age": str(max_age)}, message, _STEP_UP_CODE)


def _is_browser_navigation(head: RequestHead) -> bool:
    if head.method not in ("GET", "HEAD") or _wants_json(head.accept):
        return False
    for name, value in head.headers:
        lname = name.lower()
        if lname == b"x-requested-with" or (
            lname == b"sec-fetch-mode" and value.lower() not in (b"navigate", b"nested-navigate")
        ):
            return False
    return True


_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


def status_line(status: int) -> bytes:
    """The status line with the standard reason phrase (an upstream's own is not kept)."""
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


def serialize(
    response: LocalResponse, *, request_id: str, keep_alive: bool, head_only: bool
) -> bytes:
    """The whole response as bytes, ready for one write."""
    lines = [
        status_line(response.status),
        b"Content-Type: " + response.content_type + b"\r\n",
        b"Content-Length: %d\r\n" % len(response.body),
        b"Cache-Control: no-store\r\n",
        b"X-Content-Type-Options: nosniff\r\n",
        b"X-Request-Id: " + request_id.encode() + b"\r\n",
    ]
    lines.extend(name + b": " + value + b"\r\n" for name, value in response.headers)
    lines.append(b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n")
    if not head_only:
        lines.append(response.body)
    return b"".join(lines)
