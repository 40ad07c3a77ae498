"""The public names of ``portcullis.config``, pinned: the engine and the CLI import them."""

from __future__ import annotations

import portcullis.config


def test_public_api() -> None:
    assert sorted(portcullis.config.__all__) == [
        "Config",
        "ConfigError",
        "Problem",
        "SecretSource",
        "load_config",
        "parse_yaml",
        "resolve_secret",
        "resolve_secrets",
        "validate",
    ]
    for name in portcullis.config.__all__:
        assert getattr(portcullis.config, name).__module__.startswith("portcullis.config.")
