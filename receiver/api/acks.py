"""POST /api/v1/alerts/{fingerprint}/ack|unack and POST /api/v1/groups/ack (scope `ack`).

Body (JSON, every field optional): `by` (who; default the token's name), `comment`, and
for an ack `expires`: a duration ("30m", "2h", seconds as a number) or an RFC 3339 time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from receiver.ack.service import MAX_EXPIRY_S, AckOutcome, AckResult, clean_text
from receiver.api.errors import error
from receiver.api.guard import PRINCIPAL, requires
from receiver.api.state import SERVICES
from receiver.api.tokens import Scope
from receiver.config.durations import parse_duration
from receiver.text import TextError

_FP = re.compile(r"[0-9a-f]{16}")
# Status per outcome; the body always says which.
STATUS = {
    AckOutcome.ACKED: 200,
    AckOutcome.UNACKED: 200,
    AckOutcome.ALREADY: 200,
    AckOutcome.NOT_ACKED: 200,
    AckOutcome.NOT_FOUND: 404,
    AckOutcome.NOT_FIRING: 409,
    AckOutcome.OTHER_EPISODE: 409,
    AckOutcome.REPLAYED: 200,  # Slack's only
}
DETAIL = {
    AckOutcome.ALREADY: "an ack is in force already; nothing changed (unack first to change it)",
    AckOutcome.NOT_ACKED: "no ack in force; nothing changed",
    AckOutcome.NOT_FOUND: "no alert with this fingerprint",
    AckOutcome.NOT_FIRING: "the alert is resolved: there is nothing to acknowledge",
    AckOutcome.OTHER_EPISODE: "the alert fired again since: acknowledge the current episode",
    AckOutcome.REPLAYED: "this request was handled already; nothing changed",
}


class BodyError(ValueError):
    """An ack request body the API refuses (400 invalid_body); `field` when it is one."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AckBody:
    by: str
    comment: str
    until_ms: int


def parse_expires(raw: Any, now_s: float) -> int:
    """`expires` as an absolute time in ms (0: none); BodyError if unreadable or out of
    range (in the past, or beyond MAX_EXPIRY_S)."""
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise BodyError("expires must be a duration (30m, 2h) or an RFC 3339 time")
    until: float
    try:
        until = now_s + parse_duration(raw)
    except ValueError:
        try:
            t = datetime.fromisoformat(str(raw))
        except ValueError:
            raise BodyError(
                f"expires: not a duration (30m, 2h) or RFC 3339 time: {str(raw)[:60]!r}"
            ) from None
        until = (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    if not now_s < until <= now_s + MAX_EXPIRY_S:
        raise BodyError(f"expires must be in the future and within {MAX_EXPIRY_S // 86400} days")
    return int(until * 1000)


def parse_body(
    raw: Any, principal: str, now_s: float, unack: bool = False, group: bool = False
) -> AckBody:
    """The request's fields; BodyError naming the field that is wrong."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BodyError("the body must be a JSON object")
    allowed = {"by", "comment"} | (set() if unack else {"expires"})
    allowed |= {"groupKey"} if group else set()
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise BodyError(f"unknown field(s): {', '.join(unknown)} (allowed: "
                        f"{', '.join(sorted(allowed))})")  # fmt: skip
    by, comment = raw.get("by", principal or "api"), raw.get("comment", "")
    if not isinstance(by, str) or not isinstance(comment, str):
        raise BodyError("by and comment must be strings")
    try:
        by, comment = clean_text(by, comment)
    except TextError as e:
        raise BodyError(str(e), e.field) from None
    return AckBody(by, comment, parse_expires(raw.get("expires"), now_s))


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BodyError("the body is not JSON") from None


def _refused(e: BodyError) -> web.Response:
    return error(400, "invalid_body", str(e), **({"field": e.field} if e.field else {}))


def answer(result: AckResult) -> web.Response:
    if STATUS[result.outcome] >= 400:
        return error(STATUS[result.outcome], result.outcome.value, DETAIL[result.outcome])
    return web.json_response(view(result))


def view(result: AckResult) -> dict[str, Any]:
    out: dict[str, Any] = {"fingerprint": result.fingerprint, "outcome": result.outcome.value,
                           "changed": result.outcome.changed}  # fmt: skip
    if result.ack is not None:
        out["ack"] = result.ack.model_dump()
    if result.outcome in DETAIL:
        out["detail"] = DETAIL[result.outcome]
    return out


async def _change(request: web.Request, unack: bool) -> web.Response:
    fp = request.match_info["fingerprint"]
    if not _FP.fullmatch(fp):
        return error(400, "invalid_fingerprint", "a fingerprint is 16 lowercase hex digits")
    acks = request.app[SERVICES].acks
    try:
        body = parse_body(await _body(request), request[PRINCIPAL], acks.clock(), unack)
    except BodyError as e:
        return _refused(e)
    if unack:
        return answer(await acks.unack(fp, body.by, "api", body.comment))
    return answer(await acks.ack(fp, body.by, "api", body.comment, body.until_ms))


@requires(Scope.ACK)
async def ack(request: web.Request) -> web.Response:
    return await _change(request, unack=False)


@requires(Scope.ACK)
async def unack(request: web.Request) -> web.Response:
    return await _change(request, unack=True)


@requires(Scope.ACK)
async def ack_group(request: web.Request) -> web.Response:
    """Acknowledge every firing alert that last came in the Alertmanager group `groupKey`."""
    acks = request.app[SERVICES].acks
    try:
        raw = await _body(request)
        body = parse_body(raw, request[PRINCIPAL], acks.clock(), group=True)
    except BodyError as e:
        return _refused(e)
    group = raw.get("groupKey") if isinstance(raw, dict) else None
    if not isinstance(group, str) or not group:
        return error(400, "invalid_body", "groupKey (the webhook's groupKey) is required")
    results = await acks.ack_group(group, body.by, "api", body.comment, body.until_ms)
    if not results:
        return error(404, "not_found", "no firing alert came with this groupKey")
    return web.json_response({
        "groupKey": group, "acked": sum(r.outcome is AckOutcome.ACKED for r in results),
        "alerts": [view(r) for r in results],
    })  # fmt: skip
