"""Running the proxy: one worker process, or a supervisor forking N workers on SO_REUSEPORT.

Signals: SIGTERM/SIGINT start a graceful shutdown (stop accepting, finish
in-flight requests within ``server.timeouts.shutdown``, then exit 0). The
supervisor forwards them to its workers and restarts a worker that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
from types import FrameType

import uvloop
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey as EcKey

from portcullis.auth.build import assertion_keys, build_sign_in
from portcullis.config.schema import Config
from portcullis.decision import Gate, RouteGate
from portcullis.http.clock import CoarseClock
from portcullis.http.headers import TrustedProxies
from portcullis.http.server import ProxyServer, ProxyState
from portcullis.http.upstream import UpstreamPools
from portcullis.logs import configure_logging
from portcullis.routing import Router
from portcullis.tls import server_context

__all__ = ["build_state", "serve"]

log = logging.getLogger("portcullis")


def build_state(
    loop: asyncio.AbstractEventLoop,
    clock: CoarseClock,
    config: Config,
    gate: Gate | None = None,
    strip_headers: frozenset[bytes] = frozenset(),
) -> ProxyState:
    """The immutable per-configuration state a worker serves with."""
    pools = UpstreamPools(loop, clock, config.server.pool_max_idle)
    return ProxyState(
        router=Router(config.routes, pools.for_route),
        pools=pools,
        gate=gate or RouteGate(),
        limits=config.server.limits,
        timeouts=config.server.timeouts,
        trusted=TrustedProxies(config.listen.trusted_proxies),
        scheme="https" if config.listen.tls else "http",
        access_log=config.log.access,
        strip_headers=strip_headers,
    )


def serve(config: Config, workers: int | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    configure_logging(config.log)
    count = workers or config.server.workers
    # Made once, before workers fork, so every worker signs with (and publishes) the same keys.
    keys = assertion_keys(config.auth) if config.auth is not None else []
    if count <= 1:
        return _run_worker(config, keys, reuse_port=False)
    return _Supervisor(config, keys, count).run()


def _run_worker(config: Config, keys: list[EcKey], *, reuse_port: bool) -> int:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_worker(config, keys, reuse_port))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.listen.address, config.listen.port, exc)
        return 1
    finally:
        loop.close()


async def _worker(config: Config, keys: list[EcKey], reuse_port: bool) -> int:
    loop = asyncio.get_running_loop()
    clock = CoarseClock(loop)
    sign_in = build_sign_in(config.auth, keys=keys) if config.auth is not None else None
    state = build_state(
        loop,
        clock,
        config,
        gate=sign_in.gate if sign_in else None,
        strip_headers=sign_in.strip_headers if sign_in else frozenset(),
    )
    server = ProxyServer(loop, state, clock, sign_in.endpoints if sign_in else None)
    ssl_context = server_context(config.listen.tls) if config.listen.tls else None
    listener = await loop.create_server(
        server.protocol,
        config.listen.address,
        config.listen.port,
        ssl=ssl_context,
        reuse_port=reuse_port or None,
        backlog=1024,
    )
    server.start_sweeper()
    # Everything built so far lives as long as the process: keep the cyclic GC from rescanning it.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheme = "https" if ssl_context else "http"
    log.info(
        "listening on %s://%s:%d (pid %d)",
        scheme,
        config.listen.address,
        config.listen.port,
        os.getpid(),
    )
    await stop.wait()
    log.info("shutting down: finishing %d open connections", len(server.connections))
    listener.close()
    await server.drain(config.server.timeouts.shutdown)
    if sign_in is not None:
        await sign_in.close()
    log.info("stopped")
    return 0


class _Supervisor:
    """Forks workers that share the port through SO_REUSEPORT."""

    _MAX_RESTARTS = 5  # within _RESTART_WINDOW seconds, then give up
    _RESTART_WINDOW = 30.0

    def __init__(self, config: Config, keys: list[EcKey], count: int) -> None:
        self.config = config
        self.keys = keys
        self.count = count
        self.children: set[int] = set()
        self.stopping = False
        self.restarts: list[float] = []

    def run(self) -> int:
        # Bind once here (never listen) to validate the address and pin the port for workers.
        family = socket.AF_INET6 if ":" in self.config.listen.address else socket.AF_INET
        reserve = socket.socket(family, socket.SOCK_STREAM)
        reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserve.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            reserve.bind((self.config.listen.address, self.config.listen.port))
        except OSError as exc:
            log.error(
                "cannot listen on %s:%d: %s",
                self.config.listen.address,
                self.config.listen.port,
                exc,
            )
            return 1
        port = reserve.getsockname()[1]
        if port != self.config.listen.port:
            listen = self.config.listen.model_copy(update={"port": port})
            self.config = self.config.model_copy(update={"listen": listen})
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        for _ in range(self.count):
            self._spawn(reserve)
        log.info("supervising %d workers (pid %d)", self.count, os.getpid())
        deadline = 0.0
        exit_code = 0
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if self.stopping and deadline and time.monotonic() > deadline:
                    log.error("workers did not stop in time; killing them")
                    for child in self.children:
                        os.kill(child, signal.SIGKILL)
                    deadline = 0.0
                    exit_code = 1
                time.sleep(0.05)
                if self.stopping and not deadline:
                    deadline = time.monotonic() + self.config.server.timeouts.shutdown + 5
                continue
            self.children.discard(pid)
            if self.stopping:
                continue
            log.error("worker %d exited (status %d); restarting it", pid, status)
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < self._RESTART_WINDOW] + [now]
            if len(self.restarts) > self._MAX_RESTARTS:
                log.error("workers keep dying; stopping")
                self._on_stop(signal.SIGTERM, None)
                exit_code = 1
                continue
            self._spawn(reserve)
        reserve.close()
        return exit_code

    def _spawn(self, reserve: socket.socket) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            reserve.close()
            code = 1
            try:
                code = _run_worker(self.config, self.keys, reuse_port=True)
            finally:
                os._exit(code)
        self.children.add(pid)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
