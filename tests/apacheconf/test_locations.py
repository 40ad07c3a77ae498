"""Which Apache sections stand for which routes: host choice, precedence, path patterns."""

from __future__ import annotations

import re

import pytest

from portcullis.apacheconf.locations import GenerateError, pick_host, sections
from tests.apacheconf.configs import HOST, make_config, with_routes

UP = "http://127.0.0.1:1"


def test_the_only_host_named_is_picked() -> None:
    assert pick_host(make_config(), None) == HOST


def test_only_wildcard_routes_apply_to_every_host() -> None:
    assert pick_host(with_routes({"upstream": UP}), None) == ""


def test_several_hosts_need_the_host_flag() -> None:
    config = with_routes(
        {"host": "a.example", "upstream": UP}, {"host": "b.example", "upstream": UP}
    )
    with pytest.raises(GenerateError, match="--host"):
        pick_host(config, None)
    assert pick_host(config, "B.Example.") == "b.example"


@pytest.mark.parametrize("host", ["c.example", "*.example", "a b", ""])
def test_a_host_no_route_serves_is_refused(host: str) -> None:
    config = with_routes({"host": "a.example", "upstream": UP})
    with pytest.raises(GenerateError, match="--host"):
        pick_host(config, host)


def test_sections_are_shortest_first_so_that_apache_applies_the_longest() -> None:
    found = sections(make_config(), HOST)
    assert [s.prefix for s in found] == ["/", "/api", "/admin", "/static"]
    assert [s.index for s in found] == [3, 2, 1, 0]


def test_host_specificity_outranks_prefix_length_as_in_portcullis() -> None:
    """For host a, its own '/' beats the wildcard '/static': /static gets a's rule."""
    config = with_routes(
        {"host": "*", "path": "/static", "upstream": UP, "public": True},
        {"host": "a.example", "upstream": UP, "allow": {"roles": ["R"]}},
    )
    by_prefix = {s.prefix: s.index for s in sections(config, "a.example")}
    assert by_prefix == {"/": 1, "/static": 1}
    assert {s.prefix: s.index for s in sections(config, "b.example")} == {"/static": 0}


def test_prefixes_match_at_a_segment_boundary_like_portcullis() -> None:
    config = with_routes({"path": "/admin/", "upstream": UP})
    (section,) = sections(config, "")
    pattern = re.search(r'"(.*)"', section.open)
    assert pattern is not None
    regex = re.compile(pattern.group(1))
    assert regex.search("/admin") and regex.search("/admin/x")
    assert not regex.search("/adminx") and not regex.search("/x/admin")
    assert section.close == "</LocationMatch>"


def test_case_insensitive_routes_and_escaped_characters() -> None:
    config = with_routes(
        {"path": "/Reports.v1", "upstream": UP, "case_insensitive": True},
        {"path": "/a%20b", "upstream": UP},
    )
    opens = {s.prefix: s.open for s in sections(config, "")}
    assert opens["/Reports.v1"] == '<LocationMatch "(?i)^/Reports\\.v1(/|$)">'
    assert opens["/a%20b"] == '<LocationMatch "^/a\\x20b(/|$)">'


def test_root_route_is_a_plain_location() -> None:
    (section,) = sections(with_routes({"upstream": UP}), "")
    assert (section.open, section.close) == ('<Location "/">', "</Location>")
