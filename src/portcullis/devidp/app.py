"""Routing and the metadata endpoints: ``Request`` in, ``Response`` out, no sockets.

Paths are Entra's under ``/{tenant}/``, where ``{tenant}`` is the demo tenant
id or ``organizations`` / ``common``. Discovery under the latter two returns
the ``{tenantid}`` issuer *template*, as Entra does; tokens always carry the
concrete tenant issuer. Two issuers, one key set:

* v2.0: ``{base}/{tid}/v2.0`` — ``/{tenant}/v2.0/.well-known/openid-configuration``,
  keys at ``/{tenant}/discovery/v2.0/keys``; ID tokens and v2 access tokens.
* v1.0: ``{base}/{tid}/`` (trailing slash) — the dev IdP's stand-in for
  Entra's ``https://sts.windows.net/{tid}/``; ``/{tenant}/.well-known/openid-configuration``,
  keys at ``/{tenant}/discovery/keys``; access tokens for APIs that accept v1.
  Its endpoints are the v2.0 ones (there is no v1 ``oauth2/token``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from portcullis.devidp import pages
from portcullis.devidp.apitokens import Issuers
from portcullis.devidp.authorize import CODE_TTL, PENDING_TTL, Authorizer, AuthRequest, Grant
from portcullis.devidp.clientauth import (
    ASSERTION_ALGORITHMS,
    MAX_ASSERTION_LIFETIME,
    ClientAuthenticator,
)
from portcullis.devidp.keys import ALG, SigningKeys
from portcullis.devidp.model import DevIdpConfig
from portcullis.devidp.stores import OneTimeStore
from portcullis.devidp.token import GRANT_TYPES, TokenEndpoint
from portcullis.devidp.wire import (
    BadParams,
    Request,
    Response,
    html_response,
    json_response,
    parse_params,
    redirect,
)

__all__ = ["MULTI_TENANT", "DevIdpApp"]

MULTI_TENANT = ("organizations", "common")
_CLAIMS = (
    "aud", "iss", "iat", "nbf", "exp", "sub", "oid", "tid", "name", "preferred_username",
    "email", "roles", "groups", "idtyp", "ver", "uti", "nonce", "auth_time", "amr", "sid",
    "azp", "azpacr", "appid", "appidacr", "scp", "acrs", "xms_cc", "xms_act_fct", "xms_sub_fct",
)  # fmt: skip


class DevIdpApp:
    """The whole IdP for one tenant, reachable at ``base_url`` (``http://host:port``)."""

    def __init__(
        self,
        config: DevIdpConfig,
        *,
        base_url: str,
        keys: SigningKeys,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.keys = keys
        self.issuer = f"{base_url}/{config.tenant_id}/v2.0"
        self.issuer_v1 = f"{base_url}/{config.tenant_id}/"
        self.issuers = Issuers(v2=self.issuer, v1=self.issuer_v1)
        codes: OneTimeStore[Grant] = OneTimeStore(ttl=CODE_TTL, clock=clock)
        pending: OneTimeStore[AuthRequest] = OneTimeStore(ttl=PENDING_TTL, clock=clock)
        jtis: OneTimeStore[str] = OneTimeStore(ttl=MAX_ASSERTION_LIFETIME + 120, clock=clock)
        self._authorizer = Authorizer(config, codes, pending, clock)
        self._token = TokenEndpoint(
            config=config,
            codes=codes,
            clients=ClientAuthenticator(config, jtis),
            keys=keys,
            clock=clock,
        )

    def __call__(self, request: Request) -> Response:
        parts = request.path.split("/")
        tenant = parts[1].lower() if len(parts) > 2 and not parts[0] else None
        if tenant not in (self.config.tenant_id, *MULTI_TENANT):
            return _not_found()
        route = "/".join(parts[2:])
        get_only = request.method in ("GET", "HEAD")
        if route == "v2.0/.well-known/openid-configuration":
            return json_response(200, self.discovery(tenant)) if get_only else _not_allowed("GET")
        if route == "discovery/v2.0/keys":
            return json_response(200, self.jwks(tenant)) if get_only else _not_allowed("GET")
        if route == ".well-known/openid-configuration":
            doc = self.discovery(tenant, v1=True)
            return json_response(200, doc) if get_only else _not_allowed("GET")
        if route == "discovery/keys":
            doc = self.jwks(tenant, v1=True)
            return json_response(200, doc) if get_only else _not_allowed("GET")
        if route == "oauth2/v2.0/authorize":
            if get_only:
                return self._authorizer.start(request.query, action=request.path)
            if request.method == "POST" and request.is_form():
                return self._authorizer.choose(request.body)
            return _not_allowed("GET, POST")
        if route == "oauth2/v2.0/token":
            if request.method != "POST":
                return _not_allowed("POST")
            audiences = {self._endpoint(tenant, "token"), self._endpoint(None, "token")}
            return self._token.handle(request, issuers=self.issuers, audiences=audiences)
        if route == "oauth2/v2.0/logout":
            if get_only:
                return self.logout(request.query)
            if request.method == "POST" and request.is_form():
                return self.logout(request.body)
            return _not_allowed("GET, POST")
        return _not_found()

    def _endpoint(self, tenant: str | None, name: str) -> str:
        return f"{self.base_url}/{tenant or self.config.tenant_id}/oauth2/v2.0/{name}"

    def _issuer_for(self, tenant: str, *, v1: bool = False) -> str:
        if tenant in MULTI_TENANT:
            return f"{self.base_url}/{{tenantid}}/" if v1 else f"{self.base_url}/{{tenantid}}/v2.0"
        return self.issuer_v1 if v1 else self.issuer

    def discovery(self, tenant: str, *, v1: bool = False) -> dict[str, Any]:
        keys = "discovery/keys" if v1 else "discovery/v2.0/keys"
        return {
            "issuer": self._issuer_for(tenant, v1=v1),
            "authorization_endpoint": self._endpoint(tenant, "authorize"),
            "token_endpoint": self._endpoint(tenant, "token"),
            "jwks_uri": f"{self.base_url}/{tenant}/{keys}",
            "end_session_endpoint": self._endpoint(tenant, "logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": list(GRANT_TYPES),
            "claims_parameter_supported": True,
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": [ALG],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "token_endpoint_auth_signing_alg_values_supported": sorted(ASSERTION_ALGORITHMS),
            "claims_supported": list(_CLAIMS),
            "request_uri_parameter_supported": False,
            "tenant_region_scope": None,
            "cloud_instance_name": "portcullis-dev-idp",
        }

    def jwks(self, tenant: str, *, v1: bool = False) -> dict[str, Any]:
        return self.keys.jwks(self._issuer_for(tenant, v1=v1))

    def logout(self, raw: str | bytes) -> Response:
        """Redirect to a *registered* ``post_logout_redirect_uri`` (with ``state``), else a page."""
        try:
            params = parse_params(raw)
        except BadParams as exc:
            return html_response(400, partial(pages.signed_out_page, note=str(exc)))
        target = params.get("post_logout_redirect_uri")
        if target is None:
            return html_response(200, partial(pages.signed_out_page, note=None))
        client = self.config.client(params.get("client_id", ""))
        clients = (client,) if client is not None else self.config.clients
        if not any(target in c.post_logout_redirect_uris for c in clients):
            note = "The post_logout_redirect_uri is not registered, so you stay here."
            return html_response(400, partial(pages.signed_out_page, note=note))
        state = params.get("state")
        if state is None:
            return redirect(target)
        parts = urlsplit(target)
        extra = urlencode({"state": state})
        return redirect(urlunsplit(parts._replace(query=f"{parts.query}&{extra}".lstrip("&"))))


def _not_found() -> Response:
    return json_response(404, {"error": "not_found", "error_description": "no such endpoint"})


def _not_allowed(allow: str) -> Response:
    document = {"error": "invalid_request", "error_description": f"method not allowed; use {allow}"}
    response = json_response(405, document)
    return Response(405, (*response.headers, ("Allow", allow)), response.body)
