"""Sessions and pending logins to and from JSON bytes, for stores that keep bytes.

Loading never raises: a row that is not valid JSON, lacks a field or has a
field of the wrong type loads as ``None`` — a corrupted row is "no session".
The session id is *not* in the serialized form: stores key rows by a hash of
the id (:func:`storage_key`), so a copy of the database does not hand out live
session ids.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final

import orjson

from portcullis.identity import Identity
from portcullis.session.model import PendingLogin, Session, is_login_max_age

__all__ = ["dump_pending", "dump_session", "load_pending", "load_session", "storage_key"]

_VERSION: Final = 1
_IDENTITY_STR = ("issuer", "subject")
_IDENTITY_OPT_STR = ("tenant_id", "object_id", "name", "email", "username", "client_id")
_IDENTITY_STR_LISTS = ("roles", "groups", "amr")


def storage_key(value: str) -> str:
    """The row key for a session id or state: SHA-256, hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def dump_session(session: Session) -> bytes:
    return orjson.dumps(
        {
            "v": _VERSION,
            "identity": session.identity.to_dict(),
            "created_at": session.created_at,
            "last_seen": session.last_seen,
            "expires_at": session.expires_at,
            "csrf": session.csrf,
            "id_token": session.id_token,
            "provider": session.provider,
            "idp_session": session.idp_session,
        }
    )


def load_session(data: bytes | str, session_id: str) -> Session | None:
    try:
        obj = orjson.loads(data)
        if not isinstance(obj, dict) or obj.get("v") != _VERSION:
            return None
        identity = _identity(obj["identity"])
        id_token = obj["id_token"]
        if identity is None or not (id_token is None or isinstance(id_token, str)):
            return None
        return Session(
            id=session_id,
            identity=identity,
            created_at=_number(obj["created_at"]),
            last_seen=_number(obj["last_seen"]),
            expires_at=_number(obj["expires_at"]),
            csrf=_text(obj["csrf"]),
            id_token=id_token,
            provider=_text(obj["provider"]),
            idp_session=obj.get("idp_session") if isinstance(obj.get("idp_session"), str) else None,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def dump_pending(pending: PendingLogin) -> bytes:
    return orjson.dumps(
        {
            "v": _VERSION,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_verifier": pending.code_verifier,
            "provider": pending.provider,
            "return_to": pending.return_to,
            "browser_binding": pending.browser_binding,
            "created_at": pending.created_at,
            "max_age": pending.max_age,
        }
    )


def load_pending(data: bytes | str, state: str) -> PendingLogin | None:
    try:
        obj = orjson.loads(data)
        if not isinstance(obj, dict) or obj.get("v") != _VERSION or obj.get("state") != state:
            return None
        max_age = obj.get("max_age")  # absent in rows written before step-up existed
        if max_age is not None and not is_login_max_age(max_age):
            return None
        return PendingLogin(
            state=state,
            nonce=_text(obj["nonce"]),
            code_verifier=_text(obj["code_verifier"]),
            provider=_text(obj["provider"]),
            return_to=_text(obj["return_to"]),
            browser_binding=_text(obj["browser_binding"]),
            created_at=_number(obj["created_at"]),
            max_age=max_age,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("expected a finite number")
    return float(value)


def _identity(data: Any) -> Identity | None:
    if not isinstance(data, dict):
        return None
    if not all(isinstance(data.get(k), str) for k in _IDENTITY_STR):
        return None
    if not all(data.get(k) is None or isinstance(data[k], str) for k in _IDENTITY_OPT_STR):
        return None
    for key in _IDENTITY_STR_LISTS:
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return None
    auth_time = data.get("auth_time")
    if auth_time is not None and (isinstance(auth_time, bool) or not isinstance(auth_time, int)):
        return None
    return Identity.from_dict(data)
