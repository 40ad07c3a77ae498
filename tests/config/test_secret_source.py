"""SecretSource: exactly one of value, env or file; inline values are redacted at once."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ConfigDict

from portcullis.config import ConfigError, SecretSource
from portcullis.config.schema import SecretSources
from portcullis.config.validate import validate_as
from portcullis.secret import Secret

VALUE = "hunter2-very-secret"


class Holder(BaseModel):
    """Stands in for the sign-in settings that will hold secrets (next issue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_secret: SecretSource
    cookie_keys: SecretSources


def problems(data: object, path: str = "auth") -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_as(Holder, data, path=path)
    return [str(p) for p in info.value.problems]


def test_each_kind_of_source() -> None:
    holder = validate_as(
        Holder,
        {
            "client_secret": {"env": "OIDC_CLIENT_SECRET"},
            "cookie_keys": [{"file": "/run/secrets/cookie"}, {"value": VALUE}],
        },
    )
    assert holder.client_secret.env == "OIDC_CLIENT_SECRET"
    assert holder.cookie_keys[0].file == "/run/secrets/cookie"
    assert holder.cookie_keys[1].value == Secret(VALUE)


def test_inline_value_is_never_shown() -> None:
    source = SecretSource.model_validate({"value": VALUE})
    assert isinstance(source.value, Secret)
    assert source.value.reveal() == VALUE
    for text in (repr(source), str(source), f"{source}", source.model_dump_json()):
        assert VALUE not in text
    assert source.model_dump() == {
        "value": "**********",
        "env": None,
        "file": None,
        "expires": None,
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({}, "auth.client_secret: give exactly one of 'value', 'env' or 'file'"),
        (
            {"env": "A", "file": "/f"},
            "auth.client_secret: give only one of 'value', 'env' or 'file', not 'env' and 'file'",
        ),
        (
            {"value": VALUE, "env": "A", "file": "/f"},
            "auth.client_secret: give only one of 'value', 'env' or 'file', "
            "not 'value' and 'env' and 'file'",
        ),
        (
            {"env": "OIDC-SECRET"},
            "auth.client_secret.env: 'OIDC-SECRET' is not an environment variable name "
            "(letters, digits and '_')",
        ),
        ({"file": ""}, "auth.client_secret.file: must not be empty"),
        ({"value": ""}, "auth.client_secret.value: must not be empty"),
        ({"value": 12345}, "auth.client_secret.value: expected a string"),
        ({"enV": "A"}, "auth.client_secret.enV: unknown key (did you mean 'env'?)"),
        ("OIDC_SECRET", "auth.client_secret: expected a mapping, got a string"),
    ],
)
def test_problems(source: object, message: str) -> None:
    data = {"client_secret": source, "cookie_keys": [{"env": "K"}]}
    assert problems(data) == [message]


def test_problem_messages_never_contain_an_inline_value() -> None:
    data = {"client_secret": {"value": VALUE, "env": "X"}, "cookie_keys": [{"value": VALUE}, {}]}
    found = problems(data)
    assert found == [
        "auth.client_secret: give only one of 'value', 'env' or 'file', not 'value' and 'env'",
        "auth.cookie_keys[1]: give exactly one of 'value', 'env' or 'file'",
    ]
    assert not any(VALUE in p for p in found)


def test_rotation_list_must_not_be_empty() -> None:
    data = {"client_secret": {"env": "A"}, "cookie_keys": []}
    assert problems(data) == ["auth.cookie_keys: must not be empty"]


def test_json_schema_describes_one_source() -> None:
    schema = SecretSource.model_json_schema()
    assert set(schema["properties"]) == {"value", "env", "file", "expires"}
    assert schema["oneOf"] == [{"required": [k]} for k in ("value", "env", "file")]
    assert schema["properties"]["expires"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert schema["additionalProperties"] is False


def test_an_expiry_date_goes_with_any_source() -> None:
    holder = validate_as(
        Holder,
        {
            "client_secret": {"env": "A", "expires": date(2027, 3, 1)},  # YAML's 2027-03-01
            "cookie_keys": [{"file": "/k", "expires": "2026-12-31"}, {"value": VALUE}],
        },
    )
    assert holder.client_secret.expires == date(2027, 3, 1)
    assert holder.cookie_keys[0].expires == date(2026, 12, 31)
    assert holder.cookie_keys[1].expires is None
    data = {"client_secret": {"env": "A", "expires": "next year"}, "cookie_keys": [{"env": "K"}]}
    assert problems(data) == [
        "auth.client_secret.expires: expected a date written YYYY-MM-DD, e.g. 2027-03-01"
    ]
    data = {"client_secret": {"expires": "2027-03-01"}, "cookie_keys": [{"env": "K"}]}
    assert problems(data) == ["auth.client_secret: give exactly one of 'value', 'env' or 'file'"]
