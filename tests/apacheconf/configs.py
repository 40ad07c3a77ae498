"""A rich configuration to generate from, and ``apache2 -t`` on what was generated."""

from __future__ import annotations

import copy
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from portcullis.config.schema import Config

APACHE = Path("/usr/sbin/apache2")
MODULES_DIR = Path("/usr/lib/apache2/modules")
MODULES = (
    "mpm_event",
    "authz_core",
    "authn_core",
    "authz_user",
    "headers",
    "proxy",
    "proxy_http",
    "authnz_fcgi",
    "auth_openidc",
)
HOST = "intranet.example.com"
TENANT = "00000000-0000-0000-0000-0000000000aa"
CLIENT = "11111111-1111-1111-1111-111111111111"
GROUP = "5b6f0b42-3a1e-4b8e-9d3c-2f1a7c9e4d10"
INLINE_SECRET = "inline-client-secret-never-printed"

BASE: dict[str, Any] = {
    "listen": {"port": 4180, "trusted_proxies": ["127.0.0.1/32"]},
    "routes": [
        {"host": HOST, "path": "/static", "upstream": "http://127.0.0.1:8080", "public": True},
        {
            "host": HOST,
            "path": "/admin",
            "upstream": "http://127.0.0.1:8080",
            "allow": {"roles": ["Portal.Admin"], "groups": [GROUP]},
        },
        {
            "host": HOST,
            "path": "/api",
            "upstream": "http://127.0.0.1:8081",
            "accept": ["bearer"],
            "api": "portal",
            "allow": {"roles": ["Api.User"], "app_roles": ["Api.Machine"]},
        },
        {"host": HOST, "upstream": "http://127.0.0.1:8080"},
    ],
    "auth": {
        "external_url": f"https://{HOST}",
        "providers": [
            {
                "type": "entra",
                "tenant": TENANT,
                "client_id": CLIENT,
                "client_secret": [{"value": INLINE_SECRET}],
            }
        ],
        "apis": [{"name": "portal", "provider": "default", "audiences": ["api://portal", CLIENT]}],
        "session": {"keys": [{"value": "s" * 40}]},
    },
}


def make_config(**changes: Any) -> Config:
    """The base configuration with top-level keys replaced."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return Config.model_validate(data)


def with_routes(*routes: dict[str, Any], **auth: Any) -> Config:
    data = copy.deepcopy(BASE)
    data["routes"] = list(routes)
    data["auth"].update(auth)
    return Config.model_validate(data)


def apache_syntax(text: str) -> subprocess.CompletedProcess[str]:
    """``apache2 -t`` on a minimal server that loads the modules and includes ``text``."""
    if not APACHE.exists() or not (MODULES_DIR / "mod_auth_openidc.so").exists():
        pytest.fail(
            "apache2 and libapache2-mod-auth-openidc are needed (scripts/system-deps.sh)",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="portcullis-apacheconf-") as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        (root / "generated.conf").write_text(text)
        loads = "\n".join(f"LoadModule {m}_module {MODULES_DIR}/mod_{m}.so" for m in MODULES)
        (root / "httpd.conf").write_text(
            f'ServerRoot "{root}"\nServerName 127.0.0.1\nListen 127.0.0.1:9\n'
            f'DefaultRuntimeDir "{root}"\nPidFile "{root}/httpd.pid"\n'
            f'ErrorLog "{root}/logs/error.log"\n{loads}\nInclude "{root}/generated.conf"\n'
        )
        env = dict(os.environ, PORTCULLIS_CLIENT_SECRET="x", PORTCULLIS_OIDC_PASSPHRASE="y")
        return subprocess.run(
            [str(APACHE), "-t", "-f", str(root / "httpd.conf")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=30,
        )
