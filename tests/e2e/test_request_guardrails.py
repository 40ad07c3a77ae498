"""Request guardrails end to end: one real Portcullis process, real tokens from the dev IdP
(an agent, an app, a person), and an upstream that records every request it received whole.

Three guarded routes, whose rules admit the machines (app role ``Reports.Read``) and people
(scope ``Reports.Read.All``); the guardrails apply to apps and agents (the default):

- ``/limited``: 3 requests back to back, then one every 0.2 s, per identity;
- ``/tools``: GET, POST, PUT only; no ``/tools/admin``; no ``drop table`` in the query or in
  a JSON body's ``command``; JSON bodies at most 2048 bytes, any body at most 4096;
- ``/upload``: bodies at most 1024 bytes.

Each refusal is checked for its status, its JSON error code and message, and that the
upstream never received the request; people pass where agents are refused.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import (
    AGENT_CLIENT_ID,
    AGENT_CLIENT_SECRET,
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    TENANT_ID,
)
from tests.e2e.policy_support import app_token, tenant, user_token
from tests.support.proxy import Proxy, free_port, run_proxy

SESSION_KEY = "guardrails-e2e-session-key-0123456789abcdef"
ADMIN = "Agents stay out of the admin API."
SQL_QUERY = "No SQL in queries, please."
DDL = "Destructive SQL is not allowed from agents."


# an upstream that records what it received whole ----------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        try:
            body = self._body()
        except (OSError, ValueError):
            self.close_connection = True
            return  # cut off mid-body: never a whole request
        server = self.server
        assert isinstance(server, Recorder)
        with server.lock:
            server.received[self.headers.get("X-Request-Id", "")] = body
        reply = json.dumps({"method": self.command, "path": self.path, "bytes": len(body)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                if self.rfile.read(2) != b"\r\n":
                    raise ValueError("bad chunk")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) != length:
            raise ValueError("short body")
        return body

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.lock = threading.Lock()
        self.received: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def got(self, request_id: str) -> bytes | None:
        """The body of the request with this id, if it reached the upstream whole."""
        with self.lock:
            return self.received.get(request_id)


# configuration and fixtures -------------------------------------------------------------------

RULES = [
    {"name": "machines", "allow": {"kinds": ["app", "agent"], "app_roles": ["Reports.Read"]}},
    {"name": "people", "allow": {"kinds": ["user"], "scopes": ["Reports.Read.All"]}},
]
GUARDRAILS: dict[str, dict[str, Any]] = {
    "/limited": {"rate_limit": {"requests": 3, "per": 0.6}},
    "/tools": {
        "methods": ["GET", "POST", "PUT"],
        "max_body_bytes": 4096,
        "json_max_bytes": 2048,
        "deny": [
            {"path": "^/tools/admin(/|$)", "message": ADMIN},
            {"query": r"(?i)drop\s+table", "message": SQL_QUERY},
            {
                "name": "no-ddl",
                "json": {"pointer": "/command", "matches": r"(?i)\bdrop\s+table\b"},
                "message": DDL,
            },
        ],
    },
    "/upload": {"max_body_bytes": 1024},
}


def _config(port: int, idp: DevIdp, upstream: str, tmp: Path) -> dict[str, Any]:
    return {
        "listen": {"port": port},
        "routes": [
            {
                "path": path,
                "upstream": upstream,
                "accept": ["bearer"],
                "api": "demo-api",
                "rules": RULES,
                "guardrails": guardrails,
            }
            for path, guardrails in GUARDRAILS.items()
        ],
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "name": "entra",
                    "type": "entra",
                    "tenant": TENANT_ID,
                    "authority_host": idp.url,
                    "client_id": CLIENT_ID,
                    "client_secret": [{"value": CLIENT_SECRET}],
                }
            ],
            "apis": [
                {"name": "demo-api", "provider": "entra", "audiences": [DEMO_API_ID, DEMO_API_URI]}
            ],
            "session": {"keys": [{"value": SESSION_KEY}], "store": "memory"},
        },
        "audit": {"sqlite": {"path": str(tmp / "audit.db")}, "flush_interval": 0.05},
    }


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def idp(port: int) -> Iterator[DevIdp]:
    with DevIdp(tenant(port)) as running:
        yield running


@pytest.fixture(scope="module")
def upstream() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def portcullis(
    port: int, idp: DevIdp, upstream: Recorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("guardrails")
    with run_proxy(_config(port, idp, upstream.url, tmp), tmp) as running:
        yield running


@pytest.fixture(scope="module")
def agent(idp: DevIdp) -> str:
    return app_token(idp, AGENT_CLIENT_ID, AGENT_CLIENT_SECRET)


@pytest.fixture(scope="module")
def bot(idp: DevIdp) -> str:
    return app_token(idp, BOT_CLIENT_ID, BOT_CLIENT_SECRET)


@pytest.fixture(scope="module")
def alice(idp: DevIdp) -> str:
    return user_token(idp, "alice")


# calling --------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def request_id(self) -> str:
        return self.headers.get("X-Request-Id", "?")

    def error(self) -> tuple[str, str]:
        payload = json.loads(self.body)
        assert payload["request_id"] == self.request_id
        return payload["error"], payload["message"]


def call(
    proxy: Proxy,
    token: str,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    content_type: str | None = "application/json",
    conn: http.client.HTTPConnection | None = None,
) -> Answer:
    client = conn or http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None and content_type is not None:
        headers["Content-Type"] = content_type
    client.request(method, path, body=body, headers=headers)
    response = client.getresponse()
    answer = Answer(response.status, response.headers, response.read())
    if conn is None:
        client.close()
    return answer


def raw(proxy: Proxy, *parts: bytes, pause: float = 0.0) -> bytes:
    """Send ``parts`` (pausing between them), then read until the proxy closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        for index, part in enumerate(parts):
            if index and pause:
                time.sleep(pause)
            sock.sendall(part)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def head_of(method: str, path: str, token: str, *fields: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    return ("\r\n".join([*lines, *fields]) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def request_id_of(response: bytes) -> str:
    for line in response.split(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"x-request-id":
            return value.strip().decode()
    raise AssertionError(response[:300])


# the rate limit -------------------------------------------------------------------------------


def test_an_agent_hits_the_rate_limit_then_recovers(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    assert call(portcullis, agent, "GET", "/tools/warm-up").status == 200  # token now cached
    conn = http.client.HTTPConnection("127.0.0.1", portcullis.port, timeout=10)
    passed = [call(portcullis, agent, "GET", "/limited/x", conn=conn) for _ in range(3)]
    assert [a.status for a in passed] == [200, 200, 200]
    limited = call(portcullis, agent, "GET", "/limited/x", conn=conn)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "1"
    code, message = limited.error()
    assert code == "rate-limited"
    assert message.startswith("Too many requests: at most 3 every 0.6 s.")
    assert upstream.got(limited.request_id) is None
    started = time.monotonic()
    while (again := call(portcullis, agent, "GET", "/limited/x", conn=conn)).status == 429:
        assert time.monotonic() - started < 2, "the bucket never refilled"
        time.sleep(0.05)
    assert again.status == 200
    assert time.monotonic() - started < 1  # one token every 0.2 s
    conn.close()


def test_identities_have_their_own_buckets_and_people_are_not_limited(
    portcullis: Proxy, agent: str, bot: str, alice: str
) -> None:
    for _ in range(4):
        call(portcullis, agent, "GET", "/limited/y")  # the agent's bucket runs dry
    assert call(portcullis, bot, "GET", "/limited/y").status == 200
    statuses = [call(portcullis, alice, "GET", "/limited/y").status for _ in range(12)]
    assert statuses == [200] * 12


# the head checks ------------------------------------------------------------------------------


def test_a_method_not_listed_is_405_with_allow(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    answer = call(portcullis, agent, "DELETE", "/tools/items/1")
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, POST, PUT"
    assert answer.error() == (
        "method-not-allowed",
        "This method is not allowed here; allowed: GET, POST, PUT.",
    )
    assert upstream.got(answer.request_id) is None


@pytest.mark.parametrize("path", ["/tools/admin", "/tools/admin/users", "/tools/%61dmin/x"])
def test_a_path_pattern_is_403_with_its_message(
    portcullis: Proxy, upstream: Recorder, agent: str, path: str
) -> None:
    answer = call(portcullis, agent, "GET", path)
    assert answer.status == 403
    assert answer.error() == ("guardrail", ADMIN)
    assert upstream.got(answer.request_id) is None


@pytest.mark.parametrize("query", ["?q=DROP%20TABLE%20users", "?q=drop+table+users"])
def test_a_query_pattern_is_403_with_its_message(
    portcullis: Proxy, upstream: Recorder, agent: str, query: str
) -> None:
    answer = call(portcullis, agent, "GET", "/tools/search" + query)
    assert answer.status == 403
    assert answer.error() == ("guardrail", SQL_QUERY)
    assert upstream.got(answer.request_id) is None


# JSON bodies ----------------------------------------------------------------------------------


def test_a_json_body_with_drop_table_is_refused_and_never_forwarded(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    answer = call(portcullis, agent, "POST", "/tools/sql", b'{"command": "DROP TABLE x"}')
    assert answer.status == 403
    assert answer.error() == ("guardrail", DDL)
    assert upstream.got(answer.request_id) is None


def test_a_harmless_json_body_reaches_the_upstream_byte_for_byte(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    body = b'{"command": "SELECT * FROM drop_tables", "note": "\\u00e9t\\u00e9"}'
    answer = call(portcullis, agent, "POST", "/tools/sql", body)
    assert answer.status == 200, answer.body
    assert upstream.got(answer.request_id) == body


def test_the_connection_stays_usable_after_a_json_refusal(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", portcullis.port, timeout=10)
    refused = call(portcullis, agent, "PUT", "/tools/q", b'{"command":"drop table a"}', conn=conn)
    passed = call(portcullis, agent, "PUT", "/tools/q", b'{"command": "vacuum"}', conn=conn)
    conn.close()
    assert (refused.status, passed.status) == (403, 200)
    assert upstream.got(passed.request_id) == b'{"command": "vacuum"}'


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"command": "DROP TABLE x"', "application/json", 400, "malformed-body"),
        (
            b'{"command": "ls", "command": "DROP TABLE x"}',
            "application/json",
            400,
            "malformed-body",
        ),
        (b"command=DROP TABLE x", "application/x-www-form-urlencoded", 415, "unsupported-body"),
        (b'{"command": "DROP TABLE x"}', None, 403, "guardrail"),  # no type: read as JSON
        (b'{"pad": "' + b"x" * 2100 + b'"}', "application/json", 413, "body-too-large"),
    ],
)
def test_bodies_the_guardrails_cannot_pass(
    portcullis: Proxy,
    upstream: Recorder,
    agent: str,
    body: bytes,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    answer = call(portcullis, agent, "POST", "/tools/sql", body, content_type=content_type)
    assert answer.status == status, answer.body
    assert answer.error()[0] == code
    assert upstream.got(answer.request_id) is None


def test_a_chunked_json_body_is_read_whole_then_checked(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    fields = ("Content-Type: application/json", "Transfer-Encoding: chunked", "Connection: close")
    start = head_of("POST", "/tools/sql", agent, *fields)
    bad = raw(
        portcullis,
        start + chunk(b'{"command": "DROP '),
        chunk(b'TABLE x"}') + b"0\r\n\r\n",
        pause=0.2,
    )
    assert bad.startswith(b"HTTP/1.1 403 "), bad[:200]
    assert DDL.encode() in bad
    assert upstream.got(request_id_of(bad)) is None
    good = raw(
        portcullis, start + chunk(b'{"command": '), chunk(b'"ls"}') + b"0\r\n\r\n", pause=0.2
    )
    assert good.startswith(b"HTTP/1.1 200 "), good[:200]
    assert upstream.got(request_id_of(good)) == b'{"command": "ls"}'


def test_expect_100_continue_is_answered_before_the_body_is_read(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    body = b'{"command": "DROP TABLE x"}'
    fields = (
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Expect: 100-continue",
        "Connection: close",
    )
    with socket.create_connection(("127.0.0.1", portcullis.port), timeout=10) as sock:
        sock.sendall(head_of("POST", "/tools/sql", agent, *fields))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        received = b""
        while piece := sock.recv(65536):
            received += piece
    assert received.startswith(b"HTTP/1.1 403 "), received[:200]
    assert upstream.got(request_id_of(received)) is None


# body size ------------------------------------------------------------------------------------


def test_an_oversize_chunked_upload_is_413_and_never_whole_upstream(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    fields = ("Content-Type: application/octet-stream", "Transfer-Encoding: chunked")
    start = head_of("POST", "/upload/blob", agent, *fields)
    # The first 512 bytes are forwarded while they stream; the next 1024 go over the limit.
    answer = raw(
        portcullis, start + chunk(b"a" * 512), chunk(b"b" * 1024) + b"0\r\n\r\n", pause=0.3
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"Connection: close" in answer
    assert b'"error":"body-too-large"' in answer
    assert b"The request body may be at most 1024 bytes here." in answer
    time.sleep(0.2)  # the upstream's handler sees the cut connection
    assert upstream.got(request_id_of(answer)) is None


def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    fields = ("Content-Type: application/octet-stream", "Content-Length: 2000")
    answer = raw(portcullis, head_of("POST", "/upload/blob", agent, *fields))  # no body sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert upstream.got(request_id_of(answer)) is None


def test_an_upload_within_the_limit_passes_chunked_or_not(
    portcullis: Proxy, upstream: Recorder, agent: str
) -> None:
    fields = ("Transfer-Encoding: chunked", "Connection: close")
    whole = raw(
        portcullis,
        head_of("POST", "/upload/blob", agent, *fields) + chunk(b"c" * 1024) + b"0\r\n\r\n",
    )
    assert whole.startswith(b"HTTP/1.1 200 "), whole[:200]
    assert upstream.got(request_id_of(whole)) == b"c" * 1024
    exact = call(portcullis, agent, "POST", "/upload/blob", b"d" * 1024, content_type="text/csv")
    assert exact.status == 200
    assert upstream.got(exact.request_id) == b"d" * 1024


# people on the same routes --------------------------------------------------------------------


def test_a_person_is_not_held_to_the_machines_guardrails(
    portcullis: Proxy, upstream: Recorder, alice: str
) -> None:
    deleted = call(portcullis, alice, "DELETE", "/tools/items/1")
    admin = call(portcullis, alice, "GET", "/tools/admin/users?q=drop+table+x")
    ddl = call(portcullis, alice, "POST", "/tools/sql", b'{"command": "DROP TABLE x"}')
    large = call(portcullis, alice, "POST", "/upload/blob", b"e" * 5000, content_type="text/csv")
    assert [a.status for a in (deleted, admin, ddl, large)] == [200] * 4
    assert upstream.got(ddl.request_id) == b'{"command": "DROP TABLE x"}'
    assert upstream.got(large.request_id) == b"e" * 5000


# audit records ----------------------------------------------------------------------------------


_AUDIT_QUERY = (sys.executable, "-m", "portcullis", "audit", "query", "--json", "--limit", "10000")


def _denials(proxy: Proxy, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The audit store's deny records of the ``wanted`` request ids (waits for the flush)."""
    deadline = time.monotonic() + 5
    while True:
        done = subprocess.run(
            [*_AUDIT_QUERY, "-c", str(proxy.config_path), "--event", "deny"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        found = {r["request_id"]: r for r in records if r.get("request_id") in wanted}
        if len(found) == len(wanted) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_guardrail_refusals_are_audited_with_their_reason_and_rule(
    portcullis: Proxy, agent: str
) -> None:
    head_refusal = call(portcullis, agent, "DELETE", "/tools/items/2")
    body_refusal = call(portcullis, agent, "POST", "/tools/sql", b'{"command": "drop table y"}')
    records = _denials(portcullis, {head_refusal.request_id, body_refusal.request_id})
    seen = {
        rid: (r["reason"], r["rule"], r["status"], r["kind"], r["path"])
        for rid, r in records.items()
    }
    assert seen == {
        head_refusal.request_id: (
            "method-not-allowed",
            "guardrails.methods",
            405,
            "agent",
            "/tools/items/2",
        ),
        body_refusal.request_id: ("guardrail", "no-ddl", 403, "agent", "/tools/sql"),
    }
    assert "drop table y" not in json.dumps(records)  # the body is never recorded
