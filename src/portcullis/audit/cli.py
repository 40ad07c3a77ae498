"""``portcullis audit verify | query | tail | tokens``: parse, call the audit functions, print.

The store comes from ``-c CONFIG`` (``audit.sqlite.path``, else the
``audit.jsonl`` file and its rotated files) or is named directly (``--store``,
or ``verify FILE...``). The configuration is only parsed and validated: its
secrets need not be at hand. Exit status: 0 OK; 1 findings (``verify``
problems, ``tokens`` over the limit); 2 a bad command line, configuration or
store.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import orjson

from portcullis.audit.filters import Filter, parse_duration, parse_when
from portcullis.audit.record import Event
from portcullis.audit.store import (
    Reader,
    SqliteReader,
    StoreError,
    configured_store,
    open_reader,
)
from portcullis.audit.table import HEADER, format_row
from portcullis.audit.tokens import format_token_report, token_report
from portcullis.audit.verify import verify
from portcullis.cli import ExitStatus, positive_int
from portcullis.config import ConfigError, parse_yaml, validate

__all__ = ["add_parser", "run"]

FINDINGS = ExitStatus.ERROR
_DECISIONS = (Event.ALLOW.value, Event.DENY.value, Event.MONITOR_DENY.value)
_BEFORE_INPUT = "removed: the chain"  # the problems --partial forgives


def add_parser(sub: Any) -> None:
    """Add ``audit`` and its commands to the ``portcullis`` subparsers."""
    audit = sub.add_parser("audit", help="verify, search and summarize the audit records")
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    check = commands.add_parser("verify", help="check the hash chains: edits, removals, order")
    _store_options(check, store=False)
    check.add_argument("files", nargs="*", metavar="FILE", help="SQLite store or JSONL files")
    check.add_argument(
        "--partial",
        action="store_true",
        help="the input starts mid-history (rotated or pruned): chains may begin at any seq",
    )

    query = commands.add_parser("query", help="search the records (most recent last)")
    _store_options(query)
    query.add_argument("--identity", metavar="TID/OID|OID", help="who (also whom they act for)")
    query.add_argument("--kind", choices=("user", "app", "agent", "obo"))
    query.add_argument("--route", metavar="N|HOST|/PATH|HOST/PATH", help="which route")
    query.add_argument(
        "--event",
        action="append",
        type=_events,
        metavar="EVENT[,EVENT]",
        help=f"one of: {', '.join(e.value for e in Event)}",
    )
    query.add_argument("--decision", action="append", choices=_DECISIONS, help="alias of --event")
    query.add_argument("--reason", metavar="CODE", help="the decision's reason code")
    query.add_argument("--since", metavar="1h|ISO", help="from this time (a duration ago or ISO)")
    query.add_argument("--until", metavar="1h|ISO", help="before this time")
    query.add_argument("--limit", type=positive_int, default=100, metavar="N", help="default 100")
    query.add_argument("--json", action="store_true", help="the stored JSON lines")

    tail = commands.add_parser("tail", help="the latest records; -f to keep following")
    _store_options(tail)
    tail.add_argument(
        "-n", "--lines", type=positive_int, default=20, metavar="N", help="default 20"
    )
    tail.add_argument("-f", "--follow", action="store_true", help="print new records as written")
    tail.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    tail.add_argument("--json", action="store_true", help="the stored JSON lines")

    index = commands.add_parser(
        "index", help="add what the workers spooled to the SQLite store (readers do it too)"
    )
    _store_options(index)
    index.add_argument(
        "--follow",
        type=float,
        metavar="SECONDS",
        help="keep indexing, every SECONDS (a sidecar or service next to the proxy)",
    )

    tokens = commands.add_parser("tokens", help="token lifetimes per client app and kind")
    _store_options(tokens)
    tokens.add_argument(
        "--max-lifetime",
        type=_duration,
        default=24 * 3600.0,
        metavar="DURATION",
        help="flag tokens valid longer than this (default 24h)",
    )
    tokens.add_argument("--since", metavar="1h|ISO", help="only records from this time")
    tokens.add_argument("--json", action="store_true", help="the report as JSON")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    command: Callable[[argparse.Namespace, Reader, TextIO, TextIO], int] = _COMMANDS[
        args.audit_command
    ]
    try:
        reader = _reader(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return ExitStatus.USAGE_OR_CONFIG
    except (StoreError, ValueError) as exc:
        print(exc, file=err)
        return ExitStatus.USAGE_OR_CONFIG
    for note in reader.notes:
        print(f"warning: {note}", file=err)
    try:
        return command(args, reader, out, err)
    except ValueError as exc:  # --since / --until
        print(exc, file=err)
        return ExitStatus.USAGE_OR_CONFIG
    except StoreError as exc:
        print(exc, file=err)
        return ExitStatus.USAGE_OR_CONFIG
    except KeyboardInterrupt:  # tail -f ends with Ctrl-C
        return ExitStatus.OK
    finally:
        reader.close()


# --- commands ------------------------------------------------------------------------


def _verify(args: argparse.Namespace, reader: Reader, out: TextIO, err: TextIO) -> int:
    result = verify(reader.entries(), anchors=reader.anchors(), partial=args.partial)
    for problem in result.problems:
        print(problem, file=out)
    print(result.summary(), file=out)
    if not args.partial and any(p.message.startswith(_BEFORE_INPUT) for p in result.problems):
        print("(rotated or pruned files? verify them with --partial)", file=err)
    return ExitStatus.OK if result.ok else FINDINGS


def _query(args: argparse.Namespace, reader: Reader, out: TextIO, err: TextIO) -> int:
    now = time.time()
    events = tuple(e for group in args.event or () for e in group) + tuple(args.decision or ())
    match = Filter(
        identity=args.identity,
        kind=args.kind,
        route=args.route,
        events=events,
        reason=args.reason,
        since=parse_when(args.since, now) if args.since else None,
        until=parse_when(args.until, now) if args.until else None,
    )
    rows = reader.select(match, args.limit)
    _print_rows(rows, args.json, out, header=True)
    return ExitStatus.OK


def _tail(args: argparse.Namespace, reader: Reader, out: TextIO, err: TextIO) -> int:
    cursor = reader.end()
    _print_rows(reader.select(Filter(), args.lines), args.json, out, header=True)
    while args.follow:
        out.flush()
        time.sleep(args.interval)
        rows, cursor = reader.after(cursor)
        _print_rows(rows, args.json, out, header=False)
    return ExitStatus.OK


def _tokens(args: argparse.Namespace, reader: Reader, out: TextIO, err: TextIO) -> int:
    since = parse_when(args.since, time.time()) if args.since else None
    rows = reader.select(Filter(since=since))
    report = token_report((row.record for row in rows), max_lifetime=args.max_lifetime)
    if args.json:
        print(orjson.dumps(report.to_dict()).decode(), file=out)
    else:
        print(format_token_report(report), file=out)
    return FINDINGS if report.too_long else ExitStatus.OK


def _index(args: argparse.Namespace, reader: Reader, out: TextIO, err: TextIO) -> int:
    if not isinstance(reader, SqliteReader):
        print("audit index: only a SQLite store has a spool to index", file=err)
        return ExitStatus.USAGE_OR_CONFIG
    if args.follow is not None and args.follow <= 0:
        print("audit index: --follow needs a positive number of seconds", file=err)
        return ExitStatus.USAGE_OR_CONFIG
    print(f"{reader.indexed} records indexed", file=out)
    while args.follow:
        out.flush()
        time.sleep(args.follow)
        if added := reader.index():
            print(f"{added} records indexed", file=out)
        for note in reader.notes:
            print(f"warning: {note}", file=err)
        reader.notes.clear()
    return FINDINGS if reader.notes else ExitStatus.OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, Reader, TextIO, TextIO], int]] = {
    "verify": _verify,
    "query": _query,
    "tail": _tail,
    "tokens": _tokens,
    "index": _index,
}


# --- helpers -------------------------------------------------------------------------


def _store_options(parser: argparse.ArgumentParser, *, store: bool = True) -> None:
    parser.add_argument("-c", "--config", metavar="FILE", help="YAML config file")
    if store:
        parser.add_argument("--store", metavar="PATH", help="read this store instead")


def _reader(args: argparse.Namespace) -> Reader:
    paths = list(getattr(args, "files", None) or [])
    store = getattr(args, "store", None)
    if store:
        paths = [store]
    if paths:
        return open_reader(paths)
    if not args.config:
        raise StoreError("give -c CONFIG or the store to read")
    path = Path(args.config)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise StoreError(f"{path}: cannot read: {reason}") from None
    config = validate(parse_yaml(text, source=str(path)))
    name, max_files = configured_store(config.audit)
    return open_reader([name], max_files=max_files)


def _print_rows(rows: list[Any], as_json: bool, out: TextIO, *, header: bool) -> None:
    if as_json:
        for row in rows:
            print(row.line.decode(), file=out)
        return
    if header:
        print(HEADER, file=out)
    for row in rows:
        print(format_row(row.record), file=out)


def _events(text: str) -> tuple[str, ...]:
    known = {e.value for e in Event}
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in values if v not in known]
    if unknown or not values:
        raise argparse.ArgumentTypeError(
            f"unknown event {', '.join(map(repr, unknown)) or repr(text)}; "
            f"one of: {', '.join(sorted(known))}"
        )
    return values


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
