"""The criteria a policy rule can use, one module each, registered in :data:`CRITERIA`."""

from __future__ import annotations

from collections.abc import Mapping

from portcullis.policy.criteria import (
    acr,
    amr,
    app_roles,
    auth_context,
    claims,
    clients,
    groups,
    kinds,
    max_auth_age,
    max_token_lifetime,
    methods,
    mfa,
    paths,
    roles,
    scopes,
    signed_in,
    source_ip,
    tenants,
    time_window,
    via,
)
from portcullis.policy.criterion import Compiler

__all__ = ["CRITERIA"]

CRITERIA: Mapping[str, Compiler] = {
    module.NAME: module.compile
    for module in (
        signed_in,
        kinds,
        roles,
        app_roles,
        groups,
        scopes,
        claims,
        tenants,
        clients,
        mfa,
        amr,
        acr,
        max_auth_age,
        max_token_lifetime,
        auth_context,
        source_ip,
        methods,
        paths,
        time_window,
        via,
    )
}
