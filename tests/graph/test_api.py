"""The public names of ``portcullis.graph``, pinned: the gate and the config wiring import them."""

from __future__ import annotations

import portcullis.graph


def test_public_api() -> None:
    assert sorted(portcullis.graph.__all__) == [
        "GraphHttp",
        "GraphTokens",
        "GroupResolver",
        "GroupsResult",
        "Resolved",
        "Unresolved",
        "graph_scope",
        "token_endpoint",
    ]
    for name in portcullis.graph.__all__:
        value = getattr(portcullis.graph, name)
        if name != "GroupsResult":  # a union alias has no module
            assert value.__module__.startswith("portcullis.graph.")
