"""Micro-benchmark of Guardrails.observe: ``python -m tests.guardrails.bench_observe``.

All seven rule kinds configured, none firing; the median of 7 runs per case, in ns per
observation. Not collected by pytest (timings on a shared CI machine are not assertions).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

from portcullis.guardrails.blocks import BlockStore
from portcullis.guardrails.events import Observation
from portcullis.guardrails.monitor import Guardrails
from tests.guardrails.stream import AGENT, ALICE, BOB, BOT, START, TID, denied, monitor, obs

RULES = [
    {"name": "probing", "kind": "denials", "count": 5, "window_minutes": 10},
    {"name": "portal", "kind": "machine_on_human_route", "paths": ["/admin/**", "/me"]},
    {"name": "hours", "kind": "outside_hours", "hours": {"from": "00:00", "to": "24:00"}},
    {"name": "new-app", "kind": "new_client", "warmup_minutes": 0, "known_clients": ["app"]},
    {"name": "tenant", "kind": "foreign_tenant", "tenants": [TID]},
    {"name": "old", "kind": "old_token", "max_age_minutes": 60},
    {"name": "burst", "kind": "agent_burst", "max_requests": 100_000, "window_seconds": 10},
]


def per_call(call: Callable[[], object], number: int = 200_000) -> float:
    runs = []
    for _ in range(7):
        began = time.perf_counter()
        for _ in range(number):
            call()
        runs.append((time.perf_counter() - began) / number * 1e9)
    return statistics.median(runs)


def report(label: str, ns: float) -> None:
    print(f"{label:<42} {ns:7.0f} ns")


def main() -> None:
    gc.collect()
    gc.freeze()  # as the worker does after start-up
    guardrails: Guardrails = monitor(*RULES, max_identities=50_000)
    cases = {
        "user, allowed (session)": obs(0, ALICE, client_id="app"),
        "app token, allowed (API)": obs(0, BOT, kind="app", client_id="app", path="/api/x",
                                        token_age=60.0, token_lifetime=3600.0),
        "agent token, allowed (API)": obs(0, AGENT, kind="agent", client_id="app",
                                          path="/api/x", token_age=60.0, token_lifetime=3600.0),
        "user, denied": denied(0, ALICE, client_id="app"),
    }  # fmt: skip
    # Denials: a count that is never reached here (one in 10 000 fires, under cooldown).
    patient = monitor({**RULES[0], "count": 10_000}, *RULES[1:])
    for name, observation in cases.items():
        target = guardrails if observation.allowed else patient
        assert target.observe(observation) == (), name
        report(f"observe, {name}", per_call(lambda g=target, o=observation: g.observe(o)))
    args = (START, ALICE, "user", True, "signed-in", 1, "/", "GET", "/home", TID, "app", None,
            None, "")  # fmt: skip
    report("building an Observation", per_call(lambda: Observation(*args)))
    report("is_blocked, no block store", per_call(lambda: guardrails.is_blocked(ALICE, START)))
    store = BlockStore(":memory:")
    store.block(BOB, now=START, until=START + 60, rule="r", detail="")
    blocking = monitor(*RULES, blocks=store)
    for who, label in ((ALICE, "not blocked"), (BOB, "blocked")):
        report(f"is_blocked, store, {label}", per_call(lambda w=who: blocking.is_blocked(w, START)))


if __name__ == "__main__":
    main()
