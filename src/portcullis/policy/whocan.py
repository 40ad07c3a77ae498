"""``portcullis policy who-can``: who may reach a method and URL, read from the rules.

Pure. The request's own criteria (``methods``, ``paths``, and ``via`` when the route
accepts one kind of credential) are evaluated; everything about the caller is kept
symbolic and each rule is reduced to what it still asks for: "role in Portal.Admin and
multi-factor sign-in". Time windows and source addresses stay as conditions. For each
identity kind (``user``, ``obo``, ``app``, ``agent``) the analysis also says whether any
rule can admit it, following the engine: ``roles`` and ``scopes`` hold for people only,
``app_roles`` for machines only, and machines pass only a rule that names them
(``app_roles`` or ``clients``). Deny rules are listed as exceptions; one that holds for
every caller of a kind shuts that kind out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from portcullis.bearer.principal import TokenFacts
from portcullis.identity import Identity, Kind
from portcullis.policy.criterion import Criterion, Tri
from portcullis.policy.explain import Located, PolicySetup, locate
from portcullis.policy.expr import Node
from portcullis.policy.facts import Facts
from portcullis.policy.route_policy import Rule

__all__ = ["Access", "RuleAccess", "access_json", "render_access", "who_can"]

_KINDS = (Kind.USER, Kind.ON_BEHALF_OF, Kind.APP, Kind.AGENT)
_MACHINES = frozenset({Kind.APP, Kind.AGENT})
_PEOPLE = frozenset({Kind.USER, Kind.ON_BEHALF_OF})
_REQUEST_CRITERIA = frozenset({"methods", "paths"})
_GRANT_ORDER = ("signed in", "roles", "groups", "scopes", "app roles", "client apps", "tenants")
_NOBODY = Identity(issuer="", subject="")
_TOKEN = TokenFacts(None, None, 0, None, (), ())


@dataclass(frozen=True, slots=True)
class Sym:
    """A rule's expression with everything known about the request folded away."""

    op: str  # "leaf", "all", "any" or "not"
    criterion: Criterion | None = None
    children: tuple[Expr, ...] = ()


Expr = bool | Sym
Known = Callable[[Criterion], Tri]  # None: stays symbolic


@dataclass(frozen=True, slots=True)
class RuleAccess:
    """One rule, for this request: whether it can apply, and what it still asks for."""

    name: str
    effect: str  # "allow" or "deny"
    applies: bool  # can apply to this method and path
    condition: str  # what the caller must (allow) or must not (deny) satisfy
    always: bool  # applies to every caller (no condition left)
    kinds: tuple[str, ...]  # allow: the kinds it can admit; deny: the kinds it shuts out
    grants: tuple[tuple[str, tuple[str, ...]], ...]  # e.g. ("roles", ("Portal.Admin",))
    qualifiers: tuple[str, ...]  # other criteria that must hold: mfa, source address, time ...
    exceptions: tuple[str, ...]  # criteria that must not hold (under "not")
    monitor: bool = False


@dataclass(frozen=True, slots=True)
class Access:
    """Who can reach one method and URL: ``who`` is "everyone", "nobody" or "some"."""

    request: Located
    who: str
    why: str
    accept: tuple[str, ...] = ()
    monitor: bool = False
    allows: tuple[RuleAccess, ...] = ()
    denies: tuple[RuleAccess, ...] = ()
    kinds: tuple[str, ...] = ()
    grants: tuple[tuple[str, tuple[str, ...]], ...] = ()
    machines: str = ""


def who_can(setup: PolicySetup, method: str, url: str) -> Access:
    where = locate(setup, method, url)
    route = where.route
    if where.path is None:
        return Access(where, "nobody", f"the path is invalid ({where.problem}): 400")
    if route is None:
        return Access(where, "nobody", "no route matches this host and path: 404")
    if route.public:
        return Access(where, "everyone", "public route: no sign-in needed")
    if setup.config.auth is None:
        return Access(where, "nobody", "no identity provider is configured (fail closed)")
    compiled = setup.policy.routes[route.index]
    assert compiled is not None  # every route that is not public has a policy
    accept = tuple(route.config.accept)
    display = _Display(setup)
    reachable = _reachable(accept)
    request = _Env(method, where.path, _channel(accept, None), None, reachable)
    envs = {k: _Env(method, where.path, _channel(accept, k), k, (k,)) for k in reachable}

    def shut_out(kind: Kind) -> bool:
        env = envs[kind]
        return any(not r.monitor and simplify(r.node, env.known) is True for r in compiled.denies)

    denies = tuple(
        _rule_access(
            r, request, [k for k in envs if simplify(r.node, envs[k].known) is True], display
        )
        for r in compiled.denies
    )
    allows = tuple(
        _rule_access(r, request, [k for k in envs if _admits(r, envs[k])], display)
        for r in compiled.allows
    )
    kinds = tuple(
        k.value
        for k in envs
        if not shut_out(k) and any(k.value in a.kinds for a in allows if a.applies)
    )
    blocking = [d.name for d in denies if d.applies and d.always and not d.monitor]
    useful = [a for a in allows if a.applies and set(a.kinds) & set(kinds)]
    if blocking:
        who, why = "nobody", f"deny rule {blocking[0]} refuses every caller here"
    elif not useful:
        who, why = "nobody", f"no allow rule admits anyone to {method} {where.path}"
    else:
        who, why = "some", "callers who satisfy one of the allow rules below"
    return Access(
        where,
        who,
        why,
        accept,
        compiled.monitor,
        allows,
        denies,
        kinds,
        _merge(a.grants for a in useful),
        _machines(accept, [a.name for a in useful if set(a.kinds) & {"app", "agent"}]),
    )


def _admits(rule: Rule, env: _Env) -> bool:
    assert env.kind is not None
    if env.kind in _MACHINES and rule.machine_test is None:
        return False
    return simplify(rule.node, env.known) is not False


def _rule_access(rule: Rule, request: _Env, kinds: list[Kind], display: _Display) -> RuleAccess:
    reduced = simplify(rule.node, request.known)
    applies = reduced is not False
    shown = reduced if applies else simplify(rule.node, lambda c: None)
    grants: dict[str, list[str]] = {}
    qualifiers: list[str] = []
    exceptions: list[str] = []
    for criterion, positive in _leaves(shown):
        if not positive:
            exceptions.append("not " + display.summary(criterion))
        elif criterion.grants:
            for what, values in criterion.grants:
                grants.setdefault(what, []).extend(display.values(what, values))
        else:
            qualifiers.append(display.summary(criterion))
    return RuleAccess(
        rule.name,
        rule.effect,
        applies,
        display.expression(shown),
        reduced is True,
        tuple(k.value for k in kinds) if applies else (),
        tuple((what, tuple(dict.fromkeys(values))) for what, values in grants.items()),
        tuple(dict.fromkeys(qualifiers)),
        tuple(dict.fromkeys(exceptions)),
        rule.monitor,
    )


def _merge(
    grant_lists: Iterator[tuple[tuple[str, tuple[str, ...]], ...]],
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    merged: dict[str, dict[str, None]] = {}
    for grants in grant_lists:
        for what, values in grants:
            merged.setdefault(what, {}).update(dict.fromkeys(values))
    order = [w for w in _GRANT_ORDER if w in merged] + [w for w in merged if w not in _GRANT_ORDER]
    return tuple((what, tuple(merged[what])) for what in order if what != "kinds")


def _machines(accept: tuple[str, ...], admitting: list[str]) -> str:
    if "bearer" not in accept:
        return "refused: this route takes browser sessions only, and machines have none"
    if not admitting:
        return "refused: no rule that applies here names app_roles or clients"
    rules = ", ".join(admitting)
    return f"admitted only by rule {rules} (naming app_roles or clients)"


# the reduction ---------------------------------------------------------------------------------
def simplify(node: Node, known: Known) -> Expr:
    """``node`` with each criterion ``known`` answers replaced by its value, then folded."""
    if node.leaf is not None:
        value = known(node.leaf)
        return Sym("leaf", node.leaf) if value is None else value
    children = [simplify(child, known) for child in node.children]
    if node.op == "not":
        (child,) = children
        return (not child) if isinstance(child, bool) else Sym("not", children=(child,))
    absorbing = node.op == "any"  # one true member decides `any`; one false member `all`
    if any(child is absorbing for child in children):
        return absorbing
    rest = tuple(child for child in children if not isinstance(child, bool))
    if not rest:
        return not absorbing
    return rest[0] if len(rest) == 1 else Sym(node.op, children=rest)


def _leaves(expr: Expr, positive: bool = True) -> Iterator[tuple[Criterion, bool]]:
    if isinstance(expr, bool):
        return
    if expr.criterion is not None:
        yield expr.criterion, positive
    for child in expr.children:
        yield from _leaves(child, positive != (expr.op == "not"))


@dataclass(frozen=True, slots=True)
class _Env:
    """What is known: the request, the credential (if the route takes one kind), the kind."""

    method: str
    path: str
    channel: str | None
    kind: Kind | None
    kinds: tuple[Kind, ...]  # the kinds that can reach the route at all

    def known(self, criterion: Criterion) -> Tri:
        name, kind = criterion.name, self.kind
        if name == "kinds":
            held = {
                criterion.test(Facts(Identity(issuer="", subject="", kind=k))) for k in self.kinds
            }
            return held.pop() if len(held) == 1 else None
        if name in _REQUEST_CRITERIA or name == "signed_in":
            return criterion.test(Facts(_NOBODY, self.method, self.path))
        if name == "via" and self.channel is not None:
            token = _TOKEN if self.channel == "bearer" else None
            return criterion.test(Facts(_NOBODY, token=token))
        if name == "scopes" and (self.channel == "session" or kind in _MACHINES):
            return False  # sessions and machines carry no delegated scopes
        if name == "auth_context" and self.channel == "session":
            return False  # only tokens carry authentication contexts
        if kind is None:
            return None
        if name == "roles" and kind in _MACHINES:
            return False
        if name == "app_roles" and kind in _PEOPLE:
            return False
        return None


def _reachable(accept: tuple[str, ...]) -> tuple[Kind, ...]:
    """Only people sign in with a browser; on-behalf-of callers and machines send tokens."""
    return tuple(k for k in _KINDS if "bearer" in accept or k is Kind.USER)


def _channel(accept: tuple[str, ...], kind: Kind | None) -> str | None:
    if kind is not None and kind is not Kind.USER:
        return "bearer"
    return accept[0] if len(accept) == 1 else None


# output ----------------------------------------------------------------------------------------
class _Display:
    """Criteria for people: group aliases and friendly names next to the ids."""

    def __init__(self, setup: PolicySetup) -> None:
        settings = setup.config.policy
        self._aliases = dict(settings.groups)
        self._names = {
            **{guid.lower(): alias for alias, guid in settings.groups.items()},
            **{key.lower(): name for key, name in settings.names.items()},
        }

    def values(self, what: str, values: tuple[str, ...]) -> list[str]:
        if what != "groups":
            return list(values)
        shown = []
        for value in values:
            if value in self._aliases:
                shown.append(f"{value} ({self._aliases[value]})")
            elif value.lower() in self._names:
                shown.append(f"{value} ({self._names[value.lower()]})")
            else:
                shown.append(value)
        return shown

    def summary(self, criterion: Criterion) -> str:
        for what, values in criterion.grants:
            if what == "groups":
                return "member of " + ", ".join(self.values(what, values))
        return criterion.summary

    def expression(self, expr: Expr) -> str:
        if expr is True:
            return "no further condition"
        if expr is False:
            return "never"
        return self._text(expr)

    def _text(self, expr: Expr) -> str:
        assert isinstance(expr, Sym)
        if expr.criterion is not None:
            return self.summary(expr.criterion)
        if expr.op == "not":
            return "not " + self._wrapped(expr.children[0], "not")
        joiner = " and " if expr.op == "all" else " or "
        return joiner.join(self._wrapped(child, expr.op) for child in expr.children)

    def _wrapped(self, expr: Expr, outer: str) -> str:
        text = self._text(expr)
        inner = expr.op if isinstance(expr, Sym) else "leaf"
        if inner in ("leaf", "not") or (inner == outer and outer != "not"):
            return text
        return f"({text})"


def render_access(access: Access) -> list[str]:
    where = access.request
    lines = [f"request   {where.method} {where.url}"]
    lines.append(f"path      {where.path}" if where.path is not None else "path      (invalid)")
    route = where.route
    if route is not None:
        config = route.config
        lines.append(f"route     routes[{route.index}]: host {config.host}, path {config.path}")
    if access.accept:
        lines.append("accepts   " + ", ".join(access.accept))
    lines.append(f"who       {access.who}: {access.why}")
    if access.monitor:
        lines.append("monitor   on: requests the rules refuse still pass, recorded as would deny")
    applying = [a for a in access.allows if a.applies]
    if applying:
        lines.append("allowed by")
        for rule in applying:
            kinds = ", ".join(rule.kinds) or "nobody"
            lines.append(f"  rule {rule.name} ({kinds}): {rule.condition}")
    exceptions = [d for d in access.denies if d.applies]
    if exceptions:
        lines.append("except (deny rules)")
        for rule in exceptions:
            mode = " (monitor: recorded only)" if rule.monitor else ""
            lines.append(f"  rule {rule.name}{mode}: refuses if {rule.condition}")
    idle = [r for r in (*access.allows, *access.denies) if not r.applies]
    if idle:
        lines.append(f"not for {where.method} {where.path}")
        lines += [f"  {r.effect} rule {r.name}: {r.condition}" for r in idle]
    if access.who == "some":
        lines.append("summary")
        lines.append(f"  kinds        {', '.join(access.kinds)}")
        lines += [f"  {what:<12} {', '.join(values)}" for what, values in access.grants]
    if access.machines:
        lines.append(f"machines  {access.machines}")
    return lines


def access_json(access: Access) -> dict[str, Any]:
    where = access.request
    route = where.route
    return {
        "request": {"method": where.method, "url": where.url, "host": where.host},
        "path": where.path,
        "route": (
            {"index": route.index, "host": route.config.host, "path": route.config.path}
            if route is not None
            else None
        ),
        "who": access.who,
        "why": access.why,
        "accept": list(access.accept),
        "monitor": access.monitor,
        "kinds": list(access.kinds),
        "grants": {what: list(values) for what, values in access.grants},
        "machines": access.machines,
        "allow_rules": [_rule_json(r) for r in access.allows],
        "deny_rules": [_rule_json(r) for r in access.denies],
    }


def _rule_json(rule: RuleAccess) -> dict[str, Any]:
    return {
        "name": rule.name,
        "applies": rule.applies,
        "condition": rule.condition,
        "kinds": list(rule.kinds),
        "grants": {what: list(values) for what, values in rule.grants},
        "qualifiers": list(rule.qualifiers),
        "exceptions": list(rule.exceptions),
        "monitor": rule.monitor,
    }
