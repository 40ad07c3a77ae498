"""Running every check in order: configuration, credentials, identity providers, upstreams,
stores. A configuration that does not load stops there (the rest would guess)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from portcullis.config import ConfigError, load_config
from portcullis.config.schema import Config
from portcullis.credentials import Urgency, dated_credentials, findings
from portcullis.doctor.idp import check_provider
from portcullis.doctor.report import Check, Status
from portcullis.doctor.stores import check_stores
from portcullis.doctor.upstreams import check_upstreams

__all__ = ["credential_checks", "diagnose"]

_STATUS = {Urgency.OK: Status.OK, Urgency.SOON: Status.WARN, Urgency.EXPIRED: Status.FAIL}


async def diagnose(
    path: str | os.PathLike[str],
    *,
    timeout: float = 5.0,
    head: bool = True,
    clock: Callable[[], float] = time.time,
) -> list[Check]:
    """Every check for the configuration file at ``path`` (``head``: ask upstreams HEAD /)."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        return [Check("config", Status.FAIL, str(problem)) for problem in exc.problems]
    count = len(config.routes)
    checks = [Check("config", Status.OK, f"{path}: valid ({count} route{'s' * (count != 1)})")]
    checks += credential_checks(config, now=datetime.fromtimestamp(clock(), UTC))
    providers = config.auth.providers if config.auth is not None else []
    for found in await asyncio.gather(
        *(check_provider(p, timeout=timeout, clock=clock) for p in providers)
    ):
        checks += found
    checks += await check_upstreams(config, timeout=min(timeout, 3.0), head=head)
    checks += check_stores(config)
    return checks


def credential_checks(config: Config, *, now: datetime) -> list[Check]:
    """One check per dated secret or certificate; unreadable certificates fail."""
    dated, problems = dated_credentials(config)
    checks = [Check(f"expiry {p.path}", Status.FAIL, p.message) for p in problems]
    warn_days = config.server.expiry_warn_days
    for finding in findings(dated, now=now, warn_days=warn_days):
        checks.append(
            Check(f"expiry {finding.key_path}", _STATUS[finding.urgency], finding.describe())
        )
    undated = _undated_client_secrets(config)
    if undated:
        checks.append(
            Check(
                "expiry",
                Status.OK,
                f"no 'expires' date on {', '.join(undated)}: add one to be warned "
                f"{warn_days} days ahead",
            )
        )
    return checks


def _undated_client_secrets(config: Config) -> list[str]:
    if config.auth is None:
        return []
    return [
        f"auth.providers[{i}].client_secret[{j}]"
        for i, provider in enumerate(config.auth.providers)
        if provider.client_auth != "private_key_jwt"
        for j, source in enumerate(provider.client_secret or ())
        if source.expires is None
    ]
