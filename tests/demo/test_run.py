"""The ``make demo`` config is a valid Portcullis config with a public route to the app."""

from __future__ import annotations

from portcullis.config.schema import Config
from portcullis.demo.run import demo_config


def test_demo_config_is_valid() -> None:
    config = Config.model_validate(demo_config(8081, 4180))
    assert config.listen.port == 4180
    [route] = config.routes
    assert route.public
    assert route.upstream == "http://127.0.0.1:8081"
