"""Webhook URLs and alert delivery to a real receiver on loopback."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from portcullis.guardrails.alerts import BUILDERS
from portcullis.guardrails.violation import Severity, Violation
from portcullis.guardrails.webhook import AlertSender, Webhook, check_webhook_url, shown
from portcullis.secret import Secret
from tests.guardrails.receiver import receiver
from tests.guardrails.stream import ALICE, START, obs


def violation(severity: Severity = Severity.HIGH, n: int = 0) -> Violation:
    return Violation(
        f"rule-{n}", "denials", severity, ALICE, "user", "5 denials", START + n, obs(n)
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T/B/x",
        "https://prod-1.westeurope.logic.azure.com/workflows/x/invoke?sig=abc",
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
    ],
)
def test_usable_urls(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/s3cr3t", "https"),
        ("ftp://hooks.example.com/s3cr3t", "https"),
        ("https://user:s3cr3t@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com/s3cr3t#frag", "fragment"),
        ("https://hooks.example.com:99999/s3cr3t", "not a valid URL"),
        ("https:///s3cr3t", "https"),
    ],
)
def test_unusable_urls_are_refused_without_showing_them(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        check_webhook_url(url)
    assert "s3cr3t" not in str(caught.value)


def test_only_the_origin_is_shown() -> None:
    assert shown("https://hooks.slack.com/services/T/B/s3cr3t?x=1") == "https://hooks.slack.com/..."
    hook = Webhook(Secret("http://127.0.0.1:8080/s3cr3t?sig=s3cr3t"), "teams")
    assert "s3cr3t" not in repr(hook) and "s3cr3t" not in repr(AlertSender([hook]))


def test_min_severity() -> None:
    hook = Webhook(Secret("https://h.example/x"), min_severity=Severity.MEDIUM)
    assert [hook.wants(violation(s)) for s in Severity] == [False, True, True]


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_each_format_reaches_the_receiver(fmt: str) -> None:
    with receiver() as hooks:
        sent = asyncio.run(send(Webhook(Secret(hooks.url), fmt), [violation()]))
        (got,) = hooks.wait_for(1)
    assert sent.sent == 1
    assert got.path == "/hooks/T000/B000/s3cr3t?sig=s3cr3t-sig"
    assert got.headers["Content-Type"] == "application/json"
    assert orjson.loads(got.body) == BUILDERS[fmt](violation())


def test_one_retry_after_a_server_error() -> None:
    with receiver() as hooks:
        hooks.statuses = [503]
        sent = asyncio.run(send(Webhook(Secret(hooks.url)), [violation()]))
        assert len(hooks.wait_for(2)) == 2
    assert (sent.sent, sent.failed) == (1, 0)


def test_only_one_retry_and_the_log_keeps_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with receiver() as hooks:
        hooks.statuses = [500, 502, 500]
        sent = asyncio.run(send(Webhook(Secret(hooks.url)), [violation()]))
        assert len(hooks.received) == 2
    assert (sent.sent, sent.failed) == (0, 1)
    assert "HTTP 502" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_refusal_is_final() -> None:
    with receiver() as hooks:
        hooks.statuses = [404]
        sent = asyncio.run(send(Webhook(Secret(hooks.url)), [violation()]))
        assert len(hooks.received) == 1
    assert sent.failed == 1


def test_a_slow_webhook_times_out(caplog: pytest.LogCaptureFixture) -> None:
    with receiver() as hooks:
        hooks.delay = 1.0
        sent = asyncio.run(send(Webhook(Secret(hooks.url), timeout=0.2), [violation()]))
    assert sent.failed == 1
    assert "TimeoutError" in caplog.text or "Timeout" in caplog.text


def test_no_server_at_all(caplog: pytest.LogCaptureFixture) -> None:
    with receiver() as hooks:
        url = hooks.url
    sent = asyncio.run(send(Webhook(Secret(url)), [violation()]))
    assert sent.failed == 1
    assert "ConnectError" in caplog.text and "s3cr3t" not in caplog.text


def test_a_full_queue_drops_and_counts() -> None:
    async def main() -> AlertSender:
        sender = AlertSender([Webhook(Secret("http://127.0.0.1:9/x"))], queue_max=2)
        for n in range(5):
            sender.submit(violation(n=n))  # not started: nothing leaves the queue
        assert sender.queued == 2
        await sender.close(grace=0)
        return sender

    sender = asyncio.run(main())
    assert sender.dropped == 5
    sender.submit(violation())  # after close: dropped too
    assert sender.dropped == 6


def test_submit_never_waits_for_the_network() -> None:
    async def main() -> float:
        with receiver() as hooks:
            hooks.delay = 0.3
            sender = AlertSender([Webhook(Secret(hooks.url))], queue_max=100)
            sender.start()
            loop = asyncio.get_running_loop()
            began = loop.time()
            for n in range(50):
                sender.submit(violation(n=n))
            took = loop.time() - began
            await sender.close(grace=0)
            return took

    assert asyncio.run(main()) < 0.05


async def send(hook: Webhook, violations: list[Violation]) -> AlertSender:
    sender = AlertSender([hook], retry_delay=0.01)
    sender.start()
    for item in violations:
        sender.submit(item)
    await sender.close(grace=5.0)
    return sender
