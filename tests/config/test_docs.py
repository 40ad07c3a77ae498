"""docs/configuration.md stays in step with the schema and the shipped example."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from portcullis.config import Config, load_config
from portcullis.config.validate import _keys_at

ROOT = Path(__file__).parent.parent.parent
DOC = (ROOT / "docs" / "configuration.md").read_text()
EXAMPLE = ROOT / "examples" / "portcullis.yaml"


def keys(model: type[BaseModel], loc: tuple[str | int, ...] = ()) -> Iterator[str]:
    """Every key name in the schema, nested models and lists of models included."""
    for name in _keys_at(model, loc):
        yield name
        for inner in ((*loc, name), (*loc, name, 0)):
            if _keys_at(model, inner):
                yield from keys(model, inner)
                break


def test_every_key_is_documented() -> None:
    all_keys = list(keys(Config))
    assert {"listen", "cert_file", "max_url_bytes", "tls_ca_file", "connect"} <= set(all_keys)
    missing = [k for k in all_keys if f"`{k}`" not in DOC and f".{k}`" not in DOC]
    assert missing == []


def test_full_example_in_the_doc_is_the_shipped_example() -> None:
    block = re.search(r"## Full example\n\n```yaml\n(.*?)```", DOC, re.S)
    assert block is not None
    assert block.group(1) == EXAMPLE.read_text()


def test_shipped_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert [r.public for r in config.routes] == [True, False, False, False]
