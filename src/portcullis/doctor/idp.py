"""Identity-provider checks: discovery and issuer, signing keys, and the clocks' agreement.

The same code as sign-in does the talking (:class:`~portcullis.oidc.provider.ProviderClient`
loads and checks the discovery document: an ``oidc`` issuer must be exactly the configured
one, an ``entra`` issuer must be on the authority host), so a provider that passes here is
one sign-in can use. The identity provider's clock is read from the ``Date`` header of its
discovery answer (one-second resolution) and compared with this machine's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from portcullis.config.auth_schema import Provider
from portcullis.doctor.report import Check, Status
from portcullis.jose import KeySet
from portcullis.oidc.fetch import Fetcher, IdpUnavailable
from portcullis.oidc.provider import ProviderClient

__all__ = ["check_provider", "clock_check"]

_DATE_RESOLUTION = 1.0  # seconds: an HTTP date has no fractions


class _DatedFetcher(Fetcher):
    """A :class:`Fetcher` that notes each answer's ``Date`` against the local clock."""

    def __init__(self, *, timeout: float, clock: Callable[[], float]) -> None:
        super().__init__(timeout=timeout)
        self.offsets: dict[str, float] = {}  # url -> their clock minus ours, in seconds
        self._clock = clock
        self._client.event_hooks = {"response": [self._note]}

    async def _note(self, response: httpx.Response) -> None:
        header = response.headers.get("date")
        if header is None:
            return
        try:
            theirs = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        self.offsets[str(response.request.url)] = theirs - self._clock()


async def check_provider(
    provider: Provider, *, timeout: float = 5.0, clock: Callable[[], float] = time.time
) -> list[Check]:
    """Discovery (and its issuer), the JWKS, and the clock of one provider."""
    name = f"idp {provider.name}"
    fetcher = _DatedFetcher(timeout=timeout, clock=clock)
    client = ProviderClient(provider, client_auth=(), redirect_uri="", fetcher=fetcher, clock=clock)
    try:
        try:
            metadata = await client.metadata()
        except IdpUnavailable as exc:
            return [Check(f"{name}: discovery", Status.FAIL, str(exc))]
        checks = [
            Check(
                f"{name}: discovery",
                Status.OK,
                f"{client.discovery_url} answers; issuer {metadata.issuer}",
            ),
            await _keys(name, fetcher, metadata.jwks_uri),
            clock_check(name, fetcher.offsets.get(client.discovery_url), skew=provider.clock_skew),
        ]
    finally:
        await fetcher.close()
    return checks


async def _keys(name: str, fetcher: Fetcher, jwks_uri: str) -> Check:
    try:
        document: dict[str, Any] = await fetcher.get_json(jwks_uri)
        KeySet.from_jwks(document)
    except (IdpUnavailable, ValueError) as exc:
        return Check(f"{name}: keys", Status.FAIL, f"{jwks_uri}: {exc}")
    count = len(document["keys"])
    if count == 0:
        return Check(f"{name}: keys", Status.FAIL, f"{jwks_uri} lists no keys")
    return Check(f"{name}: keys", Status.OK, f"{jwks_uri}: {count} key{'s' * (count != 1)}")


def clock_check(name: str, offset: float | None, *, skew: float) -> Check:
    """Compare the IdP's clock ``offset`` (theirs minus ours) with the allowed ``skew``.

    Within half the skew: OK; within the skew: WARN (little margin left); beyond: FAIL,
    tokens would be refused as not yet valid or expired.
    """
    if offset is None:
        return Check(f"{name}: clock", Status.WARN, "no Date header in the answer; not compared")
    gap = max(abs(offset) - _DATE_RESOLUTION, 0.0)
    if gap == 0:
        text = f"the IdP's clock agrees with this one within 1 s (clock_skew {skew:g} s)"
    else:
        direction = "ahead of" if offset > 0 else "behind"
        text = f"the IdP's clock is {abs(offset):.0f} s {direction} this one"
        text += f" (clock_skew {skew:g} s)"
    if gap > skew:
        return Check(f"{name}: clock", Status.FAIL, f"{text}: tokens will be refused; sync NTP")
    if gap > skew / 2:
        return Check(f"{name}: clock", Status.WARN, f"{text}: little margin left; check NTP")
    return Check(f"{name}: clock", Status.OK, text)
