"""A tiny sample upstream that shows what it received: path, headers, and who you are.

``python -m portcullis.demo.app --port 8081`` answers every GET with JSON
(``{"path": ..., "headers": {...}, "identity": {...}}``), or with an HTML page
showing the same when the client's ``Accept`` prefers ``text/html``.
``identity`` holds the ``X-Portcullis-*`` headers the proxy adds for a
signed-in user. Standard library only.
"""

from __future__ import annotations

import argparse
import html
import json
import signal
import sys
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["DemoServer", "describe", "main", "make_server", "prefers_html", "render_html"]

IDENTITY_PREFIX = "x-portcullis-"


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type`` (most specific range wins)."""
    kind = media_type.partition("/")[0]
    best, best_specificity = 0.0, -1
    for item in accept.split(","):
        range_, *params = (part.strip() for part in item.split(";"))
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(range_.lower(), -1)
        if specificity <= best_specificity:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best, best_specificity = q, specificity
    return best


def prefers_html(accept: str | None) -> bool:
    """True when ``accept`` ranks text/html strictly above application/json."""
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def describe(path: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """What the app shows: the request path, all headers, and the identity headers."""
    lowered = {name.lower(): value for name, value in headers.items()}
    identity = {
        name[len(IDENTITY_PREFIX) :]: value
        for name, value in lowered.items()
        if name.startswith(IDENTITY_PREFIX)
    }
    return {"path": path, "headers": lowered, "identity": identity}


def _table(rows: Mapping[str, str]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def render_html(info: Mapping[str, Any]) -> str:
    """The same information as :func:`describe`, as an escaped HTML page."""
    identity = info["identity"]
    who = (
        _table(identity)
        if identity
        else "<p>Anonymous: no <code>X-Portcullis-*</code> headers.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Portcullis demo</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "th{text-align:left;padding-right:1em;vertical-align:top;white-space:nowrap}"
        "td{word-break:break-all}"
        "</style></head><body>"
        f"<h1>Portcullis demo app</h1><p>Path: <code>{html.escape(info['path'])}</code></p>"
        f"<h2>Who you are</h2>{who}"
        f"<h2>Request headers</h2>{_table(info['headers'])}"
        "</body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    server_version = "portcullis-demo"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        info = describe(self.path, dict(self.headers.items()))
        if prefers_html(self.headers.get("Accept")):
            body, content_type = render_html(info).encode(), "text/html; charset=utf-8"
        else:
            body, content_type = json.dumps(info, indent=2).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if not (isinstance(self.server, DemoServer) and self.server.quiet):
            super().log_message(format, *args)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], quiet: bool = False) -> None:
        self.quiet = quiet
        super().__init__(address, _Handler)


def make_server(host: str = "127.0.0.1", port: int = 8081, quiet: bool = False) -> DemoServer:
    """A server answering on ``host:port`` (port 0 picks a free one); not yet serving."""
    return DemoServer((host, port), quiet)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portcullis.demo.app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.quiet)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"demo app on http://{args.host}:{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
