"""The Prometheus text format 0.0.4: lines, escaping, histograms."""

from __future__ import annotations

import math

import pytest

from portcullis.metrics.exposition import CONTENT_TYPE, Family, Sample, histogram, render


def test_counter_and_gauge_lines() -> None:
    text = render(
        [
            Family("x_total", "counter", "Things.", (Sample((("kind", "a"),), 3),)),
            Family("y", "gauge", "Level.", (Sample((), 1.5), Sample((("z", "1"),), -2))),
        ]
    )
    assert text == (
        b"# HELP x_total Things.\n"
        b"# TYPE x_total counter\n"
        b'x_total{kind="a"} 3\n'
        b"# HELP y Level.\n"
        b"# TYPE y gauge\n"
        b"y 1.5\n"
        b'y{z="1"} -2\n'
    )
    assert CONTENT_TYPE == b"text/plain; version=0.0.4; charset=utf-8"


def test_label_values_and_help_are_escaped() -> None:
    family = Family("a", "gauge", "help with \\ and\nnewline", (Sample((("l", 'q"b\\s\nn'),), 1),))
    lines = render([family]).decode().splitlines()
    assert lines[0] == "# HELP a help with \\\\ and\\nnewline"
    assert lines[2] == 'a{l="q\\"b\\\\s\\nn"} 1'


def test_special_numbers() -> None:
    family = Family(
        "n",
        "gauge",
        "h",
        tuple(Sample((("v", str(i)),), v) for i, v in enumerate([math.inf, -math.inf, math.nan])),
    )
    assert render([family]).decode().splitlines()[2:] == [
        'n{v="0"} +Inf',
        'n{v="1"} -Inf',
        'n{v="2"} NaN',
    ]


def test_histogram_buckets_are_cumulative() -> None:
    samples = histogram((("d", "allow"),), (0.1, 1.0), (2, 0, 1), 3.5)
    lines = render([Family("h", "histogram", "t", samples)]).decode().splitlines()[2:]
    assert lines == [
        'h_bucket{d="allow",le="0.1"} 2',
        'h_bucket{d="allow",le="1"} 2',
        'h_bucket{d="allow",le="+Inf"} 3',
        'h_sum{d="allow"} 3.5',
        'h_count{d="allow"} 3',
    ]
    with pytest.raises(ValueError, match="one bucket per bound"):
        histogram((), (0.1,), (1,), 0)


@pytest.mark.parametrize(
    ("name", "label"), [("bad-name", "ok"), ("ok", "bad-label"), ("ok", "__reserved")]
)
def test_names_are_checked(name: str, label: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        Family(name, "gauge", "h", (Sample(((label, "v"),), 1),))


def test_nothing_renders_nothing() -> None:
    assert render([]) == b""
