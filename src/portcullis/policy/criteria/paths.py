"""``paths: ["/reports/*", "/api/**/export"]``: the normalized path the upstream receives.

Patterns are absolute; ``*`` matches within one segment, ``**`` any number of whole
segments (including none); everything else is literal. A pattern ending in ``/**``
matches the directory itself too. Matching is case-sensitive unless the route is
``case_insensitive``.
"""

from __future__ import annotations

import re

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list
from portcullis.policy.facts import Facts

NAME = "paths"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    patterns = string_list(value, path, what="path pattern")
    problems = [
        PolicyProblem(f"{path}[{i}]", f"{p!r} must start with '/'")
        for i, p in enumerate(patterns)
        if not p.startswith("/")
    ]
    if problems:
        raise PolicyError(problems)
    flags = re.IGNORECASE if ctx.case_insensitive else 0
    regex = re.compile("|".join(f"(?:{glob_regex(p)})" for p in patterns), flags)

    def test(facts: Facts) -> bool:
        return regex.fullmatch(facts.path) is not None

    return Criterion(NAME, test, "path matches " + ", ".join(patterns))


def glob_regex(pattern: str) -> str:
    """The regular expression (for ``fullmatch``) of one path pattern."""
    segments = pattern.split("/")[1:]
    out = []
    for index, segment in enumerate(segments):
        if segment == "**":
            # "/a/**" matches "/a" and "/a/..."; "/a/**/b" matches "/a/b" and "/a/x/y/b".
            out.append("(?:/.*)?" if index == len(segments) - 1 else "(?:/[^/]*)*")
        else:
            out.append("/" + "[^/]*".join(re.escape(part) for part in segment.split("*")))
    return "".join(out)
