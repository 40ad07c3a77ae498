"""Hot reload of a real Portcullis process in front of a real Apache httpd.

SIGHUP (to the single worker, or to the supervisor which forwards it), the file watcher,
a refused broken file, and reloads under load that must not lose a single request.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.apache import Apache
from tests.support.proxy import Proxy, run_proxy

pytestmark = pytest.mark.apache

RELOADED = "configuration reloaded ("
REFUSED = "reload refused: still serving the previous configuration"


def base_config(apache: Apache, **server: Any) -> dict[str, Any]:
    """One public route, /cgi-bin, to Apache; /1k.bin is not routed (404) until added."""
    config: dict[str, Any] = {
        "routes": [{"path": "/cgi-bin", "upstream": apache.url, "public": True}],
        "log": {"level": "info"},
    }
    if server:
        config["server"] = server
    return config


def rewrite(proxy: Proxy, change: dict[str, Any] | str) -> None:
    """Replace the running config file atomically (as the docs advise), keeping ``listen``."""
    if isinstance(change, dict):
        text = yaml.safe_dump({**change, "listen": {"address": "127.0.0.1", "port": proxy.port}})
    else:
        text = change
    temporary = proxy.config_path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(proxy.config_path)


def with_route(config: dict[str, Any], apache: Apache, path: str) -> dict[str, Any]:
    route = {"path": path, "upstream": apache.url, "public": True}
    return {**config, "routes": [*config["routes"], route]}


def status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_for_log(proxy: Proxy, text: str, count: int = 1, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = proxy.log()
        if log.count(text) >= count:
            return log
        time.sleep(0.02)
    raise AssertionError(f"{count} x {text!r} not logged in {timeout}s:\n{proxy.log()}")


def assert_clean(log: str) -> None:
    assert "Traceback" not in log, log


def test_sighup_adds_a_route(apache: Apache, tmp_path: Path) -> None:
    config = base_config(apache)
    with run_proxy(config, tmp_path) as proxy:
        assert status(proxy.port, "/1k.bin") == 404
        assert status(proxy.port, "/cgi-bin/echo.cgi") == 200
        rewrite(proxy, with_route(config, apache, "/1k.bin"))
        proxy.process.send_signal(signal.SIGHUP)
        log = wait_for_log(proxy, RELOADED)
        assert status(proxy.port, "/1k.bin") == 200
        assert status(proxy.port, "/cgi-bin/echo.cgi") == 200
        digest = re.search(r"configuration reloaded \(2 routes, sha256 ([0-9a-f]{12})\)", log)
        assert digest is not None, log
        assert hashlib.sha256(proxy.config_path.read_bytes()).hexdigest()[:12] == digest[1]
        assert "routes: 1 added, 0 removed, 0 changed; sign-in kept" in log
        assert proxy.process.poll() is None
    assert_clean(proxy.log())


def test_a_broken_config_is_refused_and_the_old_routes_keep_serving(
    apache: Apache, tmp_path: Path
) -> None:
    config = base_config(apache)
    with run_proxy(config, tmp_path) as proxy:
        broken = {**config, "routes": [{"path": "/cgi-bin", "upstream": "ftp://nowhere"}]}
        rewrite(proxy, broken)
        proxy.process.send_signal(signal.SIGHUP)
        log = wait_for_log(proxy, REFUSED)
        assert "ERROR portcullis.reload" in log
        assert "reload refused: routes[0].upstream: not an http(s) URL" in log
        assert status(proxy.port, "/cgi-bin/echo.cgi") == 200
        rewrite(proxy, "routes: [\n")  # not even YAML
        proxy.process.send_signal(signal.SIGHUP)
        log = wait_for_log(proxy, REFUSED, count=2)
        assert f"reload refused: {proxy.config_path}: invalid YAML on line 2" in log
        assert status(proxy.port, "/cgi-bin/echo.cgi") == 200
        assert RELOADED not in log
        # A good file afterwards is taken.
        rewrite(proxy, with_route(config, apache, "/1k.bin"))
        proxy.process.send_signal(signal.SIGHUP)
        wait_for_log(proxy, RELOADED)
        assert status(proxy.port, "/1k.bin") == 200
    assert_clean(proxy.log())


def test_the_file_watcher_reloads_without_a_signal(apache: Apache, tmp_path: Path) -> None:
    config = base_config(apache, reload={"watch": True, "interval": 0.2})
    with run_proxy(config, tmp_path) as proxy:
        assert status(proxy.port, "/1k.bin") == 404
        changed = time.monotonic()
        rewrite(proxy, with_route(config, apache, "/1k.bin"))
        wait_for_log(proxy, RELOADED, timeout=5)
        took = time.monotonic() - changed
        assert status(proxy.port, "/1k.bin") == 200
        assert took < 2.0, f"the watcher took {took:.2f}s (interval 0.2s)"
        time.sleep(0.6)  # no change: no further reload
        assert proxy.log().count(RELOADED) == 1
    assert_clean(proxy.log())


def worker_pids(log: str) -> set[str]:
    return set(re.findall(r"portcullis\[(\d+)\]: listening on", log))


def test_sighup_to_the_supervisor_reloads_every_worker(apache: Apache, tmp_path: Path) -> None:
    config = base_config(apache)
    with run_proxy(config, tmp_path, args=("--workers", "2")) as proxy:
        deadline = time.monotonic() + 10
        while len(worker_pids(proxy.log())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = worker_pids(proxy.log())
        assert len(workers) == 2, proxy.log()
        rewrite(proxy, with_route(config, apache, "/1k.bin"))
        proxy.process.send_signal(signal.SIGHUP)
        log = wait_for_log(proxy, RELOADED, count=2)
        reloaded = set(re.findall(r"portcullis\.reload\[(\d+)\]: configuration reloaded", log))
        assert reloaded == workers
        # New connections land on either worker (SO_REUSEPORT): every one sees the route.
        assert [status(proxy.port, "/1k.bin") for _ in range(30)] == [200] * 30
        # A worker that dies is replaced by one that starts with the reloaded file.
        os.kill(int(next(iter(workers))), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while len(worker_pids(proxy.log())) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(worker_pids(proxy.log())) == 3, proxy.log()
        assert [status(proxy.port, "/1k.bin") for _ in range(30)] == [200] * 30
        assert proxy.stop() == 0


SLOW_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'first half\\n'
sleep 0.2
printf 'second half\\n'
"""


def test_reloads_under_load_lose_no_request(apache: Apache, tmp_path: Path) -> None:
    """~2000 requests while SIGHUP arrives every 100 ms, alternating two valid files.

    Keep-alive and fresh connections fetch 1 KiB; two more clients call a CGI that sends
    half its body, waits 0.2 s and sends the rest, so that every reload lands while a
    response streams from an upstream connection of the state being replaced.
    """
    config_a = with_route(base_config(apache), apache, "/1k.bin")
    # B differs in routes, pools and limits: every reload builds and swaps a real new state.
    config_b = with_route(
        {**config_a, "server": {"pool_max_idle": 8, "limits": {"max_header_count": 90}}},
        apache,
        "/other",
    )
    slow = apache.root / "cgi-bin" / "reload-slow.cgi"
    slow.write_text(SLOW_CGI)
    slow.chmod(0o755)
    results: Counter[str] = Counter()
    lock = threading.Lock()

    def client(kind: str, count: int) -> None:
        path, expected = (
            ("/cgi-bin/reload-slow.cgi", b"first half\nsecond half\n")
            if kind == "slow"
            else ("/1k.bin", None)
        )
        conn: http.client.HTTPConnection | None = None
        for _ in range(count):
            if kind != "slow":
                time.sleep(0.012)  # spread the load over several seconds of reloads
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and (
                    body == expected if expected is not None else len(body) == 1024
                )
                outcome = "200" if ok else f"status {response.status}, {len(body)} bytes"
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = None
            with lock:
                results[outcome] += 1
            if kind == "fresh" and conn is not None:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    plan = [("keep-alive", 320)] * 3 + [("fresh", 320)] * 3 + [("slow", 20)] * 2
    with run_proxy(config_a, tmp_path) as proxy:
        threads = [threading.Thread(target=client, args=item) for item in plan]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        signals = 0
        while any(thread.is_alive() for thread in threads):
            rewrite(proxy, config_b if signals % 2 == 0 else config_a)
            proxy.process.send_signal(signal.SIGHUP)
            signals += 1
            time.sleep(0.1)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        log = wait_for_log(proxy, RELOADED, count=signals)
        total = sum(results.values())
        print(f"\n{total} requests in {elapsed:.1f}s with {signals} reloads: {dict(results)}")
        assert results == Counter({"200": sum(count for _, count in plan)})
        assert signals >= 20, f"only {signals} reloads during the load ({elapsed:.1f}s)"
        assert "reload refused" not in log
        assert proxy.process.poll() is None
    assert_clean(proxy.log())
