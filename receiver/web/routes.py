"""The console's routes and template environment: `add_routes(app, settings)` registers
them when `console` is on (a session secret is configured); otherwise none of its URLs
exist."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

from receiver.api.errors import ERROR_PAGES
from receiver.api.state import STATE
from receiver.web import alerts, login, maintenance, pages, people, views
from receiver.web.auth import CONSOLE, Console, refuse, secured

if TYPE_CHECKING:  # the composed settings import every package, this one too
    from receiver.server.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"


def environment(static: dict[str, login.StaticFile]) -> jinja2.Environment:
    """The console's templates: autoescaped, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = views.iso
    env.filters["ms"] = views.to_ms
    env.globals["ago"] = views.ago
    env.globals["static"] = lambda name: f"/console/static/{name}?v={static[name].version}"
    return env


# The console's URL space: a browser there gets a page for an unknown URL or method.
CONSOLE_PATHS = ("/", "/login", "/logout", "/console")
_MESSAGES = {404: "There is no such page here.", 405: "This page cannot be used that way."}


def error_page(request: web.Request, status: int, reason: str) -> web.StreamResponse | None:
    """An HTML page for aiohttp's refusal of a console URL asked for by a browser (its
    Accept names text/html), else None (the JSON error): by path, because only the
    console's URLs are meant for people, and by Accept, because a script (curl, a probe)
    under /console/ still wants the machine-readable answer."""
    path = request.path
    ours = path in CONSOLE_PATHS or path.startswith("/console/")
    if not ours or "text/html" not in request.headers.get("Accept", ""):
        return None
    if not request.app[STATE].settings.console.on:  # switched off by a reload
        return None
    return secured(refuse(request, status, reason, _MESSAGES.get(status, reason + ".")))


def add_routes(app: web.Application, settings: Settings,
               clock: Callable[[], float] = time.time) -> None:  # fmt: skip
    """The console's routes, when it is on at start (turning it on needs a restart)."""
    if not settings.console.on:
        return
    static = login.load_static()
    app[login.STATIC] = static
    app[CONSOLE] = Console(environment(static), clock)
    app[ERROR_PAGES] = error_page
    r = app.router
    r.add_get("/", login.root)
    r.add_get("/login", login.login_form)
    r.add_post("/login", login.login)
    r.add_post("/logout", login.logout)
    r.add_get("/console/static/{name}", login.static)
    r.add_get("/console", login.root)
    r.add_get("/console/alerts", alerts.alert_list)
    r.add_get("/console/alerts/{fingerprint}", alerts.alert_page)
    r.add_post("/console/alerts/{fingerprint}/ack", alerts.ack)
    r.add_post("/console/alerts/{fingerprint}/unack", alerts.unack)
    r.add_get("/console/oncall", pages.oncall)
    r.add_get("/console/people", people.people)
    r.add_get("/console/digests", pages.digests)
    r.add_get("/console/maintenance", maintenance.windows)
    r.add_post("/console/maintenance/{id}/end", maintenance.end)
    r.add_get("/console/digests/{name}", pages.digest_preview)
    r.add_get("/console/dlq", pages.dead_letters)
    r.add_get("/console/dlq/{id}", pages.dead_letter)
    r.add_post("/console/dlq/replay", pages.replay)
    r.add_post("/console/dlq/{id}/replay", pages.replay)
    r.add_get("/console/health", pages.health_page)
