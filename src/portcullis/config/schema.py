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
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self
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
    "AuditJsonl",
    "AuditSettings",
    "AuditSqlite",
    "AuditSyslog",
    "AuthorizerSettings",
    "Config",
    "GuardrailBlock",
    "GuardrailBlocks",
    "GuardrailRule",
    "GuardrailSettings",
    "GuardrailWebhook",
    "Limits",
    "Listen",
    "LogSettings",
    "MetricsSettings",
    "ReloadSettings",
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


def _check_fastcgi_address(value: str) -> str:
    """``unix:/absolute/path``, or ``address:port`` with an IP address or localhost."""
    if value.startswith("unix:"):
        path = value.removeprefix("unix:")
        if not path.startswith("/"):
            raise ValueError(
                "a unix socket path must be absolute, e.g. 'unix:/run/portcullis.sock'"
            )
        if len(path.encode()) > 107 or "\x00" in path:
            raise ValueError("a unix socket path is at most 107 bytes")
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("expected 'unix:/path' or 'address:port', e.g. '127.0.0.1:9001'")
    bracketed = host.startswith("[") and host.endswith("]")
    name = host[1:-1] if bracketed else host
    if ":" in name and not bracketed:
        raise ValueError("write an IPv6 address in brackets, e.g. '[::1]:9001'")
    if name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise ValueError(f"{name!r} is not an IP address (or localhost)") from None
    return value


def _to_date(value: object) -> date:
    """A day: YAML's ``2027-03-01`` (already a date) or the same text in quotes."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected a date written YYYY-MM-DD, e.g. 2027-03-01")


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
Day = Annotated[
    date, PlainValidator(_to_date), WithJsonSchema({"type": "string", "format": "date"})
]
FastCgiAddress = Annotated[str, AfterValidator(_check_fastcgi_address)]
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
    case_insensitive: bool = Field(
        False,
        description="Match the path prefix case-insensitively (for upstreams such as IIS that "
        "treat /Admin and /admin alike).",
    )
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
        description="Shorthand rule: signed-in users holding any of these roles or groups; "
        "absent (and no rules): any signed-in person. Not allowed on public routes.",
    )
    rules: list[dict[str, Any]] | None = Field(
        None,
        description="Ordered allow/deny rules (docs/policy.md): deny wins, default deny. "
        "Instead of allow; not on public routes.",
    )
    monitor: bool = Field(
        False,
        description="Roll-out mode: requests the rules would refuse pass, recorded as "
        "'would deny'.",
    )
    guardrails: RouteGuardrails | None = Field(
        None,
        description="Request guardrails for machines and agents (docs/guardrails.md): "
        "methods, body size, rate limit, deny patterns.",
    )

    @model_validator(mode="after")
    def _guardrails_fit(self) -> Self:
        if self.guardrails is not None:
            problem = route_problem(self.guardrails, public=self.public, accept=self.accept)
            if problem:
                raise ValueError(problem)
        return self


class ReloadSettings(_Model):
    """Hot reload: SIGHUP always reloads; ``watch`` also reloads when the file changes."""

    watch: bool = Field(
        False, description="Poll the configuration file and reload when it changes."
    )
    interval: float = Field(
        2.0, ge=0.1, le=3600, description="Seconds between two looks at the file (with watch)."
    )


class Server(_Model):
    """Process-level settings."""

    workers: int = Field(1, ge=1, le=256, description="Worker processes sharing the port.")
    limits: Limits = Field(default_factory=Limits)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    pool_max_idle: int = Field(
        64, ge=0, le=10000, description="Idle keep-alive connections kept per upstream origin."
    )
    reload: ReloadSettings = Field(default_factory=ReloadSettings)
    expiry_warn_days: int = Field(
        30,
        ge=1,
        le=365,
        description="Warn (log, portcullis doctor) this many days before a secret with an "
        "'expires' date or a certificate expires.",
    )


def _loopback() -> list[str]:
    return ["127.0.0.1/32", "::1/128"]


class MetricsSettings(_Model):
    """Prometheus metrics at ``/.portcullis/metrics`` (docs/operations.md#metrics)."""

    enabled: bool = Field(True, description="Serve /.portcullis/metrics.")
    allow: list[Cidr] = Field(
        default_factory=_loopback,
        description="Who may scrape: the client and every address in a trusted proxy's "
        "X-Forwarded-For must be in these blocks (default: loopback only).",
    )


class LogSettings(_Model):
    """Operational logging (audit records are separate)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    access: bool = Field(False, description="One line per request (costs a few µs each).")


class AuthorizerSettings(_Model):
    """Portcullis as a FastCGI authorizer for a web server in front (docs/apache.md)."""

    listen: FastCgiAddress = Field(
        description="'address:port' (TCP, what Apache's mod_authnz_fcgi speaks) or "
        "'unix:/path' (other FastCGI clients)."
    )
    timeout: Seconds = Field(
        30.0, description="A connection silent this long, with no check in progress, is closed."
    )


def _check_syslog_address(value: str) -> str:
    from portcullis.audit.syslog import parse_address  # noqa: PLC0415 - the one parser

    parse_address(value)
    return value


class AuditSqlite(_Model):
    """The queryable audit store (docs/audit.md)."""

    enabled: bool = Field(True, description="Keep audit records in SQLite.")
    path: str = Field(
        "portcullis-audit.db",
        min_length=1,
        description="The SQLite file (created mode 0600), shared by local workers.",
    )


class AuditJsonl(_Model):
    """Audit records as JSON lines, on stdout or in rotated files."""

    path: str = Field(min_length=1, description="'-' for stdout, or a file (created mode 0600).")
    max_bytes: int | None = Field(
        None, ge=4096, le=1 << 40, description="Rotate before a file grows past this size."
    )
    max_files: int = Field(10, ge=1, le=1000, description="Rotated files kept: path.1 ... path.N.")
    rotate_seconds: float | None = Field(
        None,
        ge=60,
        le=366 * 86400,
        description="Start a new file every period, aligned to the epoch (86400: midnight UTC).",
    )

    @model_validator(mode="after")
    def _rotation_needs_a_file(self) -> Self:
        if self.path == "-" and (self.max_bytes is not None or self.rotate_seconds is not None):
            raise ValueError("max_bytes and rotate_seconds need a file; stdout is not rotated")
        return self


SyslogFacility = Literal[
    "kern", "user", "daemon", "auth", "syslog", "authpriv",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
]  # fmt: skip


class AuditSyslog(_Model):
    """Audit records as RFC 5424 syslog messages, for a SIEM."""

    address: Annotated[str, AfterValidator(_check_syslog_address)] = Field(
        description="'udp://host:port' or a unix datagram socket path ('/dev/log')."
    )
    facility: SyslogFacility = "authpriv"


class AuditSettings(_Model):
    """Audit records of access decisions and sign-ins (docs/audit.md)."""

    sqlite: AuditSqlite = Field(default_factory=AuditSqlite)
    jsonl: AuditJsonl | None = Field(None, description="Also write JSON lines.")
    syslog: AuditSyslog | None = Field(None, description="Also send to syslog.")
    durability: Literal["batched", "sync"] = Field(
        "batched",
        description="batched: written every flush_interval; sync: written and fsynced before "
        "each request goes on.",
    )
    flush_interval: float = Field(0.1, gt=0, le=10, description="Seconds between batched writes.")
    queue_max: int = Field(
        100_000, ge=100, le=10_000_000, description="Records waiting beyond this are dropped."
    )
    public_routes: bool = Field(
        False,
        description="Also record requests to public routes (no identity is involved: off by "
        "default).",
    )


class Config(_Model):
    """A whole Portcullis configuration file."""

    listen: Listen = Field(default_factory=Listen)
    server: Server = Field(default_factory=Server)
    log: LogSettings = Field(default_factory=LogSettings)
    routes: list[Route] = Field(min_length=1, description="Tried most specific first.")
    auth: Auth | None = Field(None, description="Sign-in; without it only public routes pass.")
    authorizer: AuthorizerSettings | None = Field(
        None, description="Also answer a web server's FastCGI authorizer requests."
    )
    policy: PolicySettings = Field(
        default_factory=lambda: PolicySettings(),  # noqa: PLW0108 - defined after Config
        description="Group aliases, friendly names and forwarded groups (docs/policy.md).",
    )
    audit: AuditSettings = Field(
        default_factory=AuditSettings, description="Audit records (docs/audit.md)."
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Prometheus metrics (docs/operations.md)."
    )
    guardrails: GuardrailSettings | None = Field(
        None,
        description="Violation rules, alerts and temporary blocks (docs/guardrails.md).",
    )


class SecretSource(_Model):
    """Where one secret comes from: exactly one of ``value``, ``env`` or ``file``.

    Loading resolves it into a :class:`portcullis.secret.Secret` with
    :func:`portcullis.config.load.resolve_secret`; validation never reads it. ``expires``
    only informs (:mod:`portcullis.credentials`): warnings, ``doctor`` and a metric.
    """

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [k]} for k in ("value", "env", "file")]}
    )

    value: InlineSecret | None = Field(
        None, description="The secret itself (discouraged: it ends up in backups and diffs)."
    )
    env: EnvName | None = Field(None, description="Environment variable holding the secret.")
    file: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="File holding the secret; one trailing newline is dropped. "
        "Relative to the configuration file.",
    )
    expires: Day | None = Field(
        None,
        description="The day the secret stops working at the identity provider (e.g. an "
        "Entra client secret's end date): warned about beforehand.",
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


# --- guardrails (docs/guardrails.md) -----------------------------------------------------

GuardrailKind = Literal[
    "denials",
    "machine_on_human_route",
    "outside_hours",
    "new_client",
    "foreign_tenant",
    "old_token",
    "agent_burst",
]
GuardrailSeverity = Literal["low", "medium", "high"]
GuardrailIdentityKind = Literal["user", "app", "agent", "obo"]
GuardrailMinutes = Annotated[float, Field(gt=0, le=7 * 24 * 60)]

# Per kind: the parameters it needs, and the ones it may take (besides the common ones).
_GUARDRAIL_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "denials": (frozenset({"count", "window_minutes"}), frozenset()),
    "machine_on_human_route": (frozenset({"paths"}), frozenset({"allowed_only"})),
    "outside_hours": (frozenset({"hours"}), frozenset()),
    "new_client": (frozenset(), frozenset({"warmup_minutes", "known_clients"})),
    "foreign_tenant": (frozenset({"tenants"}), frozenset()),
    "old_token": (frozenset(), frozenset({"max_age_minutes", "max_lifetime_minutes"})),
    "agent_burst": (frozenset({"max_requests", "window_seconds"}), frozenset()),
}
_GUARDRAIL_COMMON = frozenset({"name", "kind", "severity", "block", "cooldown_minutes", "kinds"})
_RULE_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _check_path_pattern(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("a path pattern must start with '/'")
    if any(c in value for c in "?# \t\r\n"):
        raise ValueError("a path pattern carries no query, fragment or spaces")
    return value


def _check_tenant_id(value: str) -> str:
    from portcullis.ids import is_guid  # noqa: PLC0415 - keep the schema's imports small

    if not is_guid(value.lower()):
        raise ValueError(f"{value!r} is not a tenant id (GUID)")
    return value.lower()


def _check_hours(value: dict[str, Any]) -> dict[str, Any]:
    from portcullis.policy.criteria.time_window import compile as time_window  # noqa: PLC0415
    from portcullis.policy.criterion import Context, PolicyError  # noqa: PLC0415

    try:
        time_window(value, Context(), "hours")
    except PolicyError as exc:
        raise ValueError("; ".join(str(p).removeprefix("hours.") for p in exc.problems)) from None
    return value


class GuardrailBlock(_Model):
    """Block the identity for a while when the rule fires."""

    minutes: GuardrailMinutes = Field(description="How long the block lasts (at most 7 days).")


class GuardrailRule(_Model):
    """One violation rule over the stream of decisions (docs/guardrails.md)."""

    name: str = Field(
        pattern=_RULE_NAME_RE, description="Unique name, shown in alerts, blocks and audit records."
    )
    kind: GuardrailKind = Field(description="What the rule watches for.")
    severity: GuardrailSeverity = Field("medium", description="low, medium or high.")
    block: GuardrailBlock | None = Field(None, description="Also block the identity.")
    cooldown_minutes: GuardrailMinutes | None = Field(
        None,
        description="After firing, stay silent this long for the same identity "
        "(default: the rule's window, else 60).",
    )
    kinds: list[GuardrailIdentityKind] | None = Field(
        None,
        min_length=1,
        description="Only watch these identity kinds (defaults depend on the kind).",
    )
    count: int | None = Field(None, ge=1, le=10000, description="denials: how many.")
    window_minutes: GuardrailMinutes | None = Field(None, description="denials: within this long.")
    paths: list[Annotated[str, AfterValidator(_check_path_pattern)]] | None = Field(
        None,
        min_length=1,
        description="machine_on_human_route: the human-only paths (patterns as in policy "
        "'paths': '*' within a segment, '**' any segments).",
    )
    allowed_only: bool | None = Field(
        None, description="machine_on_human_route: only requests that were let through."
    )
    hours: Annotated[dict[str, Any], AfterValidator(_check_hours)] | None = Field(
        None,
        description="outside_hours: the allowed window {days, from, to, zone}, as the policy "
        "'time' criterion.",
    )
    warmup_minutes: Annotated[float, Field(ge=0, le=7 * 24 * 60)] | None = Field(
        None, description="new_client: apps seen this long after start are learned silently."
    )
    known_clients: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="new_client: client app ids that are never new."
    )
    tenants: list[Annotated[str, AfterValidator(_check_tenant_id)]] | None = Field(
        None, min_length=1, description="foreign_tenant: the tenant ids allowed."
    )
    max_age_minutes: GuardrailMinutes | None = Field(
        None, description="old_token: a token issued longer ago than this."
    )
    max_lifetime_minutes: GuardrailMinutes | None = Field(
        None, description="old_token: a token valid for longer than this in all."
    )
    max_requests: int | None = Field(
        None, ge=1, le=100_000, description="agent_burst: more requests than this ..."
    )
    window_seconds: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        None, description="agent_burst: ... within this many seconds."
    )

    @model_validator(mode="after")
    def _params_fit_the_kind(self) -> Self:
        needed, optional = _GUARDRAIL_PARAMS[self.kind]
        given = {key for key in self.model_fields_set if getattr(self, key) is not None}
        missing = sorted(needed - given)
        stray = sorted(given - needed - optional - _GUARDRAIL_COMMON)
        problems = [f"'{key}' is required for kind {self.kind}" for key in missing]
        problems += [f"'{key}' is not used by kind {self.kind}" for key in stray]
        if self.kind == "old_token" and not given & optional:
            problems.append("give max_age_minutes, max_lifetime_minutes or both")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class GuardrailWebhook(_Model):
    """Where alerts go: an https URL (http only on loopback), kept secret."""

    url: SecretSource = Field(
        description="The webhook URL ({value}, {env} or {file}: it embeds a secret)."
    )
    format: Literal["json", "teams", "slack"] = Field(
        "json", description="json, teams (Adaptive Card) or slack (Block Kit)."
    )
    min_severity: GuardrailSeverity = Field(
        "low", description="Only violations this severe or worse."
    )
    timeout: Annotated[float, Field(gt=0, le=60)] = Field(
        5.0, description="Seconds for one delivery attempt."
    )

    @model_validator(mode="after")
    def _inline_url_is_a_webhook(self) -> Self:
        if self.url.value is not None:
            from portcullis.guardrails.webhook import check_webhook_url  # noqa: PLC0415

            check_webhook_url(self.url.value.reveal())
        return self


class GuardrailBlocks(_Model):
    """The shared store of temporary blocks."""

    sqlite_path: str = Field(
        "portcullis-blocks.db",
        min_length=1,
        description="The SQLite file (created mode 0600), shared by local workers.",
    )
    refresh_seconds: Annotated[float, Field(ge=0.1, le=60)] = Field(
        1.0, description="How often each worker rereads the blocks (a lift shows within this)."
    )


class GuardrailSettings(_Model):
    """Violation rules over the decision stream, alerts and temporary blocks."""

    rules: list[GuardrailRule] = Field(default_factory=list, description="The violation rules.")
    webhooks: list[GuardrailWebhook] = Field(
        default_factory=list, description="Alert destinations."
    )
    blocks: GuardrailBlocks = Field(default_factory=GuardrailBlocks)
    max_identities: int = Field(
        50_000,
        ge=100,
        le=10_000_000,
        description="Identities (and client apps) each rule remembers, about 150 bytes each; "
        "the least recently seen are forgotten.",
    )
    alert_queue: int = Field(
        1000, ge=1, le=1_000_000, description="Alerts waiting per webhook beyond this are dropped."
    )

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Self:
        first: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            seen = first.setdefault(rule.name, index)
            if seen != index:
                raise ValueError(f"rules[{index}].name: duplicates rules[{seen}] ({rule.name!r})")
        return self


# The sign-in schema builds on the models above; resolve the forward references now.
from portcullis.config.auth_schema import Allow, Auth  # noqa: E402
from portcullis.config.policy_schema import PolicySettings  # noqa: E402
from portcullis.guardrails.request_schema import RouteGuardrails, route_problem  # noqa: E402

Route.model_rebuild()
Config.model_rebuild()
