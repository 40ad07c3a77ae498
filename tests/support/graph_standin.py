"""A local stand-in for Entra's token endpoint and Microsoft Graph's ``getMemberObjects``.

``run_graph_standin()`` starts a ``ThreadingHTTPServer`` on a free port of
127.0.0.1 in a thread; ``standin.url`` serves both the authority host and the
Graph base URL (different path prefixes):

- ``POST /{tenant}/oauth2/v2.0/token`` — ``grant_type=client_credentials``;
  client authentication by ``client_secret_basic``, ``client_secret_post`` or
  ``private_key_jwt`` (signature, ``iss``/``sub`` and ``aud`` = this endpoint
  checked); ``scope`` must equal ``standin.scope`` (default ``{url}/.default``).
  Issues an opaque bearer string with ``expires_in``. Errors are OAuth JSON
  (``invalid_client`` 401, ``invalid_scope``/``unsupported_grant_type`` 400).
- ``POST /v1.0/users/{oid}/getMemberObjects`` and
  ``POST /v1.0/directoryObjects/{oid}/getMemberObjects`` — need
  ``Authorization: Bearer <an issued token>`` and a JSON body with a boolean
  ``securityEnabledOnly``; answer ``{"value": [...], "@odata.nextLink": ...}``
  in pages of ``page_size``, the link built on ``next_link_base`` (default: the
  stand-in's own URL) with an opaque ``$skiptoken``. Unknown oid → 404.

Memberships: ``standin.memberships[oid] = [ids...]`` (any strings — invalid ids
are served as given); with ``securityEnabledOnly: true`` only the ids in
``security_groups`` (when set). Failure injection: :meth:`GraphStandIn.fail_next` (status,
``Retry-After``, how many times), :meth:`GraphStandIn.revoke_tokens` (the next
Graph calls answer 401 until a new token is fetched), ``delay`` (seconds before
each Graph answer). Counters: ``token_calls``, ``graph_calls``, ``graph_paths``,
``token_forms``, ``bearers_seen``. All state is guarded by one lock.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from portcullis.jose import KeySet, PublicKey, TokenError, parse, public_jwk, verify

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "TENANT", "GraphStandIn", "run_graph_standin"]

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "stand-in-client-secret-value"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: str | None


@dataclass
class GraphStandIn:
    url: str = ""
    scope: str = ""
    tenants: set[str] = field(default_factory=lambda: {TENANT})
    secrets: dict[str, str] = field(default_factory=lambda: {CLIENT_ID: CLIENT_SECRET})
    keys: dict[str, PublicKey] = field(default_factory=dict)  # client id -> private_key_jwt key
    memberships: dict[str, list[str]] = field(default_factory=dict)
    security_groups: set[str] | None = None  # served for securityEnabledOnly=true (None: all)
    page_size: int = 100
    expires_in: int | str = 3599
    next_link_base: str | None = None
    delay: float = 0.0
    token_calls: int = 0
    graph_calls: int = 0
    graph_paths: list[str] = field(default_factory=list)
    token_forms: list[dict[str, str]] = field(default_factory=list)
    bearers_seen: list[str] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # token -> tenant
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _failures: list[_Failure] = field(default_factory=list)

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """The next ``times`` Graph calls answer ``status`` (with ``Retry-After`` if given)."""
        with self.lock:
            self._failures.append(_Failure(status, times, retry_after))

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (Graph answers 401)."""
        with self.lock:
            self.issued.clear()

    def groups(self, count: int, *, prefix: str = "0000") -> list[str]:
        """``count`` distinct group GUIDs."""
        return [f"{prefix}{i:04x}-0000-4000-8000-{i:012x}" for i in range(count)]

    # token endpoint ----------------------------------------------------------------------------
    def token(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        tenant = path.split("/")[1].lower()
        form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        with self.lock:
            self.token_calls += 1
            self.token_forms.append(form)
        if tenant not in self.tenants:
            return 400, {"error": "invalid_request", "error_description": "AADSTS90002"}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if not self._client_ok(form, headers.get("Authorization"), f"{self.url}{path}"):
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000215"}
        if form.get("scope") != self.scope:
            return 400, {"error": "invalid_scope", "error_description": "AADSTS1002012"}
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.issued[token] = tenant
        return 200, {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": token}

    def _client_ok(self, form: dict[str, str], authorization: str | None, endpoint: str) -> bool:
        if authorization and authorization.startswith("Basic "):
            pair = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = (unquote(p) for p in pair.partition(":"))
            return self.secrets.get(client_id) == secret
        client_id = form.get("client_id", "")
        if "client_secret" in form:
            return self.secrets.get(client_id) == form["client_secret"]
        key = self.keys.get(client_id)
        if key is None or form.get("client_assertion_type") != _ASSERTION_TYPE:
            return False
        try:
            jws = parse(form.get("client_assertion", ""))
            alg = jws.alg
            jwk = public_jwk(key, kid=jws.kid, alg=alg)
            claims = verify(jws, KeySet.from_jwks({"keys": [jwk]}), algorithms=frozenset({alg}))
        except (TokenError, LookupError, ValueError):
            return False
        return claims.get("iss") == claims.get("sub") == client_id and claims.get("aud") == endpoint

    # Graph -------------------------------------------------------------------------------------
    def member_objects(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        segments = parts.path.split("/")  # "", "v1.0", collection, oid, "getMemberObjects"
        authorization = headers.get("Authorization") or ""
        bearer = authorization[7:] if authorization.startswith("Bearer ") else ""
        with self.lock:
            self.graph_calls += 1
            self.graph_paths.append(parts.path)
            self.bearers_seen.append(bearer)
            failure = self._failures[0] if self._failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
            valid = bearer in self.issued
        if self.delay:
            self.stopping.wait(self.delay)
        if failure is not None:
            body: dict[str, Any] = {"error": {"code": "injected", "message": "injected failure"}}
            if failure.retry_after is not None:
                body["retry_after"] = failure.retry_after
            return failure.status, body
        if not valid:
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}}
        try:
            request = json.loads(raw)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(
            request.get("securityEnabledOnly"), bool
        ):
            return 400, {"error": {"code": "Request_BadRequest", "message": "body"}}
        ids = self.memberships.get(segments[3])
        if ids is None:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": "no such oid"}}
        if request["securityEnabledOnly"] and self.security_groups is not None:
            ids = [i for i in ids if i in self.security_groups]
        skip = parse_qs(parts.query).get("$skiptoken", ["0"])[0]
        offset = int(base64.urlsafe_b64decode(skip + "==").decode() or 0) if skip != "0" else 0
        answer: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#Collection(Edm.String)",
            "value": ids[offset : offset + self.page_size],
        }
        if offset + self.page_size < len(ids):
            token = base64.urlsafe_b64encode(str(offset + self.page_size).encode()).decode()
            base = self.next_link_base or self.url
            answer["@odata.nextLink"] = f"{base}{parts.path}?$skiptoken={token.rstrip('=')}"
        return 200, answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        standin = self.server.standin
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path.endswith("/oauth2/v2.0/token") and path.count("/") == 4:
            status, body = standin.token(path, self.headers, raw)
        elif path.startswith(("/v1.0/users/", "/v1.0/directoryObjects/")) and path.endswith(
            "/getMemberObjects"
        ):
            status, body = standin.member_objects(self.path, self.headers, raw)
        else:
            status, body = 404, {"error": {"code": "NotFound", "message": "no such endpoint"}}
        retry_after = body.pop("retry_after", None)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: GraphStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) is not an error here


@contextmanager
def run_graph_standin(**settings: Any) -> Iterator[GraphStandIn]:
    """A running stand-in on 127.0.0.1; ``settings`` set :class:`GraphStandIn` fields."""
    server = _Server(("127.0.0.1", 0), _Handler)
    standin = GraphStandIn(**settings)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    standin.scope = standin.scope or f"{standin.url}/.default"
    server.standin = standin
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="graph-standin", daemon=True
    )
    thread.start()
    try:
        yield standin
    finally:
        standin.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
