"""``--mode authorizer``: Apache asks Portcullis (mod_authnz_fcgi) before serving a request.

mod_authnz_fcgi's ``authz`` providers refuse a request that has no user yet, so
Portcullis is an ``authnz`` provider in the ``check_user_id`` phase
(``AuthnzFcgiCheckAuthnProvider``): it decides, Apache takes the user from the
``PORTCULLIS_USER`` variable of the answer, and ``Require portcullis`` grants what
Portcullis granted. ``AuthType Portcullis`` (a name no module owns) keeps that phase
running on Apache versions that skip it without an ``AuthType``; ``CGIPassAuth On``
lets the authorizer see ``Authorization`` (bearer tokens). Routes that are public skip
the authorizer. The identity variables become the usual identity headers for the
application, client-supplied ones removed, and Portcullis' cookies are taken off the
request; ``/.portcullis/`` (sign-in, callback, logout) is proxied to Portcullis.
"""

from __future__ import annotations

from portcullis.apacheconf.locations import (
    GenerateError,
    header_comment,
    indent,
    sections,
)
from portcullis.config.auth_schema import IdentityHeaders
from portcullis.config.schema import Config

__all__ = ["DEFAULT_AUTHORIZER", "authorizer_config"]

DEFAULT_AUTHORIZER = "127.0.0.1:9001"
PROVIDER = "portcullis"


def authorizer_config(
    config: Config, *, host: str, source: str, authorizer: str | None = None
) -> str:
    address, where = _address(config, authorizer)
    listen = config.listen
    scheme = "https" if listen.tls else "http"
    proxy_host = listen.address if listen.address not in ("0.0.0.0", "::") else "127.0.0.1"
    if ":" in proxy_host:
        proxy_host = f"[{proxy_host}]"
    portcullis = f"{scheme}://{proxy_host}:{listen.port}"
    names = config.auth.headers if config.auth is not None else IdentityHeaders()
    out = header_comment(
        "authorizer",
        source,
        host,
        [
            "Apache modules: authnz_fcgi, headers, proxy, proxy_http.",
            f"Portcullis answers mod_authnz_fcgi at {address} ({where}) and serves its own",
            f"endpoints at {portcullis} (listen).",
        ],
    )
    out += ["", f"AuthnzFcgiDefineProvider authnz {PROVIDER} fcgi://{address}/", ""]
    out.append("# Every request not under a public route below: Portcullis decides.")
    out.append('<Location "/">')
    out += indent([*_ask(), *_identity_headers(names), *_strip_cookies(config)])
    out.append("</Location>")
    for section in sections(config, host):
        if section.prefix == "/" and not section.route.public:
            continue  # the section above
        out += ["", f"# {section.label}", section.open]
        out += indent(_public() if section.route.public else _ask())
        out.append(section.close)
    out += [
        "",
        "# Portcullis' own endpoints (sign-in, callback, logout): not authorized, proxied.",
        '<Location "/.portcullis/">',
        "  AuthType None",
        "  AuthnzFcgiCheckAuthnProvider None",
        "  Require all granted",
        "</Location>",
        f'ProxyPass "/.portcullis/" "{portcullis}/.portcullis/"',
    ]
    return "\n".join(out) + "\n"


def _ask() -> list[str]:
    return [
        "AuthType Portcullis",
        "CGIPassAuth On",  # else the authorizer never sees Authorization (bearer tokens)
        f"AuthnzFcgiCheckAuthnProvider {PROVIDER} Authoritative On RequireBasicAuth Off \\",
        '    UserExpr "%{reqenv:PORTCULLIS_USER}"',
        f"Require {PROVIDER}",
    ]


def _public() -> list[str]:
    return ["AuthType None", "AuthnzFcgiCheckAuthnProvider None", "Require all granted"]


def _identity_headers(names: IdentityHeaders) -> list[str]:
    """The identity Portcullis verified as headers for the application; never the client's."""
    lines = ["# The identity Portcullis verified, as headers for the application."]
    for field, header in names.model_dump().items():
        variable = f"PORTCULLIS_{field.upper()}"
        lines.append(f"RequestHeader unset {header}")
        if "-" in header:
            lines.append(f"RequestHeader unset {header.replace('-', '_')}")
        lines.append(f'RequestHeader set {header} "%{{{variable}}}e" env={variable}')
    return lines


def _strip_cookies(config: Config) -> list[str]:
    """Portcullis' cookies go to Portcullis only, as when it proxies (not to the application)."""
    if config.auth is None:
        return []
    name = config.auth.session.cookie_name
    own = "expr=%{REQUEST_URI} !~ m#^/\\.portcullis/#"
    cookie = f"(?:__Host-)?{name}(?:_login)?=[^;]*"
    pattern = f"^{cookie}(?:;\\s*|$)|;\\s*{cookie}"
    return [
        "# Portcullis' own cookies are for Portcullis, not for the application.",
        f'RequestHeader edit* Cookie "{pattern}" "" "{own}"',
        'RequestHeader unset Cookie "expr=%{req:Cookie} =~ /^[;\\s]*$/"',
    ]


def _address(config: Config, option: str | None) -> tuple[str, str]:
    settings = getattr(config, "authorizer", None)
    listen = getattr(settings, "listen", None)
    if listen is not None:
        if option is not None and option != listen:
            raise GenerateError(
                f"--authorizer {option} differs from authorizer.listen {listen} in the config"
            )
        if str(listen).startswith("unix:"):
            raise GenerateError(
                "authorizer.listen is a unix socket; mod_authnz_fcgi speaks TCP only "
                "(use address:port)"
            )
        return str(listen), "authorizer.listen"
    address = option or DEFAULT_AUTHORIZER
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise GenerateError(f"--authorizer: expected address:port, got {address!r}")
    return address, "--authorizer; add authorizer.listen to the config"
