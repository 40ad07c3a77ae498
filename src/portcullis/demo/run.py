"""``make demo``: the sample app and Portcullis in front of it, in the foreground.

Writes ``.demo/portcullis.yaml`` (a public route to the app), starts the app on
127.0.0.1:8081 and Portcullis on 127.0.0.1:4180, and waits. Ctrl-C (or SIGTERM)
stops both; so does either of them dying.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

__all__ = ["demo_config", "main"]


def demo_config(app_port: int, proxy_port: int) -> dict[str, object]:
    return {
        "listen": {"address": "127.0.0.1", "port": proxy_port},
        "log": {"access": True},
        "routes": [
            {"host": "*", "path": "/", "upstream": f"http://127.0.0.1:{app_port}", "public": True}
        ],
    }


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _port_in_use(port):
            return True
        time.sleep(0.1)
    return False


def _start(name: str, argv: list[str], port: int) -> subprocess.Popen[bytes]:
    # A new session: Ctrl-C reaches only us, and we stop the children in order.
    process = subprocess.Popen(argv, start_new_session=True)
    if not _wait_for(port, process):
        _stop(process)
        raise RuntimeError(f"{name} did not start on 127.0.0.1:{port} (see its output above)")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portcullis.demo")
    parser.add_argument("--state-dir", type=Path, default=Path(".demo"))
    parser.add_argument("--app-port", type=int, default=8081)
    parser.add_argument("--port", type=int, default=4180, help="where Portcullis listens")
    args = parser.parse_args(argv)
    for flag, port in (("--app-port", args.app_port), ("--port", args.port)):
        if _port_in_use(port):
            print(f"port {port} is in use; pick another with {flag}", file=sys.stderr)
            return 1
    args.state_dir.mkdir(parents=True, exist_ok=True)
    config_path = args.state_dir / "portcullis.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(args.app_port, args.port), sort_keys=False))
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(signum, signal.default_int_handler)
    python = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    try:
        app = [python, "-m", "portcullis.demo.app", "--port", str(args.app_port)]
        processes.append(_start("the demo app", app, args.app_port))
        proxy = [python, "-m", "portcullis", "serve", "-c", str(config_path)]
        processes.append(_start("Portcullis", proxy, args.port))
        url = f"http://127.0.0.1:{args.port}/"
        print(f"\nPortcullis is up: {url}  (config: {config_path})")
        print(f"  try: curl -s {url}hello -H 'Accept: application/json'")
        print("Ctrl-C stops both.\n", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a demo process exited; stopping", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        for process in reversed(processes):
            _stop(process)
