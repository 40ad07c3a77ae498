"""JSON lines: one sealed record per line, to stdout or to a file rotated by size and/or time.

Several worker processes may append to one file. Each batch is one
``write()`` to a descriptor opened with ``O_APPEND``, made under an exclusive
``flock`` on ``<path>.lock``; under the same lock the writer notices a
rotation done by another process or by ``logrotate`` (the path's inode
changed) and reopens, and rotates itself when needed:

* ``max_bytes``: the batch would take the file past this size;
* ``rotate_seconds``: the file was last written before the current period
  began (periods are aligned to the epoch, so 86400 rotates at midnight UTC).

Rotation renames ``path.N-1`` to ``path.N`` ... ``path`` to ``path.1``, keeping
``max_files`` old files. Files are created mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Sequence
from typing import Final

from portcullis.audit.chain import split_line
from portcullis.audit.sink import Sealed

__all__ = ["STDOUT", "JsonlSink", "last_line", "rotated_files"]

STDOUT: Final = "-"
_MODE: Final = 0o600
_TAIL_CHUNK: Final = 65536


class JsonlSink:
    name = "jsonl"

    def __init__(
        self,
        path: str,
        *,
        max_bytes: int | None = None,
        max_files: int = 10,
        rotate_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        stdout_fd: int = 1,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._max_files = max_files
        self._rotate_seconds = rotate_seconds
        self._clock = clock
        self._lock_fd = -1
        if path == STDOUT:
            self._fd = stdout_fd
            self._owned = False
        else:
            self._lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _MODE)
            self._fd = self._open()
            self._owned = True

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r})"

    def write(self, batch: Sequence[Sealed]) -> None:
        data = b"".join([entry.line + b"\n" for entry in batch])
        if not self._owned:
            _write_all(self._fd, data)
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self._reopen_if_moved()
            if self._due(len(data)):
                self._rotate()
            _write_all(self._fd, data)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError:
            if self._owned:  # stdout may be a pipe or a terminal: nothing to sync
                raise

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
            os.close(self._lock_fd)
            self._owned = False

    def last_hash(self) -> str | None:
        """The hash of the file's last record, or ``None`` (stdout, empty, unreadable)."""
        if self.path == STDOUT:
            return None
        line = last_line(self.path)
        split = split_line(line) if line else None
        return split[1] if split else None

    # --- files -----------------------------------------------------------------

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        return os.open(self.path, flags, _MODE)

    def _reopen_if_moved(self) -> None:
        try:
            moved = os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
        except FileNotFoundError:
            moved = True
        if moved:
            os.close(self._fd)
            self._fd = self._open()

    def _due(self, size: int) -> bool:
        info = os.fstat(self._fd)
        if info.st_size == 0:
            return False
        if self._max_bytes is not None and info.st_size + size > self._max_bytes:
            return True
        if self._rotate_seconds is not None:
            period = self._clock() // self._rotate_seconds * self._rotate_seconds
            return info.st_mtime < period
        return False

    def _rotate(self) -> None:
        for index in range(self._max_files - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}.{index}", f"{self.path}.{index + 1}")
        os.replace(self.path, f"{self.path}.1")
        os.close(self._fd)
        self._fd = self._open()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def rotated_files(path: str, max_files: int = 1000) -> list[str]:
    """``path`` and its rotated files that exist, oldest first."""
    older = [f"{path}.{n}" for n in range(max_files, 0, -1) if os.path.exists(f"{path}.{n}")]
    return [*older, path] if os.path.exists(path) else older


def last_line(path: str) -> bytes | None:
    """The last complete line of a file (without its newline), or ``None``."""
    try:
        with open(path, "rb") as file:
            end = file.seek(0, os.SEEK_END)
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            chunk = file.read(end - start)
    except OSError:
        return None
    lines = chunk.rstrip(b"\n").rsplit(b"\n", 1)
    if not lines[-1] or (len(lines) == 1 and start > 0):
        return None  # empty, or one line longer than the chunk
    return lines[-1]
