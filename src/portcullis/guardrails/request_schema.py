"""Configuration schema for request guardrails: ``routes[*].guardrails``.

The shape only, and checks on single values: every regular expression is compiled here
once, so that a bad one is reported with its key path (``routes[2].guardrails.deny[0].path:
not a valid regular expression: ...``); :mod:`portcullis.guardrails.request` compiles the
runtime form. Checks that need the route (a public route has no caller to guard) are
:func:`route_problem`'s.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_JSON_MAX_BYTES",
    "DenyPattern",
    "JsonMatch",
    "RateLimit",
    "RouteGuardrails",
    "route_problem",
]

DEFAULT_JSON_MAX_BYTES = 65536
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_BAD_ESCAPE = re.compile(r"~(?![01])")


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


def _check_pointer(value: str) -> str:
    if value and not value.startswith("/"):
        raise ValueError(
            "a JSON pointer is '' (the whole body) or starts with '/', e.g. '/command'"
        )
    if _BAD_ESCAPE.search(value):
        raise ValueError("'~' must be followed by 0 or 1 (RFC 6901: '~0' is '~', '~1' is '/')")
    return value


def _check_method(value: str) -> str:
    method = value.upper()
    if not _TOKEN_RE.match(method):
        raise ValueError(f"{value!r} is not an HTTP method")
    return method


Regex = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_check_regex)]
JsonPointer = Annotated[str, Field(max_length=1000), AfterValidator(_check_pointer)]
Method = Annotated[str, AfterValidator(_check_method)]
Kind = Literal["user", "obo", "app", "agent"]


class _Model(BaseModel):
    # As portcullis.config.schema's, which imports this module (and so cannot be imported here).
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Model):
    """A token bucket per identity: ``requests`` every ``per`` seconds, ``burst`` at once."""

    requests: int = Field(ge=1, le=1_000_000, description="Requests per period, per identity.")
    per: float = Field(60.0, gt=0, le=86400, description="The period, in seconds.")
    burst: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Requests allowed back to back (the bucket's size); default: requests.",
    )


class JsonMatch(_Model):
    """A JSON body member (RFC 6901 pointer, ``*`` for any member) and what it must not match."""

    pointer: JsonPointer = Field(
        description="RFC 6901 JSON pointer, e.g. '/command' or '/steps/*/sql' ('*': any "
        "member or element); '' is the whole body."
    )
    matches: Regex = Field(description="Regular expression searched in the value.")


# ``json`` is the natural key, and it shadows the (deprecated) BaseModel.json() method.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r'Field name "json"', UserWarning)

    class DenyPattern(_Model):
        """One deny pattern: exactly one of ``path``, ``query`` or ``json``, with a message."""

        path: Regex | None = Field(None, description="Searched in the normalized path.")
        query: Regex | None = Field(None, description="Searched in the query string.")
        json: JsonMatch | None = Field(  # type: ignore[assignment]
            None, description="Searched in a member of a JSON request body."
        )
        message: str = Field(
            min_length=1, max_length=500, description="Told to the caller that is refused."
        )
        name: str | None = Field(
            None, min_length=1, max_length=100, description="Names the pattern in audit records."
        )

        @model_validator(mode="after")
        def _exactly_one_target(self) -> Self:
            given = [key for key in ("path", "query", "json") if getattr(self, key) is not None]
            if len(given) != 1:
                found = " and ".join(repr(key) for key in given) if given else "none"
                raise ValueError(f"give exactly one of 'path', 'query' or 'json' (got {found})")
            return self


class RouteGuardrails(_Model):
    """What machines and agents (by default) may send to a route, beyond what its rules allow."""

    applies_to: list[Kind] = Field(
        default_factory=lambda: ["app", "agent"],  # type: ignore[arg-type]
        min_length=1,
        description="The kinds of caller held to these guardrails: user, obo, app, agent.",
    )
    methods: list[Method] | None = Field(
        None, min_length=1, description="Methods allowed; others get 405. Default: any."
    )
    max_body_bytes: int | None = Field(
        None, ge=0, le=1 << 40, description="Larger request bodies get 413. Default: no limit."
    )
    rate_limit: RateLimit | None = Field(None, description="Requests per identity (429).")
    deny: list[DenyPattern] = Field(
        default_factory=list,
        max_length=256,
        description="Patterns on the path, the query or JSON body members; a match gets 403.",
    )
    json_max_bytes: int = Field(
        DEFAULT_JSON_MAX_BYTES,
        ge=16,
        le=1 << 23,
        description="With json patterns: JSON bodies are read whole before they are forwarded, "
        "up to this size (larger: 413).",
    )
    json_only: bool = Field(
        True,
        description="With json patterns: refuse (415) bodies of another media type, which "
        "could carry the same data unread; false forwards them uninspected.",
    )

    @model_validator(mode="after")
    def _something_to_enforce(self) -> Self:
        if (
            self.methods is None
            and self.max_body_bytes is None
            and self.rate_limit is None
            and not self.deny
        ):
            raise ValueError("nothing to enforce: give methods, max_body_bytes, rate_limit or deny")
        if not any(p.json is not None for p in self.deny):
            unused = sorted({"json_max_bytes", "json_only"} & self.model_fields_set)
            if unused:
                raise ValueError(f"{' and '.join(unused)}: only used with json deny patterns")
        return self


def route_problem(guardrails: RouteGuardrails, *, public: bool, accept: Sequence[str]) -> str:
    """Why these guardrails cannot apply to a route ("" when they can)."""
    if public:
        return "guardrails: a public route has no signed-in caller to hold to them"
    if "bearer" not in accept and "user" not in guardrails.applies_to:
        return (
            "guardrails.applies_to: this route accepts sessions only (people, kind user); "
            "add 'user' or accept bearer tokens"
        )
    return ""
