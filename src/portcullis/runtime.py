"""Running the proxy: one worker process, or a supervisor forking N workers on SO_REUSEPORT.

Signals: SIGTERM/SIGINT start a graceful shutdown (stop accepting, finish
in-flight requests within ``server.timeouts.shutdown``, then exit 0). The
supervisor forwards them to its workers and restarts a worker that dies.
SIGHUP reloads the configuration file (:mod:`portcullis.reload`); the supervisor
forwards it to every worker. With ``server.reload.watch`` each worker also polls
the file and reloads when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import socket
import sqlite3
import time
from types import FrameType

import uvloop
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey as EcKey

from portcullis.assertion import generate_key
from portcullis.audit import build_audit_log
from portcullis.auth.build import SignIn, build_sign_in
from portcullis.auth.forward import forward_auth_endpoints
from portcullis.config.schema import Config
from portcullis.config.validate import ConfigError
from portcullis.control import ControlEndpoints
from portcullis.decided import recorder
from portcullis.decision import Gate, RouteGate
from portcullis.fastcgi import AuthorizerService, bind_before_fork
from portcullis.guardrails.monitor import build_guardrails
from portcullis.http.clock import CoarseClock
from portcullis.http.headers import TrustedProxies
from portcullis.http.server import ProxyServer, ProxyState
from portcullis.http.upstream import UpstreamPools
from portcullis.logs import configure_logging
from portcullis.metrics.region import Region
from portcullis.metrics.worker import WorkerMetrics, shared_region
from portcullis.policy import compile_policy
from portcullis.reload import (
    FileStamp,
    Reloader,
    file_stamp,
    plan_reload,
    read_config,
    signing_keys,
)
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
    policy = compile_policy(config)  # validated already: problems were reported at load
    return ProxyState(
        router=Router(config.routes, pools.for_route, policy.routes),
        pools=pools,
        gate=gate or RouteGate(),
        limits=config.server.limits,
        timeouts=config.server.timeouts,
        trusted=TrustedProxies(config.listen.trusted_proxies),
        scheme="https" if config.listen.tls else "http",
        access_log=config.log.access,
        strip_headers=strip_headers,
    )


@dataclasses.dataclass(frozen=True)
class _Origin:
    """What a worker needs for reloads: the file, its stamp when loaded, the generated key."""

    path: str | os.PathLike[str] | None
    stamp: FileStamp | None
    generated: tuple[EcKey, ...]
    metrics: Region | None = None  # shared by the workers: one scrape sees them all


def serve(
    config: Config, workers: int | None = None, config_path: str | os.PathLike[str] | None = None
) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code. SIGHUP reloads ``config_path``."""
    configure_logging(config.log)
    count = workers or config.server.workers
    # Made once, before workers fork, so every worker signs with (and publishes) the same keys,
    # also after reloads, whenever auth.assertion.keys is not set.
    generated = (generate_key(),)
    keys = signing_keys(config.auth, generated)
    origin = _Origin(
        config_path,
        file_stamp(config_path) if config_path else None,
        generated,
        shared_region(count),  # before the fork, like the keys
    )
    try:
        bind_before_fork(config.authorizer)  # a unix socket: one for all workers
    except OSError as exc:
        log.error("%s", exc)
        return 1
    if count <= 1:
        return _run_worker(config, keys, origin, reuse_port=False)
    return _Supervisor(config, keys, origin, count).run()


def _run_worker(
    config: Config,
    keys: list[EcKey],
    origin: _Origin,
    *,
    reuse_port: bool,
    port: int | None = None,
    supervisor: int | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, or until ``supervisor`` (the pid of the process that
    forked this worker) is gone."""
    port = config.listen.port if port is None else port
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_worker(config, keys, origin, reuse_port, port, supervisor))
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", config.listen.address, port, exc)
        return 1
    finally:
        loop.close()


async def _worker(  # noqa: PLR0917
    config: Config,
    keys: list[EcKey],
    origin: _Origin,
    reuse_port: bool,
    port: int,
    supervisor: int | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    clock = CoarseClock(loop)
    try:
        audit = build_audit_log(config.audit, loop)
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot open the audit store: %s", exc)  # fail closed: no trail, no service
        return 1
    try:
        guardrails = (
            build_guardrails(config.guardrails, now=time.time(), audit=audit.record)
            if config.guardrails is not None
            else None
        )
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("guardrails: %s", problem)
        return 1
    sign_in = (
        build_sign_in(
            config.auth,
            keys=keys,
            audit=lambda: server.audit,
            guardrails=lambda: server.guardrails,
        )
        if config.auth is not None
        else None
    )
    state = build_state(
        loop,
        clock,
        config,
        gate=sign_in.gate if sign_in else None,
        strip_headers=sign_in.strip_headers if sign_in else frozenset(),
    )
    server = ProxyServer(loop, state, clock)  # its control endpoints are set below
    server.audit = audit if audit.sinks else None
    server.audit_public = config.audit.public_routes
    server.guardrails = guardrails
    if guardrails is not None:
        guardrails.start()

    observed = WorkerMetrics(
        origin.metrics,
        lambda: reloader.config,
        connections=lambda: len(server.connections),
        audit=audit if audit.sinks else None,
    )

    def control(sign_in: SignIn | None) -> ControlEndpoints:  # again when a reload changes auth
        return ControlEndpoints(
            lambda: server.draining,
            {
                **forward_auth_endpoints(server),
                **observed.endpoints(),
                **(sign_in.endpoints if sign_in else {}),
            },
        )

    server.control = control(sign_in)
    reloader = Reloader(
        server,
        config,
        build=lambda new, gate, strip: build_state(loop, clock, new, gate, strip),
        control=control,
        sign_in=sign_in,
        keys=keys,
        generated=origin.generated,
        path=origin.path,
        stamp=origin.stamp,
    )
    loop.add_signal_handler(signal.SIGHUP, reloader.reload)
    ssl_context = server_context(config.listen.tls) if config.listen.tls else None
    listener = await loop.create_server(
        server.protocol,
        config.listen.address,
        port,
        ssl=ssl_context,
        reuse_port=reuse_port or None,
        backlog=1024,
    )
    server.start_sweeper()
    observed.start(loop)
    authorizer = await AuthorizerService.start(
        config,
        lambda: server.state,
        lambda: reloader.config,
        reuse_port=reuse_port,
        record=recorder(server),
    )
    watcher: asyncio.TimerHandle | None = None

    def watch() -> None:  # server.reload.watch: poll the file (a no-op while watch is off)
        nonlocal watcher
        watcher = loop.call_later(reloader.poll(), watch)

    watcher = loop.call_later(config.server.reload.interval, watch)
    # Everything built so far lives long (until a reload replaces the state): keep the cyclic GC
    # from rescanning it.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    orphan_watch = _watch_supervisor(loop, supervisor, stop) if supervisor else None
    scheme = "https" if ssl_context else "http"
    log.info(
        "listening on %s://%s:%d (pid %d)",
        scheme,
        config.listen.address,
        port,
        os.getpid(),
    )
    await stop.wait()
    watcher.cancel()
    if orphan_watch is not None:
        orphan_watch.cancel()
    loop.remove_signal_handler(signal.SIGHUP)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no reloads (and no default exit) while draining
    log.info("shutting down: finishing %d open connections", len(server.connections))
    listener.close()
    if authorizer is not None:
        authorizer.close()
    await server.drain(reloader.config.server.timeouts.shutdown)
    if authorizer is not None:
        await authorizer.drain(reloader.config.server.timeouts.shutdown)
    await reloader.close()
    if guardrails is not None:
        await guardrails.close()  # their violations go to the audit log: close it after
    await audit.close()  # every decided request is in by now: flush the last records
    observed.stop()
    log.info("stopped")
    return 0


_ORPHAN_CHECK = 1.0  # seconds between a worker's looks at its supervisor


class _Watch:
    """A repeating check; ``cancel`` stops it."""

    def __init__(self) -> None:
        self.handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


def _watch_supervisor(
    loop: asyncio.AbstractEventLoop, supervisor: int, stop: asyncio.Event
) -> _Watch:
    """Stop this worker (gracefully) once its supervisor is gone: killed with SIGKILL, or
    crashed. An orphan would keep serving the old configuration on the shared port, next to
    the workers of a new Portcullis."""
    watch = _Watch()

    def check() -> None:
        if os.getppid() != supervisor:
            log.error("the supervisor (pid %d) is gone; this worker stops", supervisor)
            stop.set()
            return
        watch.handle = loop.call_later(_ORPHAN_CHECK, check)

    check()
    return watch


_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


class _Supervisor:
    """Forks workers that share the port through SO_REUSEPORT."""

    _MAX_RESTARTS = 5  # within _RESTART_WINDOW seconds, then give up
    _RESTART_WINDOW = 30.0

    def __init__(self, config: Config, keys: list[EcKey], origin: _Origin, count: int) -> None:
        self.config = config
        self.keys = keys
        self.origin = origin
        self.count = count
        self.port = config.listen.port
        self.children: set[int] = set()
        self.stopping = False
        self.reload_pending = False
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
        self.port = reserve.getsockname()[1]
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        for _ in range(self.count):
            self._spawn(reserve)
        log.info("supervising %d workers (pid %d)", self.count, os.getpid())
        deadline = 0.0
        exit_code = 0
        while self.children:
            if self.reload_pending:
                self._reload()
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
        # Signals wait until both sides are ready: the supervisor's handlers must see the new
        # child in ``children``, and the child must never run the supervisor's handlers.
        supervisor = os.getpid()
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:  # the worker
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker's handler is set
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
                reserve.close()
                code = 1
                try:
                    code = _run_worker(
                        self.config,
                        self.keys,
                        self.origin,
                        reuse_port=True,
                        port=self.port,
                        supervisor=supervisor,
                    )
                finally:
                    os._exit(code)
            self.children.add(pid)
        finally:
            if os.getpid() == supervisor:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload_pending = True
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGHUP)

    def _reload(self) -> None:
        """Follow the workers' reload, so that a restarted worker starts with the new file."""
        self.reload_pending = False
        if self.origin.path is None:
            return
        stamp = file_stamp(self.origin.path)
        try:
            loaded, file_digest = read_config(self.origin.path)
            plan = plan_reload(self.config, loaded, file_digest)
            keys = (
                signing_keys(plan.config.auth, self.origin.generated)
                if plan.keys_changed
                else self.keys
            )
        except (ConfigError, OSError, ValueError):
            return  # refused: every worker logs why
        if plan.config.log != self.config.log:
            configure_logging(plan.config.log)
        self.config, self.keys = plan.config, keys
        self.origin = dataclasses.replace(self.origin, stamp=stamp)
