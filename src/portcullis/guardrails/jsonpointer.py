"""JSON pointers (RFC 6901) over a parsed document, with ``*`` for "any member or element".

``/steps/0/sql`` names one value; ``/steps/*/sql`` names the ``sql`` member of every
element of ``steps``; ``""`` names the whole document. ``~1`` stands for ``/`` and ``~0``
for ``~`` in a member name. A ``*`` token is the wildcard (a member literally named
``*`` is among what it names). Array indexes are ``0`` or digits without a leading
zero; ``-`` (past the end) names nothing. A pointer that leads nowhere names nothing:
evaluation never raises.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["WILDCARD", "parse_pointer", "resolve"]

WILDCARD = "*"


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The reference tokens of ``pointer``, unescaped."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError("a JSON pointer is '' or starts with '/'")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


def resolve(document: object, tokens: tuple[str, ...]) -> Iterator[object]:
    """Every value of ``document`` that ``tokens`` name (several with ``*``, maybe none)."""
    return _walk(document, tokens, 0)


def _walk(value: object, tokens: tuple[str, ...], depth: int) -> Iterator[object]:
    if depth == len(tokens):
        yield value
        return
    token = tokens[depth]
    if isinstance(value, dict):
        if token == WILDCARD:
            for member in value.values():
                yield from _walk(member, tokens, depth + 1)
        elif token in value:
            yield from _walk(value[token], tokens, depth + 1)
    elif isinstance(value, list):
        if token == WILDCARD:
            for element in value:
                yield from _walk(element, tokens, depth + 1)
        else:
            index = _index(token)
            if index is not None and index < len(value):
                yield from _walk(value[index], tokens, depth + 1)


def _index(step: str) -> int | None:
    if step == "0":
        return 0
    if step.isdigit() and step.isascii() and step[0] != "0":
        return int(step)
    return None
