"""``portcullis blocks list | lift``: the temporary blocks set by the guardrails.

The store is ``guardrails.blocks.sqlite_path`` of ``-c CONFIG`` (parsed and
validated only: the configuration's secrets need not be at hand). Running
workers see a lift within ``guardrails.blocks.refresh_seconds``.

Exit status: 0 OK; 1 nothing to lift (the identity was not blocked); 2 a bad
command line, configuration or store.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from portcullis.cli import ExitStatus
from portcullis.config import ConfigError, Problem, parse_yaml, validate
from portcullis.guardrails.blocks import Block, BlockStore

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``blocks`` and its commands to the ``portcullis`` subparsers."""
    blocks = sub.add_parser("blocks", help="list and lift the identities the guardrails blocked")
    commands = blocks.add_subparsers(dest="blocks_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="the blocks in force, soonest end first")
    listing.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    listing.add_argument("identity", nargs="?", metavar="IDENTITY", help="only this identity")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    lift = commands.add_parser("lift", help="end a block now (running workers follow)")
    lift.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    which = lift.add_mutually_exclusive_group(required=True)
    which.add_argument("identity", nargs="?", metavar="IDENTITY", help="TID/OID or ISS#SUB")
    which.add_argument("--all", action="store_true", help="every block")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        path = _store_path(Path(args.config))
        if not Path(path).exists():  # opening would create an empty one
            print(f"{path}: no block store (guardrails.blocks.sqlite_path)", file=err)
            return ExitStatus.USAGE_OR_CONFIG
        store = BlockStore(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return ExitStatus.USAGE_OR_CONFIG
    except (OSError, sqlite3.Error) as exc:
        print(f"{args.config}: cannot open the block store: {exc}", file=err)
        return ExitStatus.USAGE_OR_CONFIG
    try:
        if args.blocks_command == "list":
            return _list(store, args, out)
        return _lift(store, args, out, err)
    except sqlite3.Error as exc:
        print(f"block store: {exc}", file=err)
        return ExitStatus.USAGE_OR_CONFIG
    finally:
        store.close()


def _list(store: BlockStore, args: argparse.Namespace, out: TextIO) -> int:
    now = time.time()
    blocks = store.active(now, args.identity)
    if args.json:
        for block in blocks:
            print(orjson.dumps(_as_dict(block)).decode(), file=out)
        return ExitStatus.OK
    if not blocks:
        print("no blocks in force", file=out)
        return ExitStatus.OK
    print(f"{'UNTIL (UTC)':<20}  {'LEFT':>7}  {'RULE':<20}  IDENTITY  DETAIL", file=out)
    for block in blocks:
        left = f"{(block.until - now) / 60:.0f}m"
        print(
            f"{_iso(block.until):<20}  {left:>7}  {block.rule:<20}  {block.identity}  "
            f"{block.detail}",
            file=out,
        )
    return ExitStatus.OK


def _lift(store: BlockStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.all:
        count = store.lift_all()
        print(f"lifted {count} block{'s' * (count != 1)}", file=out)
        return ExitStatus.OK
    if not store.lift(args.identity):
        print(f"{args.identity}: not blocked", file=err)
        return ExitStatus.ERROR
    print(f"lifted the block of {args.identity}", file=out)
    return ExitStatus.OK


def _store_path(config: Path) -> str:
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([Problem(str(config), f"cannot read: {reason}")]) from None
    settings = validate(parse_yaml(text, source=str(config))).guardrails
    if settings is None:
        raise ConfigError([Problem("guardrails", "not configured: there is no block store")])
    return settings.blocks.sqlite_path


def _as_dict(block: Block) -> dict[str, Any]:
    return {
        "identity": block.identity,
        "since": _iso(block.since),
        "until": _iso(block.until),
        "rule": block.rule,
        "detail": block.detail,
    }


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
