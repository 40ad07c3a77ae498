"""Rotating keys and secrets on a running Portcullis without downtime (docs/operations.md).

A real Portcullis process, the dev IdP (Entra-shaped) and the demo app. Each rotation step is
a file change and a SIGHUP; ``auth`` changes, so every step rebuilds sign-in, and the signed-in
browsers' sessions (SQLite store) survive each one.

(a) session cookie keys: first seals, all open; a cookie is never re-sealed, so the old key
    may go only once every session it sealed is over (``absolute_timeout``).
(b) assertion keys: publish the new key second, then sign with it first, then drop the old
    one once the assertions it signed have expired (``lifetime``).
(c) client secrets: the first is tried first, a refused one (``invalid_client``) falls back
    to the next, so Portcullis works whichever secret the IdP accepts at the moment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portcullis.devidp import DevIdp
from portcullis.devidp.defaults import default_config
from portcullis.devidp.model import DevIdpConfig
from portcullis.jose import KeySet, TokenError, jwk_thumbprint, parse, public_jwk, verify
from portcullis.secret import Secret
from portcullis.session.cookie import CookieCodec
from tests.auth.browser import Browser
from tests.support.proxy import Proxy, free_port, run_proxy, wait_for_port

RELOADED = "configuration reloaded ("
K1 = "session-key-2025-01-" + "a" * 32
K2 = "session-key-2025-06-" + "b" * 32
S1 = "client-secret-old-0123456789"
S2 = "client-secret-new-9876543210"


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "portcullis.demo.app", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def idp_config(proxy_port: int, *, port: int = 0, secret: str | None = None) -> DevIdpConfig:
    """The demo IdP, its sign-in client allowed to return to ``proxy_port``."""
    config = default_config(port=port)
    client = config.clients[0]
    base = f"http://127.0.0.1:{proxy_port}"
    client = dataclasses.replace(
        client,
        redirect_uris=(*client.redirect_uris, f"{base}/.portcullis/callback"),
        post_logout_redirect_uris=(*client.post_logout_redirect_uris, f"{base}/"),
        secret=Secret(secret) if secret is not None else client.secret,
    )
    return dataclasses.replace(config, clients=(client, *config.clients[1:]))


def proxy_config(
    idp_url: str, tenant: str, app: str, port: int, tmp: Path, *, secrets: list[str]
) -> dict[str, Any]:
    return {
        "listen": {"address": "127.0.0.1", "port": port},
        "routes": [{"path": "/", "upstream": app}],
        "auth": {
            "external_url": f"http://127.0.0.1:{port}",
            "providers": [
                {
                    "type": "entra",
                    "tenant": tenant,
                    "authority_host": idp_url,
                    "client_id": default_config().clients[0].client_id,
                    "client_secret": [{"value": s} for s in secrets],
                }
            ],
            "session": {"keys": [{"value": K1}], "sqlite_path": str(tmp / "sessions.db")},
        },
        "audit": {"sqlite": {"path": str(tmp / "audit.db")}},
    }


def with_auth(config: dict[str, Any], *path: str | int, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``auth.<path>`` set to ``value``."""
    copy = json.loads(json.dumps(config))
    node = copy["auth"]
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
    return copy


def reload(proxy: Proxy, config: dict[str, Any]) -> None:
    """Write the file atomically (as the docs advise), SIGHUP, wait for the reload."""
    done = proxy.log().count(RELOADED)
    temporary = proxy.config_path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(config))
    temporary.replace(proxy.config_path)
    proxy.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while proxy.log().count(RELOADED) <= done:
        assert "reload refused" not in proxy.log(), proxy.log()
        assert time.monotonic() < deadline, proxy.log()
        time.sleep(0.02)
    [*_, last] = (line for line in proxy.log().splitlines() if RELOADED in line)
    assert last.endswith("; sign-in rebuilt"), last  # auth changed: sign-in is built anew


def seen_by_app(browser: Browser, proxy: Proxy) -> dict[str, str]:
    response = browser.get(proxy.url + "/hello", headers={"Accept": "application/json"})
    assert response.status == 200, (response.status, response.location)
    headers: dict[str, str] = json.loads(response.body)["headers"]
    return headers


def opens_with(cookie: str, key: str) -> bool:
    return CookieCodec.from_secrets([Secret(key)]).open(cookie, purpose=b"session") is not None


# (a) ------------------------------------------------------------------------------------------


def test_session_cookie_keys(app: str, tmp_path: Path) -> None:
    port = free_port()
    with DevIdp(idp_config(port)) as idp:
        client_secret = idp.config.clients[0].secret
        assert client_secret is not None
        config = proxy_config(
            idp.url, idp.tenant_id, app, port, tmp_path, secrets=[client_secret.reveal()]
        )
        with run_proxy(config, tmp_path) as proxy:
            early = Browser()
            assert early.login(proxy.url, "alice").status == 302
            old_cookie = early.cookie("portcullis")
            assert old_cookie is not None and opens_with(old_cookie, K1)

            # 1. The new key goes first; the old one stays to open existing cookies.
            reload(
                proxy, with_auth(config, "session", "keys", value=[{"value": K2}, {"value": K1}])
            )
            assert seen_by_app(early, proxy)["x-portcullis-user"].endswith(
                "4f1a9c2e-6b3d-4e8a-9c71-0d2e5f8a1b01"
            )  # the sign-in was rebuilt, the session (SQLite) and its old cookie still work
            assert early.cookie("portcullis") == old_cookie  # never re-sealed
            late = Browser()
            assert late.login(proxy.url, "bob").status == 302
            new_cookie = late.cookie("portcullis")
            assert new_cookie is not None
            assert opens_with(new_cookie, K2) and not opens_with(new_cookie, K1)

            # 2. The old key goes: cookies it sealed no longer open, new ones do.
            reload(proxy, with_auth(config, "session", "keys", value=[{"value": K2}]))
            seen_by_app(late, proxy)
            lost = early.get(proxy.url + "/hello")
            assert lost.status == 302
            assert lost.location.startswith("/.portcullis/login")
        assert "Traceback" not in proxy.log()


# (b) ------------------------------------------------------------------------------------------


def _signing_key(path: Path) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return jwk_thumbprint(public_jwk(key, kid=None, alg="ES256"))


def _jwks(proxy: Proxy) -> dict[str, Any]:
    with urllib.request.urlopen(proxy.url + "/.portcullis/jwks.json", timeout=10) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def _verifies(token: str, jwks: dict[str, Any]) -> bool:
    try:
        verify(parse(token), KeySet.from_jwks(jwks), algorithms=frozenset({"ES256"}))
    except TokenError:
        return False
    return True


def test_assertion_signing_keys(app: str, tmp_path: Path) -> None:
    old_kid = _signing_key(tmp_path / "assertion-old.pem")
    new_kid = _signing_key(tmp_path / "assertion-new.pem")
    old = {"file": str(tmp_path / "assertion-old.pem")}
    new = {"file": str(tmp_path / "assertion-new.pem")}
    port = free_port()
    with DevIdp(idp_config(port)) as idp:
        client_secret = idp.config.clients[0].secret
        assert client_secret is not None
        config = proxy_config(
            idp.url, idp.tenant_id, app, port, tmp_path, secrets=[client_secret.reveal()]
        )
        config = with_auth(config, "assertion", "keys", value=[old])
        with run_proxy(config, tmp_path) as proxy:
            browser = Browser()
            assert browser.login(proxy.url, "alice").status == 302
            in_flight = seen_by_app(browser, proxy)["x-portcullis-assertion"]
            assert parse(in_flight).header["kid"] == old_kid
            assert [k["kid"] for k in _jwks(proxy)["keys"]] == [old_kid]

            # 1. Publish the new key (second): upstreams that cache the JWKS learn it.
            reload(proxy, with_auth(config, "assertion", "keys", value=[old, new]))
            assert [k["kid"] for k in _jwks(proxy)["keys"]] == [old_kid, new_kid]
            assertion = seen_by_app(browser, proxy)["x-portcullis-assertion"]
            assert parse(assertion).header["kid"] == old_kid  # the old key still signs

            # 2. Sign with the new key; the old one stays published.
            reload(proxy, with_auth(config, "assertion", "keys", value=[new, old]))
            jwks = _jwks(proxy)
            assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]
            assertion = seen_by_app(browser, proxy)["x-portcullis-assertion"]
            assert parse(assertion).header["kid"] == new_kid
            assert _verifies(assertion, jwks)
            assert _verifies(in_flight, jwks)  # signed before the swap: still verifiable

            # 3. After `lifetime`, drop the old key: only what it signed stops verifying.
            reload(proxy, with_auth(config, "assertion", "keys", value=[new]))
            jwks = _jwks(proxy)
            assert [k["kid"] for k in jwks["keys"]] == [new_kid]
            assert _verifies(seen_by_app(browser, proxy)["x-portcullis-assertion"], jwks)
            assert not _verifies(in_flight, jwks)
        assert "Traceback" not in proxy.log()


# (c) ------------------------------------------------------------------------------------------


def _rsa_pem() -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Front:
    """A TCP front door for the IdP (a load balancer): one address, a switchable backend.

    Switching cuts the open connections, as a real IdP that changes what it accepts has no
    old process still answering kept-alive connections.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.backend = 0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def switch(self, backend: int) -> None:
        with self.lock:
            self.backend = backend
            cut, self.open = self.open, set()
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self.switch(0)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.backend), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


REFUSED = "client credential 0 refused by default"


def test_client_secrets(app: str, tmp_path: Path) -> None:
    """The IdP's accepted secret changes under a running Portcullis; nobody notices.

    The dev IdP holds one secret per client, so "the IdP accepts both during the overlap" is
    played in its two halves, behind one address (:class:`Front`): first the IdP still
    accepts only the old secret while Portcullis already lists the new one first; then an
    IdP with the same issuer and signing key accepts only the new one.
    """
    port = free_port()
    front = Front()
    signing = Secret(_rsa_pem())

    old_port, new_port = free_port(), free_port()

    def idp(secret: str, listen: int) -> DevIdp:
        config = idp_config(port, port=listen, secret=secret)
        public = f"http://127.0.0.1:{front.port}"
        return DevIdp(dataclasses.replace(config, signing_key_pem=signing, public_url=public))

    with idp(S1, old_port) as old_idp, idp(S2, new_port):
        front.switch(old_port)
        config = proxy_config(old_idp.url, old_idp.tenant_id, app, port, tmp_path, secrets=[S1])
        try:
            with run_proxy(config, tmp_path) as proxy:
                early = Browser()
                assert early.login(proxy.url, "alice").status == 302

                # 1. The new secret, created at the IdP, goes first in Portcullis.
                rotating = [{"value": S2}, {"value": S1}]
                reload(proxy, with_auth(config, "providers", 0, "client_secret", value=rotating))
                assert proxy.log().count(REFUSED) == 0
                assert Browser().login(proxy.url, "bob").status == 302
                assert proxy.log().count(REFUSED) == 1  # not valid there yet: the old one served

                # 2. The IdP now accepts only the new secret (the old one expired or was deleted).
                front.switch(new_port)
                assert Browser().login(proxy.url, "carol").status == 302
                assert proxy.log().count(REFUSED) == 1  # the first secret was taken at once

                # 3. The old secret leaves Portcullis too.
                rotated = [{"value": S2}]
                reload(proxy, with_auth(config, "providers", 0, "client_secret", value=rotated))
                assert Browser().login(proxy.url, "alice").status == 302
                # The first browser's session survived two sign-in rebuilds.
                assert seen_by_app(early, proxy)["x-portcullis-kind"] == "user"
            log = proxy.log()
        finally:
            front.close()
    assert "Traceback" not in log
    assert S1 not in log and S2 not in log
