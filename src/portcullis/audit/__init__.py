"""Audit records: a closed schema, written off the request path, sealed in hash chains.

The request path needs three names::

    audit = build_audit_log(config.audit, loop)          # once per worker, after fork
    audit.record(AuditRecord(time=time.time(), event=Event.DENY, ...))   # O(1), no I/O
    await audit.close()                                   # on shutdown: flush everything

See docs/audit.md for the schema, sinks, durability, chains and the CLI.
"""

from portcullis.audit.build import build_audit_log, build_sinks
from portcullis.audit.chain import GENESIS, Chain, chain_id
from portcullis.audit.record import FIELDS, AuditIdentity, AuditRecord, AuditRoute, Event
from portcullis.audit.verify import Verification, verify
from portcullis.audit.writer import AuditLog, Durability

__all__ = [
    "FIELDS",
    "GENESIS",
    "AuditIdentity",
    "AuditLog",
    "AuditRecord",
    "AuditRoute",
    "Chain",
    "Durability",
    "Event",
    "Verification",
    "build_audit_log",
    "build_sinks",
    "chain_id",
    "verify",
]
