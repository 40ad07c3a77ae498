"""The CLI, in-process: ``main(argv)`` returns the exit status; output via capsys."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import portcullis
from portcullis.cli import ExitStatus, main
from portcullis.config import Config

EXAMPLE = Path(__file__).parent.parent / "examples" / "portcullis.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portcullis.yaml"
    path.write_text(text)
    return path


def test_check_ok_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "routes:\n"
        "  - {upstream: 'http://127.0.0.1:1'}\n"
        "  - {path: /api, upstream: 'http://127.0.0.1:2'}\n"
        "  - {host: a.example, upstream: 'http://127.0.0.1:3'}\n",
    )
    assert main(["check", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: OK (3 routes)\n"
    assert err == ""


def test_check_ok_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "routes: [{upstream: 'http://127.0.0.1:1'}]\n")
    assert main(["check", "--config", str(path)]) == ExitStatus.OK
    assert capsys.readouterr().out == f"{path}: OK (1 route)\n"


def test_check_prints_every_problem_with_its_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "routes:\n"
        "  - {path: /api, upstream: 'http://127.0.0.1:1'}\n"
        "  - {upstream: 'ftp://files'}\n"
        "  - {path: /api, upstrem: 'http://127.0.0.1:2'}\n"
        "  - {path: /api, upstream: 'http://127.0.0.1:3'}\n",
    )
    assert main(["check", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "routes[1].upstream: not an http(s) URL",
        "routes[2].upstream: required",
        "routes[2].upstrem: unknown key (did you mean 'upstream'?)",
        "routes[3]: duplicates routes[0] (host '*', path '/api')",
        f"{path}: 4 problems",
    ]


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.yaml"
    assert main(["check", "-c", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: cannot read: No such file or directory",
        f"{path}: 1 problem",
    ]


def test_check_duplicate_yaml_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "routes: []\nroutes: [{upstream: 'http://127.0.0.1:1'}]\n")
    assert main(["check", "-c", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "routes: duplicate key on line 2 (first set on line 1)",
        f"{path}: 1 problem",
    ]


def test_the_shipped_example_passes_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-c", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == f"{EXAMPLE}: OK (4 routes)\n"


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "routes" in schema["properties"]
    assert schema["required"] == ["routes"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["Route"]["required"] == ["upstream"]
    assert {k: v for k, v in schema.items() if k != "$schema"} == Config.model_json_schema()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"portcullis {portcullis.__version__}\n"


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "check", "schema"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["check"], "the following arguments are required: -c/--config"),
        (["launch"], "argument COMMAND: invalid choice: 'launch'"),
        (
            ["serve", "-c", "x.yaml", "--workers", "0"],
            "argument --workers: must be at least 1, got 0",
        ),
        (
            ["serve", "-c", "x.yaml", "--workers", "two"],
            "argument --workers: expected a whole number, got 'two'",
        ),
    ],
)
def test_usage_errors_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: portcullis")
    assert message in err


def test_serve_with_a_bad_config_exits_2_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "portcullis.runtime", None)  # importing it would fail
    path = write(tmp_path, "routes: [{upstream: 'http://127.0.0.1:1', public: maybe}]\n")
    assert main(["serve", "-c", str(path)]) == 2
    assert capsys.readouterr().err == "routes[0].public: expected true or false, got a string\n"


@pytest.mark.parametrize(("argv", "workers"), [([], None), (["--workers", "3"], 3)])
def test_serve_hands_the_config_to_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], workers: int | None
) -> None:
    calls: list[tuple[Config, dict[str, Any]]] = []

    def serve(config: Config, **kwargs: Any) -> int:
        calls.append((config, kwargs))
        return 7

    runtime = types.ModuleType("portcullis.runtime")
    runtime.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "portcullis.runtime", runtime)
    path = write(tmp_path, "routes: [{upstream: 'http://127.0.0.1:1'}]\n")
    assert main(["serve", "-c", str(path), *argv]) == 7
    ((config, kwargs),) = calls
    assert config.routes[0].upstream == "http://127.0.0.1:1"
    assert kwargs == {"workers": workers, "config_path": str(path)}
