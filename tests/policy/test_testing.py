"""Policy test files: every problem with its key path; cases decided and compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portcullis.policy.explain import Caller
from portcullis.policy.testing import (
    Case,
    Expect,
    Suite,
    SuiteError,
    parse_suite,
    read_suite,
    render_result,
    run_suite,
)
from tests.policy.configs import NOW, claims, setup

ADMIN = {"path": "/admin", "rules": [{"name": "admins", "allow": {"roles": ["Admin"]}}]}
MONITORED = {
    "path": "/m",
    "rules": [
        {"name": "all", "allow": {"signed_in": True}},
        {"name": "no-posts", "deny": {"methods": ["POST"]}, "monitor": True},
    ],
}
NIGHT = {"path": "/night", "rules": [{"name": "night", "allow": {"time": {"from": "20:00"}}}]}


def case(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "admin",
        "request": {"method": "GET", "url": "https://portal.example.com/admin"},
        "identity": {"claims": claims(roles=["Admin"])},
        "expect": {"allow": True},
    }
    return {**base, **changes}


def problems(data: object) -> list[str]:
    with pytest.raises(SuiteError) as caught:
        parse_suite(data)
    return [str(p) for p in caught.value.problems]


def test_a_valid_file() -> None:
    suite = parse_suite(
        {
            "config": "portcullis.yaml",
            "time": "2027-01-15T08:00:00Z",
            "x-claims": {"anchors": "ignored"},
            "cases": [
                case(),
                case(
                    name="token",
                    request={"url": "/admin"},
                    identity={"claims": claims(scp="Read"), "via": "bearer"},
                    token={"acrs": ["c1"], "xms_cc": "cp1"},
                    source_ip="10.1.2.3",
                    time="2027-01-15T09:00:00+01:00",
                    expect={"allow": False, "reason": "insufficient-scope", "rule": "default"},
                ),
                case(name="anonymous", identity="anonymous", expect={"allow": False}),
            ],
        },
        base=Path("/tests"),
    )
    assert suite.config == Path("/tests/portcullis.yaml")
    assert suite.time == NOW
    first, token, anonymous = suite.cases
    assert (first.method, first.caller.via, first.expect) == ("GET", "session", Expect(True))
    assert (token.method, token.url, token.time, token.source_ip) == (
        "GET",
        "/admin",
        NOW,
        "10.1.2.3",
    )
    assert token.caller == Caller(claims(scp="Read"), "bearer", ("c1",), ("cp1",))
    assert token.expect == Expect(False, "insufficient-scope", "default")
    assert anonymous.caller == Caller()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], ["(top level): expected a mapping with config and cases"]),
        ({"cases": []}, ["cases: expected a non-empty list of test cases"]),
        (
            {"config": 3, "tests": [], "cases": [case()]},
            [
                "tests: unknown key; one of: config, time, cases",
                "config: expected the path of a configuration file",
            ],
        ),
        (
            {"time": "noon", "cases": [case()]},
            ["time: expected an ISO 8601 time such as 2027-01-15T08:00:00Z"],
        ),
        ({"cases": ["admin"]}, ["cases[0]: expected a mapping: name, request, identity, expect"]),
        ({"cases": [case(), case()]}, ["cases[1].name: duplicates cases[0].name"]),
        ({"cases": [case(name="")]}, ["cases[0].name: expected a name"]),
        (
            {"cases": [case(expect={"allow": "yes"})]},
            ["cases[0].expect.allow: expected true or false"],
        ),
        (
            {"cases": [case(expect=None)]},
            ["cases[0].expect: expected {allow, reason, rule, monitored}"],
        ),
        (
            {"cases": [case(expect={"allow": False, "reason": "nope", "rule": ""})]},
            [
                "cases[0].expect.reason: unknown reason 'nope'; one of: ",
                "cases[0].expect.rule: expected a rule name",
            ],
        ),
        (
            {"cases": [case(expect={"allow": True, "monitored": [1]})]},
            ["cases[0].expect.monitored[0]: expected a non-empty string"],
        ),
        (
            {"cases": [case(expect={"allow": True, "why": 1})]},
            ["cases[0].expect.why: unknown key; one of: allow, reason, rule, monitored"],
        ),
        (
            {"cases": [case(request={"method": "get", "url": ""})]},
            [
                "cases[0].request.method: expected an HTTP method in upper case, e.g. GET",
                "cases[0].request.url: expected a URL or a path, e.g. /admin",
            ],
        ),
        ({"cases": [case(request="/admin")]}, ["cases[0].request: expected {method, url}"]),
        (
            {"cases": [case(identity="alice")]},
            ["cases[0].identity: expected 'anonymous' or {claims, via}"],
        ),
        (
            {"cases": [case(identity={"claims": {}, "via": "cookie"})]},
            ["cases[0].identity.via: expected 'session' or 'bearer'"],
        ),
        (
            {"cases": [case(identity={"via": "bearer"})]},
            ["cases[0].identity.claims: expected the token's claims"],
        ),
        (
            {"cases": [case(identity={"claims": {"exp": "later"}})]},
            ["cases[0].identity.claims.exp: expected a whole number of seconds since the epoch"],
        ),
        (
            {"cases": [case(identity={"claims": ["oid"]})]},
            ["cases[0].identity.claims: expected a mapping of claim names to values"],
        ),
        (
            {"cases": [case(token={"acrs": ["c1"]})]},
            ["cases[0].token: only with identity.via: bearer"],
        ),
        (
            {"cases": [case(identity="anonymous", token={})]},
            ["cases[0].token: only with identity.via: bearer"],
        ),
        (
            {
                "cases": [
                    case(
                        identity={"claims": {}, "via": "bearer"},
                        token={"acr": "c1", "xms_cc": [""]},
                    )
                ]
            },
            [
                "cases[0].token.acr: unknown key; one of: acrs, xms_cc",
                "cases[0].token.xms_cc[0]: expected a non-empty string",
            ],
        ),
        ({"cases": [case(source_ip="office")]}, ["cases[0].source_ip: expected an IP address"]),
        (
            {"cases": [case(time="tomorrow")]},
            ["cases[0].time: expected an ISO 8601 time such as 2027-01-15T08:00:00Z"],
        ),
        (
            {"cases": [case(), case(name="two", expected={})]},
            [
                "cases[1].expected: unknown key; one of: name, request, identity, token, "
                "source_ip, time, expect"
            ],
        ),
    ],
)
def test_every_problem_with_its_key_path(data: object, expected: list[str]) -> None:
    found = problems(data)
    assert len(found) == len(expected), found
    for line, start in zip(found, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_problems_of_several_cases_are_reported_together() -> None:
    found = problems({"cases": [case(expect={}), case(name="b", source_ip="x")]})
    assert found == [
        "cases[0].expect.allow: expected true or false",
        "cases[1].source_ip: expected an IP address",
    ]


def test_read_suite(tmp_path: Path) -> None:
    path = tmp_path / "tests.yaml"
    path.write_text(
        "config: ../portcullis.yaml\n"
        "cases:\n"
        "  - {name: a, request: {url: /}, identity: anonymous, expect: {allow: false}}\n"
    )
    assert read_suite(path).config == tmp_path / "../portcullis.yaml"
    path.write_text("cases: [1]\ncases: [2]\n")
    with pytest.raises(SuiteError, match="cases"):
        read_suite(path)  # duplicate keys: a later one would silently win
    path.write_text("cases: [{name: a}]\n")
    with pytest.raises(SuiteError) as caught:
        read_suite(path)
    assert str(caught.value.problems[0]) == f"{path}: cases[0].request: expected {{method, url}}"
    with pytest.raises(SuiteError, match="cannot read"):
        read_suite(tmp_path / "missing.yaml")


def run(*cases: Case, time: float | None = None) -> list[Any]:
    s = setup(ADMIN, MONITORED, NIGHT)
    return list(run_suite(s, Suite(tuple(cases), None, time), now=NOW))


def a_case(name: str, url: str, caller: Caller, expect: Expect, **kw: Any) -> Case:
    return Case(name, kw.pop("method", "GET"), url, caller, expect, **kw)


def test_cases_pass_and_fail_on_each_expectation() -> None:
    admin = Caller(claims(roles=["Admin"]))
    results = run(
        a_case("ok", "/admin", admin, Expect(True, "signed-in", "admins")),
        a_case("allow", "/admin", Caller(claims()), Expect(True)),
        a_case("reason", "/admin", Caller(), Expect(False, "forbidden")),
        a_case("rule", "/admin", admin, Expect(True, rule="other")),
        a_case("monitored", "/m", admin, Expect(True, monitored=()), method="POST"),
        a_case("monitored-ok", "/m", admin, Expect(True, monitored=("no-posts",)), method="POST"),
    )
    assert [(r.case.name, r.mismatches) for r in results] == [
        ("ok", ()),
        ("allow", ("allow",)),
        ("reason", ("reason",)),
        ("rule", ("rule",)),
        ("monitored", ("monitored",)),
        ("monitored-ok", ()),
    ]
    assert render_result(results[0]) == ["PASS ok: allow (signed-in, rule admins)"]
    failed = render_result(results[1])
    assert failed[0] == (
        "FAIL allow: expected allow, got deny (forbidden, rule default): You need role in Admin."
    )
    assert failed[1:] == ["    allow rule admins: no match", "      fail: role in Admin"]
    assert render_result(results[4])[0] == (
        "FAIL monitored: expected allow, got allow (signed-in, rule all, monitored no-posts)"
    )


def test_the_clock_a_case_runs_at() -> None:
    evening = NOW + 13 * 3600  # 21:00 UTC: inside the night rule's window
    caller = Caller(claims())
    own = a_case("own", "/night", caller, Expect(True), time=evening)
    suite_time = a_case("suite", "/night", caller, Expect(True))
    assert [r.passed for r in run(own, suite_time)] == [True, False]  # `now` is 08:00
    assert [r.passed for r in run(own, suite_time, time=evening)] == [True, True]
