"""Run a real Debian Apache httpd for tests and benchmarks.

``run_apache()`` writes a minimal config into a fresh world-readable directory
(Apache's children run as ``www-data`` when we are root, so pytest's 0700
``tmp_path`` will not do), starts ``apache2 -DFOREGROUND`` on a free loopback
port and serves:

- ``/1k.bin``: 1024 bytes;
- ``/large.bin``: ``large_size`` bytes (sparse, with random head and tail);
- ``/cgi-bin/echo.cgi``: JSON with the method, path, query, request headers,
  ``REMOTE_USER``/``AUTH_TYPE`` and ``*_CLAIM_*`` variables (set by an Apache auth
  module such as mod_auth_openidc) and the sha256 and length of the request body.

Callers may add ``modules`` (loaded from Debian's module directory, e.g.
``auth_openidc`` from libapache2-mod-auth-openidc), ``extra_config`` appended to
the generated config (a string, or a function of the server root for paths), extra
access-log fields, and a fixed ``port`` (when another process must know it first).

The access log is tab-separated; :meth:`Apache.access_entries` parses it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support.proxy import free_port, wait_for_port

APACHE_BIN = Path("/usr/sbin/apache2")
MODULES_DIR = Path("/usr/lib/apache2/modules")
MODULES = [
    "mpm_event",
    "authz_core",
    "mime",
    "dir",
    "headers",
    "log_config",
    "cgid",
    "alias",
    "unixd",
]
ACCESS_FIELDS = [
    "client",
    "client_port",
    "method",
    "target",
    "status",
    "bytes",
    "request_id",
    "xff",
]
_ACCESS_FORMAT = r"\t".join(
    ["%h", "%{remote}p", "%m", "%U%q", "%>s", "%B", "%{X-Request-Id}i", "%{X-Forwarded-For}i"]
)

_ECHO_CGI = """#!{python}
import hashlib, json, os, sys

digest, length = hashlib.sha256(), 0
while chunk := sys.stdin.buffer.read(1 << 16):
    digest.update(chunk)
    length += len(chunk)
env = os.environ
headers = {{k[5:].lower().replace("_", "-"): v for k, v in env.items() if k.startswith("HTTP_")}}
for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
    if name in env:
        headers[name.lower().replace("_", "-")] = env[name]
body = json.dumps({{
    "method": env.get("REQUEST_METHOD"),
    "path": env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", ""),
    "query": env.get("QUERY_STRING", ""),
    "headers": headers,
    "remote_user": env.get("REMOTE_USER"),
    "auth_type": env.get("AUTH_TYPE"),
    "claims": {{k.split("_CLAIM_", 1)[1]: v for k, v in env.items() if "_CLAIM_" in k}},
    "body_sha256": digest.hexdigest(),
    "body_length": length,
}}).encode()
sys.stdout.buffer.write(b"Content-Type: application/json\\r\\n\\r\\n" + body)
"""


@dataclass
class Apache:
    """A running Apache httpd and where its files and logs live."""

    port: int
    root: Path
    process: subprocess.Popen[bytes]
    large_size: int
    access_fields: tuple[str, ...] = tuple(ACCESS_FIELDS)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def docroot(self) -> Path:
        return self.root / "htdocs"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    def error_log_text(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def access_entries(self) -> list[dict[str, str]]:
        """One dict per access-log line, keyed by ``access_fields`` (``-``: not set)."""
        if not self.access_log.exists():
            return []
        lines = self.access_log.read_text(errors="replace").splitlines()
        fields = self.access_fields
        return [dict(zip(fields, line.split("\t"), strict=False)) for line in lines]

    def wait_for_entry(self, field: str, value: str, timeout: float = 5.0) -> dict[str, str]:
        """The access-log line whose ``field`` is ``value``: Apache writes it after the
        response, so poll for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.access_entries() if e.get(field) == value]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, f"{len(found)} access-log lines with {field}={value!r}"
                return found[0]
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the parent, then SIGKILL whatever is left of its process group."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _cgi_python() -> str:
    """An interpreter www-data can run (pyenv shims under /root are not)."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


ConfigText = str | Callable[[Path], str]


def _config(
    root: Path,
    port: int,
    *,
    modules: Sequence[str] = (),
    log_fields: Mapping[str, str] | None = None,
    extra: ConfigText = "",
) -> str:
    loads = "\n".join(
        f"<IfModule !mod_{m}.c>\n  LoadModule {m}_module {MODULES_DIR}/mod_{m}.so\n</IfModule>"
        for m in dict.fromkeys([*MODULES, *modules])
    )
    log_format = r"\t".join([_ACCESS_FORMAT, *(log_fields or {}).values()])
    extra_text = extra(root) if callable(extra) else extra
    as_root = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
    mime = "TypesConfig /etc/mime.types" if Path("/etc/mime.types").exists() else ""
    return f"""\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
DefaultRuntimeDir "{root}/run"
PidFile "{root}/run/apache2.pid"
ScriptSock "{root}/run/cgid.sock"
{loads}
{as_root}
{mime}
ErrorLog "{root}/logs/error.log"
LogLevel warn
LogFormat "{log_format}" portcullis
CustomLog "{root}/logs/access.log" portcullis
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15
Timeout 60
DocumentRoot "{root}/htdocs"
DirectoryIndex index.html
ScriptAlias /cgi-bin/ "{root}/cgi-bin/"
Header always set X-Upstream "apache"
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory "{root}/htdocs">
  Require all granted
</Directory>
<Directory "{root}/cgi-bin">
  Require all granted
</Directory>
{extra_text}
"""


def _populate(root: Path, large_size: int) -> None:
    for name in ("htdocs", "cgi-bin", "logs", "run"):
        (root / name).mkdir(mode=0o755)
    (root / "htdocs" / "1k.bin").write_bytes(bytes(range(256)) * 4)
    (root / "htdocs" / "index.html").write_text("<h1>apache</h1>\n")
    with open(root / "htdocs" / "large.bin", "wb") as large:
        edge = min(large_size // 2, 1 << 16)
        large.write(os.urandom(edge))
        large.truncate(large_size)
        large.seek(large_size - edge)
        large.write(os.urandom(edge))
    echo = root / "cgi-bin" / "echo.cgi"
    echo.write_text(_ECHO_CGI.format(python=_cgi_python()))
    echo.chmod(0o755)
    for path in root.rglob("*"):
        if path.is_file() and path != echo:
            path.chmod(0o644)


@contextmanager
def run_apache(
    *,
    large_size: int = 200 * 1024 * 1024,
    timeout: float = 15.0,
    port: int | None = None,
    modules: Sequence[str] = (),
    extra_config: ConfigText = "",
    log_fields: Mapping[str, str] | None = None,
) -> Iterator[Apache]:
    """Start Apache on a loopback port (free, or ``port``); stop it and remove its files on exit.

    ``log_fields`` maps extra access-log field names to Apache format strings
    (``{"user": "%u"}``); :meth:`Apache.access_entries` then has those keys too.
    """
    if not APACHE_BIN.exists():
        raise RuntimeError(
            f"{APACHE_BIN} not found: install Debian's apache2 (apt-get install apache2)"
        )
    for module in modules:
        if not (MODULES_DIR / f"mod_{module}.so").exists():
            raise RuntimeError(
                f"{MODULES_DIR}/mod_{module}.so not found: install the Debian package that "
                "ships it (scripts/system-deps.sh installs libapache2-mod-auth-openidc)"
            )
    root = Path(tempfile.mkdtemp(prefix="portcullis-apache-"))
    root.chmod(0o755)
    try:
        _populate(root, large_size)
        port = port or free_port()
        conf = root / "apache2.conf"
        conf.write_text(
            _config(root, port, modules=modules, log_fields=log_fields, extra=extra_config)
        )
        with open(root / "logs" / "startup.log", "wb") as startup:
            process = subprocess.Popen(
                [str(APACHE_BIN), "-f", str(conf), "-DFOREGROUND"],
                stdout=startup,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        fields = (*ACCESS_FIELDS, *(log_fields or {}))
        apache = Apache(port, root, process, large_size, fields)
        try:
            _wait_started(apache, timeout)
            yield apache
        finally:
            apache.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_started(apache: Apache, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if apache.process.poll() is not None:
            break
        try:
            wait_for_port(apache.port, timeout=0.2)
            return
        except TimeoutError:
            continue
    startup = (apache.root / "logs" / "startup.log").read_text(errors="replace")
    raise RuntimeError(f"apache2 did not start:\n{startup}\n{apache.error_log_text()}")
