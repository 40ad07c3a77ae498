"""``--mode front``: the Apache side when Portcullis is in front of Apache.

Portcullis removes client-supplied identity headers and adds verified ones; Apache
must believe them only on requests that come from Portcullis. Three parts:

1. for requests from any other address, the identity headers (and ``X-Request-Id``)
   are removed, ``_`` spellings included, before handlers and logs see them;
2. a ``LogFormat portcullis`` naming the user, tenant, kind, roles and Portcullis'
   request id;
3. per route, ``Require expr`` repeating the route's rule over the identity headers
   (defense in depth: Portcullis has already decided). Authorization runs before
   the header removal of part 1, so every rule also requires Portcullis' address.

With ``verify_assertion``, mod_auth_openidc also verifies ``X-Portcullis-Assertion``
(ES256, Portcullis' JWKS, ``iss`` and ``aud``) on every route that is not public.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from portcullis.apacheconf.locations import (
    GenerateError,
    Section,
    header_comment,
    indent,
    safe_token,
    sections,
)
from portcullis.apacheconf.requirement import Requirement, requirement
from portcullis.config.auth_schema import IdentityHeaders
from portcullis.config.schema import Config

__all__ = ["DEFAULT_FROM", "front_config"]

DEFAULT_FROM = ("127.0.0.1", "::1")


def front_config(
    config: Config,
    *,
    host: str,
    source: str,
    portcullis_from: Sequence[str] = DEFAULT_FROM,
    verify_assertion: bool = False,
) -> str:
    names = config.auth.headers if config.auth is not None else IdentityHeaders()
    origin = _from_expr(portcullis_from)
    modules = "headers, log_config" + (", auth_openidc" if verify_assertion else "")
    out = header_comment(
        "front",
        source,
        host,
        [
            f"Apache modules: {modules}.",
            f"Portcullis connects to Apache from {', '.join(portcullis_from)} (--from).",
        ],
    )
    out += ["", "# 1. Identity headers count only on requests from Portcullis."]
    out.append(f'<If "! ({origin})">')
    for name in _stripped(names):
        out.append(f"  RequestHeader unset {name}")
    out.append("</If>")
    out += ["", "# 2. Who did what: the verified identity and Portcullis' request id."]
    out.append(_log_format(names))
    out.append('# CustomLog "${APACHE_LOG_DIR}/access.log" portcullis')
    if verify_assertion:
        out += ["", *_assertion_settings(config)]
    out += [
        "",
        "# 3. Each route's rule again, over the identity headers (Portcullis decided first).",
    ]
    aliases = dict(getattr(getattr(config, "policy", None), "groups", {}) or {})
    for section in sections(config, host):
        rule = requirement(section.route, aliases)
        out += ["", f"# {section.label}", section.open]
        out += indent(
            _requires(
                section,
                rule,
                names=names,
                origin=origin,
                config=config,
                verify_assertion=verify_assertion,
            )
        )
        out.append(section.close)
    return "\n".join(out) + "\n"


def _from_expr(addresses: Sequence[str]) -> str:
    if not addresses:
        raise GenerateError("--from: name at least one address Portcullis connects from")
    parts = []
    for address in addresses:
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise GenerateError(f"--from: {address!r} is not an IP address or CIDR") from None
        parts.append(f"-R '{network.with_prefixlen if network.num_addresses > 1 else address}'")
    return " || ".join(parts)


def _stripped(names: IdentityHeaders) -> list[str]:
    """Every configured identity header and X-Request-Id, also in ``_`` spelling."""
    found: list[str] = []
    for name in [*names.model_dump().values(), "X-Request-Id"]:
        for spelling in (name, name.replace("-", "_")):
            if spelling not in found:
                found.append(spelling)
    return found


def _log_format(names: IdentityHeaders) -> str:
    fields = [
        "%h",
        "%l",
        f"%{{{names.user}}}i",
        "%t",
        '\\"%r\\"',
        "%>s",
        "%b",
        f"tenant=%{{{names.tenant}}}i",
        f"kind=%{{{names.kind}}}i",
        f'roles=\\"%{{{names.roles}}}i\\"',
        "request_id=%{X-Request-Id}i",
    ]
    return f'LogFormat "{" ".join(fields)}" portcullis'


def _requires(
    section: Section,
    rule: Requirement,
    *,
    names: IdentityHeaders,
    origin: str,
    config: Config,
    verify_assertion: bool,
) -> list[str]:
    if rule.public:
        return ["Require all granted"]
    notes: list[str] = []
    condition = f"({origin}) && -n %{{HTTP:{names.user}}}"
    if rule.policy_rules:
        notes.append("its `rules:` are not repeated here: Portcullis enforces them")
    else:
        who, skipped = _who(rule, names)
        notes += skipped
        condition += f" && ({who})"
    lines = [f"# not repeated (Portcullis enforces it): {note}" for note in notes]
    require = f'Require expr "{condition}"'
    if not verify_assertion or config.auth is None:
        return [*lines, require]
    issuer = config.auth.external_url
    return [
        *lines,
        "AuthType oauth20",
        "<RequireAll>",
        "  Require valid-user",
        f"  Require claim iss:{issuer}",
        f"  Require claim aud:{section.route.upstream}",
        f"  {require}",
        "</RequireAll>",
    ]


def _who(rule: Requirement, names: IdentityHeaders) -> tuple[str, list[str]]:
    """The ap_expr admitting people and machines as the rule does, and what it leaves out."""
    skipped = []
    if rule.scopes:
        skipped.append("scopes (not in the headers)")
    if rule.auth_context:
        skipped.append("auth_context (not in the headers)")
    if rule.deny_clients:
        skipped.append("deny_clients")
    if rule.unknown_groups:
        skipped.append("groups that are neither object ids nor policy.groups aliases")
    options = []
    if rule.people:
        person = [_kind_in(names, rule.people)]
        wanted = [_listed(names.roles, rule.roles), _listed(names.groups, rule.groups)]
        wanted = [w for w in wanted if w]
        if len(wanted) < bool(rule.roles) + bool(rule.groups):
            skipped.append("roles or groups with characters an expression cannot hold")
        if wanted:
            person.append("(" + " || ".join(wanted) + ")")
        options.append(" && ".join(person))
    if rule.machines:
        plain = tuple(c for c in rule.clients if "/" not in c)
        grant = [_listed(names.roles, rule.app_roles), _listed_exact(names.client, plain)]
        grant = [g for g in grant if g]
        if len(plain) < len(rule.clients):
            skipped.append("clients given as tenant/appid")
        machine = _kind_in(names, rule.machines)
        options.append(f"{machine} && ({' || '.join(grant)})" if grant else machine)
    return (" || ".join(f"({o})" for o in options) if options else "false"), skipped


def _kind_in(names: IdentityHeaders, kinds: Sequence[str]) -> str:
    listed = ", ".join(f"'{k}'" for k in kinds)
    return f"%{{HTTP:{names.kind}}} in {{ {listed} }}"


def _listed(header: str, values: Sequence[str]) -> str:
    """The comma-separated ``header`` holds one of ``values`` (as a whole item)."""
    safe = [v for v in values if safe_token(v)]
    if not safe:
        return ""
    alternatives = "|".join(re.escape(v).replace("#", "\\#") for v in safe)
    return f"%{{HTTP:{header}}} =~ m#(^|,)({alternatives})(,|$)#"


def _listed_exact(header: str, values: Sequence[str]) -> str:
    safe = [v for v in values if safe_token(v)]
    if not safe:
        return ""
    return f"%{{HTTP:{header}}} in {{ {', '.join(repr(v) for v in safe)} }}"


def _assertion_settings(config: Config) -> list[str]:
    if config.auth is None:
        raise GenerateError("--verify-assertion: the configuration has no auth section")
    external = config.auth.external_url
    if not external.startswith("https://"):
        raise GenerateError(
            "--verify-assertion: auth.external_url must be https (mod_auth_openidc fetches "
            "Portcullis' JWKS over https only)"
        )
    return [
        "# mod_auth_openidc verifies X-Portcullis-Assertion with Portcullis' keys. Debian 12's",
        "# mod_auth_openidc 2.4.12 reads a token only from Authorization, so the assertion is",
        "# copied there first: the application no longer sees the caller's own Authorization.",
        f"OIDCOAuthVerifyJwksUri {external}/.portcullis/jwks.json",
        "OIDCOAuthRemoteUserClaim sub",
        'RequestHeader set Authorization "expr=Bearer %{req:X-Portcullis-Assertion}" early',
    ]
