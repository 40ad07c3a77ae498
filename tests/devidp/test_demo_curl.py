"""The demo's machine-client request, exactly as documented, against ``portcullis dev-idp``.

``curl -d client_id=reporting-bot -d client_secret=reporting-bot-secret
-d grant_type=client_credentials -d scope=api://portcullis-demo/.default
http://127.0.0.1:9400/<tid>/oauth2/v2.0/token`` — run here on a free port
(9400 may be taken by a developer's running demo).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from portcullis.devidp import TENANT_ID, DevIdp
from portcullis.devidp.cli import describe
from portcullis.devidp.defaults import BOT_SP_OID, DEMO_API_ID
from portcullis.jose import IssuerRule, KeySet, parse, validate_claims, verify
from tests.devidp.helpers import check_access_token, fetch

CURL_ARGS = [
    "-d",
    "client_id=reporting-bot",
    "-d",
    "client_secret=reporting-bot-secret",
    "-d",
    "grant_type=client_credentials",
    "-d",
    "scope=api://portcullis-demo/.default",
]
# What curl -d sends: the fields joined by "&", not URL-encoded.
RAW_BODY = (
    b"client_id=reporting-bot&client_secret=reporting-bot-secret"
    b"&grant_type=client_credentials&scope=api://portcullis-demo/.default"
)


def check_bot_token(idp: DevIdp, body: dict[str, object]) -> None:
    token = body["access_token"]
    assert isinstance(token, str)
    _, claims = check_access_token(idp, token, audience=DEMO_API_ID)
    assert claims["roles"] == ["Reports.Read"]
    assert claims["azp"] == "reporting-bot"
    assert claims["oid"] == BOT_SP_OID
    assert claims["idtyp"] == "app"


def test_the_raw_curl_body_is_accepted(idp: DevIdp) -> None:
    reply = fetch(idp.endpoint("token"), data=RAW_BODY)
    assert reply.status == 200, reply.body
    check_bot_token(idp, reply.json())


def test_the_banner_shows_the_api_the_machine_clients_and_the_curl(idp: DevIdp) -> None:
    banner = describe(idp)
    for text in (
        "api://portcullis-demo",
        DEMO_API_ID,
        "api://portcullis-legacy",
        "v1 tokens",
        "reporting-bot",
        "reporting-bot-secret",
        "report-agent-secret",
        "(Agent ID)",
        "grant     api://portcullis-demo: Reports.Read",
        idp.issuer_v1,
    ):
        assert text in banner, text
    (curl,) = [line for line in banner.splitlines() if "curl " in line]
    assert shlex.split(curl)[1:-1] == CURL_ARGS
    assert shlex.split(curl)[-1] == idp.endpoint("token")


@pytest.fixture
def cli_idp() -> Iterator[str]:
    """``python -m portcullis dev-idp --port N`` as a real process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "portcullis", "dev-idp", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while fetch_status(f"{base}/{TENANT_ID}/v2.0/.well-known/openid-configuration") != 200:
            assert process.poll() is None, "portcullis dev-idp exited"
            assert time.monotonic() < deadline, "portcullis dev-idp did not start"
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def fetch_status(url: str) -> int:
    try:
        return fetch(url).status
    except OSError:
        return 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_works_against_the_cli(cli_idp: str) -> None:
    url = f"{cli_idp}/{TENANT_ID}/oauth2/v2.0/token"
    result = subprocess.run(["curl", *CURL_ARGS, url], capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    # Check it against the CLI IdP's own discovery (a separate process, separate keys).
    doc = fetch(f"{cli_idp}/{TENANT_ID}/v2.0/.well-known/openid-configuration").json()
    jws = parse(body["access_token"])
    keys = KeySet.from_jwks(fetch(doc["jwks_uri"]).json())
    claims = verify(jws, keys, algorithms=frozenset({"RS256"}))
    validate_claims(
        claims,
        now=time.time(),
        issuer=IssuerRule.exact(doc["issuer"], ver="2.0"),
        audiences=frozenset({DEMO_API_ID}),
        require_iat=True,
    )
    assert claims["roles"] == ["Reports.Read"]
    assert claims["azp"] == "reporting-bot"
