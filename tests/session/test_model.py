"""Session and pending-login values: ids, lifetimes, redacted reprs, browser binding."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from portcullis.session.model import (
    MAX_LOGIN_AGE,
    PENDING_MAX_AGE,
    binding_matches,
    fingerprint,
    is_live,
    new_binding_value,
    new_pending_login,
    new_session_id,
    pending_is_fresh,
    touch,
)
from tests.session.support import START, make_pending, make_session

IDLE, ABSOLUTE = 1800.0, 8 * 3600.0


def test_session_ids_are_random_urlsafe_32_bytes() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    for session_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id)


def test_new_session_gets_fresh_id_and_csrf() -> None:
    first, second = make_session(), make_session()
    assert first.id != second.id
    assert first.csrf != second.csrf and len(first.csrf) >= 43
    assert first.created_at == first.last_seen == START
    assert first.expires_at == START + ABSOLUTE


def test_session_is_frozen() -> None:
    session = make_session()
    with pytest.raises(FrozenInstanceError):
        session.id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("elapsed", "idle_for", "live"),
    [
        (0, 0, True),
        (IDLE - 1, IDLE - 1, True),
        (IDLE, IDLE, False),  # idle timeout
        (ABSOLUTE - 1, 10, True),
        (ABSOLUTE, 0, False),  # absolute timeout, however active
        (ABSOLUTE + 1, 0, False),
    ],
)
def test_is_live(elapsed: float, idle_for: float, live: bool) -> None:
    session = make_session()
    now = START + elapsed
    session = touch(session, now - idle_for)
    assert is_live(session, now=now, idle_timeout=IDLE, absolute_timeout=ABSOLUTE) is live


def test_expires_at_bounds_even_a_longer_configured_timeout() -> None:
    session = make_session()  # expires_at = START + 8h
    now = session.expires_at
    assert not is_live(session, now=now, idle_timeout=1e9, absolute_timeout=1e9)


def test_lowered_absolute_timeout_applies_to_existing_sessions() -> None:
    session = make_session()
    assert not is_live(session, now=START + 3601, idle_timeout=IDLE * 10, absolute_timeout=3600)


def test_touch_moves_last_seen_forward_only() -> None:
    session = make_session()
    later = touch(session, START + 10)
    assert later.last_seen == START + 10 and later is not session
    assert later.created_at == session.created_at and later.id == session.id
    assert touch(later, START + 5) is later


def test_session_repr_redacts_credentials() -> None:
    session = make_session()
    text = repr(session)
    assert session.id not in text
    assert session.csrf not in text
    assert session.id_token is not None and session.id_token not in text
    assert "id_token='**********'" in text and "csrf='**********'" in text
    assert fingerprint(session.id) in text
    assert session.identity.key in text
    assert session.id_token not in f"{session!s} {[session]} {session!r}"


def test_fingerprint_is_short_and_stable() -> None:
    assert fingerprint("abc") == fingerprint("abc") != fingerprint("abd")
    assert len(fingerprint("abc")) == 12


def test_pending_login_values() -> None:
    pending = make_pending()
    assert pending.state != pending.nonce
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,128}", pending.code_verifier)  # RFC 7636 §4.1
    assert len(pending.state) >= 43 and len(pending.nonce) >= 43
    assert make_pending().state != pending.state
    assert make_pending().nonce != pending.nonce


def test_pending_repr_redacts_secrets() -> None:
    pending = make_pending()
    text = repr(pending)
    for secret in (pending.code_verifier, pending.nonce, pending.state, pending.browser_binding):
        assert secret not in text
    assert "code_verifier='**********'" in text
    assert "/after?x=1" in text


def test_browser_binding() -> None:
    value = new_binding_value()
    pending = new_pending_login(provider="p", return_to="/", binding_value=value, now=START)
    assert value not in pending.browser_binding  # only a hash is stored
    assert binding_matches(pending, value)
    assert not binding_matches(pending, new_binding_value())
    assert not binding_matches(pending, None)
    assert not binding_matches(pending, "")
    with pytest.raises(ValueError):
        new_pending_login(provider="p", return_to="/", binding_value="", now=START)


def test_parallel_tabs_share_one_binding() -> None:
    value = new_binding_value()
    tabs = [
        new_pending_login(provider="p", return_to=f"/{n}", binding_value=value, now=START)
        for n in range(3)
    ]
    assert len({tab.state for tab in tabs}) == 3
    assert all(binding_matches(tab, value) for tab in tabs)


@pytest.mark.parametrize(
    ("age", "max_age", "fresh"),
    [
        (0, PENDING_MAX_AGE, True),
        (PENDING_MAX_AGE - 1, PENDING_MAX_AGE, True),
        (PENDING_MAX_AGE, PENDING_MAX_AGE, False),
        (300, 300, False),
        (299, 300, True),
        (700, 3600, False),  # never more than ten minutes
        (-3600, PENDING_MAX_AGE, False),  # from the future
    ],
)
def test_pending_is_fresh(age: float, max_age: float, fresh: bool) -> None:
    pending = make_pending()
    assert pending_is_fresh(pending, now=START + age, max_age=max_age) is fresh


def test_step_up_pending_login_keeps_max_age() -> None:
    plain = make_pending()
    assert plain.max_age is None
    step_up = new_pending_login(
        provider="p", return_to="/", binding_value="b", now=START, max_age=0
    )
    assert step_up.max_age == 0
    assert "max_age=0" in repr(step_up)
    for bad in (-1, MAX_LOGIN_AGE + 1, True):
        with pytest.raises(ValueError, match="max_age"):
            new_pending_login(
                provider="p", return_to="/", binding_value="b", now=START, max_age=bad
            )
