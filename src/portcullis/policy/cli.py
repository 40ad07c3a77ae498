"""``portcullis policy test | explain | who-can``: parse, call the policy tools, print.

The configuration is only parsed and validated (its secrets and files need not be at
hand, so CI can test a production policy). Exit status: 0 OK; 1 a failing case or an
unusable test file (``test``); 2 a bad command line, configuration, claims file or URL.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from portcullis.cli import ExitStatus
from portcullis.config import Config, ConfigError, Problem, load_config
from portcullis.policy.explain import (
    VIAS,
    Caller,
    PolicySetup,
    claims_problems,
    evaluate,
    outcome_json,
    parse_time,
    render_outcome,
)
from portcullis.policy.testing import SuiteError, read_suite, render_result, run_suite
from portcullis.policy.whocan import access_json, render_access, who_can

__all__ = ["add_parser", "run"]

FAILED = ExitStatus.ERROR


def add_parser(sub: Any) -> None:
    """Add ``policy`` and its commands to the ``portcullis`` subparsers."""
    policy = sub.add_parser("policy", help="test, explain and query the access policy")
    commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")

    test = commands.add_parser("test", help="run YAML test files of requests and expectations")
    test.add_argument("files", nargs="+", type=Path, metavar="FILE", help="policy test files")
    test.add_argument(
        "-c", "--config", type=Path, metavar="FILE", help="config file (overrides their config)"
    )

    explain = commands.add_parser("explain", help="decide one request and show every reason")
    _request_arguments(explain)
    explain.add_argument(
        "--claims", metavar="FILE", help="the caller's token claims as JSON ('-': stdin)"
    )
    explain.add_argument("--via", choices=VIAS, default="session", help="default session")
    explain.add_argument(
        "--source-ip", type=_address, metavar="IP", help="the client's address (default none)"
    )
    explain.add_argument("--time", metavar="ISO", help="the request time (default now)")

    who = commands.add_parser("who-can", help="who may reach a method and URL, from the rules")
    _request_arguments(who)


def _address(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address, got {text!r}") from None
    return text


def _request_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("method", type=str.upper, metavar="METHOD")
    parser.add_argument("url", metavar="URL", help="https://host/path, or a path")


def run(args: argparse.Namespace) -> int:
    clock = time.time()
    if args.policy_command == "test":
        return _test(args.files, args.config, clock)
    try:
        setup = PolicySetup.of(load_policy_config(args.config))
    except ConfigError as exc:
        _problems(exc.problems)
        return ExitStatus.USAGE_OR_CONFIG
    if args.policy_command == "who-can":
        access = who_can(setup, args.method, args.url)
        _print(access_json(access) if args.json else render_access(access))
        return ExitStatus.OK
    try:
        caller = _caller(args.claims, args.via, sys.stdin)
        moment = clock if args.time is None else _time(args.time)
    except ValueError as exc:
        print(f"portcullis policy explain: {exc}", file=sys.stderr)
        return ExitStatus.USAGE_OR_CONFIG
    outcome = evaluate(
        setup, args.method, args.url, caller, now=moment, source_ip=args.source_ip or ""
    )
    _print(outcome_json(outcome) if args.json else render_outcome(outcome))
    return ExitStatus.OK


def load_policy_config(path: Path) -> Config:
    """The configuration at ``path``, parsed and validated; files and secrets unchecked.

    Every problem names the file: ``portcullis.yaml: routes[2].rules[0].allow: ...``.
    """
    name = str(path)
    try:
        return load_config(path, check_files=False)  # includes followed, secrets not needed
    except ConfigError as exc:
        problems = [
            p if p.path.startswith(name) else Problem(f"{name}: {p.path}", p.message)
            for p in exc.problems
        ]
        raise ConfigError(problems) from None


def _test(files: list[Path], override: Path | None, now: float) -> int:
    passed = failed = 0
    status = ExitStatus.OK
    setups: dict[Path, PolicySetup | None] = {}
    for file in files:
        try:
            suite = read_suite(file)
        except SuiteError as exc:
            _problems(exc.problems)
            status = max(status, FAILED)
            continue
        where = override or suite.config
        if where is None:
            print(f"{file}: config: name the configuration (or pass -c)", file=sys.stderr)
            status = max(status, FAILED)
            continue
        if where not in setups:
            try:
                setups[where] = PolicySetup.of(load_policy_config(where))
            except ConfigError as exc:
                _problems(exc.problems)
                setups[where] = None
        setup = setups[where]
        if setup is None:
            status = ExitStatus.USAGE_OR_CONFIG
            continue
        results = run_suite(setup, suite, now=now)
        for result in results:
            _print(render_result(result))
        bad = sum(not r.passed for r in results)
        print(f"{file}: {len(results) - bad} passed, {bad} failed")
        passed, failed = passed + len(results) - bad, failed + bad
        if bad:
            status = max(status, FAILED)
    if len(files) > 1:
        print(f"total: {passed} passed, {failed} failed")
    return status


def _caller(claims_file: str | None, via: str, stdin: TextIO) -> Caller:
    if claims_file is None:
        return Caller()
    source = "stdin" if claims_file == "-" else claims_file
    try:
        text = stdin.read() if claims_file == "-" else Path(claims_file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--claims {source}: cannot read: {exc}") from None
    try:
        claims = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--claims {source}: not JSON: {exc}") from None
    problems = claims_problems(claims)
    if problems:
        key, message = problems[0]
        raise ValueError(f"--claims {source}: {key + ': ' if key else ''}{message}")
    return Caller(claims, via)


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ValueError(f"--time: {exc}") from None


def _print(output: list[str] | dict[str, Any]) -> None:
    if isinstance(output, dict):
        print(json.dumps(output, indent=2))
    else:
        print("\n".join(output))


def _problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
