"""One identity provider as Portcullis uses it: generic OIDC, with Entra's differences.

What differs for Entra (ENTRA.md): the discovery URL is derived from the
authority host and tenant; a multi-tenant app (``organizations``/``common``)
checks ``iss`` against the ``{tenantid}`` template with a tenant allowlist; and
the identity is keyed by (tid, oid). Everything else is the OpenID Connect core
code flow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from portcullis.config.auth_schema import Provider
from portcullis.identity import Identity, Kind, claim_text, identity_from_claims
from portcullis.ids import is_guid
from portcullis.jose import IssuerRule, TokenError, UnknownKeyId, parse, validate_claims, verify
from portcullis.oidc.auth_time import auth_time_problem
from portcullis.oidc.client_auth import ClientAuth
from portcullis.oidc.document import CachedDocument
from portcullis.oidc.fetch import Fetcher, IdpUnavailable
from portcullis.oidc.keycache import KeyCache

__all__ = ["LoginRejected", "Metadata", "ProviderClient"]

log = logging.getLogger("portcullis.oidc")

_MULTI_TENANT = ("organizations", "common")


class LoginRejected(Exception):
    """The provider's answer cannot mint a session; ``code`` is for logs and audit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


class ProviderClient:
    """Discovery, keys, authorize URLs, the code exchange and ID token checks."""

    def __init__(
        self,
        config: Provider,
        *,
        client_auth: Sequence[ClientAuth],
        redirect_uri: str,
        fetcher: Fetcher,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.name = config.name
        self.redirect_uri = redirect_uri
        self._auth = tuple(client_auth)
        self._fetcher = fetcher
        self._clock = clock
        self._discovery = CachedDocument(
            self._load_metadata, clock=clock, what=f"discovery at {self.discovery_url}"
        )
        self._issuer_rule: IssuerRule | None = None
        self.keys = KeyCache(self._fetch_jwks, clock=clock)

    # discovery ----------------------------------------------------------------------------------
    @property
    def discovery_url(self) -> str:
        config = self.config
        if config.type == "entra":
            return f"{config.authority_host}/{config.tenant}/v2.0/.well-known/openid-configuration"
        return f"{config.issuer}/.well-known/openid-configuration"

    async def metadata(self) -> Metadata:
        """The discovery document, loaded once (see CachedDocument); raises IdpUnavailable."""
        return await self._discovery.get()

    async def _load_metadata(self) -> Metadata:
        document = await self._fetcher.get_json(self.discovery_url)
        metadata = self._check_metadata(document)
        self._issuer_rule = self._rule_for(metadata.issuer)
        return metadata

    def _check_metadata(self, doc: dict[str, Any]) -> Metadata:
        def url(name: str, required: bool = True) -> str | None:
            value = doc.get(name)
            if value is None and not required:
                return None
            if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
                raise IdpUnavailable(f"discovery: {name} missing or not a URL")
            return value

        issuer = url("issuer")
        assert issuer is not None
        config = self.config
        if config.type == "oidc" and issuer != config.issuer:
            # OpenID Connect Discovery 4.3: the issuer must be the one we asked.
            raise IdpUnavailable(f"discovery: issuer {issuer} is not {config.issuer}")
        if (
            config.type == "entra"
            and urlsplit(issuer).netloc != urlsplit(config.authority_host).netloc
            and urlsplit(issuer).netloc != "sts.windows.net"
        ):
            raise IdpUnavailable(f"discovery: issuer {issuer} is not on {config.authority_host}")
        return Metadata(
            issuer=issuer,
            authorization_endpoint=str(url("authorization_endpoint")),
            token_endpoint=str(url("token_endpoint")),
            jwks_uri=str(url("jwks_uri")),
            end_session_endpoint=url("end_session_endpoint", required=False),
        )

    def _rule_for(self, issuer: str) -> IssuerRule:
        config = self.config
        if config.type == "entra" and (config.tenant or "").lower() in _MULTI_TENANT:
            return IssuerRule.entra_template(issuer, tenants=frozenset(config.allowed_tenants))
        if config.type == "entra":
            return IssuerRule.exact(issuer, ver="2.0")
        return IssuerRule.exact(issuer)

    async def token_issuer(self) -> tuple[IssuerRule, KeyCache]:
        """The issuer rule and keys for tokens from this provider's discovery document."""
        await self.metadata()
        assert self._issuer_rule is not None
        return self._issuer_rule, self.keys

    async def _fetch_jwks(self) -> dict[str, Any]:
        metadata = await self.metadata()
        return await self._fetcher.get_json(metadata.jwks_uri)

    # the code flow ------------------------------------------------------------------------------
    def authorize_url(
        self,
        metadata: Metadata,
        *,
        state: str,
        nonce: str,
        code_challenge: str,
        max_age: int | None = None,
    ) -> str:
        """The authorization request; ``max_age`` (step-up) also asks for ``prompt=login``.

        ``prompt=login`` makes the provider sign the person in again even inside
        ``max_age`` (Entra honours ``prompt=login``; ``max_age`` alone is not enough
        everywhere). Neither is trusted: the callback checks ``auth_time``.
        """
        params = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "response_mode": self.config.response_mode,
        }
        if max_age is not None:
            params["max_age"] = str(max_age)
            params["prompt"] = "login"
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return metadata.authorization_endpoint + separator + urlencode(params)

    def issuer_matches(self, iss: str) -> bool:
        """RFC 9207: the ``iss`` authorization response parameter names this provider."""
        rule = self._issuer_rule
        if rule is None:
            return False
        if rule.tenants is None:
            return iss == rule.issuer
        return any(iss == rule.issuer.replace("{tenantid}", t) for t in rule.tenants)

    async def redeem(self, code: str, code_verifier: str) -> str:
        """Exchange the authorization code; returns the raw ID token."""
        metadata = await self.metadata()
        for attempt, credentials in enumerate(self._auth):
            form, headers = credentials.form_and_headers(metadata.token_endpoint, now=self._clock())
            form.update(
                grant_type="authorization_code",
                code=code,
                redirect_uri=self.redirect_uri,
                code_verifier=code_verifier,
            )
            status, body = await self._fetcher.post_form(
                metadata.token_endpoint, form, headers=headers
            )
            # Rotation: a credential the IdP does not (yet, or any more) accept is skipped.
            # Client authentication is checked before the code, so the code is still unused.
            if status != 200 and body.get("error") == "invalid_client":
                log.warning("client credential %d refused by %s", attempt, self.name)
                continue
            break
        if status != 200:
            error = body.get("error")
            raise LoginRejected(
                "token_error", f"the token endpoint refused the code ({error or status})"
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise LoginRejected("token_error", "the token response has no id_token")
        return id_token

    async def verify_id_token(
        self, id_token: str, *, nonce: str, max_age: int | None = None
    ) -> dict[str, Any]:
        """Signature (keys from this issuer's JWKS only) and claims, per SECURITY.md 1-5.

        With ``max_age`` (a step-up login) ``auth_time`` must also prove a sign-in at
        most that old (:mod:`portcullis.oidc.auth_time`); the error code starts ``auth_time_``.
        """
        await self.metadata()
        assert self._issuer_rule is not None
        algorithms = frozenset(self.config.algorithms)
        try:
            jws = parse(id_token)
            keys = await self.keys.current()
            try:
                claims = verify(jws, keys, algorithms=algorithms)
            except UnknownKeyId:
                # Entra rolls keys without notice: one rate-limited refresh, then fail closed.
                if not await self.keys.refresh_for_unknown_kid():
                    raise
                claims = verify(jws, await self.keys.current(), algorithms=algorithms)
            validate_claims(
                claims,
                now=self._clock(),
                issuer=self._issuer_rule,
                audiences=frozenset({self.config.client_id}),
                leeway=self.config.clock_skew,
                require_iat=True,
                nonce=nonce,
                client_id=self.config.client_id,
            )
        except TokenError as exc:
            raise LoginRejected(f"id_token_{exc.code}", "the ID token is not valid") from exc
        except LookupError:
            raise IdpUnavailable("the identity provider's signing keys are unavailable") from None
        if max_age is not None:
            problem = auth_time_problem(
                claims, max_age=max_age, now=self._clock(), leeway=self.config.clock_skew
            )
            if problem is not None:
                raise LoginRejected(problem, "the ID token does not prove a recent sign-in")
        return claims

    def identity(self, claims: dict[str, Any]) -> Identity:
        """The identity an ID token proves. Entra: keyed by (tid, oid); else by (iss, sub)."""
        tenant = oid = None
        if self.config.type == "entra":
            tenant, oid = claims.get("tid"), claims.get("oid")
            if not is_guid(tenant) or not is_guid(oid):
                raise LoginRejected("id_token_identity", "the ID token has no tid/oid")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise LoginRejected("id_token_identity", "the ID token has no sub")
        client = claim_text(claims.get("azp")) or self.config.client_id
        return identity_from_claims(claims, kind=Kind.USER, client_id=client)

    def end_session_url(self, *, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        metadata = self._discovery.value
        if metadata is None or metadata.end_session_endpoint is None:
            return None
        params = {
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self.config.client_id,
        }
        if id_token:
            params["id_token_hint"] = id_token
        separator = "&" if "?" in metadata.end_session_endpoint else "?"
        return metadata.end_session_endpoint + separator + urlencode(params)
