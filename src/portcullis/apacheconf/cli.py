"""``portcullis apache-config -c CONFIG --mode {front,authorizer,openidc}``: print Apache config."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from portcullis.apacheconf import DEFAULT_AUTHORIZER, DEFAULT_FROM, MODES, GenerateError, generate
from portcullis.cli import ExitStatus
from portcullis.config import Config

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "apache-config",
        help="print Apache httpd configuration for the routes (docs/apache.md)",
        description="Print Apache httpd configuration generated from the routes and rules.",
    )
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    parser.add_argument(
        "--mode",
        required=True,
        choices=MODES,
        help="front: Portcullis in front of Apache; authorizer: Apache asks Portcullis "
        "(mod_authnz_fcgi); openidc: the same rules for mod_auth_openidc",
    )
    parser.add_argument(
        "--host",
        metavar="HOST",
        help="write the routes of this host (needed when the routes name several hosts)",
    )
    parser.add_argument(
        "--from",
        dest="portcullis_from",
        action="append",
        metavar="ADDR",
        help=f"front: an address or CIDR Portcullis connects from (repeatable; default "
        f"{' and '.join(DEFAULT_FROM)})",
    )
    parser.add_argument(
        "--verify-assertion",
        action="store_true",
        help="front: also verify X-Portcullis-Assertion with mod_auth_openidc",
    )
    parser.add_argument(
        "--authorizer",
        metavar="ADDR:PORT",
        help=f"authorizer: where Portcullis answers mod_authnz_fcgi when the config has no "
        f"authorizer.listen (default {DEFAULT_AUTHORIZER})",
    )


def run(
    args: argparse.Namespace, config: Config, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        text = generate(
            config,
            args.mode,
            source=args.config,
            host=args.host,
            portcullis_from=args.portcullis_from or DEFAULT_FROM,
            verify_assertion=args.verify_assertion,
            authorizer=args.authorizer,
        )
    except GenerateError as exc:
        print(f"apache-config: {exc}", file=err)
        return ExitStatus.USAGE_OR_CONFIG
    out.write(text)
    return ExitStatus.OK
