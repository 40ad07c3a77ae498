"""Unit tests for portcullis.http.paths: the authorized path is the forwarded path."""

import pytest

from portcullis.http.paths import InvalidPath, normalize_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("//a///b", "/a/b"),
        ("/admin/%2e%2e/public", "/public"),
        ("/admin/%2E%2E/public", "/public"),
        ("/a/%2e/b", "/a/b"),
        ("/%41%62c", "/Abc"),
        ("/a%2Fb", "/a%2Fb"),
        ("/a%2fb", "/a%2Fb"),
        ("/a%252e%252e/b", "/a%252e%252e/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a/", "/a/"),
        ("/%7euser", "/~user"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a..b/c", "/a..b/c"),
    ],
)
def test_normalizes(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("raw", ["", "a/b", "/a\\b", "/a%00b", "/a\x00", "/a%zz", "/a%4", "/a%"])
def test_rejects_ambiguous_paths(raw: str) -> None:
    with pytest.raises(InvalidPath):
        normalize_path(raw)


def test_normalization_is_idempotent() -> None:
    for raw in ["/a/./b/../c", "//x//y", "/%2e%2e/%41", "/a%2fb/../c"]:
        once = normalize_path(raw)
        assert normalize_path(once) == once
