"""The Apache configuration for Portcullis as authorizer, as docs/apache.md recommends it.

Used by the end-to-end test (``tests/e2e/test_apache_authorizer.py``) and the benchmark
(``bench/authorizer.py``). Modules: :data:`MODULES`.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IDENTITY", "MODULES", "authorizer_config"]

MODULES = ("authnz_fcgi", "authn_core", "proxy", "proxy_http", "headers")
# The identity headers (default auth.headers names) and the variables that fill them.
IDENTITY = {
    f"X-Portcullis-{name}": f"PORTCULLIS_{name.upper().replace('-', '_')}"
    for name in (
        "User", "Email", "Name", "Roles", "Groups", "Group-Names", "Tenant", "Kind", "Client",
        "Assertion",
    )
}  # fmt: skip


def authorizer_config(
    *,
    fastcgi: str,
    portcullis: str,
    public: Sequence[str] = (),
    cookie: str = "portcullis",
) -> str:
    """Portcullis (FastCGI at ``fastcgi``, host:port) decides every request except its own
    ``/.portcullis/`` (proxied to ``portcullis``, host:port) and the ``public`` prefixes."""
    name = f"(?:__Host-)?{cookie}(?:_login)?=[^;]*"  # the session and pending-login cookies
    ours = f"^{name}(?:;\\s*|$)|;\\s*{name}"
    headers = []
    for header, variable in IDENTITY.items():
        headers.append(f"  RequestHeader unset {header}")
        headers.append(f"  RequestHeader unset {header.replace('-', '_')}")
        headers.append(f'  RequestHeader set {header} "%{{{variable}}}e" env={variable}')
    public_sections = "".join(
        f'<Location "{prefix}">\n'
        "  AuthType None\n"
        "  AuthnzFcgiCheckAuthnProvider None\n"
        "  Require all granted\n"
        "</Location>\n"
        for prefix in public
    )
    identity = "\n".join(headers)
    return f"""\
AuthnzFcgiDefineProvider authnz portcullis fcgi://{fastcgi}/

<Location "/">
  AuthType Portcullis
  CGIPassAuth On
  AuthnzFcgiCheckAuthnProvider portcullis Authoritative On RequireBasicAuth Off \\
      UserExpr "%{{reqenv:PORTCULLIS_USER}}"
  Require portcullis
  # The identity comes from Portcullis only: what a client sends is dropped first.
{identity}
  # Portcullis' cookies are for Portcullis: off the request once it has decided.
  RequestHeader edit* Cookie "{ours}" "" "expr=%{{REQUEST_URI}} !~ m#^/\\.portcullis/#"
  RequestHeader unset Cookie "expr=%{{req:Cookie}} =~ /^[;\\s]*$/"
</Location>
{public_sections}
# Sign-in, callback, logout, JWKS: Portcullis' own, passed through without asking it.
<Location "/.portcullis/">
  AuthType None
  AuthnzFcgiCheckAuthnProvider None
  Require all granted
</Location>
ProxyPass "/.portcullis/" "http://{portcullis}/.portcullis/"
"""
