"""A policy verdict as the gate's :class:`Decision`, and the ``allow`` shorthand evaluated alone.

The gate decides with each route's compiled policy (:mod:`portcullis.policy`);
:func:`denial` turns a refusing verdict into the decision the response is made from
(RFC 6750/9470 challenges for tokens). :func:`evaluate` applies one ``allow``
shorthand to an identity, as the route would.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from portcullis.bearer.principal import TokenFacts
from portcullis.config.auth_schema import Allow
from portcullis.decision import Decision, Reason
from portcullis.identity import Identity
from portcullis.policy import Context, Facts, Verdict, compile_rules
from portcullis.policy.legacy import rules_from_allow

__all__ = ["cae_challenge", "denial", "evaluate"]


def evaluate(
    identity: Identity, allow: Allow | None, token: TokenFacts | None = None, *, now: float = 0.0
) -> Decision | None:
    """None when ``allow`` admits the identity, else the denial."""
    policy = compile_rules(rules_from_allow(allow), Context(), "allow")
    verdict = policy.decide(Facts(identity, now=now, token=token))
    return None if verdict.allow else denial(verdict, bearer=token is not None)


def denial(
    verdict: Verdict,
    *,
    bearer: bool,
    subject: Any = None,
    explain: Callable[[], tuple[str, ...]] | None = None,
) -> Decision:
    """A refusing verdict as the decision the response is made from."""
    hint = verdict.hint
    challenge = b""
    max_age: int | None = None
    if hint is not None and hint.kind == "step-up":
        max_age = int(hint.value)
        if bearer:  # RFC 9470
            challenge = (
                b'Bearer error="insufficient_user_authentication", '
                b'error_description="A more recent authentication is required", '
                b"max_age=%d" % max_age
            )
    elif hint is not None and verdict.reason is Reason.INSUFFICIENT_CLAIMS:
        challenge = cae_challenge(hint.value)
    return Decision(
        False,
        verdict.reason,
        verdict.message,
        challenge=challenge,
        rule=verdict.rule,
        reasons=verdict.reasons,
        monitored=verdict.monitored,
        max_age=max_age,
        subject=subject,
        explain=explain,
    )


def cae_challenge(context: str) -> bytes:
    """CAE: ask a client that handles claims challenges for an authentication context."""
    claims = {"access_token": {"acrs": {"essential": True, "value": context}}}
    encoded = base64.b64encode(orjson.dumps(claims)).decode()
    return (
        f'Bearer error="insufficient_claims", claims="{encoded}", '
        f'error_description="authentication context {context} required"'
    ).encode()
