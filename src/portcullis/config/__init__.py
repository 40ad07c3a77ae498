"""Configuration: schema (shape), validation (problems with key paths), loading (files, env)."""

from portcullis.config.load import ConfigError, load_config
from portcullis.config.schema import Config

__all__ = ["Config", "ConfigError", "load_config"]
