"""Loading: YAML safety, duplicate keys, files named by the config, secrets from env/files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from portcullis.config import (
    ConfigError,
    SecretSource,
    load_config,
    parse_yaml,
    resolve_secret,
    resolve_secrets,
)
from portcullis.config.load import _check_files, _rebase
from portcullis.secret import Secret

VALUE = "s3cr3t-value-never-printed"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(tmp_path: Path, text: str, name: str = "portcullis.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def load_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def test_loads_a_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        listen: {port: 8443}
        routes:
          - host: app.example.com
            upstream: http://127.0.0.1:8080/
            public: true
        """,
    )
    config = load_config(path)
    assert config.listen.port == 8443
    assert config.routes[0].upstream == "http://127.0.0.1:8080"
    assert config.routes[0].public is True


def test_accepts_str_and_pathlike(tmp_path: Path) -> None:
    path = write(tmp_path, "routes: [{upstream: 'http://127.0.0.1:1'}]\n")
    assert load_config(str(path)) == load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert load_problems(path) == [f"{path}: cannot read: No such file or directory"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"routes: [{upstream: 'http://caf\xe9'}]\n")
    assert load_problems(path) == [f"{path}: not UTF-8 text"]


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "routes:\n  - upstream: [http://x\nlog: {}\n")
    (problem,) = load_problems(path)
    assert problem.startswith(f"{path}: invalid YAML on line 3, column 4: ")


def test_several_documents_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\n---\nb: 2\n", source="x.yaml")
    assert [str(p) for p in info.value.problems] == [
        "x.yaml: invalid YAML on line 2, column 1: but found another document"
    ]


def test_safe_loader_refuses_python_tags() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", source="x.yaml")
    (problem,) = info.value.problems
    assert problem.path == "x.yaml"
    assert "could not determine a constructor" in problem.message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "an integer")],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    assert load_problems(path) == [
        f"{path}: the top level must be a mapping of settings, got {kind}",
    ]


def test_empty_file_needs_routes(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    assert load_problems(path) == ["routes: required"]


def test_duplicate_keys_name_path_and_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        listen:
          port: 80
          port: 81
        routes:
          - upstream: http://127.0.0.1:1
            path: /a
            path: /b
          - {upstream: "http://127.0.0.1:2", public: true, public: false}
        listen: {}
        """,
    )
    assert load_problems(path) == [
        "listen.port: duplicate key on line 3 (first set on line 2)",
        "routes[0].path: duplicate key on line 7 (first set on line 6)",
        "routes[1].public: duplicate key on line 8 (first set on line 8)",
        "listen: duplicate key on line 9 (first set on line 1)",
    ]


def test_duplicate_keys_are_reported_with_validation_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        log: {level: info, level: loud}
        routes: [{upstream: "ftp://x"}]
        """,
    )
    assert load_problems(path) == [
        "log.level: duplicate key on line 1 (first set on line 1)",
        "log.level: expected 'debug', 'info', 'warning' or 'error', got 'loud'",
        "routes[0].upstream: not an http(s) URL",
    ]


def test_anchors_and_merge_keys_are_not_duplicates() -> None:
    data = parse_yaml(
        textwrap.dedent(
            """
            defaults: &defaults {upstream: "http://127.0.0.1:1", public: true}
            routes:
              - <<: *defaults
                path: /a
              - <<: *defaults
                public: false
            """
        )
    )
    assert data == {
        "defaults": {"upstream": "http://127.0.0.1:1", "public": True},
        "routes": [
            {"upstream": "http://127.0.0.1:1", "public": True, "path": "/a"},
            {"upstream": "http://127.0.0.1:1", "public": False},
        ],
    }


def test_tls_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text(PEM)
    (tmp_path / "key.der").write_bytes(b"\x30\x82\x01\x00")
    path = write(
        tmp_path,
        """
        listen:
          tls: {cert_file: cert.pem, key_file: key.der}
        routes:
          - {upstream: "https://a.internal", tls_ca_file: /nonexistent/ca.pem}
          - {upstream: "https://b.internal", tls_ca_file: certs, path: /b}
        """,
    )
    (tmp_path / "certs").mkdir()
    assert load_problems(path) == [
        f"listen.tls.key_file: '{tmp_path}/key.der' is not a PEM file (no '-----BEGIN' line)",
        "routes[0].tls_ca_file: cannot read '/nonexistent/ca.pem': No such file or directory",
        f"routes[1].tls_ca_file: cannot read '{tmp_path}/certs': Is a directory",
    ]


def test_relative_paths_become_absolute_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    for name in ("cert.pem", "key.pem", "ca.pem"):
        (conf / name).write_text(PEM)
    write(
        conf,
        f"""
        listen: {{tls: {{cert_file: cert.pem, key_file: {conf}/key.pem}}}}
        routes: [{{upstream: "https://a.internal", tls_ca_file: ca.pem}}]
        """,
    )
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("etc") / "portcullis.yaml")
    assert config.listen.tls is not None
    assert config.listen.tls.cert_file == f"{conf}/cert.pem"
    assert config.listen.tls.key_file == f"{conf}/key.pem"
    assert config.routes[0].tls_ca_file == f"{conf}/ca.pem"


# --- secrets -------------------------------------------------------------------


def resolve_problems(source: SecretSource, key_path: str = "auth.client_secret") -> list[str]:
    with pytest.raises(ConfigError) as info:
        resolve_secret(source, key_path=key_path)
    found = [str(p) for p in info.value.problems]
    assert not any(VALUE in p for p in found)
    return found


def test_secret_from_inline_value() -> None:
    secret = resolve_secret(SecretSource(value=VALUE), key_path="k")  # type: ignore[arg-type]
    assert secret == Secret(VALUE)


def test_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTCULLIS_TEST_SECRET", VALUE)
    secret = resolve_secret(SecretSource(env="PORTCULLIS_TEST_SECRET"), key_path="k")
    assert isinstance(secret, Secret)
    assert secret.reveal() == VALUE


def test_secret_from_missing_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTCULLIS_TEST_SECRET", raising=False)
    assert resolve_problems(SecretSource(env="PORTCULLIS_TEST_SECRET")) == [
        "auth.client_secret.env: environment variable PORTCULLIS_TEST_SECRET is not set"
    ]


def test_secret_from_empty_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTCULLIS_TEST_SECRET", "")
    assert resolve_problems(SecretSource(env="PORTCULLIS_TEST_SECRET")) == [
        "auth.client_secret.env: environment variable PORTCULLIS_TEST_SECRET is empty"
    ]


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_secret_from_file_drops_one_trailing_newline(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(f"{VALUE}{ending}".encode())
    assert resolve_secret(SecretSource(file=str(path)), key_path="k").reveal() == VALUE


def test_secret_file_keeps_other_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(f" {VALUE}\n\n")
    assert resolve_secret(SecretSource(file=str(path)), key_path="k").reveal() == f" {VALUE}\n"


def test_secret_from_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    assert resolve_problems(SecretSource(file=str(path))) == [
        f"auth.client_secret.file: cannot read secret file '{path}': No such file or directory"
    ]


def test_secret_from_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("\n")
    assert resolve_problems(SecretSource(file=str(path))) == [
        f"auth.client_secret.file: secret file '{path}' is empty"
    ]


def test_secret_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(VALUE.encode() + b"\xff")
    assert resolve_problems(SecretSource(file=str(path))) == [
        f"auth.client_secret.file: secret file '{path}' is not UTF-8 text"
    ]


def test_rotation_list_keeps_order_and_reports_every_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_KEY", "new")
    monkeypatch.delenv("GONE_KEY", raising=False)
    (tmp_path / "old").write_text("old\n")
    sources = [SecretSource(env="NEW_KEY"), SecretSource(file=str(tmp_path / "old"))]
    assert resolve_secrets(sources, key_path="keys") == (Secret("new"), Secret("old"))
    broken = [SecretSource(env="GONE_KEY"), *sources, SecretSource(file="/nonexistent/k")]
    with pytest.raises(ConfigError) as info:
        resolve_secrets(broken, key_path="keys")
    assert [str(p) for p in info.value.problems] == [
        "keys[0].env: environment variable GONE_KEY is not set",
        "keys[3].file: cannot read secret file '/nonexistent/k': No such file or directory",
    ]


class Holder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_secret: SecretSource
    keys: list[SecretSource]


def test_every_secret_source_in_a_config_is_checked_and_rebased(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GONE_KEY", raising=False)
    (tmp_path / "key").write_text(VALUE)
    holder = Holder(
        client_secret=SecretSource(env="GONE_KEY"),
        keys=[SecretSource(file="key"), SecretSource(file="absent")],
    )
    rebased = _rebase(holder, tmp_path)
    assert rebased.keys[0].file == f"{tmp_path}/key"
    assert holder.keys[0].file == "key"
    assert [str(p) for p in _check_files(rebased)] == [
        "client_secret.env: environment variable GONE_KEY is not set",
        f"keys[1].file: cannot read secret file '{tmp_path}/absent': No such file or directory",
    ]


# -- !include -------------------------------------------------------------------------------


def _include_config(tmp_path: Path, rules_ref: str = "!include policy/admin.yaml") -> Path:
    return write(
        tmp_path,
        f"""
        routes:
          - path: /admin
            upstream: http://127.0.0.1:8080
            rules: {rules_ref}
        policy:
          groups: !include policy/groups.yaml
        """,
    )


def test_include_reads_rules_and_aliases_from_their_own_files(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    write(tmp_path / "policy", "- {name: admins, allow: {groups: [admins]}}\n", "admin.yaml")
    write(tmp_path / "policy", "admins: 9a6c0d1e-0000-4000-8000-000000000001\n", "groups.yaml")
    config = load_config(_include_config(tmp_path))
    assert config.routes[0].rules == [{"name": "admins", "allow": {"groups": ["admins"]}}]
    assert config.policy.groups == {"admins": "9a6c0d1e-0000-4000-8000-000000000001"}


def test_a_rule_error_in_an_included_file_names_the_key_path(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    write(tmp_path / "policy", "- {allow: {groups: [nobody]}}\n", "admin.yaml")
    write(tmp_path / "policy", "{}\n", "groups.yaml")
    problems = load_problems(_include_config(tmp_path))
    assert any(p.startswith("routes[0].rules[0].allow.groups[0]:") for p in problems), problems


def test_a_missing_include_is_reported(tmp_path: Path) -> None:
    problems = load_problems(_include_config(tmp_path))
    assert any("!include policy/admin.yaml" in p and "cannot read" in p for p in problems)


def test_an_include_cycle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "!include b.yaml\n", "a.yaml")
    write(tmp_path, "!include a.yaml\n", "b.yaml")
    problems = load_problems(_include_config(tmp_path, "!include a.yaml"))
    assert any("cycle" in p for p in problems), problems


def test_duplicate_keys_in_an_included_file_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    write(tmp_path / "policy", "[]\n", "admin.yaml")
    write(tmp_path / "policy", "a: x\na: y\n", "groups.yaml")
    problems = load_problems(_include_config(tmp_path))
    assert any("groups.yaml: a: duplicate key" in p for p in problems), problems


def test_include_is_refused_outside_a_file() -> None:
    with pytest.raises(ConfigError, match="only in configuration files"):
        parse_yaml("routes: !include x.yaml\n")
