"""Body guardrails: how a body is taken (plan), strict JSON parsing, the JSON deny patterns."""

from __future__ import annotations

from typing import Any

import pytest

from portcullis.decision import Decision, Reason
from portcullis.guardrails.body import BodyGuard, Intake, parse_json
from portcullis.guardrails.request import RequestGuard
from portcullis.guardrails.request_schema import RouteGuardrails
from tests.guardrails.heads import JSON, head

DROP = {"json": {"pointer": "/command", "matches": r"(?i)\bdrop\s+table\b"}, "message": "No DDL."}


def guard(**settings: Any) -> BodyGuard:
    body = RequestGuard(RouteGuardrails.model_validate(settings)).body
    assert body is not None
    return body


def refusal(result: Decision | Intake | None) -> Decision:
    assert isinstance(result, Decision), result
    assert not result.allow
    return result


# plan: how the exchange takes the body ---------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json",
        b"Application/JSON; charset=utf-8",
        b"application/merge-patch+json",
        b"application/vnd.api+json",
    ],
)
def test_json_bodies_are_read_whole_to_be_checked(content_type: bytes) -> None:
    request = head("POST", headers=((b"Content-Type", content_type),), content_length=20)
    assert guard(deny=[DROP]).plan(request) is Intake.INSPECT


def test_a_body_without_content_type_is_read_as_json() -> None:
    assert guard(deny=[DROP]).plan(head("POST", content_length=20)) is Intake.INSPECT


@pytest.mark.parametrize(
    "content_type", [b"text/plain", b"application/x-www-form-urlencoded", b"text/json"]
)
def test_other_media_types_are_refused_where_json_patterns_apply(content_type: bytes) -> None:
    request = head("POST", headers=((b"Content-Type", content_type),), content_length=20)
    denied = refusal(guard(deny=[DROP]).plan(request))
    assert denied.reason is Reason.UNSUPPORTED_BODY
    assert denied.rule == "guardrails.json_only"


def test_one_other_media_type_among_several_is_enough_to_refuse() -> None:
    request = head("POST", headers=(*JSON, (b"Content-Type", b"text/plain")), content_length=20)
    assert refusal(guard(deny=[DROP]).plan(request)).reason is Reason.UNSUPPORTED_BODY


def test_json_only_false_streams_other_media_types_uninspected() -> None:
    request = head("POST", headers=((b"Content-Type", b"text/csv"),), content_length=20)
    assert guard(deny=[DROP], json_only=False).plan(request) is Intake.STREAM
    chunked = head("POST", headers=((b"Content-Type", b"text/csv"),), chunked=True)
    assert guard(deny=[DROP], json_only=False, max_body_bytes=10).plan(chunked) is Intake.LIMIT


def test_compressed_json_cannot_be_checked() -> None:
    request = head("POST", headers=(*JSON, (b"Content-Encoding", b"gzip")), content_length=20)
    assert refusal(guard(deny=[DROP]).plan(request)).reason is Reason.UNSUPPORTED_BODY
    plain = head("POST", headers=(*JSON, (b"Content-Encoding", b"identity")), content_length=20)
    assert guard(deny=[DROP]).plan(plain) is Intake.INSPECT


def test_a_declared_length_over_json_max_bytes_is_refused_before_reading() -> None:
    body = guard(deny=[DROP], json_max_bytes=100)
    assert body.plan(head("POST", headers=JSON, content_length=100)) is Intake.INSPECT
    denied = refusal(body.plan(head("POST", headers=JSON, content_length=101)))
    assert denied.reason is Reason.BODY_TOO_LARGE
    assert denied.rule == "guardrails.json_max_bytes"
    assert "100 bytes" in denied.detail


def test_the_read_cap_is_the_smaller_of_max_body_bytes_and_json_max_bytes() -> None:
    smaller_body = guard(deny=[DROP], json_max_bytes=1000, max_body_bytes=50)
    assert smaller_body.cap == 50
    assert smaller_body.cap_refusal.rule == "guardrails.max_body_bytes"
    smaller_json = guard(deny=[DROP], json_max_bytes=100, max_body_bytes=5000)
    assert smaller_json.cap == 100
    assert smaller_json.cap_refusal.rule == "guardrails.json_max_bytes"


def test_without_json_patterns_only_chunked_bodies_are_counted() -> None:
    body = guard(max_body_bytes=10)
    assert body.plan(head("POST", chunked=True)) is Intake.LIMIT
    # A declared length is checked with the head (RequestGuard.check); llhttp holds it to it.
    assert body.plan(head("POST", content_length=5)) is Intake.STREAM
    assert body.too_large.reason is Reason.BODY_TOO_LARGE


def test_no_body_guard_when_nothing_concerns_the_body() -> None:
    settings = RouteGuardrails.model_validate({"methods": ["GET"], "rate_limit": {"requests": 1}})
    assert RequestGuard(settings).body is None


# strict JSON -----------------------------------------------------------------------------------


def test_parse_json_reads_ordinary_json() -> None:
    assert parse_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"command": "ls", "command": "DROP TABLE x"}', "repeats a member name"),
        (b'{"a": {"b": 1, "b": 2}}', "repeats a member name"),
        (b'{"n": NaN}', "NaN"),
        (b'{"n": -Infinity}', "-Infinity"),
        (b'{"a": 1', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a byte order mark
        ('{"a": 1}'.encode("utf-16"), "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"1" * 5000, "not valid JSON"),  # beyond Python's integer string limit
    ],
)
def test_parse_json_refuses_what_parsers_disagree_on(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_json(body)


# JSON deny patterns ----------------------------------------------------------------------------


def test_a_matching_member_is_refused_with_the_patterns_message() -> None:
    denied = refusal(guard(deny=[DROP]).check_json(b'{"command": "drop  TABLE users"}'))
    assert denied.reason is Reason.GUARDRAIL
    assert denied.detail == "No DDL."
    assert denied.rule == "guardrails.deny[0]"


@pytest.mark.parametrize(
    "body",
    [
        b'{"command": "SELECT 1"}',
        b'{"other": "DROP TABLE x"}',  # another member
        b'{"command": {"sql": "DROP TABLE x"}}',  # as JSON text: matches, see below
        b"[]",
        b'"DROP TABLE x"',
    ],
)
def test_bodies_the_pattern_does_not_name(body: bytes) -> None:
    result = guard(deny=[DROP]).check_json(body)
    if body.startswith(b'{"command": {'):
        assert result is not None  # a non-string value is searched as its compact JSON text
    else:
        assert result is None


def test_wildcards_numbers_and_the_whole_body() -> None:
    body = guard(
        deny=[
            {"json": {"pointer": "/steps/*/sql", "matches": "(?i)drop"}, "message": "steps"},
            {"json": {"pointer": "/limit", "matches": r"^\d{5,}$"}, "message": "limit"},
            {"json": {"pointer": "", "matches": "rm -rf"}, "message": "anywhere", "name": "rmrf"},
        ]
    )
    assert refusal(body.check_json(b'{"steps": [{"sql": "x"}, {"sql": "Drop t"}]}')).detail == (
        "steps"
    )
    assert refusal(body.check_json(b'{"limit": 100000}')).detail == "limit"
    assert body.check_json(b'{"limit": 1000}') is None
    denied = refusal(body.check_json(b'{"a": {"b": ["rm -rf /"]}}'))
    assert (denied.detail, denied.rule) == ("anywhere", "rmrf")
    assert body.check_json(b'{"steps": [{"sql": "select"}], "limit": 5}') is None


def test_the_first_matching_pattern_decides() -> None:
    body = guard(
        deny=[
            {"json": {"pointer": "/a", "matches": "x"}, "message": "first"},
            {"json": {"pointer": "/a", "matches": "x"}, "message": "second"},
        ]
    )
    assert refusal(body.check_json(b'{"a": "x"}')).detail == "first"


def test_malformed_json_is_a_400_refusal_never_an_exception() -> None:
    denied = refusal(guard(deny=[DROP]).check_json(b'{"command": "ls", "command": "DROP TABLE"}'))
    assert denied.reason is Reason.MALFORMED_BODY
    assert refusal(guard(deny=[DROP]).check_json(b"{oops")).reason is Reason.MALFORMED_BODY
