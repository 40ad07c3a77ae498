"""``make demo``: the dev IdP, the sample app and Portcullis in front of it, in the foreground.

Writes ``.demo/portcullis.yaml`` (sign-in with the Entra-shaped dev IdP; ``/admin``
needs the ``Portal.Admin`` app role, everything else any signed-in user), starts
the dev IdP on 127.0.0.1:9400, the app on 127.0.0.1:8081 and Portcullis on
127.0.0.1:4180, and waits. Ctrl-C (or SIGTERM) stops all three; so does any of
them dying. State (config, session key, sessions) lives in ``.demo/``.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from portcullis.devidp.defaults import (
    BOT_CLIENT_ID,
    BOT_CLIENT_SECRET,
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_API_ID,
    DEMO_API_URI,
    GROUP_ADMINS,
    GROUP_ENGINEERING,
    GROUP_STAFF,
    TENANT_ID,
)

__all__ = ["demo_config", "main"]


def demo_config(app_port: int, proxy_port: int, idp_port: int, state: Path) -> dict[str, object]:
    app = f"http://127.0.0.1:{app_port}"
    return {
        "listen": {"address": "127.0.0.1", "port": proxy_port},
        "log": {"access": True},
        "routes": [
            {
                "path": "/admin",
                "upstream": app,
                "rules": [{"name": "portal-admins", "allow": {"roles": ["Portal.Admin"]}}],
            },
            {
                "path": "/api/",
                "upstream": app,
                "accept": ["session", "bearer"],
                "api": "demo-api",
                "rules": [
                    # machines: the app role granted to them
                    {"name": "reporting-apps", "allow": {"app_roles": ["Reports.Read"]}},
                    # people: signed in, or with a token carrying the delegated scope
                    {
                        "name": "report-readers",
                        "allow": {
                            "kinds": ["user", "obo"],
                            "any": [{"via": "session"}, {"scopes": ["Reports.Read.All"]}],
                        },
                    },
                ],
            },
            {
                "path": "/",
                "upstream": app,
                "rules": [{"name": "staff", "allow": {"kinds": ["user", "obo"]}}],
            },
        ],
        "policy": {
            # Rules and the upstream's X-Portcullis-Group-Names use names, not GUIDs.
            "groups": {
                "staff": GROUP_STAFF,
                "admins": GROUP_ADMINS,
                "engineering": GROUP_ENGINEERING,
            },
            "names": {"Portal.Admin": "portal-admins"},
        },
        "auth": {
            "external_url": f"http://127.0.0.1:{proxy_port}",
            "providers": [
                {
                    "name": "entra",
                    "type": "entra",
                    "tenant": TENANT_ID,
                    "authority_host": f"http://127.0.0.1:{idp_port}",
                    "client_id": CLIENT_ID,
                    "client_secret": [{"value": CLIENT_SECRET}],
                }
            ],
            "apis": [
                {
                    "name": "demo-api",
                    "provider": "entra",
                    "audiences": [DEMO_API_ID, DEMO_API_URI],
                }
            ],
            "session": {
                "keys": [{"file": str((state / "session-key").resolve())}],
                "sqlite_path": str((state / "sessions.db").resolve()),
            },
        },
        # `portcullis audit query -c .demo/portcullis.yaml` reads who did what from here.
        "audit": {"sqlite": {"path": str((state / "audit.db").resolve())}},
        # Five refusals within a minute raise a violation (an audit record and a log line).
        "guardrails": {
            "rules": [
                {
                    "name": "probing",
                    "kind": "denials",
                    "count": 5,
                    "window_minutes": 1,
                    "severity": "high",
                }
            ]
        },
    }


def bot_curl(idp_port: int, proxy_port: int) -> str:
    """One shell line: the demo bot gets a client-credentials token and calls /api/reports."""
    token_url = f"http://127.0.0.1:{idp_port}/{TENANT_ID}/oauth2/v2.0/token"
    get_token = (
        f"curl -s -d client_id={BOT_CLIENT_ID} -d client_secret={BOT_CLIENT_SECRET} "
        f"-d grant_type=client_credentials -d scope={DEMO_API_URI}/.default {token_url}"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    )
    return (
        f'curl -s -H "Authorization: Bearer $({get_token})" '
        f"http://127.0.0.1:{proxy_port}/api/reports"
    )


def _session_key(state: Path) -> None:
    """A random cookie key for this demo, made once and kept (sessions survive restarts)."""
    path = state / "session-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _port_in_use(port):
            return True
        time.sleep(0.1)
    return False


def _start(name: str, argv: list[str], port: int) -> subprocess.Popen[bytes]:
    # A new session: Ctrl-C reaches only us, and we stop the children in order.
    process = subprocess.Popen(argv, start_new_session=True)
    if not _wait_for(port, process):
        _stop(process)
        raise RuntimeError(f"{name} did not start on 127.0.0.1:{port} (see its output above)")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portcullis.demo")
    parser.add_argument("--state-dir", type=Path, default=Path(".demo"))
    parser.add_argument("--app-port", type=int, default=8081)
    parser.add_argument("--port", type=int, default=4180, help="where Portcullis listens")
    parser.add_argument("--idp-port", type=int, default=9400, help="where the dev IdP listens")
    args = parser.parse_args(argv)
    if args.port != 4180:
        print("the dev IdP's demo client is registered for port 4180 only", file=sys.stderr)
        return 1
    ports = (("--app-port", args.app_port), ("--port", args.port), ("--idp-port", args.idp_port))
    for flag, port in ports:
        if _port_in_use(port):
            print(f"port {port} is in use; pick another with {flag}", file=sys.stderr)
            return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    config_path = args.state_dir / "portcullis.yaml"
    _session_key(args.state_dir)
    config = demo_config(args.app_port, args.port, args.idp_port, args.state_dir)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    python = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    try:
        idp = [python, "-m", "portcullis", "dev-idp", "--port", str(args.idp_port)]
        processes.append(_start("the dev IdP", idp, args.idp_port))
        app = [python, "-m", "portcullis.demo.app", "--port", str(args.app_port)]
        processes.append(_start("the demo app", app, args.app_port))
        proxy = [python, "-m", "portcullis", "serve", "-c", str(config_path)]
        processes.append(_start("Portcullis", proxy, args.port))
        url = f"http://127.0.0.1:{args.port}/"
        print(f"\nPortcullis is up: {url}  (config: {config_path})")
        print("  Open it in a browser and sign in at the dev IdP as one of:")
        print("    alice  app role Portal.Admin: may open /admin")
        print("    bob    no admin role: /admin answers 403 naming Portal.Admin")
        print("    carol  250 groups: the token carries the groups overage form")
        print(f"  Who am I: {url}.portcullis/userinfo   Sign out: {url}.portcullis/logout")
        print("  The reporting bot (app role Reports.Read) calls the API with its own token:")
        print("    " + bot_curl(args.idp_port, args.port))
        print("Ctrl-C stops all three.\n", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a demo process exited; stopping", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        for process in reversed(processes):
            _stop(process)
