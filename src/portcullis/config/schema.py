"""The configuration schema: what a Portcullis YAML file may contain.

This module only *describes* the shape (pydantic models, frozen, unknown keys
forbidden). Turning pydantic's errors into ``key.path: message`` lines and the
checks that span several fields live in :mod:`portcullis.config.validate`;
reading files, environment variables and secret files lives in
:mod:`portcullis.config.load`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from portcullis.secret import Secret

__all__ = [
    "Config",
    "Limits",
    "Listen",
    "LogSettings",
    "Route",
    "SecretSource",
    "SecretSources",
    "Server",
    "Timeouts",
    "TlsFiles",
    "UpstreamTimeouts",
]

_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^(\*\.)?{_HOST_LABEL}(\.{_HOST_LABEL})*$")


def _check_host_pattern(value: str) -> str:
    """A route host: ``*`` (any), an exact name, or ``*.`` plus a name."""
    host = value.strip().lower()
    if host == "*":
        return host
    name, _, port = host.partition(":")
    if port:
        raise ValueError("a route host must not carry a port; routes match the host name only")
    if not _HOST_RE.match(name):
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            raise ValueError(f"{value!r} is not a host name, '*' or '*.domain' pattern") from None
    return name


def _check_path_prefix(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("a path prefix must start with '/'")
    if any(c in value for c in "?#\\ \t\r\n") or "//" in value or "/./" in value or "/../" in value:
        raise ValueError(
            "a path prefix must be a normalized path without query, fragment or spaces"
        )
    return value


def _check_upstream(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("credentials in the upstream URL are not allowed")
    if parts.query or parts.fragment:
        raise ValueError("an upstream URL carries no query or fragment")
    if parts.path not in ("", "/"):
        raise ValueError("an upstream URL carries no path; requests keep their own path")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("the upstream port is not a number from 1 to 65535") from None
    return value.rstrip("/")


def _check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR block") from None


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env_name(value: str) -> str:
    if not _ENV_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits and '_')")
    return value


def _to_secret(value: object) -> Secret[str]:
    """Wrap an inline secret at once, so no repr or error message shows it."""
    if isinstance(value, Secret) and isinstance(value.reveal(), str):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if not value:
        raise ValueError("must not be empty")
    return Secret(value)


HostPattern = Annotated[str, AfterValidator(_check_host_pattern)]
PathPrefix = Annotated[str, AfterValidator(_check_path_prefix)]
UpstreamUrl = Annotated[str, AfterValidator(_check_upstream)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
Seconds = Annotated[float, Field(gt=0, le=86400)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
InlineSecret = Annotated[
    Secret[str],
    PlainValidator(_to_secret),
    PlainSerializer(lambda _: "**********", return_type=str),
    WithJsonSchema({"type": "string", "minLength": 1, "writeOnly": True}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsFiles(_Model):
    """A PEM certificate chain and its private key."""

    cert_file: str = Field(description="PEM file with the certificate chain.")
    key_file: str = Field(description="PEM file with the private key (keep it mode 0600).")


class Listen(_Model):
    """Where Portcullis accepts client connections."""

    address: str = Field("127.0.0.1", description="IP address to bind; 0.0.0.0 for all.")
    port: int = Field(4180, ge=0, le=65535, description="TCP port (0 picks a free one).")
    tls: TlsFiles | None = Field(None, description="Terminate TLS with this certificate.")
    trusted_proxies: list[Cidr] = Field(
        default_factory=list,
        description="Addresses whose X-Forwarded-* and X-Request-Id headers are believed.",
    )


class Limits(_Model):
    """Bounds that protect the proxy from oversized or abusive requests."""

    max_url_bytes: int = Field(8192, ge=256, le=1 << 20, description="Longer target: 414.")
    max_header_bytes: int = Field(
        32768, ge=1024, le=1 << 22, description="Request line plus headers larger: 431."
    )
    max_header_count: int = Field(100, ge=8, le=10000, description="More header fields: 431.")
    max_connections: int = Field(
        10000, ge=1, le=1_000_000, description="Concurrent client connections per worker."
    )


class Timeouts(_Model):
    """Client-side timeouts, in seconds."""

    header: Seconds = Field(10.0, description="Time to send a complete request head (408).")
    keepalive: Seconds = Field(75.0, description="Idle time between requests on one connection.")
    body: Seconds = Field(60.0, description="Longest silence while a request body streams (408).")
    shutdown: Seconds = Field(30.0, description="Grace period for in-flight requests on SIGTERM.")


class UpstreamTimeouts(_Model):
    """Upstream-side timeouts, in seconds."""

    connect: Seconds = Field(5.0, description="TCP (and TLS) connect; exceeded: 504.")
    response: Seconds = Field(
        60.0,
        description="Longest silence from the upstream while a response is due; exceeded: 504.",
    )
    idle: Seconds = Field(30.0, description="Pooled connections idle longer are closed.")


class Route(_Model):
    """Requests for ``host`` whose normalized path starts with ``path`` go to ``upstream``."""

    host: HostPattern = Field("*", description="Exact host, '*.example.com', or '*' for any.")
    path: PathPrefix = Field("/", description="Path prefix, matched at a segment boundary.")
    upstream: UpstreamUrl = Field(description="Origin to forward to, e.g. http://127.0.0.1:8080.")
    public: bool = Field(
        False,
        description="Anyone may pass without signing in. Routes that are not public are denied "
        "until an identity provider is configured (fail closed).",
    )
    preserve_host: bool = Field(True, description="Forward the client's Host header unchanged.")
    timeouts: UpstreamTimeouts = Field(default_factory=UpstreamTimeouts)
    tls_verify: bool = Field(True, description="Verify an https upstream's certificate.")
    tls_ca_file: str | None = Field(None, description="CA bundle for an https upstream.")
    accept: list[Literal["session", "bearer"]] = Field(
        default_factory=lambda: ["session"],  # type: ignore[arg-type]
        description="How callers prove who they are: browser sessions, bearer tokens, or both.",
    )
    api: str | None = Field(
        None, description="With bearer: the auth.apis entry whose tokens this route accepts."
    )
    allow: Allow | None = Field(
        None,
        description="Signed-in users holding any of these roles or groups; absent: any "
        "signed-in user. Not allowed on public routes.",
    )


class Server(_Model):
    """Process-level settings."""

    workers: int = Field(1, ge=1, le=256, description="Worker processes sharing the port.")
    limits: Limits = Field(default_factory=Limits)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    pool_max_idle: int = Field(
        64, ge=0, le=10000, description="Idle keep-alive connections kept per upstream origin."
    )


class LogSettings(_Model):
    """Operational logging (audit records are separate)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    access: bool = Field(False, description="One line per request (costs a few µs each).")


class Config(_Model):
    """A whole Portcullis configuration file."""

    listen: Listen = Field(default_factory=Listen)
    server: Server = Field(default_factory=Server)
    log: LogSettings = Field(default_factory=LogSettings)
    routes: list[Route] = Field(min_length=1, description="Tried most specific first.")
    auth: Auth | None = Field(None, description="Sign-in; without it only public routes pass.")


class SecretSource(_Model):
    """Where one secret comes from: exactly one of ``value``, ``env`` or ``file``.

    Loading resolves it into a :class:`portcullis.secret.Secret` with
    :func:`portcullis.config.load.resolve_secret`; validation never reads it.
    """

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    value: InlineSecret | None = Field(
        None, description="The secret itself (discouraged: it ends up in backups and diffs)."
    )
    env: EnvName | None = Field(None, description="Environment variable holding the secret.")
    file: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="File holding the secret; one trailing newline is dropped. "
        "Relative to the configuration file.",
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [name for name in ("value", "env", "file") if getattr(self, name) is not None]
        if not given:
            raise ValueError("give exactly one of 'value', 'env' or 'file'")
        if len(given) > 1:
            found = " and ".join(repr(name) for name in given)
            raise ValueError(f"give only one of 'value', 'env' or 'file', not {found}")
        return self


SecretSources = Annotated[list[SecretSource], Field(min_length=1)]
"""Several secrets for rotation: the first signs or encrypts, every one verifies or decrypts."""


# The sign-in schema builds on the models above; resolve the forward references now.
from portcullis.config.auth_schema import Allow, Auth  # noqa: E402

Route.model_rebuild()
Config.model_rebuild()
