"""Apache at the edge: Portcullis as Apache's FastCGI authorizer vs mod_auth_openidc, with wrk.

    python bench/authorizer.py [--duration 10] [--warmup 2] [--connections 32] [--workers 1]

Both cases serve the same static 1 KiB file from Apache to a signed-in user (alice, signed
in once at the test OpenID Provider before measuring; wrk then sends her session cookie with
every request), measured like ``bench/run.py`` measures (``wrk -t1 -cN -dDs --latency``
after a warm-up):

- ``apache-authorizer``: Apache + mod_authnz_fcgi asking Portcullis (``--workers``, default
  1) over FastCGI for every request, configured as docs/apache.md recommends
  (:mod:`tests.fastcgi.apache_config`). mod_authnz_fcgi opens a new TCP connection per
  check (it never sets ``FCGI_KEEP_CONN``). Portcullis' CPU time per request is reported.
- ``apache-openidc``: Apache + mod_auth_openidc (``AuthType openid-connect``, the same OP,
  its default server-side session cache), as the ``apache-openidc`` case of ``bench/run.py``.

Prints a table with both and the req/s ratio; ``--json PATH`` also writes the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fastcgi.apache_config import MODULES, authorizer_config  # noqa: E402
from tests.support import mod_auth_openidc  # noqa: E402
from tests.support.apache import run_apache  # noqa: E402
from tests.support.oidc_provider import BASIC, run_oidc_provider  # noqa: E402
from tests.support.proxy import run_proxy, wait_for_port  # noqa: E402
from tests.support.signin import (  # noqa: E402
    SESSION_COOKIE,
    Browser,
    callback_url,
    free_ports,
    sign_in,
    sign_in_config,
)

from bench.run import Target, cpu_ticks, parse_wrk, wrk  # noqa: E402

FILE = "/1k.bin"


@contextmanager
def apache_authorizer(tmp: Path, workers: int) -> Iterator[Target]:
    apache_port, portcullis_port, fastcgi_port = free_ports(3)
    with run_oidc_provider(redirect_uris=[callback_url(apache_port)]) as op:
        config = authorizer_config(
            fastcgi=f"127.0.0.1:{fastcgi_port}", portcullis=f"127.0.0.1:{portcullis_port}"
        )
        with run_apache(
            large_size=1 << 16, port=apache_port, modules=MODULES, extra_config=config
        ) as apache:
            proxy_config = sign_in_config(
                port=apache_port, op=op, client_id=BASIC, upstream=apache.url, state_dir=tmp
            )
            proxy_config["listen"] = {"port": portcullis_port}
            proxy_config["authorizer"] = {"listen": f"127.0.0.1:{fastcgi_port}"}
            with run_proxy(proxy_config, tmp, args=("--workers", str(workers))) as proxy:
                wait_for_port(fastcgi_port)
                browser = Browser()
                anonymous = browser.get(apache.url + FILE, accept="text/html")
                if anonymous.status != 302:
                    raise RuntimeError(f"apache-authorizer: {FILE} gave {anonymous.status}")
                done = sign_in(browser, apache.url, rd=FILE)
                cookie = browser.cookie(SESSION_COOKIE)
                if done.status != 302 or not cookie:
                    raise RuntimeError(f"apache-authorizer: sign-in failed: {done.status}")
                headers = (("Cookie", f"{SESSION_COOKIE}={cookie}"),)
                yield Target(apache.url + FILE, proxy.process.pid, headers)


@contextmanager
def apache_openidc(tmp: Path, workers: int) -> Iterator[Target]:
    (port,) = free_ports(1)
    location = "/private/"
    with (
        run_oidc_provider(redirect_uris=[f"http://127.0.0.1:{port}{location}redirect_uri"]) as op,
        tempfile.TemporaryDirectory(prefix="openidc-docroot-") as docroot,
    ):
        (Path(docroot) / FILE.lstrip("/")).write_bytes(bytes(range(256)) * 4)
        Path(docroot).chmod(0o755)
        (Path(docroot) / FILE.lstrip("/")).chmod(0o644)
        config = mod_auth_openidc.relying_party(
            apache_port=port, op=op, client_id=BASIC, docroot=Path(docroot), location=location
        )
        with run_apache(
            large_size=1 << 16, port=port, modules=mod_auth_openidc.MODULES, extra_config=config
        ) as apache:
            url = f"{apache.url}{location}{FILE.lstrip('/')}"
            cookie = mod_auth_openidc.openidc_login(url)
            yield Target(url, headers=(("Cookie", f"{mod_auth_openidc.SESSION_COOKIE}={cookie}"),))


CASES: dict[str, tuple[str, Callable[[Path, int], AbstractContextManager[Target]]]] = {
    "apache-authorizer": (
        "wrk (session cookie) -> Apache + mod_authnz_fcgi -> Portcullis (FastCGI), 1 KiB file",
        apache_authorizer,
    ),
    "apache-openidc": (
        "wrk (session cookie) -> Apache + mod_auth_openidc (openid-connect), same file",
        apache_openidc,
    ),
}


def check(name: str, target: Target) -> None:
    """One plain GET first: never benchmark fast errors."""
    request = urllib.request.Request(target.url, headers=dict(target.headers))
    with urllib.request.urlopen(request, timeout=10) as response:
        status, size = response.status, len(response.read())
    if status != 200 or size != 1024:
        raise RuntimeError(f"{name}: GET {target.url} gave {status}, {size} bytes")


def measure(name: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    description, setup = CASES[name]
    print(f"running {name}: {description}", file=sys.stderr, flush=True)
    with setup(tmp, args.workers) as target:
        check(name, target)
        wrk(target, args.connections, args.warmup)
        before = cpu_ticks(target.pid) if target.pid else 0
        stats = parse_wrk(wrk(target, args.connections, args.duration))
        ticks = cpu_ticks(target.pid) - before if target.pid else 0
    result: dict[str, Any] = {"name": name, "description": description, **stats}
    if target.pid:
        seconds = ticks / os.sysconf("SC_CLK_TCK")
        result["portcullis_cpu_us_per_request"] = round(
            seconds * 1e6 / max(stats["requests"], 1), 2
        )
    result["valid"] = stats["non_2xx"] == 0 and not stats["socket_errors"]
    return result


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| case | req/s | p50 ms | p99 ms | Portcullis CPU µs/req | valid |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        cpu = r.get("portcullis_cpu_us_per_request")
        rows.append(
            f"| {r['name']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {'-' if cpu is None else f'{cpu:.1f}'} | {'yes' if r['valid'] else 'NO'} |"
        )
    by_name = {r["name"]: r for r in results}
    if len(by_name) == 2:
        ratio = by_name["apache-authorizer"]["requests_per_s"] / max(
            by_name["apache-openidc"]["requests_per_s"], 1e-9
        )
        rows += ["", f"apache-authorizer / apache-openidc req/s: {ratio:.2f}"]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/authorizer.py")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per case")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="Portcullis worker processes")
    parser.add_argument("--case", action="append", choices=list(CASES), help="only these")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="portcullis-bench-authz-") as tmp:
        results = [measure(name, args, Path(tmp)) for name in args.case or list(CASES)]
    text = table(results)
    print(text)
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration:g}s, {os.cpu_count()} CPUs, "
        f"load average {load} at start, Portcullis workers: {args.workers}"
    )
    if args.json:
        report = {"load_average_at_start": load, "workers": args.workers, "results": results}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["valid"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
