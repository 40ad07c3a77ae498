"""``DevIdp``: the IdP on a ``ThreadingHTTPServer`` in a background thread, for tests and the CLI.

::

    with DevIdp() as idp:                 # 127.0.0.1, a free port
        discovery = f"{idp.issuer}/.well-known/openid-configuration"

Binding to anything but loopback raises :class:`BindRefused` unless the
configuration says ``force_bind`` (and then a warning is logged). The request
log names method, path and status only — never the query string or body,
which carry codes, secrets and tokens.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from portcullis.devidp.app import DevIdpApp
from portcullis.devidp.defaults import default_config
from portcullis.devidp.keys import SigningKeys
from portcullis.devidp.model import BindRefused, DevIdpConfig, is_loopback
from portcullis.devidp.wire import MAX_BODY, Request, Response, json_response

__all__ = ["DevIdp"]

log = logging.getLogger("portcullis.devidp")


class DevIdp:
    """A running (after :meth:`start`) development OpenID Provider."""

    def __init__(
        self, config: DevIdpConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config if config is not None else default_config()
        if not is_loopback(self.config.host) and not self.config.force_bind:
            raise BindRefused(
                f"refusing to bind the development IdP to {self.config.host!r}: it signs anyone "
                "in as a demo user. Use a loopback address, or --force-bind if you mean it."
            )
        self.keys = SigningKeys(self.config.signing_key_pem)
        self._clock = clock
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._app: DevIdpApp | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> DevIdp:
        """Bind and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("the dev IdP is already running")
        host = self.config.host.strip("[]")
        if not is_loopback(host):
            log.warning(
                "DEV IdP BOUND TO %s (--force-bind): anyone who can reach it can sign in as "
                "any demo user. Never expose it to a network you do not control.",
                host,
            )
        server = _Server(host, self.config.port)
        port = server.server_address[1]
        bound = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
        bound = f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound
        base = self.config.public_url or f"http://{bound}:{port}"
        self._app = server.app = DevIdpApp(
            self.config, base_url=base, keys=self.keys, clock=self._clock
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="devidp", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI); :meth:`start` must have been called."""
        if self._thread is None:
            raise RuntimeError("call start() first")
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> DevIdp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------

    @property
    def app(self) -> DevIdpApp:
        if self._app is None:
            raise RuntimeError("the dev IdP is not running; call start()")
        return self._app

    @property
    def url(self) -> str:
        """``http://host:port`` — the base of every endpoint."""
        return self.app.base_url

    @property
    def issuer(self) -> str:
        """``{url}/{tenant id}/v2.0``."""
        return self.app.issuer

    @property
    def issuer_v1(self) -> str:
        """``{url}/{tenant id}/`` — the v1.0 token issuer (Entra: ``https://sts.windows.net/{tid}/``)."""
        return self.app.issuer_v1

    @property
    def tenant_id(self) -> str:
        return self.config.tenant_id

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def discovery_url_v1(self) -> str:
        """``{url}/{tenant id}/.well-known/openid-configuration`` (issuer :attr:`issuer_v1`)."""
        return f"{self.issuer_v1}.well-known/openid-configuration"

    def endpoint(self, name: str) -> str:
        """``authorize``, ``token`` or ``logout`` for the demo tenant."""
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/{name}"

    def rotate_key(self) -> str:
        """Sign with a new key from now on (old keys stay in the JWKS); returns its kid."""
        return self.keys.rotate()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: DevIdpApp | None = None

    def __init__(self, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "portcullis-dev-idp"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        length = self.headers.get("Content-Length", "0")
        if (
            not length.isdigit()
            or int(length) > MAX_BODY
            or "chunked" in (self.headers.get("Transfer-Encoding", "").lower())
        ):
            self.close_connection = True
            self._send(json_response(413, {"error": "invalid_request"}))
            return
        body = self.rfile.read(int(length)) if length != "0" else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, headers, body)
        app = self.server.app
        try:
            response = app(request) if app is not None else json_response(503, {})
        except Exception:
            log.exception("dev IdP: internal error on %s %s", self.command, path)
            response = json_response(500, {"error": "server_error"})
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line carries query strings (state, login_hint, tokens in id_token_hint).
        log.info("%s %s -> %s", self.command, self.path.partition("?")[0], code)

    def log_message(self, format: str, *args: object) -> None:
        # http.server's own messages quote the raw request line: keep only their shape.
        log.debug("dev IdP: http.server: %s", format)
