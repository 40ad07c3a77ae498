"""Unit tests for portcullis.routing: host specificity, then longest prefix at a boundary."""

from portcullis.config.schema import Route
from portcullis.routing import Router, host_matches


def _router(*routes: dict[str, str]) -> Router[str]:
    return Router([Route.model_validate(r) for r in routes], lambda r: r.upstream)


def test_host_wildcard_matches_at_dot_boundary_only() -> None:
    assert host_matches("*.example.com", "a.example.com")
    assert host_matches("*.example.com", "a.b.example.com")
    assert not host_matches("*.example.com", "badexample.com")
    assert not host_matches("*.example.com", "example.com")
    assert not host_matches("*.example.com", "example.com.evil")
    assert host_matches("*", "anything")
    assert host_matches("app.example.com", "app.example.com")
    assert not host_matches("app.example.com", "xapp.example.com")


def test_prefix_matches_at_segment_boundary() -> None:
    router = _router(
        {"path": "/", "upstream": "http://root"},
        {"path": "/api", "upstream": "http://api"},
        {"path": "/api/v2/", "upstream": "http://v2"},
    )
    assert router.match("h", "/api").config.upstream == "http://api"  # type: ignore[union-attr]
    assert router.match("h", "/api/x").config.upstream == "http://api"  # type: ignore[union-attr]
    assert router.match("h", "/apix").config.upstream == "http://root"  # type: ignore[union-attr]
    assert router.match("h", "/api/v2").config.upstream == "http://v2"  # type: ignore[union-attr]
    assert router.match("h", "/api/v2/a").config.upstream == "http://v2"  # type: ignore[union-attr]
    assert router.match("h", "/api/v20").config.upstream == "http://api"  # type: ignore[union-attr]


def test_exact_host_beats_wildcard_beats_any() -> None:
    router = _router(
        {"host": "*", "path": "/", "upstream": "http://any"},
        {"host": "*.example.com", "path": "/", "upstream": "http://wild"},
        {"host": "*.b.example.com", "path": "/", "upstream": "http://wild-b"},
        {"host": "app.example.com", "path": "/only", "upstream": "http://exact"},
    )

    def up(host: str, path: str = "/") -> str | None:
        target = router.match(host, path)
        return None if target is None else target.config.upstream

    assert up("app.example.com", "/only/x") == "http://exact"
    assert up("app.example.com", "/other") == "http://wild"  # falls through to the wildcard
    assert up("x.example.com") == "http://wild"
    assert up("x.b.example.com") == "http://wild-b"
    assert up("badexample.com") == "http://any"
    assert up("") == "http://any"


def test_no_match_is_none() -> None:
    router = _router({"host": "app.example.com", "path": "/api", "upstream": "http://x"})
    assert router.match("app.example.com", "/") is None
    assert router.match("other.example.com", "/api") is None


def test_route_targets_share_one_pool_per_origin_function() -> None:
    router = _router({"path": "/a", "upstream": "http://x"}, {"path": "/b", "upstream": "http://x"})
    assert [t.index for t in router.targets] == [0, 1]
    assert router.targets[0].pool == router.targets[1].pool == "http://x"
