"""Alert delivery: webhook URLs checked and kept secret, and :class:`AlertSender`.

A webhook URL is a credential (Slack puts the secret in the path, Teams
Workflows in the ``sig`` query parameter), so it is a
:class:`~portcullis.secret.Secret` and only ever shown as its origin
(:func:`shown`). It must be https, or http to a loopback address.

:class:`AlertSender` never blocks the request path: :meth:`AlertSender.submit`
puts the violation on one bounded queue per webhook (a full queue drops it and
counts it in ``dropped``) and one task per webhook posts the payloads: a
timeout per attempt, one retry after a connection error, a timeout, a 429 or
a 5xx; other answers are final. Requests go straight to an httpx transport,
not through an ``httpx.AsyncClient``, because the client logs every request's
full URL at INFO level.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import orjson

from portcullis.guardrails.alerts import BUILDERS
from portcullis.guardrails.violation import Severity, Violation
from portcullis.ids import is_loopback
from portcullis.secret import Secret

__all__ = ["AlertSender", "Webhook", "check_webhook_url", "shown"]

log = logging.getLogger("portcullis.guardrails")

_MAX_RESPONSE = 64 * 1024
_RETRY_STATUS = frozenset({408, 425, 429})


def check_webhook_url(url: str) -> str:
    """``url`` if it is a usable webhook URL; the ``ValueError`` never repeats it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ValueError("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("the webhook URL must be an https URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError("the webhook URL must be https (http only to a loopback address)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the webhook URL must not carry a user name or password")
    if parts.fragment:
        raise ValueError("the webhook URL must not carry a fragment")
    if any(c in url for c in " \t\r\n"):
        raise ValueError("the webhook URL must not contain spaces")
    return url


def shown(url: str) -> str:
    """What logs and reprs show of a webhook URL: its origin, never path or query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    return f"{parts.scheme}://{parts.hostname}{port}/..."


@dataclass(frozen=True, slots=True)
class Webhook:
    """One destination: the URL (secret), the payload format, the least severity sent."""

    url: Secret[str]
    format: str = "json"
    min_severity: Severity = Severity.LOW
    timeout: float = 5.0
    name: str = field(default="", compare=False)  # how logs name it; default: the origin

    def __post_init__(self) -> None:
        if self.format not in BUILDERS:
            raise ValueError(f"unknown webhook format {self.format!r}")
        check_webhook_url(self.url.reveal())
        if not self.name:
            object.__setattr__(self, "name", shown(self.url.reveal()))

    def __repr__(self) -> str:
        return f"Webhook({self.name!r}, format={self.format!r})"

    def wants(self, violation: Violation) -> bool:
        return violation.severity.rank >= self.min_severity.rank


class AlertSender:
    """One per worker and event loop. ``start()`` in the loop; ``close()`` at shutdown."""

    def __init__(
        self,
        webhooks: Sequence[Webhook],
        *,
        queue_max: int = 1000,
        retry_delay: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if queue_max < 1:
            raise ValueError("queue_max must be at least 1")
        self.webhooks = tuple(webhooks)
        self.sent = 0
        self.failed = 0  # given up after the retry, or a final refusal
        self.dropped = 0  # lost to a full queue or after close()
        self._retry_delay = retry_delay
        self._transport = transport or httpx.AsyncHTTPTransport(retries=0)
        self._queues: list[asyncio.Queue[Violation]] = [
            asyncio.Queue(queue_max) for _ in self.webhooks
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"AlertSender({list(self.webhooks)!r})"

    @property
    def queued(self) -> int:
        return sum(q.qsize() for q in self._queues)

    def submit(self, violation: Violation) -> None:
        """Queue ``violation`` for every webhook that wants it. Never blocks."""
        for hook, queue in zip(self.webhooks, self._queues, strict=True):
            if not hook.wants(violation):
                continue
            if self._closed:
                self.dropped += 1
                continue
            try:
                queue.put_nowait(violation)
            except asyncio.QueueFull:
                self.dropped += 1

    def start(self) -> None:
        """Start the delivery tasks (call from the running event loop)."""
        if self._tasks or self._closed:
            return
        self._tasks = [
            asyncio.get_running_loop().create_task(self._run(hook, queue))
            for hook, queue in zip(self.webhooks, self._queues, strict=True)
        ]

    async def close(self, *, grace: float = 2.0) -> None:
        """Deliver what is queued for up to ``grace`` seconds, then stop; the rest is dropped."""
        self._closed = True
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    for queue in self._queues:
                        await queue.join()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        for queue in self._queues:
            self.dropped += queue.qsize()
            while not queue.empty():
                queue.get_nowait()
        await self._transport.aclose()

    async def _run(self, hook: Webhook, queue: asyncio.Queue[Violation]) -> None:
        while True:
            violation = await queue.get()
            try:
                await self.deliver(hook, violation)
            finally:
                queue.task_done()

    async def deliver(self, hook: Webhook, violation: Violation) -> bool:
        """Post one alert now (with one retry); True when the webhook took it."""
        body = orjson.dumps(BUILDERS[hook.format](violation))
        cause = ""
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(self._retry_delay)
            status, cause = await self._post(hook, body)
            if 200 <= status < 300:
                self.sent += 1
                return True
            if status and status not in _RETRY_STATUS and status < 500:
                break  # a final refusal: retrying will not help
        self.failed += 1
        log.warning("guardrails: alert to %s not delivered: %s", hook.name, cause)
        return False

    async def _post(self, hook: Webhook, body: bytes) -> tuple[int, str]:
        """(status, cause); status 0 when there was no answer."""
        request = httpx.Request(
            "POST",
            hook.url.reveal(),
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": "portcullis"},
            extensions={"timeout": httpx.Timeout(hook.timeout).as_dict()},
        )
        try:
            async with asyncio.timeout(hook.timeout):
                response = await self._transport.handle_async_request(request)
                try:
                    size = 0
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        if size > _MAX_RESPONSE:
                            break
                finally:
                    await response.aclose()
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            return 0, type(exc).__name__
        return response.status_code, f"HTTP {response.status_code}"
