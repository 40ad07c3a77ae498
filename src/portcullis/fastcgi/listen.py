"""The authorizer's listener in each worker, beside the HTTP listener.

- TCP (``address:port``): every worker binds the port itself, with SO_REUSEPORT
  when there are several, so the kernel spreads connections over the workers as
  it does for the HTTP port.
- Unix socket (``unix:/path``): one socket, bound by the first process before the
  workers fork (:func:`bind_before_fork`); every worker accepts on it. It is
  created mode 0660 (give the web server's user the socket's group) and removed
  when that process exits. A stale socket file (nobody accepting) is replaced; a
  live one is an error.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Callable

from portcullis.config.auth_schema import IdentityHeaders
from portcullis.config.schema import AuthorizerSettings, Config
from portcullis.decided import Record
from portcullis.fastcgi.authorizer import Authorizer
from portcullis.fastcgi.server import FastCgiServer
from portcullis.http.server import ProxyState

__all__ = ["AuthorizerService", "bind_before_fork"]

log = logging.getLogger("portcullis.authorizer")

_BACKLOG = 1024
_SOCKET_UMASK = 0o117  # the socket file: rw for owner and group
_bound: dict[str, socket.socket] = {}  # unix sockets bound before fork, by configured address


def bind_before_fork(settings: AuthorizerSettings | None) -> None:
    """Bind the authorizer's unix socket once, in the process that forks the workers."""
    if settings is None or not settings.listen.startswith("unix:") or settings.listen in _bound:
        return
    _bound[settings.listen] = _bind_unix(settings.listen.removeprefix("unix:"))


def _bind_unix(path: str) -> socket.socket:
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(_SOCKET_UMASK)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"authorizer.listen unix:{path}: {exc.strerror}") from None
    finally:
        os.umask(previous)
    sock.setblocking(False)
    atexit.register(_unlink_if_ours, path, os.stat(path).st_ino, os.getpid())
    return sock


def _remove_stale(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"authorizer.listen unix:{path}: exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
    raise OSError(errno.EADDRINUSE, f"authorizer.listen unix:{path}: another process listens")


def _unlink_if_ours(path: str, inode: int, pid: int) -> None:
    if os.getpid() != pid:
        return
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


def _header_names(config: Config) -> IdentityHeaders | None:
    return config.auth.headers if config.auth is not None else None


class AuthorizerService:
    """The FastCGI server answering with the worker's gate, and its listener."""

    def __init__(self, server: FastCgiServer, listener: asyncio.Server, address: str) -> None:
        self.server = server
        self.listener = listener
        self.address = address

    @classmethod
    async def start(
        cls,
        config: Config,
        state: Callable[[], ProxyState],
        current: Callable[[], Config],
        *,
        reuse_port: bool,
        record: Record = lambda *_: None,
    ) -> AuthorizerService | None:
        """Listen at ``config.authorizer.listen`` (None: no authorizer configured).

        ``state`` and ``current`` give the worker's proxy state and configuration as they
        are now (a reload replaces them; a new ``authorizer`` section needs a restart);
        ``record`` is told of every decision (metrics, audit).
        """
        settings = config.authorizer
        if settings is None:
            return None
        loop = asyncio.get_running_loop()
        authorizer = Authorizer(state, lambda: _header_names(current()), record)
        server = FastCgiServer(
            loop,
            authorizer,
            too_large=authorizer.too_large,
            failure=authorizer.failure,
            timeout=settings.timeout,
            max_connections=config.server.limits.max_connections,
        )
        address = settings.listen
        try:
            if address.startswith("unix:"):
                sock = _bound.get(address) or _bind_unix(address.removeprefix("unix:"))
                listener = await loop.create_unix_server(
                    server.protocol, sock=sock, backlog=_BACKLOG
                )
            else:
                host, _, port = address.rpartition(":")
                listener = await loop.create_server(
                    server.protocol,
                    host.strip("[]"),
                    int(port),
                    reuse_port=reuse_port or None,
                    backlog=_BACKLOG,
                )
                bound = listener.sockets[0].getsockname()
                address = f"{host}:{bound[1]}"
        except OSError as exc:
            if str(exc).startswith("authorizer.listen"):
                raise
            raise OSError(exc.errno, f"authorizer.listen {address}: {exc.strerror}") from None
        server.start_sweeper()
        log.info("FastCGI authorizer listening on %s (pid %d)", address, os.getpid())
        return cls(server, listener, address)

    def close(self) -> None:
        """Stop accepting connections."""
        self.listener.close()

    async def drain(self, grace: float) -> None:
        """Let checks in progress finish within ``grace`` seconds."""
        await self.server.drain(grace)
