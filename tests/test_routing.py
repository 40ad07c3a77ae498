"""Unit tests for portcullis.routing: host specificity, then longest prefix at a boundary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portcullis.config.schema import Route
from portcullis.routing import Router, host_matches


def _router(*routes: dict[str, Any]) -> Router[str]:
    return Router([Route.model_validate(r) for r in routes], lambda r: r.upstream)


def _up(router: Router[str], host: str, path: str = "/") -> str | None:
    target = router.match(host, path)
    return None if target is None else target.config.upstream


def test_host_wildcard_matches_at_dot_boundary_only() -> None:
    assert host_matches("*.example.com", "a.example.com")
    assert host_matches("*.example.com", "a.b.example.com")
    assert not host_matches("*.example.com", "badexample.com")
    assert not host_matches("*.example.com", "example.com")
    assert not host_matches("*.example.com", "example.com.evil")
    assert host_matches("*", "anything")
    assert host_matches("app.example.com", "app.example.com")
    assert not host_matches("app.example.com", "xapp.example.com")


def test_router_wildcard_matches_at_dot_boundary_only() -> None:
    router = _router({"host": "*.example.com", "upstream": "http://wild"})
    assert _up(router, "a.example.com") == "http://wild"
    assert _up(router, "a.b.example.com") == "http://wild"
    for host in ("badexample.com", "example.com", ".example.com", "example.com.evil", "com", ""):
        assert _up(router, host) is None, host


def test_prefix_matches_at_segment_boundary() -> None:
    router = _router(
        {"path": "/", "upstream": "http://root"},
        {"path": "/api", "upstream": "http://api"},
        {"path": "/api/v2/", "upstream": "http://v2"},
    )
    assert _up(router, "h", "/api") == "http://api"
    assert _up(router, "h", "/api/") == "http://api"
    assert _up(router, "h", "/api/x") == "http://api"
    assert _up(router, "h", "/apix") == "http://root"
    assert _up(router, "h", "/ap") == "http://root"
    assert _up(router, "h", "/api/v2") == "http://v2"
    assert _up(router, "h", "/api/v2/") == "http://v2"
    assert _up(router, "h", "/api/v2/a/b/c/d") == "http://v2"
    assert _up(router, "h", "/api/v20") == "http://api"
    assert _up(router, "h", "/API") == "http://root"  # case-sensitive by default


def test_slash_route_catches_every_path_of_its_host() -> None:
    router = _router(
        {"host": "app.example.com", "path": "/", "upstream": "http://all"},
        {"host": "app.example.com", "path": "/deep/er/still", "upstream": "http://deep"},
    )
    for path in ("/", "", "*", "/x", "/deep", "/deep/er", "/deep/er/stillx", "/a/b/c/d/e/f"):
        assert _up(router, "app.example.com", path) == "http://all", path
    assert _up(router, "app.example.com", "/deep/er/still/x") == "http://deep"
    assert _up(router, "other.example.com", "/") is None


def test_no_match_is_none() -> None:
    router = _router({"host": "app.example.com", "path": "/api", "upstream": "http://x"})
    assert router.match("app.example.com", "/") is None
    assert router.match("app.example.com", "/apix") is None
    assert router.match("other.example.com", "/api") is None


PRECEDENCE_ROUTES = (
    {"host": "*", "path": "/", "upstream": "http://any"},
    {"host": "*", "path": "/very/long/prefix", "upstream": "http://any-long"},
    {"host": "*.example.com", "path": "/", "upstream": "http://wild"},
    {"host": "*.example.com", "path": "/very/long", "upstream": "http://wild-long"},
    {"host": "*.b.example.com", "path": "/", "upstream": "http://wild-b"},
    {"host": "app.example.com", "path": "/only", "upstream": "http://exact"},
    {"host": "app.b.example.com", "path": "/only", "upstream": "http://exact-b"},
)
PRECEDENCE = [
    # host, path, upstream
    ("app.example.com", "/only/x", "http://exact"),
    ("app.example.com", "/other", "http://wild"),  # falls through to the wildcard
    ("app.example.com", "/very/long/prefix", "http://wild-long"),  # wildcard beats a longer '*'
    ("x.example.com", "/", "http://wild"),
    ("x.example.com", "/very/long/prefix/x", "http://wild-long"),
    ("x.b.example.com", "/very/long", "http://wild-b"),  # longer suffix beats a longer path
    ("app.b.example.com", "/only", "http://exact-b"),
    ("app.b.example.com", "/x", "http://wild-b"),
    ("b.example.com", "/", "http://wild"),  # '*.b.example.com' needs a label before 'b'
    ("badexample.com", "/", "http://any"),
    ("badexample.com", "/very/long/prefix/z", "http://any-long"),
    ("example.com", "/", "http://any"),
    ("", "/", "http://any"),
]


@pytest.mark.parametrize(("host", "path", "upstream"), PRECEDENCE)
def test_precedence(host: str, path: str, upstream: str) -> None:
    assert _up(_router(*PRECEDENCE_ROUTES), host, path) == upstream


def test_exact_host_beats_wildcard_even_with_a_shorter_path() -> None:
    router = _router(
        {"host": "*.example.com", "path": "/a/b/c", "upstream": "http://wild"},
        {"host": "app.example.com", "path": "/", "upstream": "http://exact"},
    )
    assert _up(router, "app.example.com", "/a/b/c/d") == "http://exact"
    assert _up(router, "x.example.com", "/a/b/c/d") == "http://wild"


def test_case_insensitive_route_matches_any_case() -> None:
    router = _router(
        {"path": "/", "upstream": "http://root"},
        {"path": "/admin", "case_insensitive": True, "upstream": "http://admin"},
        {"path": "/Docs", "upstream": "http://docs"},
    )
    for path in ("/admin", "/Admin/x", "/ADMIN/", "/aDmIn/Users/Bob"):
        assert _up(router, "h", path) == "http://admin", path
    assert _up(router, "h", "/Adminx") == "http://root"  # still a segment boundary
    assert _up(router, "h", "/Docs/a") == "http://docs"
    for path in ("/docs", "/DOCS/a", "/dOcs"):  # a case-sensitive route never matches another case
        assert _up(router, "h", path) == "http://root", path


def test_case_insensitive_and_sensitive_compete_by_length_then_order() -> None:
    router = _router(
        {"path": "/app", "case_insensitive": True, "upstream": "http://ci"},
        {"path": "/App/Admin", "upstream": "http://cs-long"},
        {"path": "/App", "upstream": "http://cs-same"},
        {"path": "/APP/ADMIN/deep", "case_insensitive": True, "upstream": "http://ci-deep"},
    )
    assert _up(router, "h", "/App/x") == "http://ci"  # equal length: listed first wins
    assert _up(router, "h", "/App/Admin/x") == "http://cs-long"  # longer wins
    assert _up(router, "h", "/app/admin/x") == "http://ci"  # cs-long needs its exact case
    assert _up(router, "h", "/app/admin/DEEP") == "http://ci-deep"
    assert _up(router, "h", "/App/Admin/deep/1") == "http://ci-deep"


def test_case_insensitive_slash_route_is_a_catch_all() -> None:
    router = _router({"path": "/", "case_insensitive": True, "upstream": "http://root"})
    assert _up(router, "h", "/ANY/Thing") == "http://root"


def test_route_targets_share_one_pool_per_origin_function() -> None:
    router = _router({"path": "/a", "upstream": "http://x"}, {"path": "/b", "upstream": "http://x"})
    assert [t.index for t in router.targets] == [0, 1]
    assert router.targets[0].pool == router.targets[1].pool == "http://x"


def test_host_cache_is_bounded() -> None:
    router = _router(
        {"host": "app.example.com", "upstream": "http://exact"},
        {"host": "*.example.com", "upstream": "http://wild"},
    )
    limit = 1 + Router._CACHE_MAX
    for n in range(3 * Router._CACHE_MAX):
        assert _up(router, f"h{n}.example.com") == "http://wild"
        assert len(router._cache) <= limit
    assert _up(router, "app.example.com") == "http://exact"
    assert _up(router, "elsewhere.org") is None


# -- equivalence with the linear reference ------------------------------------------------------


def _reference(routes: Sequence[Route], host: str, path: str) -> int | None:
    """The pre-index semantics: sort the host's candidates, take the first prefix that matches."""

    def prefix_matches(route: Route) -> bool:
        prefix, subject = route.path, path
        if route.case_insensitive:
            prefix, subject = prefix.lower(), subject.lower()
        if prefix in ("/", subject):
            return True
        base = prefix.rstrip("/")
        return subject.startswith(base + "/") or subject == base

    def key(item: tuple[int, Route]) -> tuple[int, int, int]:
        pattern = item[1].host
        rank = 2 if pattern == host else (1 if pattern.startswith("*.") else 0)
        return (rank, len(pattern), len(item[1].path.rstrip("/")))

    found = [(i, r) for i, r in enumerate(routes) if host_matches(r.host, host)]
    found.sort(key=key, reverse=True)
    return next((i for i, r in found if prefix_matches(r)), None)


LABELS = st.sampled_from(["a", "b", "ex", "com"])
SEGMENTS = st.sampled_from(["api", "Api", "API", "ap", "apix", "v1", "V1", "x", "v.2"])
names = st.lists(LABELS, min_size=1, max_size=3).map(".".join)
host_patterns = st.one_of(st.just("*"), names, names.map(lambda n: "*." + n))
prefixes = st.builds(
    lambda segs, slash: "/" + "/".join(segs) + ("/" if slash and segs else ""),
    st.lists(SEGMENTS, max_size=4),
    st.booleans(),
)
routes = st.lists(
    st.builds(
        lambda host, path, ci: Route(
            host=host, path=path, case_insensitive=ci, upstream="http://up"
        ),
        host_patterns,
        prefixes,
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)
request_hosts = st.one_of(
    names,
    st.lists(st.sampled_from(["a", "b", "ex", "com", ""]), max_size=5).map(".".join),
)
request_paths = st.one_of(
    st.lists(
        st.sampled_from(["api", "Api", "aPI", "ap", "apix", "v1", "V1", "x", "", "v.2", "V.2"])
    ).map(lambda segs: "/" + "/".join(segs)),
    st.sampled_from(["", "*", "api", "/"]),
)


def _aimed_at(route: Route, label: str, path: str, case: int) -> tuple[str, str]:
    """A request near ``route``: its host (a wildcard's with ``label``), its prefix + ``path``."""
    host = route.host if route.host != "*" else label
    if host.startswith("*."):  # 'x.example.com', '.example.com', 'a..example.com', 'xexample.com'
        host = label + host[2:] if label.endswith("!") else label + host[1:]
        host = host.replace("!", "x")
    path = route.path.rstrip("/") + path
    return host, path.upper() if case == 1 else path.lower() if case == 2 else path


@settings(max_examples=400, deadline=None)
@given(st.data(), routes)
def test_index_agrees_with_linear_reference(data: st.DataObject, config: list[Route]) -> None:
    labels = st.sampled_from(["a", "ex", "", "a.", "bad!"])
    aimed = st.builds(_aimed_at, st.sampled_from(config), labels, request_paths, st.integers(0, 2))
    requests = data.draw(st.lists(st.one_of(aimed, st.tuples(request_hosts, request_paths))))
    router = Router(config, lambda r: None)
    for host, path in requests:
        target = router.match(host, path)
        assert (None if target is None else target.index) == _reference(config, host, path)
