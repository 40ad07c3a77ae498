"""Bodies both ways: content-length and chunked, streamed with backpressure and bounded memory."""

from __future__ import annotations

import hashlib
import threading
import time
from types import TracebackType

from tests.http.rawhttp import Conn, fetch, request_bytes
from tests.http.upstream_app import BIG_BLOCK, Upstream, big_body, big_body_sha256
from tests.support.proxy import Proxy

MIB = 1024 * 1024
BIG = 200 * MIB
MEMORY_BUDGET_KIB = 80 * 1024


class RssSampler:
    """The proxy's peak resident memory while the block runs."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.base = proxy.rss_kib()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proxy.rss_kib())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_kib(self) -> int:
        return self.peak - self.base


def test_content_length_upload(conn: Conn) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    resp = conn.exchange("POST", "/upload", body=body)
    assert resp.status == 200
    assert resp.json() == {
        "upstream": "main",
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


def test_chunked_upload(conn: Conn, upstream: Upstream) -> None:
    parts = [b"a" * 10, b"b" * 70000, b"c"]
    wire = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    conn.send(
        request_bytes("POST", "/echo?chunked-up", headers=[("Transfer-Encoding", "chunked")]) + wire
    )
    resp = conn.read_response()
    whole = b"".join(parts)
    assert resp.json()["body_length"] == len(whole)
    assert resp.json()["body_sha256"] == hashlib.sha256(whole).hexdigest()
    assert conn.exchange("GET", "/echo?after-chunked-up").status == 200


def test_chunked_upload_with_trailer(conn: Conn) -> None:
    wire = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"
    conn.send(request_bytes("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + wire)
    resp = conn.read_response()
    assert resp.json()["body_length"] == 5
    assert conn.exchange("GET", "/echo?after-trailer").status == 200


def test_empty_post(conn: Conn) -> None:
    resp = conn.exchange("POST", "/echo", headers=[("Content-Length", "0")])
    assert resp.json()["body_length"] == 0
    assert resp.json()["method"] == "POST"


def test_chunked_response(conn: Conn) -> None:
    resp = conn.exchange("GET", "/chunked?parts=50")
    assert resp.status == 200
    assert resp.body == b"".join(f"part-{i}\n".encode() for i in range(50))
    assert conn.exchange("GET", "/echo?after-chunked").status == 200


def test_content_length_response(conn: Conn) -> None:
    resp = conn.exchange("GET", "/big?size=300000")
    assert resp.body == big_body(300000)


def test_200mb_download_streams_with_bounded_memory(proxy: Proxy, upstream: Upstream) -> None:
    with Conn(proxy.port) as warm:
        assert warm.exchange("GET", "/big?size=4000000").status == 200
    digest = hashlib.sha256()
    received = 0

    def take(piece: bytes) -> None:
        nonlocal received
        digest.update(piece)
        received += len(piece)

    with RssSampler(proxy) as rss, Conn(proxy.port, timeout=30) as conn:
        conn.request("GET", f"/big?size={BIG}")
        head = conn.read_head()
        assert head.status == 200
        assert head.header("content-length") == str(BIG)
        time.sleep(2.5)  # a slow reader: the proxy must stop reading the upstream
        stalled_growth = rss.growth_kib
        sent_while_stalled = upstream.big_sent
        conn.read_body(BIG, take)
    assert received == BIG
    assert digest.hexdigest() == big_body_sha256(BIG)
    assert sent_while_stalled < MEMORY_BUDGET_KIB * 1024, (
        f"the upstream wrote {sent_while_stalled >> 20} MiB while the client read nothing"
    )
    assert stalled_growth < MEMORY_BUDGET_KIB, (
        f"proxy grew {stalled_growth} KiB while the client stalled"
    )
    assert rss.growth_kib < MEMORY_BUDGET_KIB, f"proxy grew {rss.growth_kib} KiB"


def test_200mb_upload_streams_with_bounded_memory(proxy: Proxy) -> None:
    block = BIG_BLOCK * 16  # 1 MiB
    digest = hashlib.sha256()
    sent = 0
    failure: list[BaseException] = []

    def pump(conn: Conn) -> None:
        nonlocal sent
        try:
            for _ in range(BIG // len(block)):
                conn.send(block)
                digest.update(block)
                sent += len(block)
        except BaseException as exc:  # reported by the test below
            failure.append(exc)

    with RssSampler(proxy) as rss, Conn(proxy.port, timeout=30) as conn:
        # The upstream sleeps 2 s before reading: the proxy must stop reading the client.
        conn.send(request_bytes("POST", "/upload?delay=2", headers=[("Content-Length", str(BIG))]))
        sender = threading.Thread(target=pump, args=(conn,), daemon=True)
        sender.start()
        time.sleep(1.5)
        sent_while_stalled = sent
        stalled_growth = rss.growth_kib
        sender.join(60)
        assert not failure, failure
        resp = conn.read_response()
    assert resp.status == 200
    assert resp.json()["length"] == BIG
    assert resp.json()["sha256"] == digest.hexdigest()
    assert sent_while_stalled < MEMORY_BUDGET_KIB * 1024, (
        f"the proxy took {sent_while_stalled >> 20} MiB while the upstream read nothing"
    )
    assert stalled_growth < MEMORY_BUDGET_KIB, (
        f"proxy grew {stalled_growth} KiB while the upstream stalled"
    )
    assert rss.growth_kib < MEMORY_BUDGET_KIB, f"proxy grew {rss.growth_kib} KiB"


def test_client_abort_mid_download_releases_the_upstream(proxy: Proxy, upstream: Upstream) -> None:
    with Conn(proxy.port, timeout=10) as conn:
        conn.request("GET", f"/big?size={BIG}")
        assert conn.read_head().status == 200
        conn.read_body(1 << 20, lambda piece: None)
        deadline = time.monotonic() + 5
        while upstream.big_active == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    # The client is gone: the proxy must drop the upstream response, not pump it to nowhere.
    deadline = time.monotonic() + 5
    while upstream.big_active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.big_active == 0, (
        f"the upstream is still sending ({upstream.big_sent >> 20} MiB)"
    )
    assert upstream.big_sent < BIG
    assert fetch(proxy.port, "GET", "/echo?after-abort").status == 200


# -- half-closed client connections -------------------------------------------------------------


def test_half_closed_client_still_gets_response(conn: Conn) -> None:
    conn.request("GET", "/echo?half-close")
    conn.shutdown_write()
    resp = conn.read_response()
    assert resp.status == 200
    assert resp.json()["target"] == "/echo?half-close"


def test_half_closed_client_gets_slow_response(conn: Conn) -> None:
    conn.request("POST", "/slow?delay=0.5", body=b"q" * 1000)
    conn.shutdown_write()
    resp = conn.read_response()
    assert resp.status == 200
    assert resp.json()["body_length"] == 1000


def test_half_closed_client_gets_large_response(conn: Conn) -> None:
    conn.request("GET", "/big?size=3000000")
    conn.shutdown_write()
    assert conn.read_response().body == big_body(3000000)
