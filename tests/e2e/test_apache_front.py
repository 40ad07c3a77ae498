"""``apache-config --mode front`` in a real Apache behind a real Portcullis.

Browser → Portcullis (real sign-in at the npm oidc-provider) → Apache, whose config
includes the generated file verbatim plus a ``CustomLog`` with the generated
``portcullis`` format. Direct requests to Apache come from 127.0.0.2, an address that
is not Portcullis' (``--from 127.0.0.1``).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portcullis.apacheconf import generate
from portcullis.config.schema import Config
from tests.support.apache import Apache, run_apache
from tests.support.oidc_provider import BASIC, OidcProvider, run_oidc_provider, setup_problem
from tests.support.proxy import Proxy, run_proxy
from tests.support.signin import Browser, callback_url, free_ports, sign_in, sign_in_config

pytestmark = pytest.mark.apache

ECHO = "/admin/echo.cgi"
OUTSIDER = "127.0.0.2"  # not Portcullis: Apache must not believe its identity headers
SPOOF = {
    "X-Portcullis-User": "mallory-admin",
    "X_Portcullis_User": "mallory-admin",
    "X-Portcullis-Kind": "user",
    "X-Portcullis-Roles": "Portal.Admin",
    "X-Request-Id": "forged-id",
}


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    """(Portcullis, Apache)."""
    portcullis_port, apache_port = free_ports(2)
    return portcullis_port, apache_port


@pytest.fixture(scope="module")
def provider(ports: tuple[int, int]) -> Iterator[OidcProvider]:
    problem = setup_problem()
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with run_oidc_provider(redirect_uris=[callback_url(ports[0])]) as running:
        yield running


@pytest.fixture(scope="module")
def config(ports: tuple[int, int], provider: OidcProvider, tmp_path_factory: Any) -> dict[str, Any]:
    portcullis_port, apache_port = ports
    return sign_in_config(
        port=portcullis_port,
        op=provider,
        client_id=BASIC,
        upstream=f"http://127.0.0.1:{apache_port}",
        state_dir=tmp_path_factory.mktemp("front"),
    )


@pytest.fixture(scope="module")
def generated(config: dict[str, Any]) -> str:
    return generate(Config.model_validate(config), "front", portcullis_from=["127.0.0.1"])


@pytest.fixture(scope="module")
def apache(ports: tuple[int, int], generated: str) -> Iterator[Apache]:
    def extra(root: Path) -> str:
        aliases = "".join(f'ScriptAlias {p} "{root}/cgi-bin/"\n' for p in ("/admin/", "/public/"))
        return f'{aliases}{generated}\nCustomLog "{root}/logs/identity.log" portcullis\n'

    with run_apache(large_size=1 << 16, port=ports[1], extra_config=extra) as server:
        yield server


@pytest.fixture(scope="module")
def portcullis(
    config: dict[str, Any], apache: Apache, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    with run_proxy(config, tmp_path_factory.mktemp("front-proxy"), args=("--workers", "1")) as p:
        yield p


def logged(apache: Apache, marker: str, timeout: float = 5.0) -> str:
    """The one identity-log line containing ``marker`` (Apache logs after responding)."""
    path = apache.root / "logs" / "identity.log"
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [line for line in lines if marker in line]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, lines
            return found[0]
        time.sleep(0.02)


def direct(
    apache: Apache, path: str, headers: dict[str, str], source: str = OUTSIDER
) -> tuple[int, Any]:
    """A request straight to Apache from ``source``; (status, parsed JSON body or None)."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", apache.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(body) if is_json else None


def test_access_log_carries_the_identity_and_request_id(
    portcullis: Proxy, apache: Apache, provider: OidcProvider
) -> None:
    browser = Browser()
    done = sign_in(browser, portcullis.url, user="alice", rd=ECHO)
    assert (done.status, done.location) == (302, ECHO)
    response = browser.get(f"{portcullis.url}{ECHO}?from=browser")
    assert response.status == 200, response.body[:300]
    request_id = response.headers["X-Request-Id"]
    user = response.json()["headers"]["x-portcullis-user"]
    line = logged(apache, "from=browser")
    assert line.startswith("127.0.0.1 - " + user + " [")
    assert "kind=user" in line
    assert 'roles="Portal.Admin"' in line
    assert line.endswith(f"request_id={request_id}")


def test_spoofed_headers_from_elsewhere_are_removed(portcullis: Proxy, apache: Apache) -> None:
    status, echo = direct(apache, "/public/echo.cgi?from=outsider", SPOOF)
    assert status == 200
    assert not any(name.startswith("x-portcullis") for name in echo["headers"])
    assert "x-request-id" not in echo["headers"]
    line = logged(apache, "from=outsider")
    assert line.startswith(f"{OUTSIDER} - - [")
    assert "mallory" not in line and "forged-id" not in line


def test_apache_refuses_protected_routes_to_anyone_but_portcullis(
    portcullis: Proxy, apache: Apache
) -> None:
    assert direct(apache, ECHO, SPOOF)[0] == 403
    assert direct(apache, "/cgi-bin/echo.cgi", SPOOF)[0] == 403


def test_apache_repeats_the_route_rule_over_the_headers(portcullis: Proxy, apache: Apache) -> None:
    """From Portcullis' address the headers are believed, and the route's rule applies."""
    as_portcullis = dict(SPOOF, **{"X-Portcullis-Roles": "Other"})
    assert direct(apache, ECHO, as_portcullis, source="127.0.0.1")[0] == 403
    assert direct(apache, ECHO, SPOOF, source="127.0.0.1")[0] == 200
    machine = dict(SPOOF, **{"X-Portcullis-Kind": "app"})
    assert direct(apache, ECHO, machine, source="127.0.0.1")[0] == 403
    assert direct(apache, "/cgi-bin/echo.cgi", {}, source="127.0.0.1")[0] == 403
