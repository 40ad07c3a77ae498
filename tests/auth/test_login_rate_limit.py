"""A burst of sign-in starts from one address is cut off with 429 (its own proxy: the burst
exhausts the bucket of 127.0.0.1 for the other tests)."""

from __future__ import annotations

from tests.auth.browser import Browser
from tests.support.proxy import Proxy


def test_starting_sign_ins_is_rate_limited_per_client(proxy: Proxy) -> None:
    browser = Browser()
    statuses = [browser.get(proxy.url + "/.portcullis/login?rd=/").status for _ in range(100)]
    assert statuses[0] == 302
    assert statuses[-1] == 429
    assert 55 <= statuses.count(302) <= 80  # the burst (60) plus what refilled meanwhile
    refused = browser.get(proxy.url + "/.portcullis/login?rd=/")
    assert refused.status == 429 and refused.headers["retry-after"] == "10"
    assert "Traceback" not in proxy.log()
