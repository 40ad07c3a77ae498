"""Pure validation: raw data in, a :class:`Config` or *every* problem out.

No files, no environment, no clock: :func:`validate` takes what the YAML parser
produced and either returns a frozen :class:`Config` or raises
:class:`ConfigError` listing each :class:`Problem` as ``key.path: message``,
e.g. ``routes[1].upstream: not an http(s) URL``.

Two kinds of checks run:

* the schema's (types, ranges, unknown keys, the validators in
  :mod:`portcullis.config.schema`), with pydantic's messages rewritten for
  people who edit YAML;
* checks that span several fields (two routes for the same host and path).
  They run on every route that is valid by itself, even when other parts of
  the file are not, so one run reports everything.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from portcullis.config.auth_schema import Auth
from portcullis.config.schema import Config, Route
from portcullis.ids import GUID_RE

__all__ = [
    "ROOT",
    "ConfigError",
    "Problem",
    "describe_type",
    "format_path",
    "problems_from",
    "validate",
    "validate_as",
]

M = TypeVar("M", bound=BaseModel)

ROOT = "(top level)"
"""The key path of the document itself."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration, at one key path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists every :class:`Problem`."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def validate(data: object) -> Config:
    """Check ``data`` (parsed YAML) against the schema and across fields."""
    problems: list[Problem] = []
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from(exc, Config))
    routes = list(enumerate(config.routes)) if config else _valid_routes(data)
    problems.extend(_route_problems(routes))
    if config is not None:
        problems.extend(_access_problems(config))
    if config is not None and config.auth is not None:
        problems.extend(_auth_problems(config.auth))
    if config is not None and not problems:
        problems.extend(_policy_problems(config))
    if problems or config is None:
        raise ConfigError(problems)
    return config


def validate_as(model: type[M], data: object, *, path: str = "") -> M:
    """Validate ``data`` as ``model`` (found at key ``path``), with the same messages."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, model, prefix=path)) from None


def problems_from(
    error: ValidationError, model: type[BaseModel], *, prefix: str = ""
) -> list[Problem]:
    """Rewrite pydantic's errors for ``model`` as problems with key paths."""
    problems = []
    for detail in error.errors():
        loc = detail["loc"]
        path = format_path(loc, prefix=prefix)
        problems.append(Problem(path, _message(detail, model)))
    return problems


def format_path(loc: Sequence[int | str], *, prefix: str = "") -> str:
    """``("routes", 1, "upstream")`` → ``routes[1].upstream``; ``()`` → :data:`ROOT`."""
    out = prefix
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or ROOT


def describe_type(value: object) -> str:
    """What kind of YAML value this is, without showing the value itself."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str | bytes):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _message(detail: ErrorDetails, model: type[BaseModel]) -> str:
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail["input"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return _unknown_key(detail["loc"], model)
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe_type(value)}"
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        return f"{text} {_number(ctx[key])}, got {_number(value)}"
    if kind == "literal_error":
        got = repr(value) if isinstance(value, str) else describe_type(value)
        return f"expected {ctx['expected']}, got {got}"
    if kind in ("too_short", "string_too_short"):
        size = int(ctx["min_length"])
        if size == 1:
            return "must not be empty"
        unit = "items" if kind == "too_short" else "characters"
        return f"needs at least {size} {unit}"
    if kind in ("too_long", "string_too_long"):
        unit = "items" if kind == "too_long" else "characters"
        return f"allows at most {int(ctx['max_length'])} {unit}"
    return detail["msg"]


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return describe_type(value)


def _unknown_key(loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    key = str(loc[-1]) if loc else ""
    known = _keys_at(model, loc[:-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"


def _keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model nested at ``loc`` accepts (for suggestions)."""
    current: object = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int) and not isinstance(part, bool):
            if get_origin(current) not in (list, tuple):
                return []
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _valid_routes(data: object) -> list[tuple[int, Route]]:
    """The routes that are valid on their own, when the whole file is not."""
    routes = data.get("routes") if isinstance(data, Mapping) else None
    if not isinstance(routes, list):
        return []
    valid = []
    for index, item in enumerate(routes):
        try:
            valid.append((index, Route.model_validate(item)))
        except ValidationError:
            continue
    return valid


def _route_problems(routes: Iterable[tuple[int, Route]]) -> list[Problem]:
    problems = []
    seen: dict[tuple[str, str], int] = {}
    for index, route in routes:
        where = f"routes[{index}]"
        # '/api/' and '/api' match the same requests (segment boundary).
        first = seen.setdefault((route.host, route.path.rstrip("/") or "/"), index)
        if first != index:
            problems.append(
                Problem(
                    where,
                    f"duplicates routes[{first}] (host {route.host!r}, path {route.path!r})",
                )
            )
        if route.public and route.allow is not None:
            problems.append(Problem(f"{where}.allow", "a public route lets everyone pass"))
        if route.public and route.rules is not None:
            problems.append(Problem(f"{where}.rules", "a public route lets everyone pass"))
        if route.public and route.monitor:
            problems.append(Problem(f"{where}.monitor", "a public route has no rules to monitor"))
        if route.rules is not None and route.allow is not None:
            problems.append(Problem(f"{where}.rules", "give either rules or allow, not both"))
        if route.tls_ca_file is not None:
            if urlsplit(route.upstream).scheme != "https":
                problems.append(Problem(f"{where}.tls_ca_file", "only used with an https upstream"))
            elif not route.tls_verify:
                problems.append(
                    Problem(f"{where}.tls_ca_file", "has no effect with tls_verify: false")
                )
    return problems


_MULTI_TENANT = ("organizations", "common")


def _auth_problems(auth: Auth) -> list[Problem]:
    """Rules that span fields of the sign-in settings."""
    problems = []
    names: dict[str, int] = {}
    for index, provider in enumerate(auth.providers):
        where = f"auth.providers[{index}]"
        first = names.setdefault(provider.name, index)
        if first != index:
            problems.append(
                Problem(f"{where}.name", f"duplicates auth.providers[{first}] ({provider.name!r})")
            )
        if provider.type == "entra":
            if not provider.tenant:
                problems.append(Problem(f"{where}.tenant", "required for an entra provider"))
            elif provider.tenant.lower() == "consumers":
                problems.append(
                    Problem(f"{where}.tenant", "personal Microsoft accounts are not supported")
                )
            elif provider.tenant.lower() in _MULTI_TENANT and not provider.allowed_tenants:
                problems.append(
                    Problem(
                        f"{where}.allowed_tenants",
                        f"required with tenant {provider.tenant!r}: list the tenant ids "
                        "whose users may sign in (issuer checks are never skipped)",
                    )
                )
            if provider.issuer is not None:
                problems.append(
                    Problem(f"{where}.issuer", "not used by entra (set tenant, authority_host)")
                )
        elif provider.issuer is None:
            problems.append(Problem(f"{where}.issuer", "required for an oidc provider"))
        if provider.client_auth == "private_key_jwt":
            if provider.private_key is None:
                problems.append(Problem(f"{where}.private_key", "required for private_key_jwt"))
        elif provider.client_secret is None:
            problems.append(
                Problem(f"{where}.client_secret", f"required for {provider.client_auth}")
            )
        if "openid" not in provider.scopes:
            problems.append(Problem(f"{where}.scopes", "must include 'openid'"))
    if auth.graph is not None and not any(
        p.name == auth.graph.provider and p.type == "entra" for p in auth.providers
    ):
        problems.append(Problem("auth.graph.provider", "must name an entra provider"))
    if auth.graph is not None and (auth.graph.client_id is None) != (
        auth.graph.client_secret is None
    ):
        problems.append(Problem("auth.graph", "client_id and client_secret go together"))
    if auth.session.idle_timeout > auth.session.absolute_timeout:
        problems.append(
            Problem("auth.session.idle_timeout", "longer than auth.session.absolute_timeout")
        )
    return problems


def _access_problems(config: Config) -> list[Problem]:
    """Routes that accept bearer tokens must name an API; APIs must name a provider."""
    problems = []
    auth = config.auth
    apis = {api.name for api in auth.apis} if auth else set()
    for index, route in enumerate(config.routes):
        where = f"routes[{index}]"
        if "bearer" in route.accept and route.api is None:
            problems.append(Problem(f"{where}.api", "required when the route accepts bearer"))
        elif route.api is not None and route.api not in apis:
            problems.append(Problem(f"{where}.api", f"no auth.apis entry named {route.api!r}"))
        elif route.api is not None and "bearer" not in route.accept:
            problems.append(Problem(f"{where}.api", "only used when accept includes bearer"))
        allow = route.allow
        if allow is not None and allow.auth_context and "session" in route.accept:
            problems.append(
                Problem(
                    f"{where}.allow.auth_context",
                    "needs a route that accepts bearer tokens only (sessions carry no "
                    "authentication context)",
                )
            )
        for key in ("clients", "deny_clients"):
            for position, entry in enumerate(getattr(allow, key, None) or []):
                tenant, slash, client = entry.rpartition("/")
                if not client or (slash and not GUID_RE.match(tenant.lower())):
                    problems.append(
                        Problem(
                            f"{where}.allow.{key}[{position}]",
                            f"{entry!r} is not 'appid' or 'tenant-guid/appid'",
                        )
                    )
    if auth is not None:
        providers = {p.name for p in auth.providers}
        for index, api in enumerate(auth.apis):
            if api.provider not in providers:
                problems.append(
                    Problem(f"auth.apis[{index}].provider", f"no provider named {api.provider!r}")
                )
            if api.introspection is not None and any(
                p.name == api.provider and p.type == "entra" for p in auth.providers
            ):
                problems.append(
                    Problem(
                        f"auth.apis[{index}].introspection",
                        "Entra access tokens are JWTs; introspection is for generic providers",
                    )
                )
    return problems


def _policy_problems(config: Config) -> list[Problem]:
    """Every rule compiled, each problem with its key path (policy.compile_policy)."""
    from portcullis.policy import PolicyError, compile_policy  # noqa: PLC0415 - import cycle

    try:
        compile_policy(config)
    except PolicyError as exc:
        return [Problem(p.path, p.message) for p in exc.problems]
    return []
