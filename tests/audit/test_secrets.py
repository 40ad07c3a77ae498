"""No token, cookie or secret reaches any sink, even when the caller puts one in free text.

A real signed JWT is verified and turned into the record's identity (as the
request path does); the same token, a session cookie and a client secret are
also pushed into every free-text field. Then every byte every sink wrote (SQLite
file with WAL, JSONL files, stdout, syslog datagrams over UDP and a unix
socket) is searched for them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from portcullis.audit import AuditIdentity, AuditLog, AuditRecord, AuditRoute, Chain, Event
from portcullis.audit.build import build_sinks
from portcullis.audit.jsonl import JsonlSink
from portcullis.audit.syslog import SyslogSink
from portcullis.config import validate
from portcullis.identity import Kind, identity_from_claims
from portcullis.jose import KeySet, parse, sign_jws, verify
from tests.audit.support import START, TID, indexed

OID = "0c3b2f9e-5f7d-4f57-9a55-6a1f0e1d2c3b"
UTI = "xq9y2lJd3EiV3wQdXKAZAA"


def real_token() -> tuple[str, dict[str, object]]:
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {
        "iss": f"https://login.microsoftonline.com/{TID}/v2.0",
        "sub": "subject-1",
        "aud": "api://demo",
        "tid": TID,
        "oid": OID,
        "name": "Alice Example",
        "azp": "client-app",
        "uti": UTI,
        "iat": int(START) - 600,
        "exp": int(START) + 3000,
    }
    token = sign_jws(claims, key, alg="ES256", kid="k1")
    keys = KeySet.from_public_keys({"k1": key.public_key()})
    return token, verify(parse(token), keys, algorithms=frozenset({"ES256"}))


def drain(sock: socket.socket, into: list[bytes]) -> None:
    """Read datagrams as a syslog daemon would, until the sender has been quiet for a second."""
    sock.settimeout(1.0)
    try:
        while True:
            into.append(sock.recv(65536))
    except TimeoutError:
        sock.close()


def test_no_sink_ever_writes_a_token_cookie_or_secret(tmp_path: Path) -> None:
    token, claims = real_token()
    cookie = secrets.token_urlsafe(32)
    client_secret = secrets.token_urlsafe(24)
    identity = identity_from_claims(claims, kind=Kind.USER, client_id=str(claims["azp"]))
    who = AuditIdentity.of(identity)
    iat, exp = int(claims["iat"]), int(claims["exp"])  # type: ignore[call-overload]

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix_path = str(tmp_path / "log.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(unix_path)
    stdout = tmp_path / "stdout"  # what a redirected stdout would receive
    stdout_fd = os.open(stdout, os.O_WRONLY | os.O_CREAT, 0o600)
    store = tmp_path / "store"
    store.mkdir()
    settings = validate(
        {
            "routes": [{"upstream": "http://127.0.0.1:1"}],
            "audit": {
                "sqlite": {"path": str(store / "audit.db")},
                "jsonl": {"path": str(store / "audit.jsonl"), "max_bytes": 8192},
                "syslog": {"address": f"udp://127.0.0.1:{udp.getsockname()[1]}"},
            },
        }
    ).audit
    leaks = [
        f"/api/reports?access_token={token}",
        f"/cb;jsessionid={cookie}",
        f"/files/{token}",
    ]
    details = [
        f"Authorization: Bearer {token}",
        f"Cookie: portcullis={cookie}; theme=dark",
        f"client_secret={client_secret}&grant_type=client_credentials",
        f"invalid signature on {token}",
        f"bearer {token}",
        f"set-cookie: __Host-portcullis={cookie}; Path=/; Secure",
        f"session={cookie}",
    ]

    async def scenario() -> AuditLog:
        sinks = [*build_sinks(settings), JsonlSink("-", stdout_fd=stdout_fd), SyslogSink(unix_path)]
        log = AuditLog(sinks, Chain("web1/1/0"), loop=asyncio.get_running_loop(), max_batch=3)
        route = AuditRoute(0, "*", "/")
        for n, event in enumerate(Event):
            for path in leaks:
                for detail in details:
                    log.record(
                        AuditRecord(
                            time=START + n,
                            event=event,
                            request_id=f"r{n}",
                            identity=who,
                            route=route,
                            method="GET",
                            path=path,
                            reason="invalid-token",
                            reasons=(detail, f"token={token}"),
                            token_id=str(claims["uti"]),
                            token_age=START - iat,
                            token_remaining=exp - START,
                            detail=detail,
                        )
                    )
        await log.close()
        return log

    received: list[bytes] = []
    readers = [threading.Thread(target=drain, args=(sock, received)) for sock in (udp, unix)]
    for reader in readers:
        reader.start()
    log = asyncio.run(scenario())
    os.close(stdout_fd)
    for reader in readers:
        reader.join()
    syslog_count = len(received)
    written = list(received)
    written.append(stdout.read_bytes())
    spooled = sorted(path for path in store.rglob("*") if path.is_file())
    written += [path.read_bytes() for path in spooled]  # the spool, before indexing
    indexed(store / "audit.db")
    files = sorted(path for path in store.rglob("*") if path.is_file())
    written += [path.read_bytes() for path in files]  # the database (and WAL), after
    everything = b"\n".join(written)

    expected = len(Event) * len(leaks) * len(details)
    assert log.written == expected and log.errors == 0 and log.dropped == 0
    assert syslog_count == 2 * expected
    assert {p.name for p in files} >= {"audit.db", "audit.jsonl", "audit.jsonl.1"}
    assert any(p.suffix == ".seg" for p in spooled)
    assert UTI.encode() in everything and OID.encode() in everything  # the search is not blind
    assert b"[redacted]" in everything
    for secret in (token, *token.split("."), cookie, client_secret):
        assert secret.encode() not in everything, secret[:12]
