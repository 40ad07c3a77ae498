"""Metrics memory shared by the worker processes: one slot of cells per worker, label tables.

With ``--workers N`` a scrape reaches one worker (``SO_REUSEPORT``), yet must see the whole
process's numbers. So the supervisor creates a :class:`Region` *before it forks*: an
unlinked file (in ``/dev/shm`` when there is one), its space reserved with
``posix_fallocate`` (a full disk fails here, at start, never as a ``SIGBUS`` later),
mapped ``MAP_SHARED``. Every worker inherits the mapping and :meth:`Region.claim` s a slot
of its own; it alone writes there, with plain 64-bit stores, while the worker answering a
scrape reads every slot and sums them. An aligned 64-bit load or store is not torn on the
platforms Portcullis runs on (x86-64, arm64), and a read racing an increment sees the
value before or after it — which is all a counter needs.

A worker that dies and is replaced leaves its slot to the replacement, which continues its
counters (they never go backwards), so slots are looked up by owner pid: a slot whose
owner is gone is free. There are more slots than workers so that a recycled pid never
leaves a new worker without one.

Label tables map a route name or violation rule to a small index, the same in every worker.
They only grow (a name keeps its index for the life of the process); the last entry of
each table is ``other``, for names that no longer fit. Slot claims and new names take an
exclusive ``lockf`` on the file — rare, off the hot path — and each process remembers the
names it has looked up.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import tempfile
from collections.abc import Iterator
from typing import Final

from portcullis.metrics.layout import CLAIMS, GAUGES, OWNER, VIOLATION_CAPACITY, SlotLayout

__all__ = ["OTHER", "ROUTES", "VIOLATIONS", "Region"]

log = logging.getLogger("portcullis.metrics")

ROUTES: Final = "route"
VIOLATIONS: Final = "violation"
OTHER: Final = "other"
NAME_BYTES: Final = 254  # longer names are cut (two names that differ only later share)
_ENTRY: Final = 256  # 2 bytes length, then the UTF-8 name
_PAGE: Final = mmap.PAGESIZE
_CELL: Final = 8


class Region:
    """Slots and label tables in one buffer; see the module docstring."""

    def __init__(self, buffer: mmap.mmap | bytearray, fd: int | None, slots: int, routes: int):
        self.layout = SlotLayout(routes)
        self.slots = slots
        self.shared = fd is not None
        self._buffer = buffer
        self._fd = fd
        self._capacity = {ROUTES: routes, VIOLATIONS: VIOLATION_CAPACITY}
        self._tables = {ROUTES: 0, VIOLATIONS: routes * _ENTRY}
        self._slots_at = _round_up((routes + VIOLATION_CAPACITY) * _ENTRY)
        self._slot_bytes = _round_up(self.layout.cells * _CELL)
        self._known: dict[tuple[str, str], int] = {}
        self._views: dict[int, memoryview] = {}
        self._floats: dict[int, memoryview[float]] = {}
        for table in (ROUTES, VIOLATIONS):  # the overflow entry, last in each table
            self._write_name(table, self._capacity[table] - 1, OTHER)

    @classmethod
    def size(cls, slots: int, routes: int) -> int:
        """Bytes a region of ``slots`` slots and ``routes`` route names needs."""
        layout = SlotLayout(routes)
        return _round_up((routes + VIOLATION_CAPACITY) * _ENTRY) + slots * _round_up(
            layout.cells * _CELL
        )

    @classmethod
    def shared_memory(cls, slots: int, *, routes: int = 256) -> Region:
        """A region the processes forked after this call share; raises OSError if no space.

        ``/dev/shm`` first (memory, no disk writes), else the temporary directory.
        """
        size = cls.size(slots, routes)
        shm = "/dev/shm"  # noqa: S108 - an unlinked file, never opened by name
        try:
            fd = _reserved_file(shm if os.access(shm, os.W_OK) else None, size)
        except OSError:
            if not os.access(shm, os.W_OK):
                raise
            fd = _reserved_file(None, size)  # /dev/shm is too small: the temporary directory
        try:
            buffer = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            raise
        return cls(buffer, fd, slots, routes)

    @classmethod
    def private(cls, *, routes: int = 32) -> Region:
        """A region for this process alone (tests, tools, or when no shared memory is had)."""
        return cls(bytearray(cls.size(1, routes)), None, 1, routes)

    # slots ----------------------------------------------------------------------------------
    def claim(self) -> int | None:
        """A slot for this process: its own, a dead worker's, or a fresh one; None if full."""
        pid = os.getpid()
        with self._locked():
            free: int | None = None
            for slot in range(self.slots):
                owner = self.cells(slot)[OWNER]
                if owner == pid:
                    return slot
                reusable = owner == 0 or not _alive(owner)
                # Prefer a dead worker's slot: its replacement continues its counters.
                if reusable and (free is None or (owner != 0 and self.cells(free)[OWNER] == 0)):
                    free = slot
            if free is None:
                return None
            cells = self.cells(free)
            cells[OWNER] = pid
            cells[CLAIMS] += 1
            for cell in GAUGES:  # a gauge is what its owner says now, not what the dead one said
                cells[cell] = 0
            return free

    def cells(self, slot: int) -> memoryview:
        """The 64-bit cells of ``slot`` (written only by its owner)."""
        view = self._views.get(slot)
        if view is None:
            if not 0 <= slot < self.slots:
                raise IndexError(f"no slot {slot} (of {self.slots})")
            start = self._slots_at + slot * self._slot_bytes
            view = memoryview(self._buffer)[start : start + self.layout.cells * _CELL].cast("q")
            self._views[slot] = view
        return view

    def seconds(self, slot: int) -> memoryview[float]:
        """The same cells of ``slot`` read as doubles (for the few that hold a float sum)."""
        view = self._floats.get(slot)
        if view is None:
            view = self._floats[slot] = self.cells(slot).cast("B").cast("d")
        return view

    def used_slots(self) -> list[int]:
        """Slots that were ever claimed: their counters count, owner alive or not."""
        return [slot for slot in range(self.slots) if self.cells(slot)[CLAIMS] > 0]

    def alive(self, slot: int) -> bool:
        """Whether the slot's owner still runs (its gauges mean something)."""
        owner = self.cells(slot)[OWNER]
        return owner == os.getpid() or (owner != 0 and _alive(owner))

    # label tables ---------------------------------------------------------------------------
    def label(self, table: str, name: str) -> int:
        """The index of ``name`` in ``table``, added when new; ``other``'s when full."""
        key = (table, name)
        known = self._known.get(key)
        if known is not None:
            return known
        cut = _cut(name)
        with self._locked():
            entries = dict(self._entries(table))
            index = next((i for i, n in entries.items() if n == cut), None)
            if index is None:
                last = self._capacity[table] - 1  # the overflow entry, "other"
                index = next((i for i in range(last) if i not in entries), last)
                if index == last:
                    log.warning("metrics: over %d %s names; %r counts as 'other'", last, table, cut)
                else:
                    self._write_name(table, index, cut)
        self._known[key] = index
        return index

    def names(self, table: str) -> list[tuple[int, str]]:
        """Every (index, name) in ``table``, ``other`` included."""
        return list(self._entries(table))

    def _entries(self, table: str) -> Iterator[tuple[int, str]]:
        base = self._tables[table]
        buffer = self._buffer
        for index in range(self._capacity[table]):
            at = base + index * _ENTRY
            length = int.from_bytes(buffer[at : at + 2], "little")
            if length:
                yield index, bytes(buffer[at + 2 : at + 2 + length]).decode("utf-8", "replace")

    def _write_name(self, table: str, index: int, name: str) -> None:
        data = name.encode("utf-8")[:NAME_BYTES]
        at = self._tables[table] + index * _ENTRY
        self._buffer[at + 2 : at + 2 + len(data)] = data
        self._buffer[at : at + 2] = len(data).to_bytes(2, "little")  # last: readers see it whole

    # ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Unmap (tests); the region must not be used afterwards."""
        for floats in self._floats.values():
            floats.release()
        for view in self._views.values():
            view.release()
        self._floats.clear()
        self._views.clear()
        if isinstance(self._buffer, mmap.mmap):
            self._buffer.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        kind = "shared" if self.shared else "private"
        return f"Region({kind}, slots={self.slots}, routes={self.layout.route_capacity})"


def _reserved_file(directory: str | None, size: int) -> int:
    """An unlinked file of ``size`` bytes, its space reserved (a full disk fails here)."""
    file = tempfile.TemporaryFile(prefix="portcullis-metrics-", dir=directory)  # noqa: SIM115
    try:
        fd = os.dup(file.fileno())
    finally:
        file.close()  # unlinked already: the region lives as long as a mapping or fd does
    try:
        os.posix_fallocate(fd, 0, size)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _round_up(size: int) -> int:
    return -(-size // _PAGE) * _PAGE


def _cut(name: str) -> str:
    data = name.encode("utf-8")
    if len(data) <= NAME_BYTES:
        return name
    return data[:NAME_BYTES].decode("utf-8", "ignore")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now has that pid: not ours, but not free either
    return True
