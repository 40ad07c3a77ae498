"""JSON pointers: the RFC 6901 section 5 vectors, array indexes, the ``*`` wildcard."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.guardrails.jsonpointer import parse_pointer, resolve

# RFC 6901, section 5.
RFC_DOCUMENT: dict[str, Any] = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}
RFC_VECTORS = [
    ("", RFC_DOCUMENT),
    ("/foo", ["bar", "baz"]),
    ("/foo/0", "bar"),
    ("/", 0),
    ("/a~1b", 1),
    ("/c%d", 2),
    ("/e^f", 3),
    ("/g|h", 4),
    ("/i\\j", 5),
    ('/k"l', 6),
    ("/ ", 7),
    ("/m~0n", 8),
]


def values(document: object, pointer: str) -> list[object]:
    return list(resolve(document, parse_pointer(pointer)))


@pytest.mark.parametrize(("pointer", "expected"), RFC_VECTORS)
def test_rfc_6901_examples(pointer: str, expected: object) -> None:
    assert values(RFC_DOCUMENT, pointer) == [expected]


def test_tilde_escapes_are_undone_in_order() -> None:
    assert parse_pointer("/~01") == ("~1",)  # not "/"
    assert values({"~1": "tilde-one", "/": "slash"}, "/~01") == ["tilde-one"]


@pytest.mark.parametrize("index", ["01", "-", "1.0", "+1", "\u0661", "2", " 0"])
def test_indexes_that_name_nothing(index: str) -> None:
    assert values({"a": ["x", "y"]}, f"/a/{index}") == []


def test_a_pointer_that_leads_nowhere_names_nothing() -> None:
    document = {"a": {"b": 1}, "s": "text", "n": None}
    assert values(document, "/missing") == []
    assert values(document, "/a/c") == []
    assert values(document, "/s/0") == []  # no walking into a string
    assert values(document, "/n/x") == []


def test_wildcard_names_every_member_and_element() -> None:
    document = {
        "steps": [{"sql": "SELECT 1"}, {"shell": "ls"}, {"sql": "DROP TABLE x"}],
        "meta": {"a": {"sql": "m1"}, "b": {"sql": "m2"}},
    }
    assert values(document, "/steps/*/sql") == ["SELECT 1", "DROP TABLE x"]
    assert values(document, "/meta/*/sql") == ["m1", "m2"]
    assert values(document, "/*/*/sql") == ["SELECT 1", "DROP TABLE x", "m1", "m2"]
    assert values(document, "/steps/*/nothing") == []
    assert values({"*": 1, "x": 2}, "/*") == [1, 2]


def test_a_pointer_starts_with_a_slash() -> None:
    with pytest.raises(ValueError, match="starts with '/'"):
        parse_pointer("command")
