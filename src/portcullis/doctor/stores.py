"""Store checks: can the session store and the audit store be written?

An existing SQLite file is opened read-write and a write transaction is begun and rolled
back (``BEGIN IMMEDIATE``): that proves the file, its directory (WAL files live beside it)
and the lock are usable, and changes nothing. A file that does not exist yet needs a
writable directory. Relative paths are relative to the working directory, as they are for
``serve``: run ``doctor`` from where Portcullis runs.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from portcullis.audit.spool import CLOSED, OPEN, spool_dir
from portcullis.config.schema import Config
from portcullis.doctor.report import Check, Status

__all__ = ["SPOOL_WARN_BYTES", "check_stores", "spool_backlog", "sqlite_writable"]

SPOOL_WARN_BYTES = 256 << 20
"""Records waiting in the audit spool beyond which ``doctor`` suggests indexing them."""


def check_stores(config: Config) -> list[Check]:
    checks: list[Check] = []
    if config.auth is not None:
        session = config.auth.session
        if session.store == "memory":
            status = Status.WARN if config.server.workers > 1 else Status.OK
            detail = "memory: sessions end with the process"
            if status is Status.WARN:
                detail += "; with several workers each has its own, and sign-ins get lost"
            checks.append(Check("session store", status, detail))
        else:
            checks.append(sqlite_writable("session store", session.sqlite_path))
    audit = config.audit
    if audit.sqlite.enabled:
        checks.append(sqlite_writable("audit store", audit.sqlite.path))
        checks.append(spool_backlog(spool_dir(audit.sqlite.path)))
    if audit.jsonl is not None:
        if audit.jsonl.path == "-":
            checks.append(Check("audit jsonl", Status.OK, "written to standard output"))
        else:
            checks.append(_file_writable("audit jsonl", audit.jsonl.path))
    return checks


def sqlite_writable(name: str, path: str) -> Check:
    where = Path(path).absolute()
    if not where.exists():
        return _creatable(name, where)
    try:
        db = sqlite3.connect(f"file:{where}?mode=rw", uri=True, timeout=1.0)
    except sqlite3.Error as exc:
        return Check(name, Status.FAIL, f"{where}: cannot open: {exc}")
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        status = Status.WARN if "locked" in str(exc) else Status.FAIL
        return Check(name, status, f"{where}: cannot write: {exc}")
    except sqlite3.DatabaseError as exc:
        return Check(name, Status.FAIL, f"{where}: {exc}")
    finally:
        db.close()
    return Check(name, Status.OK, f"{where}: writable")


def spool_backlog(directory: str) -> Check:
    """The audit spool: writable, and how much waits to be indexed into the SQLite store."""
    name = "audit spool"
    where = Path(directory).absolute()
    if not where.exists():
        return Check(name, Status.OK, f"{where}: created by the first worker")
    if not where.is_dir() or not os.access(where, os.W_OK | os.X_OK):
        return Check(name, Status.FAIL, f"{where}: not a directory this user can write")
    segments = [p for p in where.iterdir() if p.name.endswith((OPEN, CLOSED))]
    waiting = sum(p.stat().st_size for p in segments if p.exists())
    detail = f"{where}: {len(segments)} segments, {waiting / (1 << 20):.1f} MiB not yet indexed"
    if waiting > SPOOL_WARN_BYTES:
        return Check(name, Status.WARN, f"{detail}; run 'portcullis audit index' (or --follow)")
    return Check(name, Status.OK, detail)


def _file_writable(name: str, path: str) -> Check:
    where = Path(path)
    if not where.exists():
        return _creatable(name, where)
    if where.is_dir():
        return Check(name, Status.FAIL, f"{where}: is a directory")
    if not os.access(where, os.W_OK):
        return Check(name, Status.FAIL, f"{where}: not writable by this user")
    return Check(name, Status.OK, f"{where}: writable")


def _creatable(name: str, where: Path) -> Check:
    directory = where.parent
    if not directory.is_dir():
        return Check(name, Status.FAIL, f"{where}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        return Check(name, Status.FAIL, f"{where}: cannot create it in {directory}")
    return Check(name, Status.OK, f"{where}: does not exist yet; will be created")
