"""Temporary blocks in one SQLite file, seen by every process that opens it."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from portcullis.guardrails.blocks import Block, BlockStore
from tests.guardrails.stream import ALICE, BOB, START, monitor

HOUR = 3600.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "blocks.db"


def block(store: BlockStore, identity: str = ALICE, minutes: float = 60, at: float = START) -> None:
    store.block(identity, now=at, until=at + minutes * 60, rule="probing", detail="5 denials")


def test_a_block_holds_until_it_ends(path: Path) -> None:
    store = BlockStore(path)
    block(store)
    assert store.is_blocked(ALICE, START)
    assert store.is_blocked(ALICE, START + HOUR - 1)
    assert not store.is_blocked(ALICE, START + HOUR)
    assert not store.is_blocked(BOB, START)


def test_two_stores_on_one_file(path: Path) -> None:
    worker, other = BlockStore(path), BlockStore(path)
    block(worker)
    assert not other.is_blocked(ALICE, START)  # not reread yet: a lookup never does I/O
    assert other.refresh() is True
    assert other.is_blocked(ALICE, START)
    assert other.refresh() is False  # nothing changed since
    assert other.lift(ALICE) is True
    assert not other.is_blocked(ALICE, START)
    assert worker.is_blocked(ALICE, START)
    worker.refresh()
    assert not worker.is_blocked(ALICE, START)


def test_blocks_survive_a_restart(path: Path) -> None:
    first = BlockStore(path)
    block(first, BOB, minutes=5)
    first.close()
    assert BlockStore(path).active(START) == [
        Block(BOB, START, START + 300, "probing", "5 denials")
    ]


def test_a_longer_block_is_kept(path: Path) -> None:
    store = BlockStore(path)
    block(store, minutes=60)
    block(store, minutes=10, at=START + 60)
    assert store.is_blocked(ALICE, START + 30 * 60)
    assert [b.until for b in BlockStore(path).active(START)] == [START + HOUR]
    block(store, minutes=120, at=START + 60)
    assert [b.until for b in BlockStore(path).active(START)] == [START + 60 + 2 * HOUR]


def test_list_and_lift_all(path: Path) -> None:
    store = BlockStore(path)
    block(store, "https://idp.example#carol", minutes=1, at=START - HOUR)  # over at START
    block(store, ALICE, minutes=30)
    block(store, BOB, minutes=10)
    assert [b.identity for b in store.active(START)] == [BOB, ALICE]
    assert [b.identity for b in store.active(START, ALICE)] == [ALICE]
    assert store.lift("nobody") is False
    assert store.lift_all() == 2  # carol's, expired, was purged when ALICE's was added
    assert store.active(START) == []
    assert not store.is_blocked(ALICE, START)


def test_the_file_is_private(path: Path) -> None:
    BlockStore(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_newer_schema_is_refused(path: Path) -> None:
    BlockStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(sqlite3.DatabaseError, match="schema version 99"):
        BlockStore(path)


def test_running_guardrails_see_a_lift_within_the_refresh(path: Path) -> None:
    async def main() -> tuple[bool, bool]:
        guardrails = monitor(blocks=BlockStore(path), refresh_seconds=0.05)
        block(BlockStore(path))
        guardrails.start()
        await asyncio.sleep(0.2)
        seen = guardrails.is_blocked(ALICE, START)
        BlockStore(path).lift(ALICE)
        await asyncio.sleep(0.2)
        lifted = not guardrails.is_blocked(ALICE, START)
        await guardrails.close()
        return seen, lifted

    assert asyncio.run(main()) == (True, True)
