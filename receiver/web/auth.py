"""Who is looking at the console, and the wrapper every console handler goes through:
where a POST came from → session (or trusted proxy) → scope → CSRF on POST → headers.

A POST from another site (guard.foreign_form) is refused (403) first. A request without a
valid session is sent to /login?next=<its path> (303): a session is valid while its cookie
verifies, it was not logged out (web/store.py) and its token still has the value it was
opened with. One whose session lacks the page's scope gets a 403 page; a POST without the
session's CSRF token is refused (403) before the handler runs, so it changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, quote

import jinja2
from aiohttp import web
from redis.exceptions import RedisError

from receiver import logs
from receiver.api.guard import foreign_form
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Access, Scope, Token
from receiver.web import session as S
from receiver.web.config import ConsoleConfig
from receiver.web.store import ConsoleStore

log = logging.getLogger("receiver.console")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", bound=web.StreamResponse)
LOGIN = "/login"
HOME = "/console/alerts"
MAX_FORM = 16 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Console:
    """The console's clock, templates, session secret and Redis store. The secret is read
    again when a reload replaces the `console` section (a rotated secret ends every
    session); the store is made once Redis is connected (after the routes exist)."""

    def __init__(self, env: jinja2.Environment, clock: Callable[[], float] = time.time) -> None:
        self.env, self.clock = env, clock
        self._cfg: ConsoleConfig | None = None
        self._secret = ""
        self._store: ConsoleStore | None = None

    def store(self, app: web.Application) -> ConsoleStore:
        if self._store is None:
            services = app[SERVICES]
            self._store = ConsoleStore(services.redis, services.intake.keys)
        return self._store

    def secret(self, cfg: ConsoleConfig) -> str:
        if cfg is not self._cfg:
            try:
                self._secret = cfg.secret()
            except ValueError as e:  # check-config refused this at load: a file gone since
                log.error("console session secret unreadable: %s", e)
                self._secret = ""
            self._cfg = cfg
        return self._secret


CONSOLE = web.AppKey("console", Console)


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: name, how they logged in, what they may do, their
    session (for the CSRF token) and whether a new cookie must be set (proxy login)."""

    session: S.Session
    scopes: frozenset[Scope]
    csrf: str
    fresh_cookie: str = ""

    @property
    def name(self) -> str:
        return self.session.name

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes


VIEWER = web.RequestKey("viewer", Viewer)
FORM = web.RequestKey("form", dict[str, str])  # the POSTed form, read by the CSRF check


def token_named(access: Access, name: str) -> Token | None:
    """The current API token called `name` (None: no such token now)."""
    for t in access.tokens:
        if t.name == name:
            return t
    return None


async def identify(request: web.Request) -> Viewer | None:
    """The viewer of a request: from a trusted proxy's header, else from the cookie
    (RedisError when whether it was logged out cannot be checked)."""
    viewer = _viewer(request)
    if viewer is None or viewer.fresh_cookie:
        return viewer
    if await request.app[CONSOLE].store(request.app).revoked(viewer.session):
        # Logged out. A proxy's user is still vouched for by the proxy: a new session.
        return _viewer(request, cookie_ok=False) if viewer.session.how == "proxy" else None
    return viewer


def _viewer(request: web.Request, cookie_ok: bool = True) -> Viewer | None:
    """identify() without the logout check (pure: the cookie and the running config)."""
    state, console = request.app[STATE], request.app[CONSOLE]
    cfg = state.settings.console
    secret = console.secret(cfg)
    if not secret:
        return None
    now = console.clock()
    cookie = S.verify(request.cookies.get(S.COOKIE, ""), secret, now) if cookie_ok else None
    proxy = cfg.trusted_proxy
    if proxy is not None and proxy.trusts(request.remote):
        user = " ".join(request.headers.get(proxy.header, "").split())[: S.MAX_NAME]
        if user:
            granted = frozenset().union(*(s.implied() for s in proxy.scopes))
            if cookie is not None and cookie.how == "proxy" and cookie.name == user:
                return Viewer(cookie, granted, S.csrf_token(cookie, secret))
            fresh = S.new_session(user, "proxy", now, cfg.session_ttl)
            return Viewer(fresh, granted, S.csrf_token(fresh, secret), S.sign(fresh, secret))
    if cookie is None or cookie.how != "token":
        return None
    token = token_named(state.access, cookie.name)
    # Removed by a reload, or its value rotated (or re-added with another): the sessions
    # opened with the old value end with it.
    if token is None or not S.bound_to(cookie, secret, token.secret):
        return None
    return Viewer(cookie, token.scopes, S.csrf_token(cookie, secret))


def secured(resp: R) -> R:
    """`resp` with the console's security headers."""
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def is_https(request: web.Request) -> bool:
    # X-Forwarded-Proto only ever adds `Secure` to the cookie: trusting it costs nothing.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session_cookie(request: web.Request, resp: web.StreamResponse, value: str,
                       max_age: float) -> None:  # fmt: skip
    resp.set_cookie(S.COOKIE, value, max_age=int(max_age), path="/", httponly=True,
                    samesite="Strict", secure=is_https(request))  # fmt: skip


def see_other(location: str) -> web.Response:
    """303 to a path of this site (after a form: reloading the page resends nothing)."""
    return web.Response(status=303, headers={"Location": location})


def to_login(request: web.Request) -> web.Response:
    target = S.safe_next(request.path_qs if request.method == "GET" else request.path, HOME)
    return secured(see_other(f"{LOGIN}?next={quote(target)}"))


def page(scope: Scope) -> Callable[[Handler], Handler]:
    """Wraps a console handler: a viewer with `scope`, the CSRF token on POST, headers."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            if not request.app[STATE].settings.console.on:  # switched off by a reload
                raise web.HTTPNotFound()
            if request.method == "POST" and (why := foreign_post(request)):
                return secured(refuse(request, 403, "Not accepted",
                                      f"{FOREIGN_FORM} Nothing was changed. ({why})"))  # fmt: skip
            try:
                viewer = await identify(request)
            except RedisError:
                return secured(unavailable(request))
            if viewer is None:
                return to_login(request)
            request[VIEWER] = viewer
            resp: web.StreamResponse
            if not viewer.can(scope):
                resp = refuse(request, 403, "Not allowed",
                              f"{viewer.name!r} lacks the {scope} scope for this.")  # fmt: skip
            elif request.method == "POST" and not await csrf_passes(request, viewer):
                resp = refuse(
                    request,
                    403,
                    "Form expired",
                    "The form was not sent from this console (or your session "
                    "changed). Nothing was changed: reload the page and try again.",
                )
            else:
                try:
                    resp = await handler(request)
                except RedisError:
                    resp = unavailable(request)
            if viewer.fresh_cookie:
                cfg = request.app[STATE].settings.console
                set_session_cookie(request, resp, viewer.fresh_cookie, cfg.session_ttl)
            ms = round((time.perf_counter() - started) * 1000, 2)
            resp.headers["Server-Timing"] = f"app;dur={ms}"  # the bench reads this
            logs.info_line(log, "console request", method=request.method, path=request.path,
                           who=viewer.name, status=resp.status, ms=ms)  # fmt: skip
            return secured(resp)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


async def form_fields(request: web.Request) -> dict[str, str]:
    """The POSTed form (urlencoded, bounded), first value of each field; {} if unreadable."""
    if request.content_type != "application/x-www-form-urlencoded":
        return {}
    if (request.content_length or 0) > MAX_FORM:
        return {}
    body = await request.read()
    if len(body) > MAX_FORM:
        return {}
    try:
        parsed = parse_qs(body.decode(), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items()}


async def csrf_passes(request: web.Request, viewer: Viewer) -> bool:
    fields = await form_fields(request)
    request[FORM] = fields
    secret = request.app[CONSOLE].secret(request.app[STATE].settings.console)
    return bool(secret) and S.csrf_ok(viewer.session, secret, fields.get("csrf", ""))


FOREIGN_FORM = "This form was not sent from this console's own pages."


def foreign_post(request: web.Request) -> str | None:
    """Why a console POST came from elsewhere (guard.foreign_form), or None. Our own
    origin is the Host the request came to, or the origin of `ack.links.base_url`."""
    links = request.app[STATE].settings.ack.links
    return foreign_form(request, [links.base_url] if links is not None else [])


def unavailable(request: web.Request) -> web.Response:
    return refuse(request, 503, "Try again later", "The alert store is unavailable right now.")


def render(request: web.Request, template: str, status: int = 200, **ctx: object) -> web.Response:
    console = request.app[CONSOLE]
    viewer = request.get(VIEWER)
    html = console.env.get_template(template).render(
        viewer=viewer, now_ms=int(console.clock() * 1000), path=request.path, **ctx
    )
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def refuse(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "message.html", status=status, title=title, message=message)
