"""The audit spool: what the workers append to, and what brings the SQLite store up to date.

Inserting a record into the indexed SQLite store costs 15 to 20 µs of CPU (B-tree and
index pages, WAL, checkpoints): far more than a request may pay for its audit record.
So the proxy never writes SQLite on its way. Each worker appends its sealed lines,
one ``write()`` per batch, to its own *segment* in a spool directory next to the
database (``<db>.spool/``, mode 0700; files 0600). The spool is the durable copy of
the records (``durability: sync`` fsyncs it); the database is their index, brought up
to date by :func:`index_spool`:

* by every reader before it reads (``portcullis audit query | tail | tokens | verify``);
* by ``portcullis audit index`` (once, or ``--follow`` as a sidecar/timer).

Segment files are named ``<start-ms>-<host>-<pid>-<n>``: ``.open`` while their writer
appends, renamed ``.seg`` when it is done with them (``segment_bytes`` reached, or
closed). The indexer remembers how far it got in each segment (table ``spool``, keyed
by the name without its suffix, updated in the same transaction as the rows it adds),
reads only complete lines, and deletes a segment once it is done with it and fully
indexed. An ``.open`` segment is done too when its writer is gone: a process of this
host (by name) that no longer runs; segments of other hosts are never taken for
abandoned. A writer whose segment was deleted anyway notices before its next write
and starts a new one. Two indexers at once are serialized by SQLite's write lock and
never index a line twice.

A line that is not a JSON object (damaged or edited in the spool) is still stored,
with empty columns, so that ``audit verify`` reports it where it sits in the chain
rather than the line vanishing.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from portcullis.audit.chain import split_line

__all__ = ["CLOSED", "OPEN", "SpoolWriter", "index_spool", "last_spooled_hash", "spool_dir"]

log = logging.getLogger("portcullis.audit")

OPEN: Final = ".open"
CLOSED: Final = ".seg"
SEGMENT_BYTES: Final = 64 << 20
_READ_CHUNK: Final = 8 << 20  # bytes indexed per transaction
_TAIL: Final = 64 << 10  # bytes read from a segment's end for its last record
_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600
_numbers = itertools.count()  # segment numbers: unique within the process, across writers

SPOOL_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS spool (
    segment TEXT PRIMARY KEY,
    offset INTEGER NOT NULL
);
"""
"""The indexer's progress per segment (part of the audit store's schema)."""


def spool_dir(db_path: str) -> str:
    """The spool directory of the SQLite store at ``db_path``."""
    return f"{db_path}.spool"


class SpoolWriter:
    """One worker's segments. Not thread-safe (one event loop); create it after the fork."""

    def __init__(
        self,
        directory: str,
        *,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        os.makedirs(directory, mode=_DIR_MODE, exist_ok=True)
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._prefix = f"{int(time.time() * 1000):013d}-{_host()}-{os.getpid()}-"
        self._fd = -1
        self._size = 0
        self._stem = ""

    def __repr__(self) -> str:
        return f"SpoolWriter({self.directory!r})"

    def write(self, lines: Sequence[bytes]) -> None:
        """Append ``lines`` (no newlines) to the current segment, in one ``write()``."""
        if not lines:
            return
        if self._fd >= 0 and os.fstat(self._fd).st_nlink == 0:  # deleted under us
            os.close(self._fd)
            self._fd = -1
        if self._fd < 0:
            self._open()
        data = b"\n".join([*lines, b""])  # one copy, ending in a newline
        try:
            view = memoryview(data)
            while view:  # more than one write() only when the disk is filling up
                view = view[os.write(self._fd, view) :]
        except OSError:
            # Part of a line may have been written: never append to it, start anew.
            self._abandon()
            raise
        self._size += len(data)
        if self._size >= self._segment_bytes:
            self._finish()

    def sync(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        """Finish the current segment (fsynced and renamed ``.seg``)."""
        self._finish()

    def _open(self) -> None:
        self._stem = f"{self._prefix}{next(_numbers):05d}"
        path = os.path.join(self.directory, self._stem + OPEN)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(path, flags, _FILE_MODE)
        self._size = 0

    def _abandon(self) -> None:
        """Stop writing to the current segment after a failed write (marked done as it is)."""
        with contextlib.suppress(OSError):
            self._finish()
        self._fd = -1

    def _finish(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        base = os.path.join(self.directory, self._stem)
        os.rename(base + OPEN, base + CLOSED)


def last_spooled_hash(directory: str) -> str | None:
    """The ``hash`` of the last complete record in the most recently written segment."""
    try:
        with os.scandir(directory) as entries:
            segments = [
                (entry.stat().st_mtime_ns, entry.path)
                for entry in entries
                if entry.name.endswith((OPEN, CLOSED))
            ]
    except FileNotFoundError:
        return None
    for _, path in sorted(segments, reverse=True):
        try:
            with open(path, "rb") as segment:
                end = segment.seek(0, os.SEEK_END)
                segment.seek(max(0, end - _TAIL))
                tail = segment.read()
        except FileNotFoundError:  # indexed and removed meanwhile
            continue
        complete = tail[: tail.rfind(b"\n")]
        found = split_line(complete.rpartition(b"\n")[2]) if complete else None
        if found is not None:
            return found[1]
    return None


def index_spool(
    db: sqlite3.Connection,
    directory: str,
    insert: str,
    columns: Sequence[str],
    *,
    alive: Callable[[int], bool] | None = None,
) -> int:
    """Move what the spool holds beyond the last run into ``db``; the number of records.

    ``insert`` is the store's INSERT statement for ``columns`` followed by the line.
    ``db`` must be an autocommit connection that may write. ``alive(pid)`` says whether a
    segment's writer still runs (default: a signal-0 probe on this machine).
    """
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return 0
    alive = alive or _pid_alive
    total = 0
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix not in (OPEN, CLOSED):
            continue
        done = suffix == CLOSED or _abandoned(stem, alive)
        try:
            total += _index_segment(db, directory, stem, suffix, insert, columns, done)
        except FileNotFoundError:  # renamed .open -> .seg meanwhile: the next run gets it
            continue
    return total


def _index_segment(  # noqa: PLR0917
    db: sqlite3.Connection,
    directory: str,
    stem: str,
    suffix: str,
    insert: str,
    columns: Sequence[str],
    done: bool,
) -> int:
    path = os.path.join(directory, stem + suffix)
    total = 0
    with open(path, "rb") as segment:
        while True:  # a transaction per chunk
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT offset FROM spool WHERE segment = ?", (stem,)).fetchone()
                offset = row[0] if row else 0
                segment.seek(offset)
                data = segment.read(_READ_CHUNK)
                complete = data[: data.rfind(b"\n") + 1]
                if complete:
                    rows = [_row(line, columns) for line in complete.splitlines() if line]
                    db.executemany(insert, rows)
                    offset += len(complete)
                    db.execute(
                        "INSERT INTO spool (segment, offset) VALUES (?, ?) "
                        "ON CONFLICT (segment) DO UPDATE SET offset = excluded.offset",
                        (stem, offset),
                    )
                    total += len(rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            if not complete or len(data) < _READ_CHUNK:
                break
        if done:
            rest = os.fstat(segment.fileno()).st_size - offset
            if rest > 0:
                log.warning("audit spool: %s ends in %d bytes of an unfinished line", path, rest)
    if done:
        with contextlib.suppress(FileNotFoundError):  # another indexer was first
            os.unlink(path)
        db.execute("DELETE FROM spool WHERE segment = ?", (stem,))
    return total


def _row(line: bytes, columns: Sequence[str]) -> tuple[Any, ...]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = None
    text = line.decode(errors="replace")
    if not isinstance(record, dict) or not _indexable(record):
        log.warning("audit spool: a line that is not an audit record is stored as it is")
        record = _UNREADABLE
    return (*[record.get(column) for column in columns], text)


def _indexable(record: dict[str, Any]) -> bool:
    return (
        isinstance(record.get("time"), int | float)
        and isinstance(record.get("chain"), str)
        and isinstance(record.get("seq"), int)
        and isinstance(record.get("event"), str)
    )


# The required columns of a line that is not a record; the verifier reports it.
_UNREADABLE: Final[dict[str, Any]] = {"time": 0.0, "chain": "", "seq": -1, "event": ""}


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "_"


def _abandoned(stem: str, alive: Callable[[int], bool]) -> bool:
    """An open segment of a writer on this host that no longer runs."""
    parts = stem.split("-")
    if len(parts) != 4 or parts[1] != _host() or not parts[2].isdigit():
        return False
    return not alive(int(parts[2]))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
