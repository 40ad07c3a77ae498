"""Reading what a running Portcullis audited, through ``portcullis audit query``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["AUDIT", "audit_query", "wait_for_records"]

AUDIT = [sys.executable, "-m", "portcullis", "audit"]


def audit_query(config_path: Path, *args: str) -> list[dict[str, Any]]:
    """The records ``audit query -c config_path --json ARGS`` prints (oldest first)."""
    done = subprocess.run(
        [*AUDIT, "query", "-c", str(config_path), "--json", "--limit", "10000", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def wait_for_records(
    config_path: Path, *args: str, count: int = 1, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """:func:`audit_query` until it finds ``count`` records (records are written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        found = audit_query(config_path, *args)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
