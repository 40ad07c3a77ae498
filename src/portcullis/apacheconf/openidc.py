"""``--mode openidc``: the same routes and rules as a mod_auth_openidc configuration.

For comparing with, or moving from, Portcullis: browser routes sign in with
``AuthType openid-connect`` at the first provider (its discovery document, client
id, the same ``/.portcullis/callback`` redirect URI, so the app registration is
reused); bearer routes check tokens with ``AuthType oauth20``; rules become
``Require claim roles:…`` / ``Require claim groups:…`` / ``Require valid-user``;
public routes ``Require all granted``; paths no route covers are denied.

Secrets are never written: the client secret and the session passphrase are
``${VARIABLE}`` references Apache resolves from its environment. What
mod_auth_openidc cannot express is listed at the top; a route whose rule would be
*widened* by leaving something out is written as ``Require all denied`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from portcullis.apacheconf.locations import (
    GenerateError,
    Section,
    header_comment,
    indent,
    safe_token,
    sections,
)
from portcullis.apacheconf.requirement import Requirement, requirement
from portcullis.config.auth_schema import Api, Auth, Provider
from portcullis.config.schema import Config
from portcullis.ids import is_guid

__all__ = ["openidc_config"]

PASSPHRASE_ENV = "PORTCULLIS_OIDC_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
SECRET_ENV = "PORTCULLIS_CLIENT_SECRET"  # noqa: S105 - a variable name, not a secret
_PUBLIC_CLOUD = "https://login.microsoftonline.com"
_DENIED = ["Require all denied"]


@dataclass
class _Notes:
    denied: list[str] = field(default_factory=list)  # routes written as Require all denied
    caveats: list[str] = field(default_factory=list)  # differences that do not widen access
    overage: bool = False  # the groups overage caveat is listed

    def deny(self, section: Section, why: str) -> list[str]:
        self.denied.append(f"{section.label}: {why}")
        return _DENIED


def openidc_config(config: Config, *, host: str, source: str) -> str:
    auth = config.auth
    if auth is None:
        raise GenerateError("--mode openidc: the configuration has no auth section")
    provider = auth.providers[0]
    notes = _Notes()
    if len(auth.providers) > 1:
        notes.caveats.append("auth.providers: only the first provider is written")
    if provider.client_auth == "private_key_jwt":
        notes.caveats.append(
            "auth.providers[0].client_auth private_key_jwt: set OIDCProviderTokenEndpointAuth "
            "private_key_jwt and OIDCPrivateKeyFiles by hand"
        )
    token = _TokenSettings.of(auth, notes)
    body: list[str] = []
    aliases = dict(getattr(getattr(config, "policy", None), "groups", {}) or {})
    found = sections(config, host)
    if not any(s.prefix == "/" for s in found):
        body += ["", "# No route covers the other paths: Portcullis refuses them too."]
        body += ['<Location "/">', "  Require all denied", "</Location>"]
    for section in found:
        rule = requirement(section.route, aliases)
        if rule.groups and provider.type == "entra" and not notes.overage:
            notes.overage = True
            notes.caveats.append(
                "groups: a user in more than 200 groups gets no groups claim from Entra "
                "(overage); mod_auth_openidc refuses them where Portcullis asks Microsoft Graph"
            )
        body += ["", f"# {section.label}", section.open]
        body += indent(
            _route(section, rule, auth=auth, provider=provider, token=token, notes=notes)
        )
        body.append(section.close)
    body += [
        "",
        "# The redirect URI (the same as Portcullis': the app registration needs no change).",
        '<Location "/.portcullis/callback">',
        "  AuthType openid-connect",
        "  Require valid-user",
        "</Location>",
    ]
    out = header_comment("openidc", source, host, _summary(notes))
    out += ["", *_session_settings(auth, provider, notes)]
    if token.lines:
        out += ["", *token.lines]
    return "\n".join([*out, *body]) + "\n"


def _summary(notes: _Notes) -> list[str]:
    lines = [
        "Apache modules: auth_openidc, authn_core, authz_user.",
        f"Set {SECRET_ENV} and {PASSPHRASE_ENV} in Apache's environment (e.g. "
        "/etc/apache2/envvars): secrets are never written here.",
    ]
    lines += ["", "Cannot be expressed for mod_auth_openidc, so written as `Require all denied`:"]
    lines += [f"  - {n}" for n in notes.denied] or ["  (nothing)"]
    lines += ["", "Not the same as Portcullis, without widening access:"]
    lines += [f"  - {n}" for n in notes.caveats] or ["  (nothing)"]
    return lines


def _session_settings(auth: Auth, provider: Provider, notes: _Notes) -> list[str]:
    if provider.type == "entra":
        tenant = provider.tenant or "organizations"
        discovery = f"{provider.authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
        if not is_guid(tenant.lower()):
            notes.caveats.append(
                f"entra tenant {tenant!r}: mod_auth_openidc compares the issuer exactly and "
                "cannot use Entra's multi-tenant issuer template: use a tenant id"
            )
        claim = "oid"
    else:
        discovery = f"{provider.issuer}/.well-known/openid-configuration"
        claim = "sub"
    secret_env = SECRET_ENV
    for source in provider.client_secret or ():
        secret_env = source.env or SECRET_ENV
        break
    method = "client_secret_post" if provider.client_auth == "client_secret_post" else None
    session = auth.session
    lines = [
        f"OIDCProviderMetadataURL {discovery}",
        f"OIDCClientID {provider.client_id}",
        "# The client secret comes from the environment; its value is never written here.",
        f"OIDCClientSecret ${{{secret_env}}}",
    ]
    if method:
        lines.append(f"OIDCProviderTokenEndpointAuth {method}")
    scopes = list(dict.fromkeys(["openid", *provider.scopes]))
    lines += [
        f"OIDCRedirectURI {auth.external_url}/.portcullis/callback",
        "# Encrypts mod_auth_openidc's session state; from the environment, never written here.",
        f"OIDCCryptoPassphrase ${{{PASSPHRASE_ENV}}}",
        f'OIDCScope "{" ".join(s for s in scopes if safe_token(s))}"',
        "OIDCPKCEMethod S256",
        f"OIDCRemoteUserClaim {claim}",
        f"OIDCSessionInactivityTimeout {int(session.idle_timeout)}",
        f"OIDCSessionMaxDuration {int(session.absolute_timeout)}",
    ]
    if provider.response_mode == "form_post":
        lines.append("OIDCResponseMode form_post")
    return lines


@dataclass
class _TokenSettings:
    """Server-wide settings for bearer tokens: mod_auth_openidc takes one token issuer."""

    provider: str | None = None
    issuers: tuple[str, ...] = ()
    lines: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, auth: Auth, notes: _Notes) -> _TokenSettings:
        if not auth.apis:
            return cls()
        name = auth.apis[0].provider
        provider = next(p for p in auth.providers if p.name == name)
        if any(api.provider != name for api in auth.apis):
            notes.caveats.append(
                f"auth.apis: only tokens of provider {name!r} are written (one issuer per server)"
            )
        if provider.type == "oidc":
            metadata = f"{provider.issuer}/.well-known/openid-configuration"
            lines = [f"OIDCOAuthServerMetadataURL {metadata}", "OIDCOAuthRemoteUserClaim sub"]
            return cls(name, (str(provider.issuer),), lines)
        tenant = (provider.tenant or "").lower()
        if not is_guid(tenant):
            return cls(name, (), [])  # multi-tenant tokens: each bearer route says why
        keys = f"{provider.authority_host}/{tenant}/discovery/v2.0/keys"
        versions = {v for api in auth.apis if api.provider == name for v in api.token_versions}
        issuers = []
        if 2 in versions:
            issuers.append(f"{provider.authority_host}/{tenant}/v2.0")
        if 1 in versions:
            if provider.authority_host == _PUBLIC_CLOUD:
                issuers.append(f"https://sts.windows.net/{tenant}/")
            else:
                notes.caveats.append("v1 tokens of a national cloud: not accepted here")
        return cls(
            name,
            tuple(issuers),
            [
                f"OIDCOAuthVerifyJwksUri {keys}",
                "OIDCOAuthRemoteUserClaim oid",
            ],
        )


def _route(
    section: Section,
    rule: Requirement,
    *,
    auth: Auth,
    provider: Provider,
    token: _TokenSettings,
    notes: _Notes,
) -> list[str]:
    if rule.public:
        return ["AuthType None", "Require all granted"]
    if rule.policy_rules:
        return notes.deny(section, "`rules:` (the policy language) are not translated")
    if rule.unknown_groups:
        return notes.deny(section, "groups that are neither object ids nor policy.groups aliases")
    if rule.auth_context:
        return notes.deny(section, "auth_context (step-up to an authentication context)")
    accept = set(section.route.accept)
    if accept == {"session", "bearer"}:
        return notes.deny(
            section,
            "accepts sessions and bearer tokens: mod_auth_openidc checks both with one set "
            "of Require lines (an ID token would pass as a bearer token); split the route",
        )
    if accept == {"bearer"}:
        return _token_route(section, rule, auth, token, notes)
    return _session_route(section, rule, provider, notes)


def _session_route(
    section: Section, rule: Requirement, provider: Provider, notes: _Notes
) -> list[str]:
    if "user" not in rule.people:
        return notes.deny(section, "kinds without 'user' (browser sessions are users)")
    if provider.client_id in rule.deny_clients:
        return notes.deny(section, "deny_clients names the sign-in app itself")
    if rule.deny_clients or rule.scopes or rule.people_clients:
        notes.caveats.append(
            f"{section.label}: scopes/clients/deny_clients apply to tokens, not to browser "
            "sessions (Portcullis does not check them for sessions either)"
        )
    wanted = _claims(rule.roles, rule.groups)
    if wanted is None:
        return notes.deny(section, "roles or groups with characters a Require line cannot hold")
    tenants = [t for t in provider.allowed_tenants if safe_token(t)]
    lines = ["AuthType openid-connect"]
    if not tenants:
        return lines + (_any(wanted) if wanted else ["Require valid-user"])
    return [
        *lines,
        "<RequireAll>",
        "  Require valid-user",
        *indent(_any([f"Require claim tid:{t}" for t in tenants])),
        *indent(_any(wanted) if wanted else []),
        "</RequireAll>",
    ]


def _token_route(
    section: Section, rule: Requirement, auth: Auth, token: _TokenSettings, notes: _Notes
) -> list[str]:
    api = next((a for a in auth.apis if a.name == section.route.api), None)
    if api is None or api.provider != token.provider or not token.issuers:
        return notes.deny(
            section,
            "its API's tokens cannot be checked here (another provider, or a multi-tenant issuer)",
        )
    if rule.scopes or rule.clients or rule.deny_clients:
        return notes.deny(section, "scopes / clients / deny_clients of bearer tokens")
    if rule.people != ("user", "obo") or rule.machines not in ((), ("app", "agent")):
        return notes.deny(section, "kinds (mod_auth_openidc cannot tell the kinds of token apart)")
    if rule.any_person:
        return notes.deny(
            section,
            "any person's token, but not any app's: mod_auth_openidc cannot tell them apart",
        )
    wanted = _claims((*rule.roles, *rule.app_roles), rule.groups)
    if wanted is None or not _all_safe([*token.issuers, *api.audiences]):
        return notes.deny(section, "values with characters a Require line cannot hold")
    notes.caveats.append(
        f"{section.label}: people's and apps' tokens both pass with any of the listed roles "
        "(mod_auth_openidc sees one `roles` claim)"
    )
    return [
        "AuthType oauth20",
        "<RequireAll>",
        "  Require valid-user",
        *indent(_any([f"Require claim iss:{i}" for i in token.issuers])),
        *indent(_any([f"Require claim aud:{a}" for a in _audiences(api)])),
        *indent(_any(wanted)),
        "</RequireAll>",
    ]


def _claims(roles: Sequence[str], groups: Sequence[str]) -> list[str] | None:
    if not _all_safe([*roles, *groups]):
        return None
    found = [f"Require claim roles:{r}" for r in dict.fromkeys(roles)]
    return found + [f"Require claim groups:{g}" for g in dict.fromkeys(groups)]


def _audiences(api: Api) -> list[str]:
    return list(dict.fromkeys(api.audiences))


def _all_safe(values: Sequence[str]) -> bool:
    return all(safe_token(v) for v in values)


def _any(lines: list[str]) -> list[str]:
    if len(lines) <= 1:
        return lines
    return ["<RequireAny>", *indent(lines), "</RequireAny>"]
