"""Apache config snippets for Debian's mod_auth_openidc (libapache2-mod-auth-openidc 2.4.x).

Three roles, each a function returning text for ``run_apache(extra_config=...)`` (modules:
:data:`MODULES`):

- :func:`resource_server` — OAuth 2.0 resource server (``AuthType oauth20``) that accepts
  a location only with an ``X-Portcullis-Assertion`` whose ES256 signature verifies against
  Portcullis' ``/.portcullis/jwks.json``; the verified ``sub`` becomes ``REMOTE_USER``
  (``%u`` in the access log).

  Debian 12's 2.4.12 takes the token from ``Authorization: Bearer`` only (no custom
  header), so ``RequestHeader ... early`` copies the assertion there before
  authentication. It also insists on https for ``OIDCOAuthVerifyJwksUri``, while
  ``OIDCOAuthServerMetadataURL`` accepts http (with a warning): Apache serves a static
  RFC 8414 metadata document (:func:`server_metadata`) whose ``jwks_uri`` is Portcullis'
  JWKS, so the keys still come only from Portcullis, live.
- :func:`relying_party` — a classic OpenID Connect relying party (``AuthType
  openid-connect``) for the OP of :mod:`tests.support.oidc_provider`, used by the
  benchmark's ``apache-openidc`` case; :func:`openidc_login` drives its login once.
- :func:`bearer_api` — an OAuth 2.0 resource server for an IdP's JWT access tokens
  (``Authorization: Bearer``), verified with the IdP's certificates given statically
  (``OIDCOAuthVerifyCertFiles``, from the JWKS ``x5c``: :func:`jwks_certificates`), plus
  ``iss``/``aud``/``roles`` checks; used by the benchmark's ``apache-openidc-bearer`` case.
"""

from __future__ import annotations

import base64
import json
import secrets
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.oidc_provider import OidcProvider, browser_login
from tests.support.signin import Browser

__all__ = [
    "MODULES",
    "SESSION_COOKIE",
    "bearer_api",
    "jwks_certificates",
    "openidc_login",
    "relying_party",
    "resource_server",
    "server_metadata",
]

MODULES = ("authn_core", "authz_user", "auth_openidc")
SESSION_COOKIE = "mod_auth_openidc_session"
METADATA_PATH = "/portcullis-as.json"


def server_metadata(portcullis_url: str) -> str:
    """RFC 8414 metadata naming Portcullis as issuer and its JWKS as ``jwks_uri``."""
    return json.dumps(
        {"issuer": portcullis_url, "jwks_uri": f"{portcullis_url}/.portcullis/jwks.json"}
    )


def resource_server(
    *, apache_port: int, portcullis_url: str, location: str = "/verified/"
) -> Callable[[Path], str]:
    """``location`` (the echo CGI) needs an assertion signed by Portcullis for this Apache.

    Besides the signature: ``iss`` must be Portcullis and ``aud`` this Apache's origin
    (mod_auth_openidc checks neither by itself for locally verified JWTs).
    """
    apache_url = f"http://127.0.0.1:{apache_port}"

    def config(root: Path) -> str:
        (root / "htdocs" / METADATA_PATH.lstrip("/")).write_text(server_metadata(portcullis_url))
        (root / "htdocs" / METADATA_PATH.lstrip("/")).chmod(0o644)
        return f"""\
OIDCOAuthServerMetadataURL {apache_url}{METADATA_PATH}
OIDCOAuthRemoteUserClaim sub
# 2.4.12 reads bearer tokens from Authorization only; copy the assertion there before
# authentication runs (early), replacing whatever the client sent.
RequestHeader set Authorization "expr=Bearer %{{req:X-Portcullis-Assertion}}" early
ScriptAlias {location} "{root}/cgi-bin/"
<Location {location}>
  AuthType oauth20
  <RequireAll>
    Require valid-user
    Require claim iss:{portcullis_url}
    Require claim aud:{apache_url}
  </RequireAll>
</Location>
"""

    return config


def relying_party(
    *,
    apache_port: int,
    op: OidcProvider,
    client_id: str,
    docroot: Path,
    location: str = "/private/",
    user: str = "alice",
) -> Callable[[Path], str]:
    """``location`` serves ``docroot`` to users signed in at ``op`` (a session cookie).

    The redirect URI is ``{location}redirect_uri``: register it at the OP. ``login_hint``
    is a static authorization parameter, so the OP signs ``user`` in without a page.
    """
    client = op.clients[client_id]
    if client.client_secret is None:
        raise ValueError(f"{client_id} has no client secret")
    redirect_uri = f"http://127.0.0.1:{apache_port}{location}redirect_uri"
    passphrase = secrets.token_urlsafe(32)

    def config(root: Path) -> str:
        return f"""\
OIDCProviderMetadataURL {op.issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client.client_secret}
OIDCProviderTokenEndpointAuth {client.auth_method}
OIDCRedirectURI {redirect_uri}
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email roles"
OIDCPKCEMethod S256
OIDCAuthRequestParams login_hint={user}
OIDCRemoteUserClaim sub
Alias {location} "{docroot}/"
<Directory "{docroot}">
  Require all granted
</Directory>
<Location {location}>
  AuthType openid-connect
  Require valid-user
</Location>
"""

    return config


def openidc_login(url: str) -> str:
    """Open a page protected by :func:`relying_party`, sign in; return the session cookie."""
    browser = Browser()
    first = browser.get(url, accept="text/html")  # not a browser: 401 instead of a redirect
    if first.status != 302:
        raise RuntimeError(f"mod_auth_openidc answered {first.status} at {url}, not a redirect")
    landing = browser_login(first.location, jar=browser.jar)
    back = browser.get(landing.url)
    if back.status != 302 or back.location not in (url, _path(url)):
        raise RuntimeError(
            f"mod_auth_openidc's redirect URI answered {back.status} -> {back.location!r}"
        )
    cookie = browser.cookie(SESSION_COOKIE)
    if not cookie:
        raise RuntimeError("mod_auth_openidc set no session cookie")
    final = browser.get(url)
    if final.status != 200:
        raise RuntimeError(f"signed in, but {url} answered {final.status}")
    return cookie


def _path(url: str) -> str:
    """The path and query of ``url`` (the redirect back may use either form)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def jwks_certificates(jwks: Mapping[str, Any]) -> dict[str, str]:
    """``kid`` → PEM certificate (the first ``x5c`` entry) of each JWKS key that has one."""
    found = {}
    for key in jwks.get("keys", []):
        chain = key.get("x5c")
        if key.get("kid") and chain:
            der = base64.b64decode(chain[0], validate=True)  # x5c: base64 (not url) DER
            body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
            found[key["kid"]] = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return found


def bearer_api(
    *,
    jwks: Mapping[str, Any],
    issuer: str,
    audiences: Sequence[str],
    docroot: Path,
    location: str = "/api/",
    roles: Sequence[str] = (),
) -> Callable[[Path], str]:
    """``location`` serves ``docroot`` to requests with an ``Authorization: Bearer`` JWT signed
    by a key of ``jwks``, issued by ``issuer`` for one of ``audiences``, with all of ``roles``.

    The keys are static (``OIDCOAuthVerifyCertFiles kid#cert.pem``, written under the server
    root from each key's ``x5c``): 2.4.12 refuses an http ``OIDCOAuthVerifyJwksUri``, and
    static certificates are its fastest set-up (the ``jwks_uri`` of
    ``OIDCOAuthServerMetadataURL``, as in :func:`resource_server`, served about a third fewer
    requests per second). It checks the signature and ``exp`` itself, caching nothing;
    ``iss``, ``aud`` and ``roles`` are ``Require claim`` rules.
    """
    certificates = jwks_certificates(jwks)
    if not certificates:
        raise ValueError("the JWKS has no key with an x5c certificate")
    if not audiences:
        raise ValueError("name at least one audience")

    def config(root: Path) -> str:
        keys = root / "oauth-keys"
        keys.mkdir(mode=0o755, exist_ok=True)
        files = []
        for n, (kid, pem) in enumerate(sorted(certificates.items())):
            path = keys / f"key{n}.pem"
            path.write_text(pem)
            path.chmod(0o644)
            files.append(f"{kid}#{path}")
        auds = "\n".join(f"      Require claim aud:{aud}" for aud in audiences)
        role_rules = "\n".join(f"    Require claim roles:{role}" for role in roles)
        return f"""\
OIDCOAuthVerifyCertFiles {" ".join(files)}
OIDCOAuthRemoteUserClaim sub
Alias {location} "{docroot}/"
<Directory "{docroot}">
  Require all granted
</Directory>
<Location {location}>
  AuthType oauth20
  <RequireAll>
    Require valid-user
    Require claim iss:{issuer}
    <RequireAny>
{auds}
    </RequireAny>
{role_rules}
  </RequireAll>
</Location>
"""

    return config
