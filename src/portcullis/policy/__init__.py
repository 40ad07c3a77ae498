"""The policy language: per-route allow/deny rules over identity and request criteria.

Compiled once at load (:func:`compile_policy`), decided per request with no I/O and the
clock passed in (:meth:`RoutePolicy.decide`), explained on demand
(:meth:`RoutePolicy.explain`).
"""

from portcullis.policy.compile import Policy, compile_policy, compile_route
from portcullis.policy.criterion import Context, Hint, PolicyError, PolicyProblem
from portcullis.policy.facts import Facts
from portcullis.policy.route_policy import RoutePolicy, Rule, compile_rules
from portcullis.policy.verdict import Verdict

__all__ = [
    "Context",
    "Facts",
    "Hint",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "RoutePolicy",
    "Rule",
    "Verdict",
    "compile_policy",
    "compile_route",
    "compile_rules",
]
