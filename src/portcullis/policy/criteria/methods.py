"""``methods: [GET, HEAD]``: the request method."""

from __future__ import annotations

import re

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list
from portcullis.policy.facts import Facts

NAME = "methods"
_TOKEN = re.compile(r"^[A-Z][A-Z-]{0,31}$")


def compile(value: object, ctx: Context, path: str) -> Criterion:
    methods = string_list(value, path, what="HTTP method")
    problems = [
        PolicyProblem(f"{path}[{i}]", f"{m!r} is not an HTTP method (upper case, e.g. GET)")
        for i, m in enumerate(methods)
        if not _TOKEN.match(m)
    ]
    if problems:
        raise PolicyError(problems)
    wanted = frozenset(methods)

    def test(facts: Facts) -> bool:
        return facts.method in wanted

    return Criterion(NAME, test, "method in " + ", ".join(methods))
