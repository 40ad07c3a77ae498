"""Microbenchmark of route matching: the cost of one ``Router.match`` for 10 and 10,000 routes.

    .venv/bin/python bench/routing.py [--iterations 200] [--requests 2000] [--seed 1]

The big router spreads its routes over ~100 host patterns (70 exact hosts, 29 ``*.domain``
wildcards and ``*``), with paths one to six segments deep and one route in ten
case-insensitive; the small one takes ten of them. Each router gets the same mix of requests
for its routes: about half aimed at a route (its prefix plus more segments, case changed for
case-insensitive routes), the rest misses (unknown hosts, ``badteam3.example.org``-style near
misses, paths no route covers, ``/apix`` next to ``/api``). The requests are cycled
``--iterations`` times and the mean time per ``match`` (``time.perf_counter``, loop included)
is printed with the hit rate and the time to compile the router.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence

from portcullis.config.schema import Route
from portcullis.routing import Router

EXACT_HOSTS = [f"svc{n}.example.com" for n in range(70)]
WILDCARDS = [f"*.team{n}.example.org" for n in range(29)]
HOSTS = [*EXACT_HOSTS, *WILDCARDS, "*"]
WORDS = ["api", "v1", "v2", "users", "orders", "admin", "static", "reports", "items", "search"]


def make_routes(count: int, rng: random.Random) -> list[Route]:
    """``count`` distinct routes spread over ``HOSTS``; one host in five has no ``/`` route."""
    routes: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for n, host in enumerate(HOSTS[:count]):
        if n % 5 and host != "*":
            routes.append(Route(host=host, path="/", upstream=f"http://up{n}"))
            seen.add((host, "/"))
    while len(routes) < count:
        host = rng.choice(HOSTS)
        depth = rng.randint(1, 6)
        path = "/" + "/".join(f"{rng.choice(WORDS)}{rng.randrange(40)}" for _ in range(depth))
        if (host, path) in seen:
            continue
        seen.add((host, path))
        routes.append(
            Route(
                host=host,
                path=path,
                case_insensitive=rng.random() < 0.1,
                upstream=f"http://up{len(routes)}",
            )
        )
    return routes


def request_host(pattern: str, rng: random.Random) -> str:
    if pattern == "*":
        return f"other{rng.randrange(50)}.example.net"
    if pattern.startswith("*."):
        return f"h{rng.randrange(50)}{pattern[1:]}"
    return pattern


def make_requests(routes: Sequence[Route], count: int, rng: random.Random) -> list[tuple[str, str]]:
    requests = []
    for _ in range(count):
        route = rng.choice(routes)
        kind = rng.random()
        host = request_host(route.host, rng)
        if kind < 0.5:  # aimed at a route
            path = route.path.rstrip("/") + "/" + rng.choice(WORDS) + "/" + str(rng.randrange(999))
            if route.case_insensitive:
                path = path.upper()
        elif kind < 0.6:  # an unknown host
            host = f"unknown{rng.randrange(1000)}.example.io"
            path = route.path
        elif kind < 0.7:  # a wildcard near miss: no dot before the suffix
            host = f"bad{rng.choice(WILDCARDS)[2:]}"
            path = route.path
        elif kind < 0.85:  # a prefix at a non-boundary ('/apix' next to '/api')
            path = route.path.rstrip("/") + "x/y"
        else:  # a path no route covers, as deep as the deep routes
            path = "/" + "/".join(f"miss{rng.randrange(99)}" for _ in range(rng.randint(1, 7)))
        requests.append((host, path))
    return requests


def measure(router: Router[None], requests: Sequence[tuple[str, str]], iterations: int) -> float:
    """Mean seconds per ``match`` over ``iterations`` passes through ``requests``."""
    match = router.match
    for host, path in requests:  # warm the host cache and the interpreter
        match(host, path)
    start = time.perf_counter()
    for _ in range(iterations):
        for host, path in requests:
            match(host, path)
    return (time.perf_counter() - start) / (iterations * len(requests))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    big = make_routes(10_000, rng)
    # Ten of them: '/' on two exact hosts and a wildcard, seven deeper routes of any host.
    roots = [r for r in big if r.path == "/"]
    small = [*roots[:2], next(r for r in roots if r.host.startswith("*."))]
    small += rng.sample([r for r in big if r.path != "/"], 7)
    print(f"{'routes':>7} {'hosts':>6} {'compile ms':>11} {'hits':>6} {'µs/match':>9}")
    for routes in (small, big):
        start = time.perf_counter()
        router: Router[None] = Router(routes, lambda r: None)
        compile_ms = (time.perf_counter() - start) * 1000
        requests = make_requests(routes, args.requests, rng)
        hits = sum(router.match(h, p) is not None for h, p in requests) / len(requests)
        mean = measure(router, requests, args.iterations)
        hosts = len({r.host for r in routes})
        print(f"{len(routes):>7} {hosts:>6} {compile_ms:>11.1f} {hits:>6.0%} {mean * 1e6:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
