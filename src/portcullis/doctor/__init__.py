"""``portcullis doctor``: is this deployment able to work, and what will break soon?

* :mod:`~portcullis.doctor.report` — checks with OK / WARN / FAIL, as text or JSON;
* :mod:`~portcullis.doctor.idp` — discovery and issuer, signing keys, clock skew;
* :mod:`~portcullis.doctor.upstreams` — each upstream accepts connections and answers;
* :mod:`~portcullis.doctor.stores` — the session and audit stores can be written;
* :mod:`~portcullis.doctor.run` — all of them in order, credential expiry included;
* :mod:`~portcullis.doctor.cli` — the command.
"""

from __future__ import annotations

from portcullis.doctor.report import Check, Status, overall, render_json, render_text
from portcullis.doctor.run import credential_checks, diagnose

__all__ = [
    "Check",
    "Status",
    "credential_checks",
    "diagnose",
    "overall",
    "render_json",
    "render_text",
]
