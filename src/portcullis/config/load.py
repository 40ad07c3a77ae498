"""Loading: the I/O edge of configuration — the YAML file, files it names, secrets.

:func:`load_config` reads one YAML file and returns a frozen :class:`Config`,
or raises :class:`ConfigError` with every problem it found:

1. the YAML is parsed with a safe loader that rejects duplicate keys (a later
   key would silently win) and a top level that is not a mapping;
2. :func:`portcullis.config.validate.validate` checks the data (pure);
3. file paths in the configuration (``listen.tls.*``, ``routes[*].tls_ca_file``,
   every :class:`SecretSource` ``file``) are made absolute, relative to the
   directory of the configuration file, and checked: the files must be
   readable (and PEM, for certificates and keys), environment variables must
   be set.

Secrets are checked at load time but only *read into memory* when a component
asks for them with :func:`resolve_secret` / :func:`resolve_secrets`. Messages
name the key path and the variable or file, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel

from portcullis.config.schema import Config, Route, SecretSource, TlsFiles
from portcullis.config.validate import ConfigError, Problem, describe_type, validate
from portcullis.secret import Secret

__all__ = [
    "ConfigError",
    "load_config",
    "parse_yaml",
    "resolve_secret",
    "resolve_secrets",
]

# Fields holding a file path, made absolute relative to the configuration file.
_PATH_FIELDS = {
    (TlsFiles, "cert_file"),
    (TlsFiles, "key_file"),
    (Route, "tls_ca_file"),
    (SecretSource, "file"),
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> Config:
    """Read, validate and check the configuration file at ``path``.

    ``check_files=False`` skips reading the files and secrets it names (TLS files, secret
    files and variables): for tools that only need the routes and rules, such as
    ``portcullis policy test`` in a CI job without the production secrets.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(path), "not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror}")]) from None
    data, problems = _parse(text, source=str(path), base=source.absolute().parent)
    try:
        config = validate(data)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from None
    if problems:
        raise ConfigError(problems)
    config = cast(Config, _rebase(config, source.absolute().parent))
    if not check_files:
        return config
    problems = list(_check_files(config))
    if problems:
        raise ConfigError(problems)
    return config


def parse_yaml(text: str, *, source: str = "<string>") -> object:
    """Parse one YAML document safely; duplicate keys and a non-mapping top level fail."""
    data, problems = _parse(text, source=source)
    if problems:
        raise ConfigError(problems)
    return data


def resolve_secret(source: SecretSource, *, key_path: str) -> Secret[str]:
    """Read the secret ``source`` points at; ``key_path`` names it in errors."""
    if source.value is not None:
        return source.value
    if source.env is not None:
        value = os.environ.get(source.env)
        if value is None:
            raise _problem(f"{key_path}.env", f"environment variable {source.env} is not set")
        if not value:
            raise _problem(f"{key_path}.env", f"environment variable {source.env} is empty")
        return Secret(value)
    if source.file is None:  # the schema guarantees one source; be explicit anyway
        raise _problem(key_path, "give exactly one of 'value', 'env' or 'file'")
    name = source.file
    try:
        value = Path(name).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _problem(f"{key_path}.file", f"secret file {name!r} is not UTF-8 text") from None
    except OSError as exc:
        raise _problem(
            f"{key_path}.file", f"cannot read secret file {name!r}: {exc.strerror}"
        ) from None
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise _problem(f"{key_path}.file", f"secret file {name!r} is empty")
    return Secret(value)


def resolve_secrets(sources: Sequence[SecretSource], *, key_path: str) -> tuple[Secret[str], ...]:
    """Resolve a rotation list (first signs/encrypts, all verify); report every failure."""
    secrets: list[Secret[str]] = []
    problems: list[Problem] = []
    for index, source in enumerate(sources):
        try:
            secrets.append(resolve_secret(source, key_path=f"{key_path}[{index}]"))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return tuple(secrets)


def _problem(path: str, message: str) -> ConfigError:
    return ConfigError([Problem(path, message)])


# --- YAML --------------------------------------------------------------------


_INCLUDE_TAG = "!include"
_MAX_INCLUDE_DEPTH = 8


class _Loader(yaml.SafeLoader):
    """SafeLoader plus ``!include FILE``: the value is that YAML file's content.

    The path is relative to the including file; includes nest (up to 8 deep, no cycles).
    Problems inside an included file are reported with its name.
    """

    def __init__(self, text: str, base: Path | None, chain: tuple[Path, ...]) -> None:
        super().__init__(text)
        self.base = base
        self.chain = chain
        self.problems: list[Problem] = []


def _include(loader: _Loader, node: yaml.Node) -> object:
    """The included file's content; a problem (and None) when it cannot be had."""
    try:
        return _included(loader, node)
    except ConfigError as exc:
        loader.problems += exc.problems
        return None


def _included(loader: _Loader, node: yaml.Node) -> object:
    name = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else ""
    where = f"line {node.start_mark.line + 1}"
    if not isinstance(name, str) or not name:
        raise ConfigError([Problem(where, "!include needs a file name")])
    if loader.base is None:
        raise ConfigError([Problem(where, "!include works only in configuration files")])
    target = (loader.base / name).resolve()
    if target in loader.chain:
        raise ConfigError([Problem(str(target), "includes itself (an !include cycle)")])
    if len(loader.chain) >= _MAX_INCLUDE_DEPTH:
        raise ConfigError([Problem(str(target), "!include nested more than 8 deep")])
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(target), "not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError(
            [Problem(f"{where}: !include {name}", f"cannot read: {exc.strerror}")]
        ) from None
    data, problems = _parse_any(
        text, source=str(target), base=target.parent, chain=(*loader.chain, target)
    )
    loader.problems += [Problem(f"{target}: {p.path}", p.message) for p in problems]
    return data


_Loader.add_constructor(_INCLUDE_TAG, _include)


def _parse_any(
    text: str, *, source: str, base: Path | None = None, chain: tuple[Path, ...] = ()
) -> tuple[object, list[Problem]]:
    loader = _Loader(text, base, chain)
    try:
        node = loader.get_single_node()
        problems = list(_duplicate_keys(node)) if node is not None else []
        data = loader.construct_document(node) if node is not None else None
        problems += loader.problems
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = exc.problem or exc.context or "syntax error"
        raise ConfigError([Problem(source, f"invalid YAML{where}: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(source, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, problems


def _parse(text: str, *, source: str, base: Path | None = None) -> tuple[object, list[Problem]]:
    chain = (Path(source).resolve(),) if base is not None else ()
    data, problems = _parse_any(text, source=source, base=base, chain=chain)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = describe_type(data)
        problem = Problem(source, f"the top level must be a mapping of settings, got {kind}")
        raise ConfigError([*problems, problem])
    return data, problems


def _duplicate_keys(
    node: yaml.Node, path: str = "", seen: set[int] | None = None
) -> Iterator[Problem]:
    """Every key set twice in one mapping, with its key path and both lines."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # anchors and aliases share nodes
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, object], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            child = f"{path}.{key_node.value}" if path else str(key_node.value)
            line = key_node.start_mark.line + 1
            key = (key_node.tag, key_node.value)
            if key in first:
                yield Problem(
                    child, f"duplicate key on line {line} (first set on line {first[key]})"
                )
            else:
                first[key] = line
            yield from _duplicate_keys(value_node, child, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, f"{path}[{index}]", seen)


# --- files and secrets -------------------------------------------------------


def _rebase(value: Any, base: Path) -> Any:
    """A copy of ``value`` with every path field absolute, relative to ``base``."""
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            if (type(value), name) in _PATH_FIELDS and isinstance(old, str):
                new = str(base / old)
            else:
                new = _rebase(old, base)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [_rebase(item, base) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def _models(value: object, path: str = "") -> Iterator[tuple[str, BaseModel]]:
    """Every model nested in ``value``, with its key path."""
    if isinstance(value, BaseModel):
        yield path, value
        for name in type(value).model_fields:
            yield from _models(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _models(item, f"{path}[{index}]")


def _check_files(root: BaseModel) -> Iterator[Problem]:
    for path, model in _models(root):
        if isinstance(model, TlsFiles):
            yield from _check_pem(f"{path}.cert_file", model.cert_file)
            yield from _check_pem(f"{path}.key_file", model.key_file)
        elif isinstance(model, Route) and model.tls_ca_file is not None:
            yield from _check_pem(f"{path}.tls_ca_file", model.tls_ca_file)
        elif isinstance(model, SecretSource):
            try:
                resolve_secret(model, key_path=path)
            except ConfigError as exc:
                yield from exc.problems


def _check_pem(key_path: str, name: str) -> Iterator[Problem]:
    try:
        with open(name, "rb") as file:
            data = file.read()
    except OSError as exc:
        yield Problem(key_path, f"cannot read {name!r}: {exc.strerror}")
        return
    if b"-----BEGIN " not in data:
        yield Problem(key_path, f"{name!r} is not a PEM file (no '-----BEGIN' line)")
