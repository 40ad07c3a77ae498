"""Secret: the value never shows in repr, str, f-strings, model reprs, logs or pickles."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
from pydantic import BaseModel, ConfigDict

from portcullis.secret import Secret

VALUE = "correct-horse-battery-staple"
REDACTED = "Secret('**********')"


def test_reveal_returns_the_value() -> None:
    assert Secret(VALUE).reveal() == VALUE
    assert Secret(b"\x00key").reveal() == b"\x00key"


@pytest.mark.parametrize("value", [VALUE, VALUE.encode()])
def test_repr_and_str_are_redacted(value: str | bytes) -> None:
    secret = Secret(value)
    assert repr(secret) == REDACTED
    assert str(secret) == REDACTED
    assert f"{secret}" == REDACTED
    assert f"{secret!r}" == REDACTED
    assert "%s %r" % (secret, secret) == f"{REDACTED} {REDACTED}"  # noqa: UP031
    assert repr([secret, {"k": secret}]) == f"[{REDACTED}, {{'k': {REDACTED}}}]"


def test_redacted_inside_a_pydantic_model() -> None:
    class Settings(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

        name: str
        key: Secret[str]

    settings = Settings(name="app", key=Secret(VALUE))
    assert repr(settings) == f"Settings(name='app', key={REDACTED})"
    assert VALUE not in str(settings)
    assert VALUE not in f"{settings}"


def test_redacted_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("portcullis.test").info("loaded %s", Secret(VALUE))
    assert caplog.text.rstrip().endswith(f"loaded {REDACTED}")
    assert VALUE not in caplog.text


def test_equality_compares_values() -> None:
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret("") != Secret("x")
    assert Secret(VALUE) != VALUE
    assert VALUE != Secret(VALUE)  # noqa: SIM300 (the reflected comparison)


def test_hashable_and_consistent_with_equality() -> None:
    assert hash(Secret(VALUE)) == hash(Secret(VALUE))
    assert len({Secret(VALUE), Secret(VALUE), Secret("other")}) == 2


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_cannot_be_pickled(protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(VALUE), protocol=protocol)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps({"nested": [Secret(VALUE)]}, protocol=protocol)


def test_copies_are_the_same_immutable_object() -> None:
    secret = Secret(VALUE)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"] is secret


def test_immutable() -> None:
    secret = Secret(VALUE)
    with pytest.raises(AttributeError):
        secret._value = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del secret._value
    with pytest.raises(AttributeError):
        secret.extra = 1  # type: ignore[attr-defined]
    assert secret.reveal() == VALUE


def test_only_str_or_bytes() -> None:
    with pytest.raises(TypeError, match="a Secret holds str or bytes, not int"):
        Secret(1234)  # type: ignore[type-var]
