"""The guardrails as the gate uses them: observe each decision, act on violations.

:class:`Guardrails` holds the compiled rules, the block store and the alert
sender of one worker. Per decision the gate calls :meth:`Guardrails.observe`
(pure and fast: the rules that watch this kind of identity and outcome, looked
up in one table); when it returns violations, :meth:`Guardrails.handle`
stores blocks, writes audit records and queues alerts, without waiting for
the network. Before the policy, :meth:`Guardrails.is_blocked` says whether the
identity is blocked: a dictionary lookup.

A rule that fired for an identity stays silent for that identity during its
cooldown (default: the rule's window, else an hour), so a violation is raised
at most once per cooldown, per rule and identity, per worker.

:func:`build_guardrails` makes one from the ``guardrails`` settings.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence

import httpx

from portcullis.audit.record import AuditRecord
from portcullis.config.schema import GuardrailSettings
from portcullis.config.validate import ConfigError, Problem
from portcullis.guardrails.blocks import BlockStore
from portcullis.guardrails.events import Observation
from portcullis.guardrails.rules import compile_rules
from portcullis.guardrails.rules.base import ALL_KINDS, Rule
from portcullis.guardrails.violation import Severity, Violation, violation_record
from portcullis.guardrails.webhook import AlertSender, Webhook, check_webhook_url, shown
from portcullis.guardrails.window import Recent
from portcullis.metrics import METRICS

__all__ = ["Guardrails", "build_guardrails"]

log = logging.getLogger("portcullis.guardrails")

_NONE: tuple[Violation, ...] = ()
_NO_RULES: tuple[Rule, ...] = ()


class Guardrails:
    """One per worker process and event loop."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        max_identities: int = 50_000,
        blocks: BlockStore | None = None,
        alerts: AlertSender | None = None,
        audit: Callable[[AuditRecord], None] | None = None,
        refresh_seconds: float = 1.0,
    ) -> None:
        self.rules = tuple(rules)
        self.blocks = blocks
        self.alerts = alerts
        self.audit = audit
        self.violations = 0  # raised (after cooldown)
        self.block_errors = 0  # blocks that could not be stored
        self._refresh = refresh_seconds
        self._timer: asyncio.TimerHandle | None = None
        # allowed -> identity kind -> the rules that watch it, in configuration order.
        self._plan: dict[bool, dict[str, tuple[Rule, ...]]] = {
            allowed: {
                kind: tuple(r for r in self.rules if kind in r.kinds and allowed in r.outcomes)
                for kind in ALL_KINDS
            }
            for allowed in (True, False)
        }
        self._fired: dict[str, Recent[float]] = {r.name: Recent(max_identities) for r in rules}

    def __repr__(self) -> str:
        return f"Guardrails({[r.name for r in self.rules]!r})"

    def observe(self, obs: Observation) -> tuple[Violation, ...]:
        """The violations ``obs`` raises (usually none). Pure apart from the rules' memory."""
        found = _NONE
        for rule in self._plan[obs.allowed].get(obs.kind, _NO_RULES):
            detail = rule.check(obs)
            if detail is not None:
                violation = self._raise(rule, obs, detail)
                if violation is not None:
                    found = (*found, violation)
        return found

    def is_blocked(self, identity: str, now: float) -> bool:
        """Whether the gate must refuse ``identity`` (key ``tid/oid`` or ``iss#sub``)."""
        blocks = self.blocks
        return blocks is not None and blocks.is_blocked(identity, now)

    def handle(self, violations: Iterable[Violation]) -> None:
        """Store blocks, write audit records, queue alerts. Never waits for the network."""
        for violation in violations:
            METRICS.violation(violation.rule)
            log.warning(
                "guardrails: %s violation of %s by %s (%s): %s",
                violation.severity.value,
                violation.rule,
                violation.identity,
                violation.kind,
                violation.detail,
            )
            if violation.block_seconds and self.blocks is not None:
                self._block(self.blocks, violation)
            if self.audit is not None:
                self.audit(violation_record(violation))
            if self.alerts is not None:
                self.alerts.submit(violation)

    async def dispatch(self, violations: Iterable[Violation]) -> None:
        """:meth:`handle`, for callers in a coroutine."""
        self.handle(violations)

    def start(self) -> None:
        """Start alert delivery and the block refresh timer (from the running loop)."""
        if self.alerts is not None:
            self.alerts.start()
        if self.blocks is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._refresh, self._tick)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.alerts is not None:
            await self.alerts.close()
        if self.blocks is not None:
            self.blocks.close()

    def _raise(self, rule: Rule, obs: Observation, detail: str) -> Violation | None:
        fired = self._fired[rule.name]
        last = fired.get(obs.identity)
        if last is not None and obs.time - last < rule.cooldown:
            return None
        fired.put(obs.identity, obs.time)
        self.violations += 1
        return Violation(
            rule=rule.name,
            rule_kind=rule.kind,
            severity=rule.severity,
            identity=obs.identity,
            kind=obs.kind,
            detail=detail,
            time=obs.time,
            observation=obs,
            block_seconds=rule.block,
        )

    def _block(self, blocks: BlockStore, violation: Violation) -> None:
        until = violation.time + (violation.block_seconds or 0.0)
        try:
            blocks.block(
                violation.identity,
                now=violation.time,
                until=until,
                rule=violation.rule,
                detail=violation.detail,
            )
        except sqlite3.Error as exc:
            self.block_errors += 1
            log.error("guardrails: block of %s not stored: %s", violation.identity, exc)

    def _tick(self) -> None:
        try:
            if self.blocks is not None:
                self.blocks.refresh()
        except sqlite3.Error as exc:
            log.error("guardrails: cannot reread the blocks: %s", exc)
        self._timer = asyncio.get_running_loop().call_later(self._refresh, self._tick)


def build_guardrails(
    settings: GuardrailSettings,
    *,
    now: float,
    audit: Callable[[AuditRecord], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    retry_delay: float = 1.0,
) -> Guardrails:
    """The guardrails of one worker; ``now`` (epoch seconds) starts the new-client warm-up.

    Reads the webhook URLs (secrets) and opens the block store when a rule blocks;
    raises :class:`ConfigError` with key paths when a URL is missing or unusable.
    """
    from portcullis.config.load import resolve_secret  # noqa: PLC0415 - the I/O edge

    rules = compile_rules(settings.rules, max_identities=settings.max_identities, started=now)
    webhooks: list[Webhook] = []
    problems: list[Problem] = []
    for index, hook in enumerate(settings.webhooks):
        where = f"guardrails.webhooks[{index}].url"
        try:
            url = resolve_secret(hook.url, key_path=where)
            check_webhook_url(url.reveal())
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        name = f"guardrails.webhooks[{index}] {shown(url.reveal())}"
        severity = Severity(hook.min_severity)
        webhooks.append(Webhook(url, hook.format, severity, hook.timeout, name=name))
    if problems:
        raise ConfigError(problems)
    alerts = None
    if webhooks:
        alerts = AlertSender(
            webhooks, queue_max=settings.alert_queue, retry_delay=retry_delay, transport=transport
        )
    blocks = None
    if any(rule.block is not None for rule in rules):
        try:
            blocks = BlockStore(settings.blocks.sqlite_path)
        except (OSError, sqlite3.Error) as exc:
            where = "guardrails.blocks.sqlite_path"
            raise ConfigError([Problem(where, f"cannot open the block store: {exc}")]) from None
    return Guardrails(
        rules,
        max_identities=settings.max_identities,
        blocks=blocks,
        alerts=alerts,
        audit=audit,
        refresh_seconds=settings.blocks.refresh_seconds,
    )
