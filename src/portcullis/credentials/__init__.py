"""Credentials that expire: dated secrets and certificates, how soon, and a watch on them.

* :mod:`~portcullis.credentials.dated` — what in a configuration has an end date (I/O edge);
* :mod:`~portcullis.credentials.expiry` — how soon, as findings (pure);
* :mod:`~portcullis.credentials.watch` — a worker's daily log lines and the expiry metric.
"""

from __future__ import annotations

from portcullis.credentials.dated import Dated, dated_credentials, read_certificates, secret_expiry
from portcullis.credentials.expiry import Finding, Urgency, expiring, findings
from portcullis.credentials.watch import ExpiryWatch

__all__ = [
    "Dated",
    "ExpiryWatch",
    "Finding",
    "Urgency",
    "dated_credentials",
    "expiring",
    "findings",
    "read_certificates",
    "secret_expiry",
]
