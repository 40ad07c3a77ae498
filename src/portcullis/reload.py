"""Hot reload: re-read the configuration file, build a new state, swap one reference.

A reload is all or nothing. :func:`plan_reload` (pure) compares the running
configuration with the file's and decides: which routes were added, removed or
changed, whether ``auth`` changed (only then is sign-in rebuilt, and the
assertion signing keys only when ``auth.assertion.keys`` changed), and which
changed settings need a restart (``listen.address``, ``listen.port``,
``listen.tls``, ``server.workers``, ``authorizer``, ``guardrails``: they keep their running
values).

:class:`Reloader` applies a plan to one worker's :class:`ProxyServer`: it builds
the new :class:`ProxyState` (and sign-in when needed) off to the side, then swaps
``server.state`` (and ``server.control``) with plain assignments on the event
loop thread. Requests already started keep the state they read. The old upstream
pools stop pooling: idle connections close at once, busy ones when their exchange
ends. A replaced sign-in closes ``server.timeouts.shutdown`` seconds later. Any
problem refuses the whole reload; the worker keeps serving what it had.

Signals (SIGHUP) and the file-watch timer are wired in :mod:`portcullis.runtime`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey as EcKey

from portcullis.audit.record import AuditRecord, Event
from portcullis.auth.build import SignIn, assertion_keys, build_sign_in
from portcullis.config.auth_schema import Auth
from portcullis.config.load import load_config
from portcullis.config.schema import Config, Route
from portcullis.config.validate import ConfigError, Problem
from portcullis.control import ControlEndpoints
from portcullis.decision import Gate
from portcullis.http.server import ProxyServer, ProxyState
from portcullis.http.upstream import UpstreamPool
from portcullis.logs import configure_logging
from portcullis.metrics import METRICS

__all__ = [
    "FileStamp",
    "ReloadPlan",
    "Reloader",
    "RouteChanges",
    "StateBuilder",
    "digest",
    "file_stamp",
    "plan_reload",
    "read_config",
    "route_changes",
    "signing_keys",
]

log = logging.getLogger("portcullis.reload")

StateBuilder = Callable[[Config, Gate | None, frozenset[bytes]], ProxyState]
"""Builds a worker's state from a configuration, a gate and the identity header names."""


# --- the pure part -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteChanges:
    """Routes, identified by (host, path prefix), that a reload adds, removes or changes."""

    added: int = 0
    removed: int = 0
    changed: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.removed} removed, {self.changed} changed"


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a reload does; ``config`` is the file's with the restart-only settings kept."""

    config: Config
    digest: str
    routes: RouteChanges
    auth_changed: bool
    keys_changed: bool
    needs_restart: tuple[str, ...]  # key paths changed in the file that apply only on restart

    def summary(self) -> str:
        sign_in = "rebuilt" if self.auth_changed else "kept"
        return f"routes: {self.routes}; sign-in {sign_in}"


def digest(data: bytes) -> str:
    """A short fingerprint of a configuration file's bytes, for logs."""
    return hashlib.sha256(data).hexdigest()[:12]


def _route_key(route: Route) -> tuple[str, str]:
    # '/api/' and '/api' match the same requests; validation refuses both in one file.
    return (route.host, route.path.rstrip("/") or "/")


def route_changes(old: Iterable[Route], new: Iterable[Route]) -> RouteChanges:
    before = {_route_key(r): r for r in old}
    after = {_route_key(r): r for r in new}
    return RouteChanges(
        added=len(after.keys() - before.keys()),
        removed=len(before.keys() - after.keys()),
        changed=sum(1 for key, route in after.items() if key in before and before[key] != route),
    )


def _key_sources(auth: Auth | None) -> object:
    """Where the assertion keys come from; no auth and no keys both mean the generated key."""
    return auth.assertion.keys if auth is not None else None


def plan_reload(current: Config, new: Config, file_digest: str) -> ReloadPlan:
    """Decide what reloading ``new`` over the running ``current`` does (no I/O)."""
    restart = [
        f"listen.{name}"
        for name in ("address", "port", "tls")
        if getattr(new.listen, name) != getattr(current.listen, name)
    ]
    if new.server.workers != current.server.workers:
        restart.append("server.workers")
    if new.authorizer != current.authorizer:
        restart.append("authorizer")  # its listener is bound before workers fork
    if new.guardrails != current.guardrails:
        restart.append("guardrails")  # windows, warm-up and alert senders live per worker
    listen = new.listen.model_copy(
        update={
            "address": current.listen.address,
            "port": current.listen.port,
            "tls": current.listen.tls,
        }
    )
    server = new.server.model_copy(update={"workers": current.server.workers})
    return ReloadPlan(
        config=new.model_copy(
            update={
                "listen": listen,
                "server": server,
                "authorizer": current.authorizer,
                "guardrails": current.guardrails,
            }
        ),
        digest=file_digest,
        routes=route_changes(current.routes, new.routes),
        auth_changed=new.auth != current.auth,
        keys_changed=_key_sources(new.auth) != _key_sources(current.auth),
        needs_restart=tuple(restart),
    )


def signing_keys(auth: Auth | None, generated: Sequence[EcKey]) -> list[EcKey]:
    """The assertion keys for ``auth``: configured ones, else ``generated`` (made before fork)."""
    if auth is None or auth.assertion.keys is None:
        return list(generated)
    return assertion_keys(auth)


# --- the file ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What the file watcher compares: a change in any field means "look again"."""

    mtime_ns: int
    size: int
    inode: int  # an editor or a ConfigMap that renames a new file into place


def file_stamp(path: str | os.PathLike[str]) -> FileStamp | None:
    """The file's stamp, or None when it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileStamp(st.st_mtime_ns, st.st_size, st.st_ino)


def read_config(path: str | os.PathLike[str]) -> tuple[Config, str]:
    """Load and check the file (raises :class:`ConfigError`), with its digest."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror}")]) from None
    return load_config(path), digest(data)


# --- applying it to a running worker -------------------------------------------------------


class Reloader:
    """Owns a worker's sign-in and replaces it and ``server.state`` on :meth:`reload`."""

    def __init__(
        self,
        server: ProxyServer,
        config: Config,
        *,
        build: StateBuilder,
        control: Callable[[SignIn | None], ControlEndpoints] | None = None,
        sign_in: SignIn | None,
        keys: Sequence[EcKey],
        generated: Sequence[EcKey],
        path: str | os.PathLike[str] | None,
        stamp: FileStamp | None = None,
    ) -> None:
        self.server = server
        self.config = config
        self.sign_in = sign_in
        self.path = Path(path) if path is not None else None
        self.stamp = stamp if stamp is not None or path is None else file_stamp(path)
        self.digest = ""
        self._build = build
        self._control = control or self._sign_in_endpoints
        self._keys = list(keys)
        self._generated = list(generated)
        self._retired_pools: set[UpstreamPool] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closing: list[tuple[SignIn, asyncio.TimerHandle]] = []

    def _sign_in_endpoints(self, sign_in: SignIn | None) -> ControlEndpoints:
        server = self.server
        return ControlEndpoints(lambda: server.draining, sign_in.endpoints if sign_in else None)

    # triggers ---------------------------------------------------------------------------------
    def poll(self) -> float:
        """The file watcher's tick: reload if the file changed; returns seconds to the next."""
        settings = self.config.server.reload
        if settings.watch and self.path is not None and file_stamp(self.path) != self.stamp:
            self.reload()
        return self.config.server.reload.interval

    def reload(self) -> bool:
        """Re-read the file and swap the state; False (nothing changed) when refused."""
        if self.path is None:
            log.error("reload refused: the configuration did not come from a file")
            return False
        self.stamp = file_stamp(self.path)  # before reading: a later write is seen next time
        try:
            done = self._reload(self.path)
        except Exception:
            log.exception("reload refused: unexpected error; still serving the previous state")
            done = False
        METRICS.reloaded(done)
        return done

    def _reload(self, path: Path) -> bool:
        try:
            loaded, file_digest = read_config(path)
        except ConfigError as exc:
            return self._refused(exc.problems)
        plan = plan_reload(self.config, loaded, file_digest)
        try:
            sign_in, keys = self._sign_in_for(plan)
        except ConfigError as exc:
            return self._refused(exc.problems)
        except (OSError, ValueError) as exc:
            return self._refused([Problem("auth", f"cannot set up sign-in: {exc}")])
        try:
            state = self._build(
                plan.config,
                sign_in.gate if sign_in else None,
                sign_in.strip_headers if sign_in else frozenset(),
            )
        except (OSError, ValueError) as exc:  # e.g. an unusable routes[*].tls_ca_file
            if sign_in is not None and sign_in is not self.sign_in:
                self.server.spawn(_close_quietly(sign_in))
            return self._refused([Problem("routes", f"cannot set up upstreams: {exc}")])
        for key in plan.needs_restart:
            log.warning("reload: %s changed; it takes effect only after a restart", key)
        self._swap(plan, state, sign_in, keys)
        log.info(
            "configuration reloaded (%d routes, sha256 %s): %s",
            len(plan.config.routes),
            plan.digest,
            plan.summary(),
        )
        self._audit("reloaded", f"{len(plan.config.routes)} routes, sha256 {plan.digest}")
        return True

    def _refused(self, problems: Iterable[Problem]) -> bool:
        problems = list(problems)
        for problem in problems:
            log.error("reload refused: %s", problem)
        log.error("reload refused: still serving the previous configuration")
        self._audit("refused", "; ".join(str(p) for p in problems))
        return False

    def _audit(self, outcome: str, detail: str) -> None:
        audit = self.server.audit
        if audit is not None:
            audit.record(
                AuditRecord(
                    time=time.time(), event=Event.CONFIG_RELOADED, reason=outcome, detail=detail
                )
            )

    def _sign_in_for(self, plan: ReloadPlan) -> tuple[SignIn | None, list[EcKey]]:
        """The sign-in the new state uses: the running one unless ``auth`` changed."""
        if not plan.auth_changed:
            return self.sign_in, self._keys
        keys = signing_keys(plan.config.auth, self._generated) if plan.keys_changed else self._keys
        auth = plan.config.auth
        server = self.server
        built = (
            build_sign_in(
                auth, keys=keys, audit=lambda: server.audit, guardrails=lambda: server.guardrails
            )
            if auth
            else None
        )
        return built, keys

    # the swap ---------------------------------------------------------------------------------
    def _swap(
        self, plan: ReloadPlan, state: ProxyState, sign_in: SignIn | None, keys: list[EcKey]
    ) -> None:
        server = self.server
        old_state, old_sign_in, old_config = server.state, self.sign_in, self.config
        server.state = state  # new requests (and connections) see the new state from now on
        if sign_in is not old_sign_in:
            server.control = self._control(sign_in)
            if old_sign_in is not None:
                self._close_later(old_sign_in, old_config.server.timeouts.shutdown)
            if state.strip_headers != old_state.strip_headers:
                # Requests strip the names of the state they read; idle connections are closed
                # too, so that clients reconnect under the renamed identity headers.
                for conn in list(server.connections):
                    conn.drain()
        self.config, self.sign_in, self._keys, self.digest = plan.config, sign_in, keys, plan.digest
        if plan.config.log != old_config.log:
            configure_logging(plan.config.log)
        self._retire(old_state)

    def _retire(self, state: ProxyState) -> None:
        """Stop pooling in the old state's pools; busy connections close when they finish."""
        for pool in {target.pool for target in state.router.targets}:
            pool.max_idle = 0  # release() closes instead of pooling
            for conn in list(pool.idle):
                pool.forget(conn)
                conn.close()
            if pool.busy:
                self._retired_pools.add(pool)
        if self._retired_pools and self._sweeper is None:
            self._sweeper = self.server.loop.call_later(self.server.clock.tick, self._sweep)

    def _sweep(self) -> None:
        """Response deadlines of retired pools' connections (the server sweeps only its own)."""
        now = self.server.clock.now
        for pool in list(self._retired_pools):
            pool.sweep(now)
            if not pool.busy:
                self._retired_pools.discard(pool)
        self._sweeper = None
        if self._retired_pools:
            self._sweeper = self.server.loop.call_later(self.server.clock.tick, self._sweep)

    def _close_later(self, sign_in: SignIn, delay: float) -> None:
        def close() -> None:
            self._closing[:] = [(s, h) for s, h in self._closing if s is not sign_in]
            self.server.spawn(_close_quietly(sign_in))

        self._closing.append((sign_in, self.server.loop.call_later(delay, close)))

    async def close(self) -> None:
        """At shutdown, after draining: close the sign-ins and the retired pools now."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for pool in self._retired_pools:
            pool.close()
        self._retired_pools.clear()
        closing, self._closing = self._closing, []
        for sign_in, handle in closing:
            handle.cancel()
            await _close_quietly(sign_in)
        if self.sign_in is not None:
            await self.sign_in.close()


async def _close_quietly(sign_in: SignIn) -> None:
    try:
        await sign_in.close()
    except Exception:
        log.exception("error while closing a replaced sign-in")
