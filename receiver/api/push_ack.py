"""POST /push/ack/{token}: the Acknowledge action of a push (receiver/notifiers/ntfy).

The phone's ntfy app makes the request itself: no browser, no login. The token is the
authority (receiver/ack/push.py): signed with the `ack.links` secrets under its own
context, bound to one person and one alert episode, expiring, and used once: it is claimed
in Redis before acting, so a replay, on any replica, changes nothing. A valid token acks
through the one ack service, `via: push`, `by` the person, with the episode it was sent
for, so the ack does what any ack does (PagerDuty acknowledge, Slack edit, escalation and
people's rules stopped, the silence). Every answer is JSON with a clear `outcome`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.links import LinkError, LinkErrorKind
from receiver.ack.push import PushClaim, SeenPushTokens, verify
from receiver.ack.service import AckOutcome
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE

log = logging.getLogger("receiver.push_ack")
VIA = "push"
_REFUSED = {LinkErrorKind.MALFORMED: (400, "malformed"), LinkErrorKind.TAMPERED: (403, "forged"),
            LinkErrorKind.EXPIRED: (410, "expired")}  # fmt: skip
_OUTCOMES = {AckOutcome.ACKED: 200, AckOutcome.ALREADY: 200, AckOutcome.NOT_FOUND: 404,
             AckOutcome.NOT_FIRING: 409, AckOutcome.OTHER_EPISODE: 409}  # fmt: skip
_SAY = {
    AckOutcome.ACKED: "acknowledged",
    AckOutcome.ALREADY: "already acknowledged",
    AckOutcome.NOT_FOUND: "no such alert",
    AckOutcome.NOT_FIRING: "the alert is resolved: nothing to acknowledge",
    AckOutcome.OTHER_EPISODE: "the alert fired again since this push: acknowledge the new one",
}


@dataclass(frozen=True)
class PushAck:
    clock: Callable[[], float] = time.time


PUSH_ACK = web.AppKey("push_ack", PushAck)


def add_routes(app: web.Application, clock: Callable[[], float] = time.time) -> None:
    app[PUSH_ACK] = PushAck(clock)
    app.router.add_post("/push/ack/{token}", push_ack)


def _refuse(request: web.Request, status: int, code: str, detail: str) -> web.Response:
    request.app[STATE].metrics.acks.labels(VIA, code).inc()
    log.warning("push ack refused", extra={"status": status, "why": code})
    return error(status, code, detail)


async def push_ack(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    links = settings.ack.links
    if links is None:
        return error(404, "not_configured", "push acknowledgements need ack.links")
    try:
        secrets = links.secrets()
    except ValueError as e:
        log.error("push ack not handled: %s", e)
        return error(503, "unavailable", "the signing secret cannot be read")
    now = request.app[PUSH_ACK].clock()
    claim = verify(request.match_info["token"], secrets, now)
    if isinstance(claim, LinkError):
        status, code = _REFUSED[claim.kind]
        return _refuse(request, status, code, claim.detail)
    if settings.people.get(claim.person) is None:
        return _refuse(request, 403, "unknown_person",
                       f"{claim.person!r} is no longer among the configured people")  # fmt: skip
    return await _ack(request, claim, now)


async def _ack(request: web.Request, claim: PushClaim, now: float) -> web.Response:
    acks = request.app[SERVICES].acks
    seen = SeenPushTokens(acks.redis, acks.keys)
    fields = {"fingerprint": claim.fingerprint, "by": claim.person}
    claimed = False
    try:
        claimed = await seen.claim(claim, now)
        if not claimed:
            return _refuse(request, 409, AckOutcome.REPLAYED.value,
                           "this Acknowledge was used already: nothing was done")  # fmt: skip
        result = await acks.ack(claim.fingerprint, claim.person, VIA,
                                starts_at=claim.starts_at)  # fmt: skip
    except RedisError as e:
        log.error("push ack not recorded: %s", type(e).__name__, extra=fields)
        if claimed:  # nothing was done: pressing again must work
            with contextlib.suppress(RedisError):
                await seen.release(claim)
        return error(503, "unavailable", "state store unavailable; retry")
    log.info("push ack", extra={**fields, "outcome": str(result.outcome)})
    status = _OUTCOMES.get(result.outcome, 409)
    body = {"outcome": result.outcome.value, "detail": _SAY.get(result.outcome, ""),
            "fingerprint": claim.fingerprint, "alertname": result.alertname,
            "by": result.ack.by if result.ack else None}  # fmt: skip
    return web.json_response(body, status=status)
