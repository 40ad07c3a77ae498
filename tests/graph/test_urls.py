"""Every URL the Graph client calls comes from configuration: scope, endpoints, paging links."""

from __future__ import annotations

import pytest

from portcullis.graph.urls import (
    check_graph_base,
    graph_link,
    graph_scope,
    member_objects_url,
    token_endpoint,
)

GRAPH = "https://graph.microsoft.com"
OID = "aaaaaaaa-1111-4111-8111-000000000001"
PATH = f"/v1.0/users/{OID}/getMemberObjects"


@pytest.mark.parametrize(
    ("base", "scope"),
    [
        ("https://graph.microsoft.com", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.com/", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us", "https://graph.microsoft.us/.default"),
        ("https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"),
        (
            "https://microsoftgraph.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
        ("https://Graph.Microsoft.US", "https://graph.microsoft.us/.default"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/.default"),
        ("https://gateway.example/graph", "https://gateway.example/.default"),
    ],
)
def test_the_scope_is_the_graph_origin_plus_default(base: str, scope: str) -> None:
    assert graph_scope(base) == scope


@pytest.mark.parametrize(
    "base",
    [
        "http://graph.microsoft.com",  # plain http off loopback
        "ftp://graph.microsoft.com",
        "https://user:pw@graph.microsoft.com",
        "https://graph.microsoft.com/?x=1",
        "https://graph.microsoft.com/#x",
        "https://graph.microsoft.com/a b",
        "https://graph.microsoft.com/%2e%2e",
        "graph.microsoft.com",
    ],
)
def test_bad_graph_base_urls_are_refused(base: str) -> None:
    with pytest.raises(ValueError, match="Graph base URL"):
        check_graph_base(base)


def test_the_token_endpoint_is_built_from_authority_and_tenant() -> None:
    tenant = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
    assert token_endpoint("https://login.microsoftonline.us/", tenant) == (
        "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    )
    assert token_endpoint("https://login.microsoftonline.com", "contoso.onmicrosoft.com").endswith(
        "/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    for bad in ("../evil", "a/b", "evil.example?x", "x@evil", "", ".."):
        with pytest.raises(ValueError):
            token_endpoint("https://login.microsoftonline.com", bad)


def test_member_objects_urls() -> None:
    assert member_objects_url(GRAPH, OID, "users") == f"{GRAPH}{PATH}"
    assert member_objects_url(GRAPH, OID, "directoryObjects") == (
        f"{GRAPH}/v1.0/directoryObjects/{OID}/getMemberObjects"
    )
    for bad in ("../me", f"{OID}/x", OID.upper(), ""):
        with pytest.raises(ValueError):
            member_objects_url(GRAPH, bad, "users")


@pytest.mark.parametrize(
    "link",
    [
        f"{GRAPH}{PATH}?$skiptoken=abc",
        f"https://GRAPH.microsoft.com{PATH}?$skiptoken=abc",
        f"https://graph.microsoft.com:443{PATH}?$skiptoken=abc",
        f"{GRAPH}/v1.0/users/{OID}/memberOf?$skiptoken=X'4453'",
    ],
)
def test_links_on_the_configured_graph_are_followed(link: str) -> None:
    followed = graph_link(GRAPH, link)
    assert followed is not None and followed.startswith(f"{GRAPH}/v1.0/")


def test_the_followed_url_is_rebuilt_from_the_configured_base() -> None:
    assert graph_link(GRAPH, f"HTTPS://GRAPH.MICROSOFT.COM:443{PATH}?$skiptoken=a") == (
        f"{GRAPH}{PATH}?$skiptoken=a"
    )


@pytest.mark.parametrize(
    "link",
    [
        f"https://evil.example{PATH}",
        f"https://graph.microsoft.com.evil.example{PATH}",
        f"https://graph.microsoft.com@evil.example{PATH}",
        f"https://graph.microsoft.com:pw@evil.example{PATH}",
        f"https://evil.example/{GRAPH}{PATH}",
        f"https://evil.example{PATH}?next={GRAPH}",
        f"http://graph.microsoft.com{PATH}",  # downgrade
        f"https://graph.microsoft.com:8443{PATH}",
        f"https://graph.microsoft.com:99999{PATH}",
        f"//evil.example{PATH}",
        f"{PATH}?$skiptoken=relative",
        f"{GRAPH}/beta/users/{OID}/getMemberObjects",
        f"{GRAPH}/v1.0x/users",
        f"{GRAPH}/v1.0/../beta/users",
        f"{GRAPH}/v1.0/users/%2e%2e/x",
        f"{GRAPH}/v1.0/users/a%2fb",
        f"{GRAPH}/v1.0/users//x",
        f"{GRAPH}\\@evil.example{PATH}",
        f"{GRAPH}{PATH}#frag",
        f"{GRAPH}{PATH}\r\nHost: evil",
        f"{GRAPH}{PATH}?x= y",
        f"{GRAPH}{PATH}?x={'a' * 5000}",
        "javascript:alert(1)",
        "",
        None,
        42,
    ],
)
def test_links_leaving_the_configured_graph_are_refused(link: object) -> None:
    assert graph_link(GRAPH, link) is None


def test_a_graph_base_with_a_path_keeps_links_under_it() -> None:
    base = "https://gateway.example/graph"
    assert graph_link(base, f"{base}{PATH}?$skiptoken=a") == f"{base}{PATH}?$skiptoken=a"
    assert graph_link(base, f"https://gateway.example{PATH}") is None
