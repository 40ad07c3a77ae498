"""Apache httpd configuration generated from a Portcullis configuration (docs/apache.md).

Pure functions from a :class:`~portcullis.config.Config` to text; the
``portcullis apache-config`` command prints it. Three modes:

- ``front``: Portcullis in front of Apache (:mod:`~portcullis.apacheconf.front`);
- ``authorizer``: Apache asks Portcullis through mod_authnz_fcgi
  (:mod:`~portcullis.apacheconf.authorizer`);
- ``openidc``: the same routes and rules for mod_auth_openidc, without Portcullis
  (:mod:`~portcullis.apacheconf.openidc`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from portcullis.apacheconf.authorizer import DEFAULT_AUTHORIZER, authorizer_config
from portcullis.apacheconf.front import DEFAULT_FROM, front_config
from portcullis.apacheconf.locations import GenerateError, pick_host
from portcullis.apacheconf.openidc import openidc_config
from portcullis.config.schema import Config

__all__ = [
    "DEFAULT_AUTHORIZER",
    "DEFAULT_FROM",
    "MODES",
    "GenerateError",
    "Mode",
    "authorizer_config",
    "front_config",
    "generate",
    "openidc_config",
]

Mode = Literal["front", "authorizer", "openidc"]
MODES: tuple[Mode, ...] = ("front", "authorizer", "openidc")


def generate(
    config: Config,
    mode: Mode,
    *,
    source: str = "the configuration",
    host: str | None = None,
    portcullis_from: Sequence[str] = DEFAULT_FROM,
    verify_assertion: bool = False,
    authorizer: str | None = None,
) -> str:
    """The Apache configuration for ``mode``; :class:`GenerateError` names the flag at fault."""
    name = pick_host(config, host)
    if mode == "front":
        return front_config(
            config,
            host=name,
            source=source,
            portcullis_from=portcullis_from,
            verify_assertion=verify_assertion,
        )
    if mode == "authorizer":
        return authorizer_config(config, host=name, source=source, authorizer=authorizer)
    return openidc_config(config, host=name, source=source)
