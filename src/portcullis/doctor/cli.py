"""``portcullis doctor -c FILE [--json] [--timeout S] [--no-head]``: every check, one line each.

Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for a bad
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from portcullis.cli import ExitStatus
from portcullis.doctor.report import Status, overall, render_json, render_text
from portcullis.doctor.run import diagnose

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``doctor`` to the ``portcullis`` subparsers."""
    doctor = sub.add_parser(
        "doctor",
        help="check a deployment: config, IdPs, clocks, credential expiry, upstreams, stores",
    )
    doctor.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    doctor.add_argument("--json", action="store_true", help="a JSON document instead of lines")
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="per network check (default 5; upstreams at most 3)",
    )
    doctor.add_argument(
        "--no-head",
        dest="head",
        action="store_false",
        help="only connect to upstreams; do not send them HEAD /",
    )


def run(args: argparse.Namespace) -> int:
    checks = asyncio.run(diagnose(args.config, timeout=args.timeout, head=args.head))
    sys.stdout.write(render_json(checks) if args.json else render_text(checks))
    return ExitStatus.ERROR if overall(checks) is Status.FAIL else ExitStatus.OK


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 60, got {value:g}")
    return value
