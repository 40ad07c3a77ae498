"""A real nginx (Debian's ``/usr/sbin/nginx``) on a loopback port, for tests and the benchmark.

:func:`run_nginx` writes the main configuration (foreground, one worker, every file under a
temporary root) around the ``http`` block the caller gives, starts nginx and stops it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support.proxy import wait_for_port

__all__ = ["NGINX", "Nginx", "run_nginx"]

NGINX = Path("/usr/sbin/nginx")
_TEMPS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass
class Nginx:
    port: int
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def main_conf(root: Path, http: str, *, connections: int = 64) -> str:
    """nginx.conf: one worker in the foreground, logs and temporary files under ``root``,
    and ``http`` (the directives inside ``http { }``)."""
    user = "user root;" if os.geteuid() == 0 else ""
    temps = "\n".join(f"  {kind}_temp_path {root}/tmp/{kind};" for kind in _TEMPS)
    return f"""\
daemon off;
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections {connections}; }}
http {{
{temps}
{http}
}}
"""


@contextmanager
def run_nginx(port: int, http: Callable[[Path], str], *, connections: int = 64) -> Iterator[Nginx]:
    """nginx listening on ``port`` with the ``http`` block ``http(root)``; a clear error when
    nginx is missing (install it with scripts/system-deps.sh) or does not start."""
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} is missing: install Debian's nginx (scripts/system-deps.sh)")
    root = Path(tempfile.mkdtemp(prefix="portcullis-nginx-"))
    try:
        for kind in _TEMPS:
            (root / "tmp" / kind).mkdir(parents=True)
        conf = root / "nginx.conf"
        conf.write_text(main_conf(root, http(root), connections=connections))
        with open(root / "startup.log", "wb") as startup:
            process = subprocess.Popen(
                [str(NGINX), "-c", str(conf), "-p", str(root)],
                stdout=startup,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Nginx(port, root, process)
        try:
            try:
                wait_for_port(port, timeout=10)
            except TimeoutError:
                startup_log = (root / "startup.log").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start:\n{startup_log}") from None
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
