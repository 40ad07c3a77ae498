"""The Prometheus text exposition format, version 0.0.4 — pure: families in, bytes out.

One ``# HELP`` and one ``# TYPE`` line per family, then its samples, one per line:
``name{label="value",...} number``. Label values escape ``\\``, ``"`` and newlines; help
text escapes ``\\`` and newlines. Histograms are written as cumulative ``_bucket`` samples
(ending with ``le="+Inf"``), ``_sum`` and ``_count``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CONTENT_TYPE", "Family", "Labels", "Sample", "histogram", "render"]

CONTENT_TYPE: Final = b"text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float
    suffix: str = ""  # "_bucket", "_sum" or "_count" in a histogram


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    type: Literal["counter", "gauge", "histogram"]
    help: str
    samples: tuple[Sample, ...]

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"{self.name!r} is not a metric name")
        for sample in self.samples:
            for label, _ in sample.labels:
                if not _LABEL.match(label) or label.startswith("__"):
                    raise ValueError(f"{label!r} is not a label name")


def histogram(
    labels: Labels, bounds: Sequence[float], buckets: Sequence[int], total: float
) -> tuple[Sample, ...]:
    """The samples of one histogram series: ``buckets`` are per-bucket counts (last: +Inf)."""
    if len(buckets) != len(bounds) + 1:
        raise ValueError("one bucket per bound, and one more for +Inf")
    samples = []
    running = 0
    for bound, count in zip((*bounds, math.inf), buckets, strict=True):
        running += count
        samples.append(Sample((*labels, ("le", _number(bound))), running, "_bucket"))
    samples.append(Sample(labels, total, "_sum"))
    samples.append(Sample(labels, running, "_count"))
    return tuple(samples)


def render(families: Iterable[Family]) -> bytes:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for sample in family.samples:
            name = family.name + sample.suffix
            if sample.labels:
                pairs = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels)
                name = f"{name}{{{pairs}}}"
            lines.append(f"{name} {_number(sample.value)}")
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
