"""``portcullis dev-idp``: run the development IdP in the foreground until Ctrl-C.

``main(argv) -> exit status``; the lead's ``portcullis`` CLI delegates the
``dev-idp`` subcommand here. It prints the issuers, the APIs, the clients
(sign-in and machine, with their app-role grants) and the demo users (client
secrets included: they are development values) and refuses a non-loopback
``--host`` without ``--force-bind``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from portcullis.config.validate import ConfigError
from portcullis.devidp.defaults import default_config
from portcullis.devidp.load import load_config
from portcullis.devidp.model import BindRefused, DevIdpConfig, is_loopback
from portcullis.devidp.server import DevIdp

__all__ = ["main"]

DEFAULT_PORT = 9400
_OK, _ERROR, _USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else _USAGE
    try:
        config = _config(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"portcullis dev-idp: {problem}", file=sys.stderr)
        return _USAGE
    if not is_loopback(config.host) and not config.force_bind:
        print(
            f"portcullis dev-idp: --host {config.host} is not a loopback address; the dev IdP "
            "signs anyone in as a demo user. Add --force-bind if you really mean it.",
            file=sys.stderr,
        )
        return _USAGE
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        idp = DevIdp(config).start()
    except BindRefused as exc:
        print(f"portcullis dev-idp: {exc}", file=sys.stderr)
        return _USAGE
    except OSError as exc:
        print(
            f"portcullis dev-idp: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return _ERROR
    if not is_loopback(config.host):
        print(_LOUD.format(host=config.host), file=sys.stderr)
    print(describe(idp), file=out, flush=True)
    try:
        idp.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        idp.stop()
    return _OK


_LOUD = (
    "\n!!! WARNING: the Portcullis DEVELOPMENT IdP is listening on {host} (--force-bind).\n"
    "!!! Anyone who can reach it can sign in as any demo user, and the demo client secret\n"
    "!!! is public. Use it for demos on a network you control, never in production.\n"
)


def describe(idp: DevIdp) -> str:
    """The start banner: issuers, discovery, APIs, clients and users."""
    config = idp.config
    lines = [
        "Portcullis dev IdP (development only — demo users, not for production)",
        f"  issuer      {idp.issuer}",
        f"  discovery   {idp.discovery_url}",
        f"  v1 issuer   {idp.issuer_v1}  (Entra: https://sts.windows.net/<tid>/)",
        f"  v1 discov.  {idp.discovery_url_v1}",
        f"  tenant id   {idp.tenant_id}",
        f"  token       {idp.endpoint('token')}",
    ]
    if config.apis:
        lines.append("  APIs (app-only tokens: scope=<App ID URI>/.default)")
    for api in config.apis:
        lines.append(
            f"    {api.app_id_uri}  app id {api.app_id}  v{api.access_token_version} tokens  "
            f"roles={','.join(api.app_roles) or '-'}  scopes={','.join(api.scopes) or '-'}"
        )
    for client in config.clients:
        kind = "sign-in client" if client.redirect_uris else "machine client"
        kind += " (Agent ID)" if client.agent else ""
        lines.append(f"  client id   {client.client_id}  {kind}  sp oid {client.sp_oid}")
        if client.secret is not None:
            lines.append(f"    secret    {client.secret.reveal()}  (dev only)")
        if client.jwks is not None:
            lines.append("    auth      private_key_jwt (registered JWKS)")
        for api in config.apis:
            roles = config.granted_roles(client.client_id, api)
            if roles:
                lines.append(f"    grant     {api.app_id_uri}: {','.join(roles)}")
        lines.extend(f"    redirect  {uri}" for uri in client.redirect_uris)
        lines.extend(f"    logout    {uri}" for uri in client.post_logout_redirect_uris)
    lines.extend(_curl_example(idp))
    lines.append("  users (sign in with login_hint=<username> to skip the page)")
    for user in config.users:
        lines.append(
            f"    {user.username:<8} {user.name} <{user.preferred_username}> oid={user.oid} "
            f"roles={','.join(user.roles) or '-'} groups={len(user.groups)}"
            + "".join(f" {_api_name(config, a)}={','.join(r)}" for a, r in user.api_roles.items())
            + (f" acrs={','.join(user.acrs)}" if user.acrs else "")
        )
    return "\n".join(lines)


def _api_name(config: DevIdpConfig, app_id: str) -> str:
    api = config.api(app_id)
    return api.app_id_uri if api is not None else app_id


def _curl_example(idp: DevIdp) -> list[str]:
    """A client-credentials ``curl`` for the first machine client with a secret and a grant."""
    config = idp.config
    for client in config.clients:
        granted = [a for a in config.apis if config.granted_roles(client.client_id, a)]
        if client.redirect_uris or client.secret is None or not granted:
            continue
        return [
            "  try it:",
            f"    curl -d client_id={client.client_id} -d client_secret={client.secret.reveal()} "
            f"-d grant_type=client_credentials -d scope={granted[0].app_id_uri}/.default "
            f"{idp.endpoint('token')}",
        ]
    return []


def _config(args: argparse.Namespace) -> DevIdpConfig:
    if args.config is not None:
        return load_config(args.config, host=args.host, port=args.port, force_bind=args.force_bind)
    config = default_config(host=args.host, port=args.port)
    return dataclasses.replace(config, force_bind=args.force_bind)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portcullis dev-idp",
        description="Development OpenID Provider shaped like Microsoft Entra ID (demos, tests).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (default 9400)")
    parser.add_argument("--config", metavar="FILE", help="YAML/JSON with users and clients")
    parser.add_argument(
        "--force-bind",
        action="store_true",
        help="allow a non-loopback --host (anyone who reaches it can sign in)",
    )
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value
