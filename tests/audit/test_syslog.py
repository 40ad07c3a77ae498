"""Syslog: RFC 5424 datagrams to a real local UDP socket and a unix datagram socket."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from portcullis import __version__
from portcullis.audit.chain import Chain
from portcullis.audit.record import Event, record_body
from portcullis.audit.sink import Sealed
from portcullis.audit.syslog import FACILITIES, SyslogSink, parse_address
from portcullis.config.schema import SyslogFacility
from tests.audit.support import START, sample

# RFC 5424 section 6: HEADER SP STRUCTURED-DATA SP MSG, MSG-UTF8 = BOM UTF-8-STRING
RFC5424 = re.compile(
    rb"<(?P<pri>\d{1,3})>1 (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<host>[!-~]{1,255}) "
    rb"(?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) "
    rb"(?P<sd>(?:\[[^\]]*\])+|-) \xef\xbb\xbf(?P<msg>.*)",
    re.S,
)


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    yield receiver
    receiver.close()


def batch(*records: object) -> list[Sealed]:
    chain = Chain("web1/7/0")
    out = []
    for record in records:
        body = record_body(record)  # type: ignore[arg-type]
        out.append(Sealed(body, chain.seal(body)))
    return out


def test_udp_messages_are_rfc5424_with_the_json_as_msg(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    sink = SyslogSink(f"udp://127.0.0.1:{port}", "local3", hostname="web1", pid=4242)
    sent = batch(sample(0, time=START + 0.25), sample(1, event=Event.DENY))
    sink.write(sent)
    sink.close()
    first = RFC5424.fullmatch(udp.recv(65536))
    second = RFC5424.fullmatch(udp.recv(65536))
    assert first is not None and second is not None
    assert int(first["pri"]) == 19 * 8 + 6  # local3, informational
    assert int(second["pri"]) == 19 * 8 + 5  # deny: notice
    assert first["time"] == b"2025-11-24T16:00:00.250000Z"
    assert (first["host"], first["app"], first["procid"], first["msgid"]) == (
        b"web1",
        b"portcullis",
        b"4242",
        b"allow",
    )
    assert second["msgid"] == b"deny"
    assert first["sd"] == (
        f'[origin software="portcullis" swVersion="{__version__}"][meta sequenceId="1"]'.encode()
    )
    assert first["msg"] == sent[0].line
    assert orjson.loads(second["msg"])["seq"] == 1


def test_severity_follows_the_event(udp: socket.socket) -> None:
    sink = SyslogSink(f"udp://127.0.0.1:{udp.getsockname()[1]}", "authpriv")
    events = [Event.VIOLATION, Event.TOKEN_REJECTED, Event.MONITOR_DENY, Event.SIGN_IN]
    sink.write(batch(*(sample(n, event=e) for n, e in enumerate(events))))
    sink.close()
    pris = [int(RFC5424.fullmatch(udp.recv(65536))["pri"]) for _ in events]  # type: ignore[index]
    assert pris == [10 * 8 + 4, 10 * 8 + 5, 10 * 8 + 5, 10 * 8 + 6]


def test_unix_datagram_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(5)
    try:
        for address in (path, f"unix://{path}"):
            sink = SyslogSink(address)
            sink.write(batch(sample(0)))
            sink.close()
            assert RFC5424.fullmatch(receiver.recv(65536)) is not None
    finally:
        receiver.close()


def test_undeliverable_messages_raise_for_the_writer_to_count(tmp_path: Path) -> None:
    sink = SyslogSink(str(tmp_path / "nobody-listens.sock"))
    with pytest.raises(OSError, match="2 of 2 messages not sent"):
        sink.write(batch(sample(0), sample(1)))
    sink.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("udp://127.0.0.1:514", (socket.AF_INET, ("127.0.0.1", 514))),
        ("udp://[::1]:5514", (socket.AF_INET6, ("::1", 5514))),
        ("udp://siem.example.com:514", (socket.AF_UNSPEC, ("siem.example.com", 514))),
        ("udp://localhost:514", (socket.AF_UNSPEC, ("localhost", 514))),
        ("/dev/log", (socket.AF_UNIX, "/dev/log")),
        ("unix:///run/systemd/journal/syslog", (socket.AF_UNIX, "/run/systemd/journal/syslog")),
    ],
)
def test_addresses(address: str, expected: object) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address",
    ["udp://host", "udp://host:0", "udp://host:99999", "tcp://host:514", "dev/log", "udp://h:1/x"],
)
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_address(address)


def test_host_names_are_resolved_at_start() -> None:
    receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)  # localhost: ::1 or 127.0.0.1
    receiver.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    receiver.bind(("::", 0))
    receiver.settimeout(5)
    sink = SyslogSink(f"udp://localhost:{receiver.getsockname()[1]}")
    sink.write(batch(sample(0)))
    sink.close()
    assert RFC5424.fullmatch(receiver.recv(65536)) is not None
    receiver.close()


def test_config_facilities_match_the_sink() -> None:
    assert set(SyslogFacility.__args__) == set(FACILITIES)  # type: ignore[attr-defined]


def test_a_slow_unix_receiver_gets_time_but_never_stalls_the_writer(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    many = batch(*(sample(n) for n in range(30)))  # more than the queue holds (often 10)
    got: list[bytes] = []

    def read_late() -> None:
        time.sleep(0.01)
        receiver.settimeout(1)
        with contextlib.suppress(TimeoutError):
            while len(got) < 30:
                got.append(receiver.recv(65536))

    reader = threading.Thread(target=read_late)
    reader.start()
    sink = SyslogSink(path)
    sink.write(many)
    reader.join()
    assert len(got) == 30

    too_many = batch(*(sample(n) for n in range(_queue_length() + 5)))
    started = time.monotonic()
    with pytest.raises(OSError, match=r"^[45] of \d+ messages not sent: Resource temporarily"):
        sink.write(too_many)  # nobody reads now
    assert time.monotonic() - started < 1.0
    sink.close()
    receiver.close()


def _queue_length() -> int:
    try:
        return int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    except OSError:
        return 10
