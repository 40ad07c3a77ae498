"""The shared region with real forked processes: slots, label tables, dead workers' slots."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from portcullis.metrics.layout import CLAIMS, CONNECTIONS, OWNER, TOKEN_CACHE_HITS
from portcullis.metrics.region import OTHER, ROUTES, VIOLATIONS, Region


@pytest.fixture
def region() -> Iterator[Region]:
    shared = Region.shared_memory(4, routes=8)
    yield shared
    shared.close()


def in_child(work: Callable[[], int]) -> int:
    """Run ``work`` in a forked child; returns its exit status (what ``work`` returned)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = work()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_each_worker_claims_its_own_slot_and_the_parent_sees_their_counts(
    region: Region,
) -> None:
    def worker(hits: int) -> Callable[[], int]:
        def work() -> int:
            slot = region.claim()
            if slot is None or region.claim() != slot:  # asking again: the same slot
                return 2
            cells = region.cells(slot)
            for _ in range(hits):
                cells[TOKEN_CACHE_HITS] += 1
            return 0

        return work

    assert [in_child(worker(n)) for n in (3, 5, 7)] == [0, 0, 0]
    used = region.used_slots()
    # Each child died before the next started: the dead one's slot was taken over...
    assert len(used) == 1
    assert region.cells(used[0])[TOKEN_CACHE_HITS] == 15  # ...and its counter continued
    assert region.cells(used[0])[CLAIMS] == 3
    assert not region.alive(used[0])


def test_living_workers_get_different_slots(region: Region) -> None:
    read, write = os.pipe()
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os.close(write)
            slot = region.claim()
            region.cells(slot or 0)[TOKEN_CACHE_HITS] += 1
            os.read(read, 1)  # stay alive until the parent has looked
            os._exit(0 if slot is not None else 1)
        children.append(pid)
    os.close(read)
    try:
        deadline = time.monotonic() + 10
        while len(region.used_slots()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        used = region.used_slots()
        assert len(used) == 3
        assert {region.cells(s)[OWNER] for s in used} == set(children)
        assert all(region.alive(s) for s in used)
    finally:
        os.write(write, b"xxx")
        os.close(write)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert codes == [0, 0, 0]
    assert not any(region.alive(s) for s in used)


def test_a_new_worker_zeroes_the_gauges_of_the_slot_it_takes(region: Region) -> None:
    def dies_with_a_gauge() -> int:
        slot = region.claim()
        assert slot is not None
        region.cells(slot)[CONNECTIONS] = 40
        region.cells(slot)[TOKEN_CACHE_HITS] = 2
        return 0

    assert in_child(dies_with_a_gauge) == 0
    slot = region.claim()  # this process takes the dead child's slot
    assert slot is not None
    assert region.cells(slot)[CONNECTIONS] == 0
    assert region.cells(slot)[TOKEN_CACHE_HITS] == 2


def test_a_full_region_has_no_slot_left() -> None:
    region = Region.shared_memory(1, routes=2)
    try:
        assert region.claim() == 0
        assert in_child(lambda: 0 if region.claim() is None else 1) == 0
    finally:
        region.close()


def test_names_get_the_same_index_in_every_process(region: Region) -> None:
    assert region.label(ROUTES, "*/api") == 0

    def child() -> int:
        # Known from the parent, and a new one the parent will see.
        ok = region.label(ROUTES, "*/api") == 0 and region.label(ROUTES, "a.example/") == 1
        return 0 if ok else 1

    assert in_child(child) == 0
    assert region.label(ROUTES, "a.example/") == 1
    assert region.label(VIOLATIONS, "replay") == 0
    assert sorted(region.names(ROUTES)) == [(0, "*/api"), (1, "a.example/"), (7, OTHER)]


def test_names_beyond_the_capacity_count_as_other(region: Region) -> None:
    indexes = [region.label(ROUTES, f"*/r{i}") for i in range(10)]
    assert indexes[:7] == list(range(7))
    assert indexes[7:] == [7, 7, 7]
    assert dict(region.names(ROUTES))[7] == OTHER


def test_long_names_are_cut_to_fit() -> None:
    region = Region.private(routes=4)
    name = "*/" + "é" * 200
    index = region.label(ROUTES, name)
    stored = dict(region.names(ROUTES))[index]
    assert name.startswith(stored) and len(stored.encode()) <= 254


def test_a_private_region_has_one_slot() -> None:
    region = Region.private()
    assert region.claim() == 0
    assert region.slots == 1 and not region.shared
    with pytest.raises(IndexError):
        region.cells(1)


def test_sizes_are_reserved_up_front() -> None:
    # posix_fallocate: the memory exists now; a full /dev/shm fails here, not with SIGBUS later.
    region = Region.shared_memory(3, routes=16)
    try:
        size = Region.size(3, 16)
        assert os.fstat(region._fd or -1).st_blocks * 512 >= size
    finally:
        region.close()
