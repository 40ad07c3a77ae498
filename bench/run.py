"""Benchmark Portcullis against the Apache it fronts, with wrk on loopback.

    python bench/run.py [--duration 10] [--connections 32] [--case NAME ...]

``nginx-proxy`` (nginx as a plain reverse proxy, no auth) is the reference for what a proxy
hop itself costs on this machine. Every case is measured the same way: a short wrk warm-up, then
``wrk -t1 -cN -dDs --latency`` on its URL (one wrk thread: on a 2-core machine a second
thread only competes with Apache and the proxy). For cases that run Portcullis, its
CPU time (utime+stime of the process and its children, from /proc) is read
before and after the measured run and divided by the requests completed.
Results go to bench/results/ as JSON and a markdown table (``latest.*`` and a
timestamped copy) and are printed.

Sign-in cases (they start the test OpenID Provider, ``make node-deps``, and sign alice in
once before measuring; wrk then sends that session cookie with every request):

- ``portcullis-session``: Portcullis with a route that needs a signed-in user → Apache.
- ``audit-cost``: two such proxies, audit records on (the default SQLite store) and off,
  measured in ``--audit-rounds`` alternating pairs of runs; the median paired difference of
  CPU per request is what audit records cost (:class:`PairedAudit`).
- ``apache-openidc``: Apache with mod_auth_openidc (``AuthType openid-connect``, the same
  OP, its default server-side session cache) serving the same 1 KiB file.

Their req/s are compared (``RATIOS``) besides the per-case targets.

Bearer cases (the in-package dev IdP, :mod:`portcullis.devidp`, started once for all of them,
hands out client-credentials tokens of the machine client ``reporting-bot`` for the demo API;
helpers in ``bench/bearer.py``):

- ``portcullis-bearer``: Portcullis with a bearer-only route (``api: demo-api``, app role
  ``Reports.Read``) → Apache; wrk sends the same valid token every time (the cached path).
- ``portcullis-bearer-first-seen``: the same route, but every request carries a token the
  proxy has never seen (``--first-seen-tokens`` of them, fetched before measuring, each sent
  exactly once by a small asyncio client instead of wrk; every answer must be a 200).
- ``apache-openidc-bearer``: Apache with mod_auth_openidc (``AuthType oauth20``, the dev
  IdP's certificates from its JWKS ``x5c``, ``iss``/``aud``/``roles`` required) validating
  the same token as ``portcullis-bearer``, serving the same file.

To add a case, write a setup (a context manager taking the shared ``Env`` and
yielding a ``Target``) and append a ``Case`` to ``CASES``. The first case is the
baseline the others are compared with. A ``Target`` with a ``load`` is driven by it
instead of wrk; ``Env.shared`` starts what several cases use once per run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import mod_auth_openidc  # noqa: E402
from tests.support.apache import Apache, run_apache  # noqa: E402
from tests.support.nginx import run_nginx  # noqa: E402
from tests.support.oidc_provider import BASIC, run_oidc_provider  # noqa: E402
from tests.support.proxy import run_proxy  # noqa: E402
from tests.support.signin import (  # noqa: E402
    SESSION_COOKIE,
    Browser,
    callback_url,
    free_ports,
    sign_in,
    sign_in_config,
)

from bench import bearer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGETS = {"cpu_us_per_request": 30.0, "p99_added_ms": 1.0}
SESSION_TARGETS = {"cpu_us_per_request": 35.0}
BEARER_TARGETS = {"cpu_us_per_request": 35.0}
FIRST_SEEN_TARGETS = {"cpu_us_per_request": 150.0}
AUDIT_COST_TARGET = 5.0  # µs of CPU per request that audit records may add (issue 7)
# (case, compared with, minimum req/s ratio)
RATIOS = [
    ("portcullis-session", "apache-openidc", 1.5),
    ("portcullis-bearer", "apache-openidc-bearer", 1.5),
]
FIRST_SEEN_WARMUP_TOKENS = 300
QUIET_LOAD = 1.5  # 1-minute load average above which a run is flagged as not on a quiet machine

T = TypeVar("T")


@dataclass(frozen=True)
class Env:
    """What every case may use: the Apache upstream, a scratch directory, the arguments and
    resources shared by several cases (:meth:`shared`), stopped after the last case."""

    apache: Apache
    tmp: Path
    args: argparse.Namespace
    stack: ExitStack
    resources: dict[str, Any] = field(default_factory=dict)

    def shared(self, name: str, start: Callable[[], AbstractContextManager[T]]) -> T:
        """The resource ``name``, entering ``start()`` the first time it is asked for."""
        if name not in self.resources:
            self.resources[name] = self.stack.enter_context(start())
        value: T = self.resources[name]
        return value


class Load(Protocol):
    """Drives a case instead of wrk: a warm-up, then the measured run (``parse_wrk``'s keys)."""

    def warm(self, connections: int) -> None: ...

    def run(self, connections: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Target:
    """What wrk (or ``load``) hits, and the process (with children) whose CPU the case costs."""

    url: str
    pid: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    load: Load | None = None


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    setup: Callable[[Env], AbstractContextManager[Target]]
    targets: Mapping[str, float] = field(default_factory=lambda: dict(TARGETS))


@contextmanager
def apache_direct(env: Env) -> Iterator[Target]:
    yield Target(f"{env.apache.url}/1k.bin")


@contextmanager
def portcullis_public(env: Env) -> Iterator[Target]:
    route = {"host": "*", "path": "/", "upstream": env.apache.url, "public": True}
    with run_proxy({"routes": [route]}, env.tmp, args=("--workers", "1")) as proxy:
        yield Target(f"{proxy.url}/1k.bin", proxy.process.pid)


@contextmanager
def nginx_proxy(env: Env) -> Iterator[Target]:
    """nginx (C, one worker, pooled keep-alive upstream connections, no auth, no logs) in
    front of the same Apache: what a proxy hop costs on this machine before any feature."""
    (port,) = free_ports(1)

    def http(root: Path) -> str:
        return f"""\
  access_log off;
  upstream apache {{ server 127.0.0.1:{env.apache.port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://apache;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}"""

    with run_nginx(port, http, connections=1024) as server:
        yield Target(f"{server.url}/1k.bin", server.process.pid)


@contextmanager
def portcullis_session(env: Env, *, audit: bool = True) -> Iterator[Target]:
    (port,) = free_ports(1)
    with run_oidc_provider(redirect_uris=[callback_url(port)]) as op:
        config = sign_in_config(
            port=port, op=op, client_id=BASIC, upstream=env.apache.url, state_dir=env.tmp
        )
        # Audit on (the default: every decision to SQLite, in batches) or off.
        config["audit"] = {"sqlite": {"enabled": audit, "path": str(env.tmp / f"audit-{port}.db")}}
        with run_proxy(config, env.tmp, args=("--workers", "1")) as proxy:
            browser = Browser()
            anonymous = browser.get(f"{proxy.url}/1k.bin", accept="text/html")
            if anonymous.status != 302:
                raise RuntimeError(f"portcullis-session: /1k.bin gave {anonymous.status}, not 302")
            done = sign_in(browser, proxy.url, rd="/1k.bin")
            cookie = browser.cookie(SESSION_COOKIE)
            if done.status != 302 or not cookie:
                raise RuntimeError(f"portcullis-session: sign-in failed: {done.status}")
            headers = (("Cookie", f"{SESSION_COOKIE}={cookie}"),)
            yield Target(f"{proxy.url}/1k.bin", proxy.process.pid, headers)


@dataclass(frozen=True)
class PairedAudit:
    """The load of ``audit-cost``: two signed-in proxies, audit records on and off, measured in
    alternating back-to-back wrk runs, so that the machine's drift (which moves one case's CPU
    per request by tens of µs between runs here) falls on both alike. The cost is the median
    of the paired differences."""

    on: Target
    off: Target
    rounds: int
    seconds: float

    def warm(self, connections: int) -> None:
        for target in (self.on, self.off):
            wrk(target, connections, 1)

    def run(self, connections: int) -> dict[str, Any]:
        on_us: list[float] = []
        off_us: list[float] = []
        last: dict[str, Any] = {}
        requests = non_2xx = 0
        errors = []
        for round_ in range(self.rounds):
            pair = (self.on, self.off) if round_ % 2 == 0 else (self.off, self.on)
            for target in pair:
                assert target.pid is not None
                before = cpu_ticks(target.pid)
                stats = parse_wrk(wrk(target, connections, self.seconds))
                ticks = cpu_ticks(target.pid) - before
                cost = ticks / os.sysconf("SC_CLK_TCK") * 1e6 / max(stats["requests"], 1)
                (on_us if target is self.on else off_us).append(round(cost, 2))
                requests += stats["requests"]
                non_2xx += stats["non_2xx"]
                errors += [stats["socket_errors"]] if stats["socket_errors"] else []
                if target is self.on:
                    last = stats
        paired = [on - off for on, off in zip(on_us, off_us, strict=True)]
        return {
            **last,
            "requests": requests,
            "non_2xx": non_2xx,
            "socket_errors": "; ".join(errors),
            "audit_cost_us": round(statistics.median(paired), 2),
            "audit_on_us": on_us,
            "audit_off_us": off_us,
        }


@contextmanager
def audit_cost(env: Env) -> Iterator[Target]:
    with portcullis_session(env) as on, portcullis_session(env, audit=False) as off:
        rounds = max(2, env.args.audit_rounds)
        load = PairedAudit(on, off, rounds, max(1.0, env.args.duration / 2))
        yield Target(on.url, None, on.headers, load)


@contextmanager
def apache_openidc(env: Env) -> Iterator[Target]:
    (port,) = free_ports(1)
    location = "/private/"
    with run_oidc_provider(redirect_uris=[f"http://127.0.0.1:{port}{location}redirect_uri"]) as op:
        config = mod_auth_openidc.relying_party(
            apache_port=port,
            op=op,
            client_id=BASIC,
            docroot=env.apache.docroot,
            location=location,
        )
        with run_apache(
            large_size=1 << 16, port=port, modules=mod_auth_openidc.MODULES, extra_config=config
        ) as apache:
            url = f"{apache.url}{location}1k.bin"
            cookie = mod_auth_openidc.openidc_login(url)
            yield Target(url, headers=(("Cookie", f"{mod_auth_openidc.SESSION_COOKIE}={cookie}"),))


def _bearer_idp(env: Env) -> bearer.BenchIdp:
    return env.shared("dev-idp", bearer.run_dev_idp)


def _needs_token(name: str, url: str) -> None:
    """``url`` must answer 401 to a request without a token (the route really is protected)."""
    try:
        urllib.request.urlopen(url, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return
        raise RuntimeError(f"{name}: {url} without a token gave {exc.code}, not 401") from None
    raise RuntimeError(f"{name}: {url} without a token was let through")


@contextmanager
def portcullis_bearer(env: Env) -> Iterator[Target]:
    idp = _bearer_idp(env)
    config = bearer.proxy_config(idp.idp, env.apache.url)
    with run_proxy(config, env.tmp, args=("--workers", "1")) as proxy:
        _needs_token("portcullis-bearer", f"{proxy.url}/1k.bin")
        headers = (("Authorization", f"Bearer {idp.token}"),)
        yield Target(f"{proxy.url}/1k.bin", proxy.process.pid, headers)


@contextmanager
def portcullis_bearer_first_seen(env: Env) -> Iterator[Target]:
    idp = _bearer_idp(env)
    count = env.args.first_seen_tokens
    print(f"  fetching {count + FIRST_SEEN_WARMUP_TOKENS + 1} tokens", file=sys.stderr, flush=True)
    check_token, *tokens = bearer.fetch_tokens(
        idp.token_endpoint, 1 + FIRST_SEEN_WARMUP_TOKENS + count
    )
    warmup, measured = tokens[:FIRST_SEEN_WARMUP_TOKENS], tokens[FIRST_SEEN_WARMUP_TOKENS:]
    config = bearer.proxy_config(idp.idp, env.apache.url)
    with run_proxy(config, env.tmp, args=("--workers", "1")) as proxy:
        url = f"{proxy.url}/1k.bin"
        load = bearer.SendOnce(url, measured, warmup)
        headers = (("Authorization", f"Bearer {check_token}"),)
        yield Target(url, proxy.process.pid, headers, load)


@contextmanager
def apache_openidc_bearer(env: Env) -> Iterator[Target]:
    idp = _bearer_idp(env)
    location = "/api/"
    config = mod_auth_openidc.bearer_api(
        jwks=idp.jwks(),
        issuer=idp.idp.issuer,
        audiences=bearer.AUDIENCES,
        roles=[bearer.APP_ROLE],
        docroot=env.apache.docroot,
        location=location,
    )
    with run_apache(
        large_size=1 << 16, modules=mod_auth_openidc.MODULES, extra_config=config
    ) as ap:
        url = f"{ap.url}{location}1k.bin"
        _needs_token("apache-openidc-bearer", url)
        yield Target(url, headers=(("Authorization", f"Bearer {idp.token}"),))


CASES = [
    Case("apache-direct", "wrk -> Apache, static 1 KiB file", apache_direct),
    Case(
        "nginx-proxy",
        "wrk -> nginx (1 worker, reverse proxy, no auth) -> Apache: the cost of a proxy hop",
        nginx_proxy,
        {},
    ),
    Case(
        "portcullis-public",
        "wrk -> Portcullis (1 worker, public route) -> Apache",
        portcullis_public,
    ),
    Case(
        "portcullis-session",
        "wrk (session cookie) -> Portcullis (1 worker, signed-in route) -> Apache",
        portcullis_session,
        SESSION_TARGETS,
    ),
    Case(
        "audit-cost",
        "portcullis-session with audit records on, and off, in alternating runs (paired)",
        audit_cost,
        {"audit_cost_us": AUDIT_COST_TARGET},
    ),
    Case(
        "apache-openidc",
        "wrk (session cookie) -> Apache + mod_auth_openidc (openid-connect), same file",
        apache_openidc,
        {},
    ),
    Case(
        "portcullis-bearer",
        "wrk (one bearer token) -> Portcullis (1 worker, bearer route, app role) -> Apache",
        portcullis_bearer,
        BEARER_TARGETS,
    ),
    Case(
        "portcullis-bearer-first-seen",
        "asyncio client (each token new, sent once) -> Portcullis (1 worker, bearer route)"
        " -> Apache",
        portcullis_bearer_first_seen,
        FIRST_SEEN_TARGETS,
    ),
    Case(
        "apache-openidc-bearer",
        "wrk (same bearer token) -> Apache + mod_auth_openidc (oauth20, static keys), same file",
        apache_openidc_bearer,
        {},
    ),
]


def cpu_ticks(pid: int) -> int:
    """utime+stime of ``pid`` and all its live descendants, in clock ticks."""
    total = 0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_ticks(int(child))
    except (OSError, ValueError):
        pass  # the process went away mid-read
    return total


def _ms(value: str) -> float:
    """A wrk duration (``812.00us``, ``1.23ms``, ``2.01s``) in milliseconds."""
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value.removesuffix(unit)) * scale
    raise RuntimeError(f"unexpected wrk duration {value!r}")


def parse_wrk(output: str) -> dict[str, Any]:
    def find(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{output}")
        return match.group(1)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": int(find(r"(\d+) requests in")),
        "requests_per_s": float(find(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": round(_ms(find(r"^\s+50%\s+(\S+)$")), 3),
        "p99_ms": round(_ms(find(r"^\s+99%\s+(\S+)$")), 3),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def wrk(target: Target, connections: int, duration: float) -> str:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    for name, value in target.headers:
        argv += ["-H", f"{name}: {value}"]
    argv.append(target.url)
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def check(case: Case, target: Target) -> None:
    """One plain GET first (with the case's headers): never benchmark fast errors."""
    request = urllib.request.Request(target.url, headers=dict(target.headers))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, size = response.status, len(response.read())
    except OSError as exc:
        raise RuntimeError(f"{case.name}: GET {target.url} failed: {exc!r}") from None
    if status != 200 or size != 1024:
        raise RuntimeError(f"{case.name}: GET {target.url} gave {status}, {size} bytes")


def measure(case: Case, env: Env, args: argparse.Namespace) -> dict[str, Any]:
    with case.setup(env) as target:
        check(case, target)
        if target.load is None:
            wrk(target, args.connections, args.warmup)
        else:
            target.load.warm(args.connections)
        ticks_before = cpu_ticks(target.pid) if target.pid else 0
        if target.load is None:
            stats = parse_wrk(wrk(target, args.connections, args.duration))
        else:
            stats = target.load.run(args.connections)
        ticks = cpu_ticks(target.pid) - ticks_before if target.pid else 0
    result = {"name": case.name, "description": case.description, **stats}
    if target.pid:
        seconds = ticks / os.sysconf("SC_CLK_TCK")
        result["cpu_us_per_request"] = round(seconds * 1e6 / max(result["requests"], 1), 2)
    result["valid"] = result["non_2xx"] == 0 and not result["socket_errors"]
    # A load that knows every answer: all must be 200s, none missing.
    if "statuses" in result and (
        result["statuses"] != {"200": result["tokens"]} or result["socket_errors"]
    ):
        raise RuntimeError(
            f"{case.name}: expected {result['tokens']} x 200, got {result['statuses']}"
            f" (errors: {result['socket_errors'] or 'none'})"
        )
    result["targets"] = dict(case.targets)
    return result


def compare(results: list[dict[str, Any]]) -> None:
    base = results[0]
    for result in results[1:]:
        result["vs"] = base["name"]
        result["requests_per_s_ratio"] = round(result["requests_per_s"] / base["requests_per_s"], 3)
        result["p50_added_ms"] = round(result["p50_ms"] - base["p50_ms"], 3)
        result["p99_added_ms"] = round(result["p99_ms"] - base["p99_ms"], 3)


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``RATIOS`` whose two cases both ran."""
    by_name = {r["name"]: r for r in results}
    found = []
    for name, other, minimum in RATIOS:
        if name in by_name and other in by_name:
            ratio = by_name[name]["requests_per_s"] / by_name[other]["requests_per_s"]
            found.append({"case": name, "vs": other, "ratio": round(ratio, 3), "min": minimum})
    return found


def _version(argv: list[str]) -> str:
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = (run.stdout or run.stderr).splitlines()
    return lines[0].strip() if lines else "?"


def environment(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "apache": _version(["/usr/sbin/apache2", "-v"]).removeprefix("Server version: "),
        "wrk": " ".join(_version(["wrk", "-v"]).split()[:2]),
        "mod_auth_openidc": _version(
            ["dpkg-query", "-W", "-f", "${Version}", "libapache2-mod-auth-openidc"]
        ),
        "commit": _version(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "wrk_args": f"-t1 -c{args.connections} -d{args.duration:g}s --latency",
        "warmup_s": args.warmup,
        "load_average_at_start": args.load_average,
        "first_seen_tokens": args.first_seen_tokens,
        "portcullis_workers": 1,
    }


def markdown(report: dict[str, Any]) -> str:
    rows = [
        "| case | req/s | p50 ms | p99 ms | CPU µs/req | req/s ratio | p99 added ms | valid |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        cpu = f"{r['cpu_us_per_request']:.1f}" if "cpu_us_per_request" in r else "-"
        ratio = f"{r['requests_per_s_ratio']:.2f}" if "vs" in r else "-"
        added = f"{r['p99_added_ms']:+.2f}" if "vs" in r else "-"
        rows.append(
            f"| {r['name']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {cpu} | {ratio} | {added} | {'yes' if r['valid'] else 'NO'} |"
        )
    lines = [f"# Portcullis benchmark {report['timestamp']}", "", *rows, "", "Targets:"]
    for r in report["results"]:
        for key, limit in r["targets"].items():
            if key in r:
                verdict = "met" if r[key] <= limit else "MISSED"
                lines.append(f"- {r['name']}: {key} = {r[key]:.2f} (target ≤ {limit:g}) {verdict}")
    for r in report["results"]:
        if "statuses" in r:
            mix = ", ".join(f"{n} x {status}" for status, n in r["statuses"].items())
            lines.append(f"- {r['name']}: {r['tokens']} distinct tokens, each sent once: {mix}")
    for r in report["results"]:
        if "audit_cost_us" in r:
            lines.append(
                f"- audit-cost: CPU µs per request with audit records on {r['audit_on_us']}, "
                f"off {r['audit_off_us']} (alternating runs)"
            )
    for c in report["ratios"]:
        verdict = "met" if c["ratio"] >= c["min"] else "MISSED"
        lines.append(
            f"- {c['case']} vs {c['vs']}: req/s ratio = {c['ratio']:.2f} "
            f"(target ≥ {c['min']:g}) {verdict}"
        )
    env = report["environment"]
    lines += [
        "",
        f"{env['cpus']} CPUs, {env['apache']}, mod_auth_openidc {env['mod_auth_openidc']}, "
        f"{env['wrk']}, wrk {env['wrk_args']}, "
        f"{env['first_seen_tokens']} first-seen tokens, "
        f"load average {env['load_average_at_start']} at start, commit {env['commit']}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per case")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--first-seen-tokens",
        type=int,
        default=5000,
        help="distinct tokens, each sent once, in portcullis-bearer-first-seen",
    )
    names = [case.name for case in CASES]
    parser.add_argument(
        "--audit-rounds",
        type=int,
        default=6,
        help="audit-cost: alternating on/off pairs of runs of duration/2 seconds each",
    )
    parser.add_argument("--case", action="append", choices=names, help="run only these (repeat)")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if c.name == CASES[0].name or not args.case or c.name in args.case]
    args.load_average = round(os.getloadavg()[0], 2)
    if args.load_average > QUIET_LOAD:
        print(
            f"warning: load average {args.load_average} > {QUIET_LOAD}: the machine is not quiet,"
            " figures may be off (re-run when it is)",
            file=sys.stderr,
            flush=True,
        )
    with (
        tempfile.TemporaryDirectory(prefix="portcullis-bench-") as tmp,
        run_apache(large_size=1 << 20) as apache,
        ExitStack() as stack,
    ):
        env = Env(apache, Path(tmp), args, stack)
        results = []
        for case in cases:
            print(f"running {case.name}: {case.description}", file=sys.stderr, flush=True)
            results.append(measure(case, env, args))
    compare(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "timestamp": stamp,
        "environment": environment(args),
        "targets": TARGETS,
        "results": results,
        "ratios": ratios(results),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    for name in ("latest", stamp):
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(text)
    print(text)
    print(f"written to {RESULTS}/latest.json and {RESULTS}/{stamp}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
