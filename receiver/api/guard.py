"""`@requires(scope)` for API handlers, the optional guard of /metrics, and
`foreign_form`, the one check of where a state-changing HTML form was posted from.

Each guarded request is logged once with the token's name (never its value), the status
and the time it took; a refused one says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from receiver import logs
from receiver.api.errors import error
from receiver.api.state import STATE
from receiver.api.tokens import Decision, Scope, authorize, authorize_url_token

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("receiver.api")
# The request's principal (token name) for handlers that record who did something.
PRINCIPAL = web.RequestKey("principal", str)


# Sec-Fetch-Site values of a request this service's own page made (or the user typed).
_OWN_SITE = frozenset({"same-origin", "none"})


# Where a request's credentials are: its Authorization header values (or a refusal).
Credentials = Callable[[web.Request], "Sequence[str] | Decision"]


def authorization_headers(request: web.Request) -> Sequence[str]:
    return request.headers.getall("Authorization", ())


def feed_credentials(request: web.Request) -> Sequence[str] | Decision:
    """A calendar feed's credentials: the Authorization header, or the decision on the
    token of `?token=` (one of them, once). Calendar apps send no headers, so the token
    rides in the URL, and a URL's token must be read-only (tokens.authorize_url_token)."""
    headers = request.headers.getall("Authorization", ())
    query = request.query.getall("token", [])
    if (query and headers) or len(query) > 1:
        return Decision(400, code="invalid_request", detail="give the token once: "
                        "an Authorization header or one ?token=")  # fmt: skip
    if query:
        return authorize_url_token(request.app[STATE].access, query[0])
    return headers


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


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lowercased ("" if it has none)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_form(request: web.Request, own: Iterable[str] = ()) -> str | None:
    """Why a form POST that changes something (console login, logout and forms, the ack
    link's button) did not come from this service's own pages, or None if it did.

    The classification doubles as a log field and metric label: `cross_site` (the
    browser's Sec-Fetch-Site says another site, or a same-site sibling), `null_origin`
    (`Origin: null`: a sandboxed frame, a data: URL, a redirect across sites: nothing a
    page of ours sends, since our pages are same-origin for the Referrer-Policy),
    `foreign_origin` (another origin than ours). Ours is the Host the request came to
    (any scheme: a TLS-terminating proxy may not say so) or one of `own` (origins such
    as `ack.links.base_url`'s, for a proxy that rewrites Host). A request with neither
    header (curl, old browsers) passes: the CSRF token or the link is its credential.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in _OWN_SITE:
        return "cross_site"
    origins = request.headers.getall("Origin", ())
    if not origins:
        return None
    if len(origins) > 1:  # no browser sends two: not ours
        return "foreign_origin"
    origin = origins[0].strip()
    if origin.lower() == "null":
        return "null_origin"
    if urlsplit(origin).netloc.lower() == request.host.lower() and origin_of(origin):
        return None
    if origin_of(origin) in {origin_of(o) for o in own}:
        return None
    return "foreign_origin"
