"""The whole configuration's access policy, compiled once at load.

Every non-public route gets a :class:`RoutePolicy`: its ``rules``, or its ``allow``
shorthand (absent: any signed-in person) rewritten as rules. Problems in any route are
reported together, each with its key path.
"""

from __future__ import annotations

from dataclasses import dataclass

from portcullis.config.schema import Config, Route
from portcullis.ids import is_guid
from portcullis.policy.criterion import Context, PolicyError, PolicyProblem
from portcullis.policy.forwarding import GroupForwarding
from portcullis.policy.legacy import rules_from_allow
from portcullis.policy.route_policy import RoutePolicy, compile_rules

__all__ = ["Policy", "compile_policy", "compile_route"]


@dataclass(frozen=True, slots=True)
class Policy:
    """``routes[i]`` is the policy of ``config.routes[i]`` (None for public routes)."""

    routes: tuple[RoutePolicy | None, ...]
    referenced_groups: frozenset[str]
    forwarding: GroupForwarding  # groups and friendly names for the upstream


def compile_route(route: Route, index: int, ctx: Context) -> RoutePolicy | None:
    if route.public:
        return None
    path = f"routes[{index}]"
    local = Context(ctx.group_aliases, ctx.referenced_groups, route.case_insensitive)
    if route.rules is not None:
        return compile_rules(route.rules, local, f"{path}.rules", monitor=route.monitor)
    return compile_rules(
        rules_from_allow(route.allow), local, f"{path}.allow", monitor=route.monitor
    )


def compile_policy(config: Config) -> Policy:
    """Compile every route's rules; raises PolicyError listing every problem."""
    settings = config.policy
    aliases = {
        alias: (value.lower() if is_guid(value.lower()) else value)
        for alias, value in settings.groups.items()
    }
    ctx = Context(group_aliases=aliases)
    compiled: list[RoutePolicy | None] = []
    problems: list[PolicyProblem] = []
    for index, route in enumerate(config.routes):
        try:
            compiled.append(compile_route(route, index, ctx))
        except PolicyError as exc:
            problems.extend(exc.problems)
            compiled.append(None)
    if problems:
        raise PolicyError(problems)
    names = {**{guid: alias for alias, guid in aliases.items()}, **settings.names}
    referenced = frozenset(ctx.referenced_groups)
    forwarding = GroupForwarding(
        referenced if settings.forward_groups == "referenced" else None, names
    )
    for route_policy in compiled:
        if route_policy is not None:
            route_policy.forwarding = forwarding
    return Policy(tuple(compiled), referenced, forwarding)
