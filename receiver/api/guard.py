"""`@requires(scope)` for API handlers, and the optional guard of /metrics.

Each guarded request is logged once with the token's name (never its value), the status
and the time it took; a refused one says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from redis.exceptions import RedisError

from receiver import logs
from receiver.api.errors import error
from receiver.api.state import STATE
from receiver.api.tokens import Decision, Scope, authorize

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("receiver.api")
# The request's principal (token name) for handlers that record who did something.
PRINCIPAL = web.RequestKey("principal", str)


# Where a request's credentials are: its Authorization header values (or a refusal).
Credentials = Callable[[web.Request], "Sequence[str] | Decision"]


def authorization_headers(request: web.Request) -> Sequence[str]:
    return request.headers.getall("Authorization", ())


def requires(
    scope: Scope, credentials: Credentials = authorization_headers
) -> Callable[[Handler], Handler]:
    """Lets a request through only with a token granting `scope` (see tokens.authorize);
    `credentials` reads them (the Authorization header; the calendar feed also takes a
    query parameter, since calendar apps cannot send headers)."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            values = credentials(request)
            decision = (values if isinstance(values, Decision)
                        else authorize(request.app[STATE].access, values, scope))  # fmt: skip
            fields = {"method": request.method, "path": request.path, "scope": str(scope),
                      "token": decision.principal or None}  # fmt: skip
            if not decision.allowed:
                log.warning("api request refused", extra={**fields, "status": decision.status,
                                                          "why": decision.detail})  # fmt: skip
                return error(decision.status, decision.code, decision.detail)
            request[PRINCIPAL] = decision.principal
            try:
                resp = await handler(request)
            except RedisError:
                resp = error(503, "unavailable", "state store unavailable; retry")
            logs.info_line(log, "api request", **fields, status=resp.status,
                           ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
            return resp

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def metrics_guard(handler: Handler) -> Handler:
    """/metrics is open unless `metrics_auth` is set (Prometheus scrapes send bearer or
    basic credentials, as Alertmanager's webhooks do)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        creds = request.app[STATE].metrics_auth
        if creds is not None:
            refused = creds.check(request.headers.getall("Authorization", ()))
            if refused is not None:
                return error(refused.status, refused.code, refused.detail)
        return await handler(request)

    return guarded
