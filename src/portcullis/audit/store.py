"""Reading an audit store: the SQLite database or JSON lines files, behind one :class:`Reader`.

Used by ``portcullis audit verify | query | tail | tokens``; never by the
proxy. SQLite is first brought up to date with its spool (records the workers
wrote since the last indexing, see :mod:`portcullis.audit.spool`), then read
through a read-only connection; ``tail --follow`` indexes again before each
look. A JSONL store is a list of files read in order (rotated files oldest
first, then the current one).
"""

from __future__ import annotations

import os
import sqlite3
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

from portcullis.audit.filters import Filter
from portcullis.audit.jsonl import STDOUT, rotated_files
from portcullis.audit.spool import spool_dir
from portcullis.audit.sqlite import COLUMNS, connect_readonly, index_store, open_for_indexing
from portcullis.audit.verify import Entry, anchors_in

if TYPE_CHECKING:
    from portcullis.config.schema import AuditSettings

__all__ = [
    "JsonlReader",
    "Reader",
    "Row",
    "SqliteReader",
    "StoreError",
    "configured_store",
    "open_reader",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_FOLLOW_BATCH = 1000


class StoreError(Exception):
    """The store cannot be read; the message names the file."""


class Row(NamedTuple):
    record: dict[str, Any]
    line: bytes


class Reader(Protocol):
    notes: list[str]  # what the reader could not do, for the user (not fatal)

    def entries(self) -> Iterator[Entry]: ...

    def anchors(self) -> set[str]: ...

    def select(self, match: Filter, limit: int | None = None) -> list[Row]:
        """The last ``limit`` matching records (all with ``None``), oldest first."""
        ...

    def end(self) -> object:
        """A cursor just past the last record (for :meth:`after`)."""
        ...

    def after(self, cursor: object) -> tuple[list[Row], object]:
        """Records stored since ``cursor``, and the new cursor."""
        ...

    def close(self) -> None: ...


def configured_store(settings: AuditSettings) -> tuple[str, int]:
    """The store the configuration writes (SQLite first), and how many rotated files it keeps."""
    if settings.sqlite.enabled:
        return settings.sqlite.path, 0
    if settings.jsonl is not None and settings.jsonl.path != STDOUT:
        return settings.jsonl.path, settings.jsonl.max_files
    raise StoreError(
        "audit: nothing to read: audit.sqlite.enabled is false and audit.jsonl is not a file"
    )


def open_reader(paths: Sequence[str], *, max_files: int = 0) -> Reader:
    """A reader for one SQLite file, or for JSONL files (with ``max_files`` rotated ones)."""
    if not paths:
        raise StoreError("no audit store given")
    first = paths[0]
    try:
        with open(first, "rb") as file:
            magic = file.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{first}: cannot read: {exc.strerror}") from None
    if magic == _SQLITE_MAGIC:
        if len(paths) > 1:
            raise StoreError(f"{first}: a SQLite store is verified on its own")
        try:
            return SqliteReader(connect_readonly(first), first)
        except sqlite3.Error as exc:
            raise StoreError(f"{first}: not an audit store ({exc})") from None
    files = list(paths)
    if max_files and len(paths) == 1:
        files = rotated_files(first, max_files)
    return JsonlReader(files)


class SqliteReader:
    def __init__(self, db: sqlite3.Connection, path: str | None = None) -> None:
        self._db = db
        self._path = path
        self.notes: list[str] = []
        self.indexed = 0  # records this reader moved from the spool into the store
        self.index()

    def index(self) -> int:
        """Move the store's spool into it (records written since the last indexing)."""
        path = self._path
        if path is None or not os.path.isdir(spool_dir(path)):
            return 0
        try:
            db = open_for_indexing(path)
        except (OSError, sqlite3.Error) as exc:
            return self._cannot_index(exc)
        try:
            added = index_store(db, path)
        except (OSError, sqlite3.Error) as exc:
            return self._cannot_index(exc)
        finally:
            db.close()
        self.indexed += added
        return added

    def _cannot_index(self, exc: Exception) -> int:
        note = (
            f"{self._path}: records still in {spool_dir(str(self._path))} could not be added "
            f"({exc}); showing the records indexed so far"
        )
        if note not in self.notes:
            self.notes.append(note)
        return 0

    def entries(self) -> Iterator[Entry]:
        query = f"SELECT id, record, {', '.join(COLUMNS)} FROM audit ORDER BY id"  # noqa: S608
        for row in self._db.execute(query):
            yield Entry(f"row {row[0]}", row[1].encode(), dict(zip(COLUMNS, row[2:], strict=True)))

    def anchors(self) -> set[str]:
        rows = self._db.execute("SELECT record FROM audit WHERE seq = 0")
        return anchors_in(row[0].encode() for row in rows)

    def select(self, match: Filter, limit: int | None = None) -> list[Row]:
        where, params = match.sql()
        # By time: rows are stored in the order the spool was indexed, one worker's segment
        # after another's, not in the order things happened.
        query = f"SELECT record FROM audit WHERE {where} ORDER BY time DESC, id DESC"  # noqa: S608
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        rows = [_row(text.encode()) for (text,) in self._db.execute(query, params)]
        rows.reverse()
        return [row for row in rows if row is not None]

    def end(self) -> object:
        return self._db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]

    def after(self, cursor: object) -> tuple[list[Row], object]:
        self.index()
        found = self._db.execute(
            "SELECT id, record FROM audit WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, _FOLLOW_BATCH),
        ).fetchall()
        rows = [row for _, text in found if (row := _row(text.encode())) is not None]
        return rows, (found[-1][0] if found else cursor)

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True, slots=True)
class _FilePosition:
    inode: int
    offset: int


class JsonlReader:
    def __init__(self, files: Sequence[str]) -> None:
        self.files = list(files)
        self.notes: list[str] = []

    def _lines(self) -> Iterator[tuple[str, bytes]]:
        for name in self.files:
            try:
                with open(name, "rb") as file:
                    for number, line in enumerate(file, 1):
                        yield f"{name}:{number}", line.rstrip(b"\n")
            except OSError as exc:
                raise StoreError(f"{name}: cannot read: {exc.strerror}") from None

    def entries(self) -> Iterator[Entry]:
        for where, line in self._lines():
            yield Entry(where, line)

    def anchors(self) -> set[str]:
        return anchors_in(line for _, line in self._lines())

    def select(self, match: Filter, limit: int | None = None) -> list[Row]:
        found: deque[Row] = deque(maxlen=limit)
        for _, line in self._lines():
            row = _row(line)
            if row is not None and match.matches(row.record):
                found.append(row)
        return list(found)

    def end(self) -> object:
        current = self.files[-1]
        try:
            info = os.stat(current)
        except OSError:
            return _FilePosition(0, 0)
        return _FilePosition(info.st_ino, info.st_size)

    def after(self, cursor: object) -> tuple[list[Row], object]:
        assert isinstance(cursor, _FilePosition)
        current = self.files[-1]
        rows: list[Row] = []
        try:
            with open(current, "rb") as file:
                inode = os.fstat(file.fileno()).st_ino
                if inode != cursor.inode:  # rotated: finish the old file, then start afresh
                    rows += self._rest_of_rotated(current, cursor)
                    cursor = _FilePosition(inode, 0)
                file.seek(cursor.offset)
                data = file.read()
        except FileNotFoundError:
            return rows, cursor
        complete = data[: data.rfind(b"\n") + 1]
        rows += [row for line in complete.splitlines() if (row := _row(line)) is not None]
        return rows, _FilePosition(cursor.inode, cursor.offset + len(complete))

    @staticmethod
    def _rest_of_rotated(current: str, cursor: _FilePosition) -> list[Row]:
        try:
            with open(f"{current}.1", "rb") as old:
                if os.fstat(old.fileno()).st_ino != cursor.inode:
                    return []
                old.seek(cursor.offset)
                data = old.read()
        except FileNotFoundError:
            return []
        return [row for line in data.splitlines() if (row := _row(line)) is not None]

    def close(self) -> None:
        pass


def _row(line: bytes) -> Row | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return Row(record, line) if isinstance(record, dict) else None
