"""Doctor output: aligned lines and a summary, or JSON; the worst status wins."""

from __future__ import annotations

import json

from portcullis.doctor.report import Check, Status, overall, render_json, render_text

CHECKS = [
    Check("config", Status.OK, "valid"),
    Check("idp default: clock", Status.WARN, "off by 40 s"),
    Check("upstream http://x", Status.FAIL, "connection\nrefused"),
]


def test_text() -> None:
    assert render_text(CHECKS).splitlines() == [
        "OK    config              valid",
        "WARN  idp default: clock  off by 40 s",
        "FAIL  upstream http://x   connection refused",
        "FAIL: 1 ok, 1 warning, 1 failure",
    ]


def test_json() -> None:
    document = json.loads(render_json(CHECKS))
    assert document["status"] == "fail"
    assert document["checks"][2] == {
        "name": "upstream http://x",
        "status": "fail",
        "detail": "connection refused",
    }


def test_overall() -> None:
    assert overall([]) is Status.OK
    assert overall(CHECKS[:1]) is Status.OK
    assert overall(CHECKS[:2]) is Status.WARN
    assert overall(CHECKS) is Status.FAIL
