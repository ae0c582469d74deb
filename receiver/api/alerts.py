"""GET /api/v1/alerts (filters, paging) and GET /api/v1/alerts/{fingerprint}."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from receiver.api.errors import error
from receiver.api.guard import requires
from receiver.api.state import SERVICES, STATE
from receiver.api.tokens import Scope
from receiver.escalation.config import EscalationPolicy
from receiver.models import SEVERITIES, STATUSES
from receiver.store.alerts import AlertFilter, ReadsBusy

_RESERVED = {"status", "severity", "limit", "cursor", "label"}
MAX_LIMIT = 1000
# Cursors are fingerprints (Alertmanager's: 16 lowercase hex digits).
_CURSOR = re.compile(r"[0-9a-f]{16}")


class QueryError(ValueError):
    """A list query the API refuses (400 invalid_query, with this detail)."""


@dataclass(frozen=True)
class ListQuery:
    flt: AlertFilter
    limit: int
    cursor: str | None


def parse_list_query(q: Mapping[str, str], label_items: list[str]) -> ListQuery:
    """The list request's filter, limit and cursor; raises QueryError."""
    status, severity = q.get("status"), q.get("severity")
    if status not in (None, *STATUSES):
        raise QueryError("status must be firing or resolved")
    if severity not in (None, *SEVERITIES):
        raise QueryError("severity must be critical, warning or info")
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise QueryError("limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be 1..{MAX_LIMIT}")
    cursor = q.get("cursor") or None
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise QueryError("cursor must be a next_cursor from an earlier page")
    labels = [(k, v) for k, v in q.items() if k not in _RESERVED]
    for item in label_items:
        k, sep, v = item.partition("=")
        if not sep:
            raise QueryError("label filters are label=NAME=VALUE")
        labels.append((k, v))
    return ListQuery(AlertFilter(status, severity, tuple(labels)), limit, cursor)


@requires(Scope.READ)
async def list_alerts(request: web.Request) -> web.Response:
    """A page of alerts. Label filters examine at most the reader's scan budget of
    records: `complete` false with fewer than `limit` alerts means "continue from
    next_cursor", not "no more matches"."""
    try:
        query = parse_list_query(request.query, request.query.getall("label", []))
    except QueryError as exc:
        return error(400, "invalid_query", str(exc))
    try:
        page = await request.app[SERVICES].reader.list(query.flt, query.limit, query.cursor)
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    except ReadsBusy as exc:
        resp = error(503, "busy", f"too many list requests at once ({exc}); retry")
        resp.headers["Retry-After"] = "1"
        return resp
    return web.json_response({
        "alerts": page.alerts, "count": len(page.alerts), "next_cursor": page.next_cursor,
        "complete": page.complete, "scanned": page.scanned,
    })  # fmt: skip


@requires(Scope.READ)
async def get_alert(request: web.Request) -> web.Response:
    fp = request.match_info["fingerprint"]
    try:
        rec = await request.app[SERVICES].reader.get(fp)
    except RedisError:
        return error(503, "unavailable", "state store unavailable; retry")
    if rec is None:
        return error(404, "not_found", f"no alert with fingerprint {fp}")
    if rec.get("escalation"):
        levels(rec["escalation"], request.app[STATE].settings.escalation_policies)
    return web.json_response(rec)


def levels(ladder: dict[str, Any], policies: Mapping[str, EscalationPolicy]) -> None:
    """Adds the ladder's current `level` (the last step fired, 0 before the first) and the
    `next_step` (level and due time; None once it ended) from its policy."""
    steps = ladder["steps"]
    ladder["level"] = steps[-1]["level"] if steps else 0
    policy = policies.get(ladder["policy"])
    ladder["next_step"] = None
    if policy is not None and ladder["next_due"] is not None and ladder["fired"] < policy.total:
        ladder["next_step"] = {"level": ladder["fired"] % policy.levels + 1,
                               "due": ladder["next_due"]}  # fmt: skip
