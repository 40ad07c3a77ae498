"""Microsoft Graph, as Portcullis uses it: group memberships for "groups overage" tokens.

An Entra token with too many groups omits ``groups`` (``Identity.groups_unknown``);
:class:`GroupResolver` looks them up with Portcullis' own app-only token
(:class:`GraphTokens`, client credentials) at the configured Graph URL only —
never at a URL named by the token. Answers are :class:`Resolved` or
:class:`Unresolved` (fail closed); both are cached per (tid, oid).

Modules: ``urls`` (every URL derived from configuration; paging-link guard),
``token`` (client-credentials tokens), ``transport`` (the HTTP edge), ``page``
(answer parsing and bounds), ``cache`` (TTL + LRU), ``groups`` (the resolver),
``result`` (the answer types).
"""

from __future__ import annotations

from portcullis.graph.groups import GroupResolver
from portcullis.graph.result import GroupsResult, Resolved, Unresolved
from portcullis.graph.token import GraphTokens
from portcullis.graph.transport import GraphHttp
from portcullis.graph.urls import graph_scope, token_endpoint

__all__ = [
    "GraphHttp",
    "GraphTokens",
    "GroupResolver",
    "GroupsResult",
    "Resolved",
    "Unresolved",
    "graph_scope",
    "token_endpoint",
]
