"""Checking a store's hash chains: what was edited, removed, inserted or reordered, and where.

Pure: :func:`verify` takes the stored lines in storage order (each with a
position such as ``audit.jsonl:12`` or ``row 12``, and for SQLite the indexed
column values) and returns a :class:`Verification`. Reading the store is
:mod:`portcullis.audit.store`.

Per chain, records must come with ``seq`` 0, 1, 2, ... each ``prev`` equal to
the ``hash`` before it and each ``hash`` matching its content. A chain's first
record (``seq`` 0) must name :data:`~portcullis.audit.chain.GENESIS` or the
hash of a record stored earlier (its writer's anchor): a missing anchor means
records before it were removed. Columns copied out of a record for indexing
must equal the record's values.

What a chain cannot show: records cut off the *end* of a chain (nothing
follows to miss them), or a whole chain forged from scratch. Ship a copy off
the machine (syslog) for that.

With ``partial=True`` (rotated or pruned files), a chain may begin at any
``seq`` and anchors need not be present; gaps *within* the input still count.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from portcullis.audit.chain import GENESIS, body_hash, is_hash, split_line

__all__ = ["Entry", "Problem", "Verification", "anchors_in", "verify"]


class Entry(NamedTuple):
    """One stored record: where it is, its line, and (SQLite) its indexed columns."""

    where: str
    line: bytes
    columns: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    message: str
    chain: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        at = f" (chain {self.chain}, seq {self.seq})" if self.chain is not None else ""
        return f"{self.where}{at}: {self.message}"


@dataclass(frozen=True, slots=True)
class Verification:
    records: int
    chains: int
    partial_chains: int  # chains that begin before the input (partial mode)
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        chains = f"{self.chains} chain{'s' * (self.chains != 1)}"
        if self.partial_chains:
            chains += f" ({self.partial_chains} begin before the input)"
        status = (
            "OK" if self.ok else f"{len(self.problems)} problem{'s' * (len(self.problems) != 1)}"
        )
        return f"{self.records} record{'s' * (self.records != 1)}, {chains}, {status}"


_TRACKED_GAP = 1024  # a gap wider than this is reported, but not matched against later records


@dataclass(slots=True)
class _Chain:
    next_seq: int
    last_hash: str
    last_where: str
    missing: dict[int, int] = field(default_factory=dict)  # seq -> index of its problem


def anchors_in(lines: Iterable[bytes]) -> set[str]:
    """The ``prev`` of every chain start in ``lines``: the hashes :func:`verify` must find.

    A cheap first pass (only lines holding ``"seq":0,`` are parsed) so that
    :func:`verify` remembers just these hashes, not every hash in the store.
    """
    anchors = set()
    for line in lines:
        if b'"seq":0,' not in line:
            continue
        try:
            prev = orjson.loads(line).get("prev")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(prev, str) and prev != GENESIS:
            anchors.add(prev)
    return anchors


def verify(
    entries: Iterable[Entry], *, anchors: Collection[str] = (), partial: bool = False
) -> Verification:
    """Check every chain in ``entries`` (storage order); ``anchors`` from :func:`anchors_in`."""
    check = _Verifier(set(anchors), partial)
    for entry in entries:
        check.add(entry)
    return Verification(
        check.records, len(check.chains), check.partial_chains, tuple(check.problems)
    )


class _Verifier:
    def __init__(self, wanted: set[str], partial: bool) -> None:
        self.wanted = wanted  # anchors to look out for
        self.found: set[str] = set()
        self.partial = partial
        self.chains: dict[str, _Chain] = {}
        self.problems: list[Problem] = []
        self.records = 0
        self.partial_chains = 0

    def add(self, entry: Entry) -> None:
        self.records += 1
        parsed = _parse(entry)
        if isinstance(parsed, Problem):
            self.problems.append(parsed)
            return
        data, body, stored = parsed
        chain, seq, prev = data["chain"], data["seq"], data["prev"]
        report = self._reporter(entry.where, chain, seq)
        if body_hash(prev, body) != stored:
            report("edited: the record does not match its hash")
        for name, value in (entry.columns or {}).items():
            if data.get(name) != value:
                report(f"edited: column {name} differs from the sealed record")
        if stored in self.wanted:
            self.found.add(stored)
        state = self.chains.get(chain)
        if state is None:
            self.chains[chain] = _Chain(seq + 1, stored, entry.where)
            self._first(report, seq, prev)
        elif seq == state.next_seq:
            if prev != state.last_hash:
                report(
                    f"prev is not the hash of seq {seq - 1} ({state.last_where}): "
                    "a record was edited, inserted or replaced"
                )
            self._advance(state, seq, stored, entry.where)
        elif seq > state.next_seq:
            gap = f"seq {state.next_seq}" + (f"-{seq - 1}" if seq > state.next_seq + 1 else "")
            if seq - state.next_seq <= _TRACKED_GAP:
                state.missing.update(dict.fromkeys(range(state.next_seq, seq), len(self.problems)))
            report(f"removed: {gap} missing before this record")
            self._advance(state, seq, stored, entry.where)
        elif seq in state.missing:  # an earlier gap: this record was moved
            index = state.missing.pop(seq)
            if index not in state.missing.values():  # the whole gap turned up later
                earlier = self.problems[index]
                self.problems[index] = Problem(
                    earlier.where,
                    f"reordered: stored before seq {seq}, which comes later at {entry.where}",
                    earlier.chain,
                    earlier.seq,
                )
        else:  # the chain's position stays where it was
            report(
                f"inserted or duplicated: seq {seq} comes after seq {state.next_seq - 1} "
                f"({state.last_where})"
            )

    def _reporter(self, where: str, chain: str, seq: int) -> Callable[[str], None]:
        def report(message: str) -> None:
            self.problems.append(Problem(where, message, chain, seq))

        return report

    def _first(self, report: Callable[[str], None], seq: int, prev: str) -> None:
        if seq != 0:
            if self.partial:
                self.partial_chains += 1
            else:
                first = "seq 0" if seq == 1 else f"seq 0-{seq - 1}"
                report(f"removed: the chain's first records ({first}) are missing")
        elif prev != GENESIS and prev not in self.found and not self.partial:
            report("removed: the chain begins after a record that is not in the store (its anchor)")

    @staticmethod
    def _advance(state: _Chain, seq: int, stored: str, where: str) -> None:
        state.next_seq = seq + 1
        state.last_hash = stored
        state.last_where = where


def _parse(entry: Entry) -> tuple[dict[str, Any], bytes, str] | Problem:
    split = split_line(entry.line)
    if split is None:
        return Problem(entry.where, "not a sealed audit record (no hash at the end)")
    try:
        data = orjson.loads(entry.line)
    except orjson.JSONDecodeError:
        return Problem(entry.where, "not a sealed audit record (not JSON)")
    if not isinstance(data, dict):
        return Problem(entry.where, "not a sealed audit record (not a JSON object)")
    chain, seq, prev = data.get("chain"), data.get("seq"), data.get("prev")
    if (
        not isinstance(chain, str)
        or not isinstance(seq, int)
        or isinstance(seq, bool)
        or seq < 0
        or not isinstance(prev, str)
        or not is_hash(prev)
    ):
        return Problem(entry.where, "not a sealed audit record (chain, seq or prev missing)")
    return data, split[0], split[1]
