"""Small typed readers for configuration documents: every problem is kept with its key path.

:class:`Reader` collects :class:`~portcullis.config.validate.Problem` values
instead of stopping at the first one; :mod:`portcullis.devidp.load` builds the
dev IdP's configuration on top of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portcullis.config.validate import ROOT, Problem, describe_type
from portcullis.secret import Secret

__all__ = ["Reader", "is_guid", "is_http_url", "join"]


@dataclass
class Reader:
    base: Path  # relative file names are read from here
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(self, data: object, path: str, allowed: set[str]) -> dict[str, Any] | None:
        if data is None and path == ROOT:
            return {}
        if not isinstance(data, dict):
            self.fail(path, f"expected a mapping, got {describe_type(data)}")
            return None
        for key in data:
            if key not in allowed:
                self.fail(join(path, str(key)), f"unknown key; expected one of {sorted(allowed)}")
        return data

    def each(self, data: object, path: str, read: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail(path, f"expected a list, got {describe_type(data)}")
            return []
        return [v for i, item in enumerate(data) if (v := read(item, f"{path}[{i}]")) is not None]

    def text(
        self, item: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = item.get(key)
        if value is None:
            if required:
                self.fail(join(path, key), "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(join(path, key), f"expected a non-empty string, got {describe_type(value)}")
            return None
        return value

    def strings(self, item: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(join(path, key), "expected a list of non-empty strings")
            return ()
        return tuple(value)

    def names(self, item: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        """Strings that are single tokens (roles, scopes, auth contexts): no spaces or ``/``."""
        values = self.strings(item, key, path)
        for i, value in enumerate(values):
            if any(c.isspace() or c == "/" for c in value):
                self.fail(f"{join(path, key)}[{i}]", "no spaces or '/' allowed")
        return values

    def flag(self, item: Mapping[str, Any], key: str, path: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            self.fail(join(path, key), f"expected true or false, got {describe_type(value)}")
            return False
        return value

    def guid(
        self, item: Mapping[str, Any], key: str, path: str, *, default: str | None
    ) -> str | None:
        value = self.text(item, key, path)
        if value is None:
            return None if key in item else default
        if not is_guid(value):
            self.fail(join(path, key), "expected a GUID like 7c3e2f4a-1b5d-4c8e-9f00-2a6b8d4e1c10")
            return None
        return value.lower()

    def read_bytes(self, name: str, where: str) -> Secret[bytes] | None:
        try:
            return Secret((self.base / name).read_bytes())
        except OSError as exc:
            self.fail(where, f"cannot read {name!r}: {exc.strerror}")
            return None

    def unique(self, values: list[str], path: str, key: str) -> None:
        """Report repeats; empty values were already reported as missing or invalid."""
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value and value in seen:
                self.fail(f"{path}[{i}].{key}", "duplicate")
            seen.add(value)


def join(path: str, key: str) -> str:
    return key if path in ("", ROOT) else f"{path}.{key}"


def is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def is_http_url(value: str, *, bare: bool = False) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return False
    return not bare or (parts.path in ("", "/") and not parts.query)
