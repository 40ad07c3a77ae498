"""``portcullis policy test``: YAML files of requests and the decisions they must get.

A test file names a configuration (``config``, relative to the test file) and lists
``cases``; ``time`` (ISO 8601) pins the clock for every case that does not set its own::

    config: portcullis.yaml
    time: 2027-01-15T09:00:00Z
    cases:
      - name: an admin with MFA opens /admin
        request: {method: GET, url: https://portal.example.com/admin/users}
        identity:
          via: session                      # or bearer; default session
          claims: {tid: ..., oid: ..., roles: [Portal.Admin], amr: [pwd, mfa]}
        expect: {allow: true, rule: admins}
      - name: nobody signed in
        request: {url: https://portal.example.com/admin}
        identity: anonymous
        expect: {allow: false, reason: unauthenticated}

Top-level keys starting with ``x-`` are ignored: a place to define YAML anchors (claims
shared by several cases). A case may also give ``token: {acrs: [...], xms_cc: [...]}``
(bearer only), ``source_ip`` and ``time``. ``expect`` needs ``allow``; ``reason`` (a reason code),
``rule`` (the deciding rule's name) and ``monitored`` are checked when given. Each case is
decided by :func:`portcullis.policy.explain.evaluate`. :func:`parse_suite` reports every
problem of a file with its key path (``cases[3].expect.allow: expected true or false``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from portcullis.config import ConfigError, Problem, parse_yaml
from portcullis.policy.explain import (
    REASON_CODES,
    VIAS,
    Caller,
    Outcome,
    PolicySetup,
    claims_problems,
    evaluate,
    parse_time,
)

__all__ = [
    "Case",
    "CaseResult",
    "Expect",
    "Suite",
    "SuiteError",
    "parse_suite",
    "read_suite",
    "render_result",
    "run_suite",
]

_TOP_KEYS = ("config", "time", "cases")
_CASE_KEYS = ("name", "request", "identity", "token", "source_ip", "time", "expect")
_REQUEST_KEYS = ("method", "url")
_IDENTITY_KEYS = ("claims", "via")
_TOKEN_KEYS = ("acrs", "xms_cc")
_EXPECT_KEYS = ("allow", "reason", "rule", "monitored")
_METHOD = re.compile(r"^[A-Z][A-Z-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Expect:
    allow: bool
    reason: str | None = None
    rule: str | None = None
    monitored: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    method: str
    url: str
    caller: Caller
    expect: Expect
    source_ip: str = ""
    time: float | None = None


@dataclass(frozen=True, slots=True)
class Suite:
    cases: tuple[Case, ...]
    config: Path | None = None  # already relative to the test file's directory
    time: float | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    outcome: Outcome
    mismatches: tuple[str, ...]  # what differs from ``expect``; empty: passed

    @property
    def passed(self) -> bool:
        return not self.mismatches


class SuiteError(Exception):
    """A test file that cannot be run; ``problems`` lists each with its key path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def read_suite(path: Path) -> Suite:
    """Read and check the test file at ``path`` (the I/O edge of this module).

    Its problems name the file: ``tests.yaml: cases[3].expect.allow: expected true or false``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SuiteError([Problem(str(path), f"cannot read: {reason}")]) from None
    try:
        return parse_suite(parse_yaml(text, source=str(path)), base=path.parent)
    except ConfigError as exc:  # not YAML: its problems name the file
        raise SuiteError(exc.problems) from None
    except SuiteError as exc:
        raise SuiteError([Problem(f"{path}: {p.path}", p.message) for p in exc.problems]) from None


def parse_suite(data: object, *, base: Path = Path()) -> Suite:
    """The suite in ``data`` (a parsed test file); raises SuiteError listing every problem."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise SuiteError([Problem("(top level)", "expected a mapping with config and cases")])
    _unknown({k: v for k, v in data.items() if not _extension(k)}, _TOP_KEYS, "", problems)
    config = data.get("config")
    if config is not None and (not isinstance(config, str) or not config):
        problems.append(Problem("config", "expected the path of a configuration file"))
    default_time = _time(data, "time", "time", problems)
    cases = data.get("cases")
    parsed: list[Case] = []
    if not isinstance(cases, list) or not cases:
        problems.append(Problem("cases", "expected a non-empty list of test cases"))
    else:
        names: dict[str, int] = {}
        for index, entry in enumerate(cases):
            case = _case(entry, f"cases[{index}]", problems)
            if case is None:
                continue
            first = names.setdefault(case.name, index)
            if first != index:
                problems.append(Problem(f"cases[{index}].name", f"duplicates cases[{first}].name"))
            parsed.append(case)
    if problems:
        raise SuiteError(problems)
    where = base / config if isinstance(config, str) else None
    return Suite(tuple(parsed), where, default_time)


def _case(entry: object, path: str, problems: list[Problem]) -> Case | None:
    if not isinstance(entry, Mapping):
        problems.append(Problem(path, "expected a mapping: name, request, identity, expect"))
        return None
    before = len(problems)
    _unknown(entry, _CASE_KEYS, path, problems)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(f"{path}.name", "expected a name"))
        name = ""
    method, url = _request(entry.get("request"), f"{path}.request", problems)
    caller = _caller(entry, path, problems)
    source_ip = entry.get("source_ip", "")
    if not isinstance(source_ip, str) or not _is_address(source_ip):
        problems.append(Problem(f"{path}.source_ip", "expected an IP address"))
    moment = _time(entry, "time", f"{path}.time", problems)
    expect = _expect(entry.get("expect"), f"{path}.expect", problems)
    if len(problems) > before or caller is None or expect is None:
        return None
    return Case(name, method, url, caller, expect, str(source_ip), moment)


def _request(value: object, path: str, problems: list[Problem]) -> tuple[str, str]:
    if not isinstance(value, Mapping):
        problems.append(Problem(path, "expected {method, url}"))
        return "", ""
    _unknown(value, _REQUEST_KEYS, path, problems)
    method = value.get("method", "GET")
    if not isinstance(method, str) or not _METHOD.match(method):
        problems.append(
            Problem(f"{path}.method", "expected an HTTP method in upper case, e.g. GET")
        )
    url = value.get("url")
    if not isinstance(url, str) or not url:
        problems.append(Problem(f"{path}.url", "expected a URL or a path, e.g. /admin"))
    return str(method), str(url)


def _caller(entry: Mapping[object, object], path: str, problems: list[Problem]) -> Caller | None:
    value = entry.get("identity")
    where = f"{path}.identity"
    token = entry.get("token")
    if value == "anonymous":
        if token is not None:
            problems.append(Problem(f"{path}.token", "only with identity.via: bearer"))
        return Caller()
    if not isinstance(value, Mapping):
        problems.append(Problem(where, "expected 'anonymous' or {claims, via}"))
        return None
    _unknown(value, _IDENTITY_KEYS, where, problems)
    via = value.get("via", "session")
    if via not in VIAS:
        problems.append(Problem(f"{where}.via", "expected 'session' or 'bearer'"))
    claims = value.get("claims")
    if claims is None:
        problems.append(Problem(f"{where}.claims", "expected the token's claims"))
        return None
    for key, message in claims_problems(claims):
        problems.append(Problem(f"{where}.claims{'.' + key if key else ''}", message))
    acrs = xms_cc = None
    if token is not None:
        if via != "bearer":
            problems.append(Problem(f"{path}.token", "only with identity.via: bearer"))
        elif not isinstance(token, Mapping):
            problems.append(Problem(f"{path}.token", "expected {acrs, xms_cc}"))
        else:
            _unknown(token, _TOKEN_KEYS, f"{path}.token", problems)
            acrs = _strings(token, "acrs", f"{path}.token", problems)
            xms_cc = _strings(token, "xms_cc", f"{path}.token", problems)
    if not isinstance(claims, Mapping):
        return None
    return Caller(dict(claims), str(via), acrs, xms_cc)


def _expect(value: object, path: str, problems: list[Problem]) -> Expect | None:
    if not isinstance(value, Mapping):
        problems.append(Problem(path, "expected {allow, reason, rule, monitored}"))
        return None
    _unknown(value, _EXPECT_KEYS, path, problems)
    allow = value.get("allow")
    if not isinstance(allow, bool):
        problems.append(Problem(f"{path}.allow", "expected true or false"))
    reason = value.get("reason")
    if reason is not None and reason not in REASON_CODES:
        known = ", ".join(sorted(REASON_CODES))
        problems.append(Problem(f"{path}.reason", f"unknown reason {reason!r}; one of: {known}"))
    rule = value.get("rule")
    if rule is not None and (not isinstance(rule, str) or not rule):
        problems.append(Problem(f"{path}.rule", "expected a rule name"))
    monitored = _strings(value, "monitored", path, problems, empty=True)
    if not isinstance(allow, bool):
        return None
    return Expect(
        allow,
        reason if isinstance(reason, str) else None,
        rule if isinstance(rule, str) else None,
        monitored,
    )


def _strings(
    value: Mapping[object, object],
    key: str,
    path: str,
    problems: list[Problem],
    *,
    empty: bool = False,
) -> tuple[str, ...] | None:
    found = value.get(key)
    if found is None:
        return None
    items = [found] if isinstance(found, str) else found
    if not isinstance(items, list) or (not items and not empty):
        problems.append(Problem(f"{path}.{key}", "expected a list of strings"))
        return None
    bad = [i for i, item in enumerate(items) if not isinstance(item, str) or not item]
    problems.extend(Problem(f"{path}.{key}[{i}]", "expected a non-empty string") for i in bad)
    return tuple(str(item) for item in items)


def _time(
    value: Mapping[object, object], key: str, path: str, problems: list[Problem]
) -> float | None:
    found = value.get(key)
    if found is None:
        return None
    try:
        return parse_time(found)
    except ValueError as exc:
        problems.append(Problem(path, str(exc)))
        return None


def _unknown(
    value: Mapping[object, object], known: tuple[str, ...], path: str, problems: list[Problem]
) -> None:
    prefix = f"{path}." if path else ""
    problems.extend(
        Problem(f"{prefix}{key}", f"unknown key; one of: {', '.join(known)}")
        for key in value
        if key not in known
    )


def _extension(key: object) -> bool:
    """``x-...`` keys at the top are free: a place for YAML anchors (``&alice``)."""
    return isinstance(key, str) and key.startswith("x-")


def _is_address(text: str) -> bool:
    if not text:
        return True  # no address: every source_ip criterion fails
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# running ---------------------------------------------------------------------------------------
def run_suite(setup: PolicySetup, suite: Suite, *, now: float) -> tuple[CaseResult, ...]:
    """Decide every case (at its own time, the suite's, or ``now``) and compare."""
    results = []
    for case in suite.cases:
        moment = case.time if case.time is not None else suite.time
        outcome = evaluate(
            setup,
            case.method,
            case.url,
            case.caller,
            now=moment if moment is not None else now,
            source_ip=case.source_ip,
        )
        results.append(CaseResult(case, outcome, _mismatches(case.expect, outcome)))
    return tuple(results)


def _mismatches(expect: Expect, outcome: Outcome) -> tuple[str, ...]:
    found: list[str] = []
    if expect.allow != outcome.allow:
        found.append("allow")
    if expect.reason is not None and expect.reason != outcome.reason:
        found.append("reason")
    if expect.rule is not None and expect.rule != outcome.rule:
        found.append("rule")
    if expect.monitored is not None and expect.monitored != outcome.monitored:
        found.append("monitored")
    return tuple(found)


def render_result(result: CaseResult) -> list[str]:
    """``PASS name: ...`` or ``FAIL name: expected ..., got ...``, and a failure's trace."""
    outcome = result.outcome
    got = _describe(outcome.allow, outcome.reason, outcome.rule, outcome.monitored)
    message = f": {outcome.message}" if outcome.message else ""
    if result.passed:
        return [f"PASS {result.case.name}: {got}{message}"]
    expect = result.case.expect
    wanted = _describe(expect.allow, expect.reason, expect.rule, expect.monitored)
    lines = [f"FAIL {result.case.name}: expected {wanted}, got {got}{message}"]
    return lines + [f"    {line}" for line in outcome.reasons]


def _describe(
    allow: bool, reason: str | None, rule: str | None, monitored: tuple[str, ...] | None
) -> str:
    details = [reason] if reason else []
    if rule:
        details.append(f"rule {rule}")
    if monitored:
        details.append("monitored " + "; ".join(monitored))
    shown = f" ({', '.join(details)})" if details else ""
    return ("allow" if allow else "deny") + shown
