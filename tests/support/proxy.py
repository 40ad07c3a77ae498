"""Run a real Portcullis process for tests: ``python -m portcullis serve``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class Proxy:
    """A running Portcullis: its port, process, config and log file."""

    port: int
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_kib(self) -> int:
        """Resident memory of the proxy process (and its workers), in KiB."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@contextmanager
def run_proxy(
    config: dict[str, Any], tmp_path: Path, *, args: tuple[str, ...] = ()
) -> Iterator[Proxy]:
    """Start Portcullis with ``config`` (listen port filled in when absent)."""
    config = dict(config)
    listen = dict(config.get("listen", {}))
    listen.setdefault("address", "127.0.0.1")
    if not listen.get("port"):
        listen["port"] = free_port()
    config["listen"] = listen
    if "audit" not in config:  # the default store is in the working directory: not in tests
        config["audit"] = {"sqlite": {"path": str(tmp_path / f"audit-{listen['port']}.db")}}
    config_path = tmp_path / f"portcullis-{listen['port']}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / f"portcullis-{listen['port']}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portcullis", "serve", "-c", str(config_path), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proxy = Proxy(int(listen["port"]), process, config_path, log_path)
    try:
        try:
            wait_for_port(proxy.port)
        except TimeoutError:
            proxy.stop()
            raise RuntimeError(f"portcullis did not start:\n{proxy.log()}") from None
        yield proxy
    finally:
        proxy.stop()
