"""The `server:` config section, and the bounds on the service's HTTP connections.

- An idle keep-alive connection is closed after `keepalive_timeout` (aiohttp's own timer,
  which also covers a connection that never sends a byte).
- A request's headers must all arrive within `read_timeout` of their first byte (a sweep
  here); the webhook's body within `read_timeout` of starting to read it (api/webhook.py).
- At most `max_connections` are open at once. At the limit, a new connection closes the
  connection that has been idle the longest (no request in progress: one still sending its
  headers counts as idle) and is refused with a 503 only when every open connection has a
  request in progress. So a flood of idle or half-sent connections cannot starve health
  checks or webhooks, and requests in flight are never cut.
- At start-up the soft RLIMIT_NOFILE is raised to the hard limit, and `max_connections` is
  kept below it with room for Redis, outbound HTTP, the SMTP pools, log files and the
  listener (computed from the config `serve` starts with).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import orjson
from aiohttp import web
from pydantic import Field, ValidationInfo, field_validator

from receiver.config.durations import Duration, format_duration, within
from receiver.config.loader import StrictModel
from receiver.metrics import Metrics

if TYPE_CHECKING:  # settings.py composes ServerConfig from here
    from receiver.server.settings import Settings

log = logging.getLogger("receiver.connections")

_MIN_TIMEOUT, _MAX_TIMEOUT = 0.1, 3600.0
# File descriptors kept out of the connection budget besides the Redis pool and the
# email receivers' SMTP pools: log files, the listener, the embedded redis-server's pipes,
# DNS, templates being read, and aiohttp's outbound pool (TCPConnector's limit is 100:
# however many sends `workers.concurrency` runs at once, HTTP ones share those 100).
BASE_FD_RESERVE = 64
OUTBOUND_HTTP_POOL = 100
# Where the hard limit is "unlimited", aim for Linux's default fs.nr_open.
_UNLIMITED_TARGET = 1 << 20


class ServerConfig(StrictModel):
    """`server:`: how long connections may idle or dawdle, and how many may be open."""

    # Well below aiohttp's 75 s: an idle connection holds a file descriptor for nothing.
    keepalive_timeout: Duration = 15.0
    read_timeout: Duration = 30.0
    # None → as many as the file-descriptor limit leaves room for (see connection_budget).
    max_connections: int | None = Field(None, ge=1)

    @field_validator("keepalive_timeout", "read_timeout")
    @classmethod
    def _timeout(cls, v: float, info: ValidationInfo) -> float:
        return within(v, "100ms", "1h", info.field_name or "", f"(got {format_duration(v)})")


# ---- the file-descriptor budget (pure) ----


def fd_reserve(redis_pool: int, smtp_connections: int) -> int:
    """Descriptors to keep for everything but inbound connections; `smtp_connections`
    is the most the email receivers' pools hold at once (`smtp_pools`)."""
    return BASE_FD_RESERVE + OUTBOUND_HTTP_POOL + redis_pool + smtp_connections


def smtp_pools(settings: Settings) -> int:
    """The sum of the email receivers' `connections` (each pool is bounded by its own)."""
    return sum(r.smtp_connections for r in settings.receivers.values())


def nofile_target(soft: int, hard: int) -> int:
    """The soft RLIMIT_NOFILE to ask for: the hard limit (never lower than today's soft)."""
    if hard == resource.RLIM_INFINITY:
        return max(soft, _UNLIMITED_TARGET)
    return max(soft, hard)


@dataclass(frozen=True)
class Budget:
    max_connections: int
    cap: int  # the most the fd limit allows
    clamped: bool  # the configured max_connections was above the cap


def connection_budget(requested: int | None, fd_limit: int, reserve: int) -> Budget:
    """How many inbound connections to allow under `fd_limit` descriptors.

    The cap leaves `reserve` descriptors free; with a very low limit, half of it at least
    goes to connections (a service that cannot take connections is no use either).
    """
    cap = max(fd_limit - reserve, fd_limit // 2, 1)
    if requested is None:
        return Budget(cap, cap, False)
    return Budget(min(requested, cap), cap, requested > cap)


def raise_nofile() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards the hard limit; (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = nofile_target(soft, hard)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as e:
            log.warning("cannot raise the file-descriptor limit",
                        extra={"soft": soft, "hard": hard, "error": str(e)})  # fmt: skip
            return soft, soft
    return soft, target


# ---- tracking connections ----

Factory = Callable[[], asyncio.Protocol]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(limit: int) -> bytes:
    """The whole answer to a connection over the limit: a JSON 503, then close."""
    detail = f"all {limit} connections have a request in progress; retry"
    body = orjson.dumps({"error": "too_many_connections", "detail": detail, "retry": True})
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class _Conn(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol inside, our bookkeeping around it."""

    def __init__(self, owner: Connections) -> None:
        self.owner = owner
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.busy = 0  # requests in progress
        self.header_since: float | None = None  # first byte of a request not yet started

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is one without subclassing asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)
        self.owner.admit(self)

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.busy == 0 and self.header_since is None:
            self.owner.reading(self)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


class Connections:
    """The open connections of one server: admits, evicts, times out headers.

    `protocol` is the factory to give `loop.create_server`; `middleware` marks the
    requests in progress, so it must be the app's outermost middleware.
    """

    def __init__(self, limit: int, read_timeout: float, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.limit, self.read_timeout = limit, read_timeout
        # aiohttp's protocol factory (`runner.server`): set by the site, once the runner
        # is set up (which is after the middleware had to be installed).
        self.factory: Factory | None = None
        self.metrics, self.clock = metrics, clock
        self.open: dict[_Conn, None] = {}
        # Insertion-ordered sets: idle ones by when they became idle (oldest first), and
        # those reading headers by their first byte (so a sweep stops at the first on time).
        self.idle: dict[_Conn, None] = {}
        self.headers: dict[_Conn, None] = {}
        self.by_inner: dict[asyncio.Protocol, _Conn] = {}
        self._refusal = _refusal(limit)
        self._sweeper: asyncio.Task[None] | None = None
        metrics.connections_open.set_function(lambda: len(self.open))
        metrics.connections_max.set(limit)

    def protocol(self) -> asyncio.Protocol:
        return _Conn(self)

    def admit(self, conn: _Conn) -> None:
        """A new connection: make room if needed, else refuse it with a 503."""
        assert conn.transport is not None
        if len(self.open) >= self.limit and not self._evict_idle():
            self._count("refused")
            log.warning("connection refused: every connection has a request in progress",
                        extra={"max_connections": self.limit})  # fmt: skip
            conn.transport.write(self._refusal)
            conn.transport.close()
            return
        assert self.factory is not None
        self.open[conn] = None
        self.idle[conn] = None
        inner = conn.inner = self.factory()
        self.by_inner[inner] = conn
        inner.connection_made(conn.transport)

    def _evict_idle(self) -> bool:
        if not self.idle:
            return False
        self._close(next(iter(self.idle)), "evicted")
        log.warning("connection limit reached: closed the longest-idle connection",
                    extra={"max_connections": self.limit})  # fmt: skip
        return True

    def reading(self, conn: _Conn) -> None:
        """The first byte of a request's headers arrived on an idle connection."""
        conn.header_since = self.clock()
        self.headers[conn] = None

    def forget(self, conn: _Conn) -> None:
        self.open.pop(conn, None)
        self.idle.pop(conn, None)
        self.headers.pop(conn, None)
        if conn.inner is not None:
            self.by_inner.pop(conn.inner, None)

    def _close(self, conn: _Conn, reason: str) -> None:
        # Forgotten now, not when the loop reports it closed: the room is needed now.
        self.forget(conn)
        self._count(reason)
        if conn.transport is not None:
            conn.transport.close()

    def _count(self, reason: str) -> None:
        self.metrics.child(self.metrics.connections_closed, reason).inc()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self.by_inner.get(request.protocol)
        if conn is None:  # not one of ours (or already forgotten)
            return await handler(request)
        conn.busy += 1
        conn.header_since = None
        self.idle.pop(conn, None)
        self.headers.pop(conn, None)
        try:
            return await handler(request)
        finally:
            conn.busy -= 1
            if conn.busy == 0 and conn in self.open:
                self.idle[conn] = None

    def sweep(self) -> int:
        """Close the connections whose headers are overdue; how many."""
        deadline = self.clock() - self.read_timeout
        late = []
        for conn in self.headers:
            if conn.header_since is None or conn.header_since > deadline:
                break
            late.append(conn)
        for conn in late:
            self._close(conn, "read_timeout")
        if late:
            log.warning("closed connections whose request headers were not received in time",
                        extra={"read_timeout_s": self.read_timeout})  # fmt: skip
        return len(late)

    async def _sweep_forever(self) -> None:
        tick = min(1.0, self.read_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            self.sweep()

    def install(self, app: web.Application) -> None:
        """Put the middleware first in `app` (before `runner.setup()` freezes it)."""
        app.middlewares.insert(0, self.middleware)

    def start(self, factory: Factory) -> None:
        self.factory = factory
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None


class LimitedSite(web.BaseSite):
    """A TCP site whose connections go through `Connections`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 connections: Connections) -> None:  # fmt: skip
        super().__init__(runner)
        self.runner, self.host, self.port, self.connections = runner, host, port, connections

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        assert self.runner.server is not None, "runner.setup() first"
        self.connections.start(self.runner.server)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.connections.protocol, self.host, self.port, backlog=self._backlog
        )

    async def stop(self) -> None:
        await self.connections.stop()
        await super().stop()


@dataclass(frozen=True)
class Limits:
    """What `serve` runs with: the settings' timeouts and the connection budget."""

    keepalive_timeout: float
    read_timeout: float
    max_connections: int


def plan(server: ServerConfig, redis_pool: int, smtp_connections: int) -> Limits:
    """Raise the fd limit, fit max_connections under it, and log both."""
    before, fd_limit = raise_nofile()
    budget = connection_budget(server.max_connections, fd_limit,
                               fd_reserve(redis_pool, smtp_connections))  # fmt: skip
    if budget.clamped:
        log.warning("server.max_connections lowered to fit the file-descriptor limit",
                    extra={"requested": server.max_connections, "max_connections": budget.cap,
                           "fd_limit": fd_limit})  # fmt: skip
    log.info("connection limits", extra={
        "fd_limit": fd_limit, "fd_limit_was": before, "max_connections": budget.max_connections,
        "keepalive_timeout_s": server.keepalive_timeout, "read_timeout_s": server.read_timeout,
    })  # fmt: skip
    return Limits(server.keepalive_timeout, server.read_timeout, budget.max_connections)


def prepare(app: web.Application, settings: Settings,
            metrics: Metrics) -> tuple[Limits, Connections]:  # fmt: skip
    """For `serve`, before `runner.setup()`: the limits, and the connection tracker with its
    middleware installed in `app` (start it with `LimitedSite`)."""
    limits = plan(settings.server, settings.redis.max_connections,
                  smtp_pools(settings))  # fmt: skip
    conns = Connections(limits.max_connections, limits.read_timeout, metrics)
    conns.install(app)
    return limits, conns
