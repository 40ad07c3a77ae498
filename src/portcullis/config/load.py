"""Read a configuration file. (Minimal first version; see validate.py for messages.)"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from portcullis.config.schema import Config


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists every ``key.path: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path: str | Path) -> Config:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]) from None
