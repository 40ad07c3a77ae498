"""``portcullis blocks list | lift`` on a store that guardrails wrote."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from portcullis.cli import main
from portcullis.guardrails.blocks import BlockStore
from tests.guardrails.stream import ALICE, BOB


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "portcullis.yaml"
    path.write_text(
        "routes:\n  - {path: /, upstream: 'http://127.0.0.1:9', public: true}\n"
        f"guardrails:\n  blocks: {{sqlite_path: '{tmp_path / 'blocks.db'}'}}\n"
    )
    return path


@pytest.fixture
def store(config: Path) -> BlockStore:
    store = BlockStore(config.parent / "blocks.db")
    now = time.time()
    store.block(ALICE, now=now, until=now + 3600, rule="probing", detail="5 denials")
    store.block(BOB, now=now, until=now + 600, rule="night", detail="request outside hours")
    return store


def run(*argv: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "portcullis", "blocks", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_lift_one_is_seen_by_a_running_worker(config: Path, store: BlockStore) -> None:
    status, out, _ = run("lift", "-c", str(config), ALICE)
    assert (status, out) == (0, f"lifted the block of {ALICE}\n")
    assert store.is_blocked(ALICE, time.time())  # until its next refresh
    store.refresh()
    assert not store.is_blocked(ALICE, time.time())
    assert store.is_blocked(BOB, time.time())


def test_lift_all(config: Path, store: BlockStore) -> None:
    assert run("lift", "--all", "-c", str(config))[:2] == (0, "lifted 2 blocks\n")
    store.refresh()
    assert store.active(time.time()) == []


def test_lifting_what_is_not_blocked(config: Path, store: BlockStore) -> None:
    status, _, err = run("lift", "-c", str(config), "https://idp.example#nobody")
    assert (status, err) == (1, "https://idp.example#nobody: not blocked\n")


def test_list(config: Path, store: BlockStore, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "list", "-c", str(config))
    lines = out.splitlines()
    assert status == 0
    assert lines[0].startswith("UNTIL (UTC)")
    assert [line.split()[3] for line in lines[1:]] == [BOB, ALICE]  # soonest end first
    assert "request outside hours" in lines[1]


def test_list_one_as_json(
    config: Path, store: BlockStore, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = cli(capsys, "list", "--json", "-c", str(config), BOB)
    assert status == 0
    (entry,) = [orjson.loads(line) for line in out.splitlines()]
    assert (entry["identity"], entry["rule"]) == (BOB, "night")


def test_nothing_blocked(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    BlockStore(config.parent / "blocks.db").close()
    assert cli(capsys, "list", "-c", str(config))[:2] == (0, "no blocks in force\n")


def test_no_store_yet(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "list", "-c", str(config))
    assert status == 2
    assert "no block store (guardrails.blocks.sqlite_path)" in err
    assert not (config.parent / "blocks.db").exists()  # listing does not create one


def test_a_config_without_guardrails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("routes:\n  - {path: /, upstream: 'http://127.0.0.1:9', public: true}\n")
    status, _, err = cli(capsys, "list", "-c", str(path))
    assert (status, err) == (2, "guardrails: not configured: there is no block store\n")


def test_a_config_that_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "list", "-c", str(tmp_path / "missing.yaml"))
    assert status == 2
    assert "missing.yaml: cannot read" in err


def test_usage_errors() -> None:
    assert main(["blocks", "lift", "-c", "x.yaml"]) == 2  # IDENTITY or --all
    assert main(["blocks", "lift", "-c", "x.yaml", ALICE, "--all"]) == 2


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["blocks", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err
