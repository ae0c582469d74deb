"""GET /api/v1/people (scope `read`): every person, their contact methods (the phone
number masked), their notification rules, and where they are on call now."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from receiver.api.guard import requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.people.view import people_view


@requires(Scope.READ)
async def list_people(request: web.Request) -> web.Response:
    settings, services = request.app[STATE].settings, request.app[SERVICES]
    on_call: dict[str, str | None] = {}
    for rotation in settings.oncall.rotations:
        member = await services.oncall.member(rotation, services.overrides.clock())
        on_call[rotation] = member.person if member is not None else None
    rows = people_view(settings.people, settings.oncall, settings.escalation_policies, on_call)
    body: dict[str, Any] = {"people": rows}
    return web.json_response(body)
