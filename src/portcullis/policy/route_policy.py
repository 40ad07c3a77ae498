"""One route's rules, compiled: ordered allow and deny rules; deny wins; default deny.

Rules (``routes[i].rules``) are mappings with exactly one of ``allow`` or ``deny`` (an
expression, see :mod:`portcullis.policy.expr`) and optionally ``name``, ``message``
(shown to a denied caller) and ``monitor`` (deny rules only: a match is recorded as
"would deny" and the request goes on). A route-level ``monitor: true`` lets every
request the policy would refuse pass, recorded likewise — for rolling out new rules.

Machines (app-only and agent tokens) are admitted only by an allow rule that names
them positively (``app_roles`` or ``clients``) and whose machine criterion holds:
never by a valid signature and audience alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from portcullis.decision import Reason
from portcullis.identity import Kind
from portcullis.policy.criterion import (
    Context,
    Criterion,
    Hint,
    PolicyError,
    PolicyProblem,
    Test,
    Tri,
)
from portcullis.policy.expr import Node, compile_expression
from portcullis.policy.facts import Facts
from portcullis.policy.forwarding import ALL_GROUPS
from portcullis.policy.verdict import Verdict

__all__ = ["RoutePolicy", "Rule", "compile_rules"]

_MACHINES = frozenset({Kind.APP, Kind.AGENT})
_RULE_KEYS = frozenset({"allow", "deny", "name", "message", "monitor"})
_MAX_MESSAGE = 200


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    effect: str  # "allow" or "deny"
    node: Node
    monitor: bool = False
    message: str = ""
    machine_test: Test | None = None  # allow rules naming machines: does that part hold?
    hints: tuple[Hint, ...] = ()
    requires: tuple[Criterion, ...] = ()  # its criteria outside any `not`, for messages


class RoutePolicy:
    """The compiled rules of one route; :meth:`decide` is pure and cheap."""

    __slots__ = (
        "_hinted",
        "allows",
        "denies",
        "forwarding",
        "monitor",
        "referenced_groups",
        "rules",
        "uses_groups",
    )

    def __init__(self, rules: Sequence[Rule], *, monitor: bool, groups: frozenset[str]) -> None:
        self.rules = tuple(rules)
        self.denies = tuple(r for r in rules if r.effect == "deny")
        self.allows = tuple(r for r in rules if r.effect == "allow")
        self.monitor = monitor
        self.referenced_groups = groups
        self.forwarding = ALL_GROUPS  # set for the whole policy by compile_policy
        self._hinted = any(r.hints for r in self.allows)
        self.uses_groups = any(c.name == "groups" for r in rules for c, _ in r.node.criteria())

    def decide(self, facts: Facts) -> Verdict:
        monitored: tuple[str, ...] = ()
        for rule in self.denies:
            result = rule.node.test(facts)
            if result is False:
                continue
            if rule.monitor:
                monitored += (rule.name,)
                continue
            return self._refuse(facts, rule, result, monitored)
        machine = facts.identity.kind in _MACHINES
        unknown = False
        for rule in self.allows:
            result = rule.node.test(facts)
            if result is True and (
                not machine or (rule.machine_test is not None and rule.machine_test(facts))
            ):
                return Verdict(True, _granted(facts), rule.name, monitored=monitored)
            unknown = unknown or result is None
        return self._refuse(facts, None, None if unknown else False, monitored)

    def explain(self, facts: Facts) -> Verdict:
        """The same decision, with every rule's and criterion's result in ``reasons``.

        :meth:`decide` leaves ``reasons`` empty: the trace costs more than the decision, so
        it is made only when someone reads it (``policy explain``, audit records of denials).
        """
        verdict = self.decide(facts)
        return replace(verdict, reasons=self._trace(facts))

    # denials ----------------------------------------------------------------------------------
    def _refuse(
        self, facts: Facts, rule: Rule | None, result: Tri, monitored: tuple[str, ...]
    ) -> Verdict:
        verdict = self._denial(facts, rule, result)
        if self.monitor:
            # Rolling out: record what the policy would have done, and let the request pass.
            return Verdict(
                True,
                _granted(facts),
                verdict.rule,
                verdict.message,
                monitored=(*monitored, f"{verdict.rule}: {verdict.reason.value}"),
            )
        return replace(verdict, monitored=monitored)

    def _denial(self, facts: Facts, rule: Rule | None, result: Tri) -> Verdict:
        refused = Reason.INSUFFICIENT_SCOPE if facts.token is not None else Reason.FORBIDDEN
        if rule is not None:
            if result is None:
                return Verdict(
                    False,
                    Reason.GROUPS_UNRESOLVED,
                    rule.name,
                    "group membership could not be resolved",
                )
            return Verdict(False, refused, rule.name, rule.message or "Access denied by policy.")
        if result is None:  # an allow rule could not tell
            return Verdict(
                False, Reason.GROUPS_UNRESOLVED, "default", "group membership could not be resolved"
            )
        hinted = self._hint(facts)
        if hinted is not None:
            return hinted
        return Verdict(False, refused, "default", self._requirements(facts))

    def _hint(self, facts: Facts) -> Verdict | None:
        """A rule that a fresh sign-in or an authentication context would satisfy."""
        if not self._hinted:
            return None
        if facts.identity.kind in _MACHINES and not any(
            h.kind == "auth-context" for r in self.allows for h in r.hints
        ):
            return None
        fresh = replace(facts, fresh=True)
        for rule in self.allows:
            if not rule.hints or rule.node.test(fresh) is not True:
                continue
            if facts.identity.kind in _MACHINES and not (
                rule.machine_test is not None and rule.machine_test(fresh)
            ):
                continue
            for hint in rule.hints:
                if hint.kind == "step-up":
                    return Verdict(
                        False,
                        Reason.STEP_UP,
                        rule.name,
                        "Please sign in again to continue.",
                        hint=hint,
                    )
            context = next(h for h in rule.hints if h.kind == "auth-context")
            token = facts.token
            message = f"Authentication context {context.value} is required."
            if token is not None and "cp1" in token.capabilities:
                return Verdict(False, Reason.INSUFFICIENT_CLAIMS, rule.name, message, hint=context)
            refused = Reason.INSUFFICIENT_SCOPE if token is not None else Reason.FORBIDDEN
            return Verdict(False, refused, rule.name, message)
        return None

    def _requirements(self, facts: Facts) -> str:
        """A short, safe sentence: what the closest allow rule(s) ask for."""
        if not self.allows:
            return "No rule allows access here."
        if facts.identity.kind in _MACHINES and not any(r.machine_test for r in self.allows):
            return "App-only tokens are not allowed here."
        told = [rule.message for rule in self.allows if rule.message]
        if told:  # the policy's authors said what it takes, in their words
            return " ".join(dict.fromkeys(told))
        needs: list[str] = []
        for rule in self.allows:
            failing = [c.summary for c in rule.requires if c.test(facts) is not True]
            if failing:
                needs.append(" and ".join(failing))
        if not needs:
            return "Access denied by policy."
        return "You need " + "; or ".join(dict.fromkeys(needs)) + "."

    def _trace(self, facts: Facts) -> tuple[str, ...]:
        lines: list[str] = []
        for rule in self.rules:
            result, detail = rule.node.explain(facts, 1)
            mode = " (monitor)" if rule.monitor else ""
            word = "matches" if result is True else ("unknown" if result is None else "no match")
            lines.append(f"{rule.effect} rule {rule.name}{mode}: {word}")
            lines += detail
        return tuple(lines)


def _granted(facts: Facts) -> Reason:
    return Reason.BEARER if facts.token is not None else Reason.SIGNED_IN


def compile_rules(rules: object, ctx: Context, path: str, *, monitor: bool = False) -> RoutePolicy:
    """Compile the ``rules`` list found at ``path``; raises PolicyError with every problem."""
    if not isinstance(rules, list):
        raise PolicyError([PolicyProblem(path, "expected a list of rules")])
    compiled: list[Rule] = []
    problems: list[PolicyProblem] = []
    names: dict[str, int] = {}
    local = Context(ctx.group_aliases, set(), ctx.case_insensitive)
    for index, entry in enumerate(rules):
        where = f"{path}[{index}]"
        try:
            rule = _compile_rule(entry, local, where, index)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        first = names.setdefault(rule.name, index)
        if first != index:
            problems.append(PolicyProblem(f"{where}.name", f"duplicates {path}[{first}].name"))
        compiled.append(rule)
    if problems:
        raise PolicyError(problems)
    ctx.referenced_groups |= local.referenced_groups
    groups = frozenset(local.referenced_groups)
    return RoutePolicy(compiled, monitor=monitor, groups=groups)


def _compile_rule(entry: object, ctx: Context, path: str, index: int) -> Rule:
    if not isinstance(entry, Mapping):
        raise PolicyError([PolicyProblem(path, "expected a rule: {allow: ...} or {deny: ...}")])
    problems = [
        PolicyProblem(f"{path}.{key}", "unknown key: allow, deny, name, message or monitor")
        for key in entry
        if key not in _RULE_KEYS
    ]
    effects = [key for key in ("allow", "deny") if key in entry]
    if len(effects) != 1:
        problems.append(PolicyProblem(path, "give exactly one of 'allow' or 'deny'"))
    name = entry.get("name", f"rules[{index}]")
    if not isinstance(name, str) or not name or len(name) > 64:
        problems.append(PolicyProblem(f"{path}.name", "expected a name of 1 to 64 characters"))
    message = entry.get("message", "")
    if not isinstance(message, str) or len(message) > _MAX_MESSAGE or "\n" in message:
        problems.append(
            PolicyProblem(f"{path}.message", "expected one line of at most 200 characters")
        )
    monitor = entry.get("monitor", False)
    if not isinstance(monitor, bool):
        problems.append(PolicyProblem(f"{path}.monitor", "expected true or false"))
    elif monitor and "allow" in entry:
        problems.append(
            PolicyProblem(
                f"{path}.monitor",
                "only deny rules can be monitored; set monitor on the route to roll out "
                "allow rules",
            )
        )
    node: Node | None = None
    if len(effects) == 1:
        try:
            node = compile_expression(entry[effects[0]], ctx, f"{path}.{effects[0]}")
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems or node is None:
        raise PolicyError(problems)
    machine_tests = tuple(c.test for c, positive in node.criteria() if positive and c.machines)
    return Rule(
        name=str(name),
        effect=effects[0],
        node=node,
        monitor=bool(monitor),
        message=str(message),
        machine_test=_any_true(machine_tests) if machine_tests else None,
        hints=tuple(c.hint for c, positive in node.criteria() if positive and c.hint),
        requires=tuple(c for c, positive in node.criteria() if positive),
    )


def _any_true(tests: tuple[Test, ...]) -> Test:
    def test(facts: Facts) -> Tri:
        return any(t(facts) is True for t in tests)

    return test
