"""Configuration in three steps: schema (shape), validation (every problem with its key
path, no I/O), loading (the YAML file, the files it names, secrets from env or files).

The engine and the CLI need only ``Config``, ``ConfigError`` and ``load_config``.
"""

from portcullis.config.load import load_config, parse_yaml, resolve_secret, resolve_secrets
from portcullis.config.schema import Config, SecretSource
from portcullis.config.validate import ConfigError, Problem, validate

__all__ = [
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
