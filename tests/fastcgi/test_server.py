"""The FastCGI server in-process, over real sockets: keep-alive, multiplexing, hostile peers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from portcullis.fastcgi.protocol import (
    ProtocolStatus,
    RecordType,
    Role,
    decode_pairs,
    encode_pairs,
    encode_record,
    encode_stream,
)
from portcullis.fastcgi.server import FastCgiServer, Pairs
from tests.fastcgi.client import Client, authorizer_request, begin

TOO_LARGE = b"Status: 431\r\n\r\n"
FAILURE = b"Status: 500\r\n\r\n"


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def echo(pairs: Pairs) -> bytes | Awaitable[bytes]:
    """Answers with the request's URI; ``DELAY`` (seconds) makes it answer later."""
    params = dict(pairs)
    body = b"Status: 200\r\n\r\n" + params.get(b"REQUEST_URI", b"")
    if b"RAISE" in params:
        raise RuntimeError("handler failure")
    if b"DELAY" in params:

        async def later() -> bytes:
            await asyncio.sleep(float(params[b"DELAY"]))
            if params.get(b"RAISE_LATER"):
                raise RuntimeError("late handler failure")
            return body

        return later()
    return body


class Harness:
    """A running server and the clients connected to it (all closed at the end)."""

    def __init__(self, server: FastCgiServer, port: int) -> None:
        self.server = server
        self.port = port
        self.clients: list[Client] = []

    async def connect(self) -> Client:
        client = await Client.connect(self.port)
        self.clients.append(client)
        return client


@asynccontextmanager
async def serving(
    handler: Callable[[Pairs], bytes | Awaitable[bytes]] = echo, **options: Any
) -> AsyncIterator[Harness]:
    loop = asyncio.get_running_loop()
    server = FastCgiServer(loop, handler, too_large=TOO_LARGE, failure=FAILURE, **options)
    listener = await loop.create_server(server.protocol, "127.0.0.1", 0)
    server.start_sweeper()
    harness = Harness(server, listener.sockets[0].getsockname()[1])
    try:
        yield harness
    finally:
        for client in harness.clients:
            await client.close()
        listener.close()
        await server.drain(1.0)


def uri(path: str, **extra: str) -> list[tuple[bytes, bytes]]:
    return [(b"REQUEST_URI", path.encode())] + [(k.encode(), v.encode()) for k, v in extra.items()]


# one request per connection, as Apache does ------------------------------------------------------
def test_an_authorizer_request_is_answered_and_the_connection_closed() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(authorizer_request(1, uri("/a?b")))
            answer = await client.answer()
            assert answer.stdout == b"Status: 200\r\n\r\n/a?b"
            assert (answer.app_status, answer.protocol_status) == (
                0,
                ProtocolStatus.REQUEST_COMPLETE,
            )
            assert await client.closed()  # no FCGI_KEEP_CONN: the application closes
            await asyncio.sleep(0)
            assert not h.server.connections

    run(scenario)


def test_the_request_id_of_the_answer_is_the_one_asked() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(authorizer_request(0xBEEF, uri("/x")))
            assert list(await client.answers(1)) == [0xBEEF]

    run(scenario)


# keep-alive and multiplexing ---------------------------------------------------------------------
def test_keep_conn_serves_several_requests_on_one_connection() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            for n in range(3):
                await client.send(authorizer_request(1, uri(f"/{n}"), keep=True))
                assert (await client.answer()).stdout.endswith(f"/{n}".encode())
            assert not await client.closed(timeout=0.3)

    run(scenario)


def test_multiplexed_requests_are_answered_each_under_its_own_id() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            # interleaved: 1 starts first but answers last; 2 is synchronous; 3 in between
            await client.send(
                begin(1, keep=True)
                + begin(2, keep=True)
                + begin(3, keep=True)
                + encode_record(RecordType.PARAMS, 1, encode_pairs(uri("/one", DELAY="0.3")))
                + encode_stream(RecordType.PARAMS, 2, encode_pairs(uri("/two")))
                + encode_stream(RecordType.PARAMS, 3, encode_pairs(uri("/three", DELAY="0.1")))
                + encode_record(RecordType.PARAMS, 1)
            )
            order = []
            answers = {}
            for _ in range(3):
                found = await client.answers(1)
                order.extend(found)
                answers.update(found)
            assert order == [2, 3, 1]
            assert {rid: a.stdout.rsplit(b"\r\n", 1)[1] for rid, a in answers.items()} == {
                1: b"/one",
                2: b"/two",
                3: b"/three",
            }

    run(scenario)


def test_more_concurrent_requests_than_allowed_are_overloaded() -> None:
    async def scenario() -> None:
        async with serving(max_requests=2) as h:
            client = await h.connect()
            await client.send(begin(1, keep=True) + begin(2, keep=True) + begin(3, keep=True))
            refused = await client.answers(1)
            assert refused[3].protocol_status == ProtocolStatus.OVERLOADED
            await client.send(encode_stream(RecordType.PARAMS, 1, encode_pairs(uri("/1"))))
            assert (await client.answers(1))[1].status == 200
            await client.send(authorizer_request(3, uri("/later"), keep=True))
            assert (await client.answers(1))[3].status == 200  # room again; the id is free

    run(scenario)


def test_an_aborted_request_ends_without_an_answer_and_its_id_can_be_reused() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(authorizer_request(5, uri("/slow", DELAY="0.3"), keep=True))
            await asyncio.sleep(0.05)
            await client.send(encode_record(RecordType.ABORT_REQUEST, 5))
            aborted = await client.answer()
            assert (aborted.stdout, aborted.app_status) == (b"", 1)
            await client.send(authorizer_request(5, uri("/fast"), keep=True))
            assert (await client.answer()).stdout.endswith(b"/fast")
            # the slow handler's answer (due by now) is never sent under the reused id
            with pytest.raises(TimeoutError):
                await client.record(timeout=0.5)

    run(scenario)


def test_parameters_may_be_split_anywhere_across_records_and_writes() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            params = encode_pairs(uri("/" + "p" * 300, X="y" * 200))
            wire = (
                begin(1)
                + b"".join(
                    encode_record(RecordType.PARAMS, 1, params[i : i + 7])
                    for i in range(0, len(params), 7)
                )
                + encode_record(RecordType.PARAMS, 1)
            )
            for i in range(0, len(wire), 5):
                await client.send(wire[i : i + 5])
            assert (await client.answer()).stdout.endswith(b"p" * 300)

    run(scenario)


def test_stdin_and_data_are_ignored() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(
                begin(1)
                + encode_stream(RecordType.STDIN, 1, b"body")
                + encode_stream(RecordType.PARAMS, 1, encode_pairs(uri("/s")))
                + encode_record(RecordType.DATA, 1, b"more")
            )
            assert (await client.answer()).stdout.endswith(b"/s")

    run(scenario)


# roles, management records -------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.RESPONDER, Role.FILTER, 9])
def test_roles_other_than_authorizer_are_refused(role: int) -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(begin(1, role=role))
            answer = await client.answer()
            assert (answer.stdout, answer.protocol_status) == (b"", ProtocolStatus.UNKNOWN_ROLE)
            assert await client.closed()

    run(scenario)


def test_get_values_answers_what_was_asked() -> None:
    async def scenario() -> None:
        async with serving(max_connections=10, max_requests=4) as h:
            client = await h.connect()
            asked = encode_pairs([(b"FCGI_MPXS_CONNS", b""), (b"FCGI_MAX_CONNS", b""), (b"X", b"")])
            await client.send(encode_record(RecordType.GET_VALUES, 0, asked))
            record = await client.record()
            assert record is not None and record.type == RecordType.GET_VALUES_RESULT
            assert decode_pairs(record.content) == [
                (b"FCGI_MPXS_CONNS", b"1"),
                (b"FCGI_MAX_CONNS", b"10"),
            ]
            await client.send(encode_record(200, 0, b"?"))
            unknown = await client.record()
            assert unknown is not None and unknown.type == RecordType.UNKNOWN_TYPE
            assert unknown.content[0] == 200
            await client.send(authorizer_request(1, uri("/still-fine")))
            assert (await client.answer()).status == 200

    run(scenario)


# limits ------------------------------------------------------------------------------------------
def test_oversized_parameters_are_refused_at_once_and_the_rest_ignored() -> None:
    async def scenario() -> None:
        async with serving(max_params=4096) as h:
            client = await h.connect()
            big = encode_pairs([(b"HTTP_COOKIE", b"c" * 3000)])
            await client.send(begin(1, keep=True) + encode_record(RecordType.PARAMS, 1, big))
            await client.send(encode_record(RecordType.PARAMS, 1, big))
            refused = await client.answer()
            assert refused.stdout == TOO_LARGE
            # the rest of that stream is ignored; the connection serves on
            await client.send(
                encode_record(RecordType.PARAMS, 1, big) + encode_record(RecordType.PARAMS, 1)
            )
            await client.send(authorizer_request(2, uri("/next"), keep=True))
            assert (await client.answers(1))[2].stdout.endswith(b"/next")

    run(scenario)


def test_the_default_parameter_limit_is_64_kib() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            fits = [(b"HTTP_X", b"x" * (64 * 1024 - 27)), (b"REQUEST_URI", b"/ok")]
            assert len(encode_pairs(fits)) == 64 * 1024
            await client.send(authorizer_request(1, fits, keep=True))
            assert (await client.answer()).status == 200
            over = [(b"HTTP_X", b"x" * (64 * 1024)), (b"REQUEST_URI", b"/no")]
            await client.send(authorizer_request(1, over))
            assert (await client.answer()).stdout == TOO_LARGE

    run(scenario)


def test_connections_over_the_limit_are_closed_at_once() -> None:
    async def scenario() -> None:
        async with serving(max_connections=1) as h:
            first = await h.connect()
            await first.send(begin(1, keep=True))
            await asyncio.sleep(0.05)
            second = await h.connect()
            assert await second.closed()
            await first.send(encode_stream(RecordType.PARAMS, 1, encode_pairs(uri("/first"))))
            assert (await first.answer()).status == 200

    run(scenario)


def test_a_silent_connection_is_closed_after_the_timeout() -> None:
    async def scenario() -> None:
        async with serving(timeout=0.2) as h:
            idle = await h.connect()
            half = await h.connect()
            await half.send(begin(1))  # a request whose parameters never come
            assert await idle.closed(timeout=3)
            assert await half.closed(timeout=3)

    run(scenario)


def test_a_slow_handler_is_not_cut_by_the_timeout() -> None:
    async def scenario() -> None:
        async with serving(timeout=0.2) as h:
            client = await h.connect()
            await client.send(authorizer_request(1, uri("/slow", DELAY="1.5")))
            assert (await client.answer()).stdout.endswith(b"/slow")

    run(scenario)


# failures never allow ---------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{"RAISE": "1"}, {"DELAY": "0", "RAISE_LATER": "1"}])
def test_a_failing_handler_answers_the_failure_response(
    extra: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(authorizer_request(1, uri("/x", **extra)))
            assert (await client.answer()).stdout == FAILURE

    with caplog.at_level(logging.ERROR, "portcullis.fastcgi"):
        run(scenario)
    assert "handler failed" in caplog.text


# hostile input: logged, the connection closed, the server unharmed ------------------------------
HOSTILE = {
    "wrong version": b"\x02" + begin(1)[1:],
    "http instead of fastcgi": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "begin twice": begin(1, keep=True) + begin(1, keep=True),
    "begin body too short": encode_record(RecordType.BEGIN_REQUEST, 1, b"\x00\x02"),
    "begin without a request id": encode_record(RecordType.BEGIN_REQUEST, 0, bytes(8)),
    "unknown type for a request": begin(1) + encode_record(77, 1, b""),
    "stdout from the web server": begin(1) + encode_record(RecordType.STDOUT, 1, b"x"),
    "end_request from the web server": encode_record(RecordType.END_REQUEST, 1, bytes(8)),
    "broken pairs": begin(1) + encode_stream(RecordType.PARAMS, 1, b"\x05\x80\x00"),
    "broken get_values": encode_record(RecordType.GET_VALUES, 0, b"\x7f\x01x"),
    "params after the stream ended": begin(1, keep=True)
    + encode_record(RecordType.PARAMS, 1, encode_pairs(uri("/x", DELAY="1")))
    + encode_record(RecordType.PARAMS, 1)
    + encode_record(RecordType.PARAMS, 1, b"\x01\x01ab"),
}


@pytest.mark.parametrize("wire", HOSTILE.values(), ids=HOSTILE.keys())
def test_malformed_input_closes_the_connection_and_is_logged(
    wire: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(wire)
            assert await client.closed()
            healthy = await h.connect()
            await healthy.send(authorizer_request(1, uri("/after")))
            assert (await healthy.answer()).stdout.endswith(b"/after")
            assert await healthy.closed()
            await asyncio.sleep(0.05)
            assert not h.server.connections

    with caplog.at_level(logging.WARNING, "portcullis.fastcgi"):
        run(scenario)
    assert "closing the FastCGI connection" in caplog.text


def test_a_record_cut_by_the_end_of_the_connection_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(begin(1) + encode_record(RecordType.PARAMS, 1, b"x" * 64)[:30])
            client.writer.write_eof()
            assert await client.closed()
            await asyncio.sleep(0.05)
            assert not h.server.connections

    with caplog.at_level(logging.WARNING, "portcullis.fastcgi"):
        run(scenario)
    assert "inside a record" in caplog.text


def test_a_peer_that_half_closes_still_gets_its_answer() -> None:
    async def scenario() -> None:
        async with serving() as h:
            client = await h.connect()
            await client.send(authorizer_request(1, uri("/half", DELAY="0.1"), keep=True))
            client.writer.write_eof()
            assert (await client.answer()).stdout.endswith(b"/half")
            assert await client.closed()

    run(scenario)


# shutdown ----------------------------------------------------------------------------------------
def test_drain_closes_idle_connections_and_lets_busy_ones_answer() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        server = FastCgiServer(loop, echo, too_large=TOO_LARGE, failure=FAILURE)
        listener = await loop.create_server(server.protocol, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        idle = await Client.connect(port)
        busy = await Client.connect(port)
        await busy.send(authorizer_request(1, uri("/busy", DELAY="0.3"), keep=True))
        await asyncio.sleep(0.05)
        listener.close()
        drained = asyncio.ensure_future(server.drain(5.0))
        assert await idle.closed()
        assert (await busy.answer()).stdout.endswith(b"/busy")
        assert await busy.closed()
        await drained
        assert not server.connections
        await idle.close()
        await busy.close()

    run(scenario)
