"""GET/POST /login (an API token → a session cookie), POST /logout, GET /, static files."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.state import STATE
from receiver.api.tokens import Decision, Scope, authorize
from receiver.web import session as S
from receiver.web.auth import (
    CONSOLE,
    HOME,
    VIEWER,
    foreign_post,
    form_fields,
    identify,
    page,
    refuse,
    render,
    secured,
    see_other,
    set_session_cookie,
    token_named,
    unavailable,
)  # fmt: skip

log = logging.getLogger("receiver.console")
STATIC_DIR = Path(__file__).parent / "static"
_TYPES = {".css": "text/css", ".js": "text/javascript"}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    version: str  # a hash of the content: URLs change when it does, so caching is safe


def load_static() -> dict[str, StaticFile]:
    return {
        p.name: StaticFile(p.read_bytes(), _TYPES[p.suffix],
                           hashlib.sha256(p.read_bytes()).hexdigest()[:12])
        for p in sorted(STATIC_DIR.iterdir()) if p.suffix in _TYPES
    }  # fmt: skip


STATIC = web.AppKey("console_static", dict[str, StaticFile])


async def static(request: web.Request) -> web.StreamResponse:
    """The vendored CSS and script (no session needed: the login page uses them)."""
    f = request.app[STATIC].get(request.match_info["name"])
    if f is None:
        raise web.HTTPNotFound()
    resp = web.Response(body=f.body, content_type=f.content_type, charset="utf-8")
    secured(resp)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


async def root(request: web.Request) -> web.StreamResponse:
    return secured(see_other(HOME))


async def login_form(request: web.Request) -> web.StreamResponse:
    if not request.app[STATE].settings.console.on:
        raise web.HTTPNotFound()
    target = S.safe_next(request.query.get("next"), HOME)
    try:
        if await identify(request) is not None:
            return secured(see_other(target))
    except RedisError:
        pass  # whether a session is open cannot be told: the form is always right
    return secured(render(request, "login.html", next=target, error=""))


def _failure(decision: Decision, token: str) -> str:
    """The `reason` label of a failed login (alert_receiver_login_failures_total)."""
    if not token:
        return "no_token"
    return "not_allowed" if decision.status == 403 else "unknown_token"


async def login(request: web.Request) -> web.StreamResponse:
    """A token in the form → a session named after the token and bound to its value, if
    it may read; repeated failures are slowed down, then refused (web/store.py)."""
    state = request.app[STATE]
    cfg = state.settings.console
    if not cfg.on:
        raise web.HTTPNotFound()
    why = foreign_post(request)
    if why:
        log.warning("console login refused", extra={"status": 403, "why": why})
        return secured(refuse(request, 403, "Not accepted", "Log in from this console's page."))
    fields = await form_fields(request)
    target = S.safe_next(fields.get("next"), HOME)
    token = fields.get("token", "").strip()
    decision = authorize(state.access, [f"Bearer {token}"] if token else [], Scope.READ)
    console = request.app[CONSOLE]
    secret = console.secret(cfg)
    if not secret:
        log.error("console login refused: no session secret")
        return secured(render(request, "login.html", status=503, next=target,
                              error="The console cannot sign sessions."))  # fmt: skip
    ok = decision.allowed and decision.principal != "anonymous"
    now = console.clock()
    try:
        verdict = await console.store(request.app).login_attempt(
            request.remote, not ok, cfg.login_limit, now
        )
    except RedisError:
        return secured(unavailable(request))
    metrics = state.metrics
    if verdict.refused:
        metrics.child(metrics.login_refused, verdict.refused).inc()
        log.warning("console login refused", extra={
            "status": 429, "why": f"too many failed logins ({verdict.refused})",
            "address": request.remote, "retry_after_s": verdict.retry_after_s})  # fmt: skip
        resp = render(request, "login.html", status=429, next=target,
                      error="Too many failed logins from here: try again in "
                            f"{verdict.retry_after_s} s.")  # fmt: skip
        resp.headers["Retry-After"] = str(verdict.retry_after_s)
        return secured(resp)
    if not ok:
        reason = _failure(decision, token)
        metrics.child(metrics.login_failures, reason).inc()
        log.warning("console login refused", extra={"status": 401, "why": reason,
                    "token": decision.principal or None, "address": request.remote})  # fmt: skip
        return secured(render(request, "login.html", status=401, next=target,
                              error="That token is not valid here."))  # fmt: skip
    found = token_named(state.access, decision.principal)
    bind = S.token_binding(secret, found.secret) if found is not None else ""
    session = S.new_session(decision.principal, "token", now, cfg.session_ttl, bind)
    resp = see_other(target)
    set_session_cookie(request, resp, S.sign(session, secret), cfg.session_ttl)
    log.info("console login", extra={"token": decision.principal})
    return secured(resp)


@page(Scope.READ)
async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session: its id is revoked in Redis for the rest of its lifetime, so a
    copy of the cookie taken elsewhere no longer works on any replica; the browser's is
    deleted."""
    console = request.app[CONSOLE]
    await console.store(request.app).revoke(request[VIEWER].session, console.clock())
    resp = see_other("/login")
    resp.del_cookie(S.COOKIE, path="/")
    return resp
