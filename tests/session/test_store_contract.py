"""Runs the session-store contract (``contract.py``) against every backend in ``BACKENDS``."""

from tests.session.contract import *  # noqa: F403
