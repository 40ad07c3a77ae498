"""A small FastCGI client for tests: speaks records to a server over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from portcullis.fastcgi.protocol import (
    KEEP_CONN,
    ProtocolStatus,
    Record,
    RecordReader,
    RecordType,
    Role,
    encode_pairs,
    encode_record,
    encode_stream,
)

__all__ = ["Answer", "Client", "authorizer_request"]


@dataclass(frozen=True)
class Answer:
    """What the server sent for one request."""

    stdout: bytes
    app_status: int
    protocol_status: int

    @property
    def status(self) -> int:
        """The CGI ``Status:`` of the response (0 without one)."""
        for line in self.stdout.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            if line.lower().startswith(b"status:"):
                return int(line.split()[1])
        return 0


def begin(request_id: int, *, keep: bool = False, role: int = Role.AUTHORIZER) -> bytes:
    body = role.to_bytes(2, "big") + bytes((KEEP_CONN if keep else 0,)) + bytes(5)
    return encode_record(RecordType.BEGIN_REQUEST, request_id, body)


def authorizer_request(
    request_id: int, pairs: list[tuple[bytes, bytes]], *, keep: bool = False
) -> bytes:
    """BEGIN_REQUEST and the whole PARAMS stream, as mod_authnz_fcgi sends them."""
    return begin(request_id, keep=keep) + encode_stream(
        RecordType.PARAMS, request_id, encode_pairs(pairs)
    )


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._records = RecordReader()
        self._queue: list[Record] = []

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @classmethod
    async def connect_unix(cls, path: str) -> Client:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def record(self, timeout: float = 5.0) -> Record | None:
        """The next record, or None at end of stream."""
        while not self._queue:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self._queue.extend(self._records.feed(data))
        return self._queue.pop(0)

    async def answers(self, count: int = 1) -> dict[int, Answer]:
        """Read until ``count`` requests ended; their answers by request id."""
        out: dict[int, bytes] = {}
        done: dict[int, Answer] = {}
        while len(done) < count:
            record = await self.record()
            assert record is not None, f"connection closed after {len(done)} answers"
            if record.type == RecordType.STDOUT:
                out[record.request_id] = out.get(record.request_id, b"") + record.content
            elif record.type == RecordType.END_REQUEST:
                content = record.content
                done[record.request_id] = Answer(
                    out.pop(record.request_id, b""),
                    int.from_bytes(content[:4], "big"),
                    ProtocolStatus(content[4]),
                )
            else:
                raise AssertionError(f"unexpected record {record}")
        return done

    async def answer(self) -> Answer:
        [found] = (await self.answers(1)).values()
        return found

    async def closed(self, timeout: float = 5.0) -> bool:
        """Whether the server closes the connection (within ``timeout``), ignoring records."""
        try:
            while await self.record(timeout) is not None:
                pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
