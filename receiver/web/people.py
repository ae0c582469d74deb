"""The console's People page: contact methods (phone masked), rules, who is on call where."""

from __future__ import annotations

from aiohttp import web

from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.people.view import people_view
from receiver.web.auth import CONSOLE, page, render


@page(Scope.READ)
async def people(request: web.Request) -> web.StreamResponse:
    settings = request.app[STATE].settings
    now = request.app[CONSOLE].clock()
    on_call: dict[str, str | None] = {}
    for rotation in sorted(settings.oncall.rotations):
        member = await request.app[SERVICES].oncall.member(rotation, now)
        on_call[rotation] = member.person if member is not None else None
    rows = people_view(settings.people, settings.oncall, settings.escalation_policies, on_call)
    return render(request, "people.html", people=rows)
