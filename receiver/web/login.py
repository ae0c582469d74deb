"""GET/POST /login (an API token → a session cookie), POST /logout, GET /, static files."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from receiver.api.state import STATE
from receiver.api.tokens import Scope, authorize
from receiver.web import session as S
from receiver.web.auth import (
    CONSOLE,
    HOME,
    form_fields,
    identify,
    page,
    refuse,
    render,
    secured,
    see_other,
    set_session_cookie,
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


def _cross_site(request: web.Request) -> bool:
    """A login form posted from another site (login CSRF): refused. Browsers send
    Sec-Fetch-Site; older ones Origin."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    return origin not in (None, "null") and urlsplit(origin).netloc != request.host


async def login_form(request: web.Request) -> web.StreamResponse:
    if not request.app[STATE].settings.console.on:
        raise web.HTTPNotFound()
    target = S.safe_next(request.query.get("next"), HOME)
    if identify(request) is not None:
        return secured(see_other(target))
    return secured(render(request, "login.html", next=target, error=""))


async def login(request: web.Request) -> web.StreamResponse:
    """A token in the form → a session named after the token, if it may read."""
    state = request.app[STATE]
    cfg = state.settings.console
    if not cfg.on:
        raise web.HTTPNotFound()
    if _cross_site(request):
        return secured(refuse(request, 403, "Not accepted", "Log in from this console's page."))
    fields = await form_fields(request)
    target = S.safe_next(fields.get("next"), HOME)
    token = fields.get("token", "").strip()
    decision = authorize(state.access, [f"Bearer {token}"] if token else [], Scope.READ)
    secret = request.app[CONSOLE].secret(cfg)
    if not decision.allowed or decision.principal == "anonymous" or not secret:
        log.warning(
            "console login refused",
            extra={"status": decision.status, "token": decision.principal or None},
        )
        msg = "That token is not valid here." if secret else "The console cannot sign sessions."
        return secured(render(request, "login.html", status=401, next=target, error=msg))
    session = S.new_session(decision.principal, "token", request.app[CONSOLE].clock(),
                            cfg.session_ttl)  # fmt: skip
    resp = see_other(target)
    set_session_cookie(request, resp, S.sign(session, secret), cfg.session_ttl)
    log.info("console login", extra={"token": decision.principal})
    return secured(resp)


@page(Scope.READ)
async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session in this browser (the cookie is signed, not stored: a copy taken
    elsewhere lasts until session_ttl, or until the token is removed or the secret
    rotated)."""
    resp = see_other("/login")
    resp.del_cookie(S.COOKIE, path="/")
    return resp
