"""Microbenchmark of one access decision: route lookup plus the route's rules, 10 vs 10,000.

    .venv/bin/python bench/policy.py [--iterations 50] [--requests 2000] [--seed 1]

The routes are bench/routing.py's (10,000 over ~100 host patterns, 1-6 segments deep); every
route gets one to four rules drawn from a realistic mix — roles, group aliases, app roles for
machines, methods, path patterns, source ranges, mfa, a deny rule with ``not``, a monitored
deny rule — so the big configuration holds about 25,000 rules. Requests (bench/routing.py's
mix of hits and misses) are paired with identities (people with roles and groups, apps with
app roles); a decision is ``Router.match`` then ``RoutePolicy.decide`` on the route found,
as the gate does. Prints the mean µs per decision, the rule count and the compile time.
Target (issue 5): ≤ 20 µs per decision at 10,000 routes/rules.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.routing import make_requests, make_routes
from portcullis.config.schema import Config, Route
from portcullis.identity import Identity, Kind
from portcullis.policy import Facts, compile_policy
from portcullis.routing import Router

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GROUPS = [f"9a6c0d1e-0000-4000-8000-{n:012d}" for n in range(200)]
ROLES = [f"Role.{n}" for n in range(50)]


def make_rules(rng: random.Random) -> list[dict[str, Any]]:
    choices: list[dict[str, Any]] = [
        {"allow": {"roles": rng.sample(ROLES, 2)}},
        {"allow": {"groups": [f"team{rng.randrange(200)}"], "methods": ["GET", "HEAD"]}},
        {"allow": {"app_roles": [rng.choice(ROLES)], "paths": ["/**/export", "/api/*"]}},
        {"allow": {"roles": [rng.choice(ROLES)], "mfa": True}},
        {"deny": {"not": {"source_ip": ["10.0.0.0/8", "192.168.0.0/16"]}}},
        {"deny": {"methods": ["DELETE"]}, "monitor": True},
        {"allow": {"any": [{"groups": [f"team{rng.randrange(200)}"]}, {"roles": ROLES[:3]}]}},
    ]
    picked = rng.sample(choices, rng.randint(1, 4))
    return [{"name": f"r{i}", **rule} for i, rule in enumerate(picked)]


def with_rules(routes: Sequence[Route], rng: random.Random) -> list[Route]:
    return [r.model_copy(update={"rules": make_rules(rng)}) for r in routes]


def identities(rng: random.Random) -> list[Identity]:
    people = [
        Identity(
            issuer="https://login.microsoftonline.com/x/v2.0",
            subject=f"user{n}",
            kind=Kind.USER,
            tenant_id=TID,
            object_id=f"77777777-7777-4777-8777-{n:012d}",
            roles=tuple(rng.sample(ROLES, 3)),
            groups=tuple(rng.sample(GROUPS, 40)),
            amr=("pwd", "mfa") if n % 2 else ("pwd",),
        )
        for n in range(20)
    ]
    apps = [
        Identity(
            issuer="https://login.microsoftonline.com/x/v2.0",
            subject=f"app{n}",
            kind=Kind.APP,
            tenant_id=TID,
            object_id=f"88888888-8888-4888-8888-{n:012d}",
            client_id=f"app{n}",
            roles=tuple(rng.sample(ROLES, 2)),
        )
        for n in range(5)
    ]
    return people + apps


def measure(
    router: Router[None], cases: Sequence[tuple[str, str, Facts]], iterations: int
) -> float:
    match = router.match

    def decide_all() -> None:
        for host, path, facts in cases:
            target = match(host, path)
            if target is not None and target.policy is not None:
                target.policy.decide(facts)

    decide_all()  # warm caches and the interpreter
    start = time.perf_counter()
    for _ in range(iterations):
        decide_all()
    return (time.perf_counter() - start) / (iterations * len(cases))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    big = with_rules(make_routes(10_000, rng), rng)
    small = rng.sample(big, 10)
    aliases = {f"team{n}": g for n, g in enumerate(GROUPS)}
    who = identities(rng)
    print(f"{'routes':>7} {'rules':>7} {'compile ms':>11} {'µs/decision':>12}")
    results = []
    for routes in (small, big):
        config = Config.model_validate(
            {"routes": [r.model_dump() for r in routes], "policy": {"groups": aliases}}
        )
        start = time.perf_counter()
        policy = compile_policy(config)
        router: Router[None] = Router(config.routes, lambda r: None, policy.routes)
        compile_ms = (time.perf_counter() - start) * 1000
        cases = [
            (
                host,
                path,
                Facts(
                    rng.choice(who),
                    method=rng.choice(["GET", "GET", "POST", "DELETE"]),
                    path=path,
                    source_ip=rng.choice(["10.1.2.3", "192.0.2.8"]),
                    now=1_800_000_000.0,
                ),
            )
            for host, path in make_requests(config.routes, args.requests, rng)
        ]
        mean = measure(router, cases, args.iterations) * 1e6
        rules = sum(len(r.rules or ()) for r in config.routes)
        results.append(mean)
        print(f"{len(routes):>7} {rules:>7} {compile_ms:>11.0f} {mean:>12.2f}")
    verdict = "met" if results[-1] <= 20 else "MISSED"
    print(f"target ≤ 20 µs per decision at 10,000 routes: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
