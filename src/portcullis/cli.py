"""The ``portcullis`` command: thin, ``main(argv) -> exit code``, tested in-process.

Commands: ``serve`` runs the proxy, ``check`` validates a configuration file and
prints every problem with its key path, ``schema`` prints the configuration's
JSON Schema for editors, ``audit`` verifies and searches the audit records
(:mod:`portcullis.audit.cli`), ``policy`` tests, explains and queries the access
policy (:mod:`portcullis.policy.cli`), ``apache-config`` prints Apache httpd configuration
for the routes (:mod:`portcullis.apacheconf.cli`), ``blocks`` lists and lifts the
guardrails' temporary blocks (:mod:`portcullis.guardrails.blocks_cli`), ``doctor``
checks a deployment (:mod:`portcullis.doctor.cli`).
Exit status: see :class:`ExitStatus`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from enum import IntEnum

from portcullis import __version__
from portcullis.config import Config, ConfigError, load_config

__all__ = ["ExitStatus", "main"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class ExitStatus(IntEnum):
    """What ``portcullis`` exits with."""

    OK = 0
    ERROR = 1  # the proxy stopped because of an error; findings (audit verify, policy test)
    USAGE_OR_CONFIG = 2  # a bad command line or an unusable configuration


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["dev-idp"]:
        # The development IdP parses its own options.
        from portcullis.devidp.cli import main as dev_idp  # noqa: PLC0415

        return dev_idp(args_list[1:])
    parser = _parser()
    argv = args_list
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else ExitStatus.USAGE_OR_CONFIG
    if args.command == "schema":
        return _schema()
    if args.command == "audit":
        from portcullis.audit.cli import run as audit  # noqa: PLC0415

        return audit(args)
    if args.command == "policy":
        from portcullis.policy.cli import run as policy  # noqa: PLC0415

        return policy(args)
    if args.command == "blocks":
        from portcullis.guardrails.blocks_cli import run as blocks  # noqa: PLC0415

        return blocks(args)
    if args.command == "doctor":
        from portcullis.doctor.cli import run as doctor  # noqa: PLC0415

        return doctor(args)
    try:
        # apache-config prints no secret: it needs the routes, not the secrets they name.
        config = load_config(args.config, check_files=args.command != "apache-config")
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if args.command == "check":
            count = len(exc.problems)
            print(f"{args.config}: {count} problem{'s' * (count != 1)}", file=sys.stderr)
        return ExitStatus.USAGE_OR_CONFIG
    if args.command == "check":
        count = len(config.routes)
        print(f"{args.config}: OK ({count} route{'s' * (count != 1)})")
        return ExitStatus.OK
    if args.command == "apache-config":
        from portcullis.apacheconf.cli import run as apache_config  # noqa: PLC0415

        return apache_config(args, config)
    # Lazy: check and schema stay fast and need none of the event-loop machinery.
    from portcullis.runtime import serve as run_server  # noqa: PLC0415

    return run_server(config, workers=args.workers, config_path=args.config)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portcullis", description="Identity-aware reverse proxy.")
    parser.add_argument("--version", action="version", version=f"portcullis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the proxy")
    serve.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes (overrides server.workers)",
    )
    check = sub.add_parser("check", help="validate a config file and list every problem")
    check.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML config file")
    sub.add_parser("schema", help="print the config file's JSON Schema (for editors)")
    from portcullis.audit.cli import add_parser as add_audit  # noqa: PLC0415 - a cycle

    add_audit(sub)
    from portcullis.policy.cli import add_parser as add_policy  # noqa: PLC0415 - a cycle

    add_policy(sub)
    from portcullis.guardrails.blocks_cli import add_parser as add_blocks  # noqa: PLC0415

    add_blocks(sub)
    from portcullis.apacheconf.cli import add_parser as add_apache  # noqa: PLC0415 - a cycle

    add_apache(sub)
    from portcullis.doctor.cli import add_parser as add_doctor  # noqa: PLC0415 - a cycle

    add_doctor(sub)
    sub.add_parser(
        "dev-idp",
        help="run the Entra-shaped development OpenID Provider (demos and tests only)",
        add_help=False,
    )
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _schema() -> int:
    schema = {"$schema": JSON_SCHEMA_DIALECT, **Config.model_json_schema()}
    print(json.dumps(schema, indent=2))
    return ExitStatus.OK
