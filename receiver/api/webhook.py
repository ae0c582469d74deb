"""POST /webhook and /webhook/{name}: auth → size → parse → one atomic intake step → 200.

A 2xx is the commit point: it is sent only after the intake script has run. Anything
transient (Redis down or slow, contention) answers 503, which Alertmanager retries; bad
input answers 4xx, which it does not.
"""

from __future__ import annotations

import logging
import time

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from receiver import logs
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE, AppState
from receiver.payload import PayloadError, decode_payload
from receiver.pipeline.intake import IntakeContention

log = logging.getLogger("receiver.webhook")


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None when it exceeds `limit` (the app's client_max_size)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:  # chunked bodies: aiohttp counts while reading
        return None


async def webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    started = time.perf_counter()
    resp = await _handle(request, state, started)
    state.metrics.child(state.metrics.webhook_requests, str(resp.status)).inc()
    state.metrics.intake_duration.observe(time.perf_counter() - started)
    return resp


async def _handle(request: web.Request, state: AppState, started: float) -> web.Response:
    name = request.match_info.get("name", "")
    why = state.credentials.check(request.headers.get("Authorization"))
    if why is not None:
        log.warning("webhook rejected", extra={"webhook": name, "status": 401, "why": why})
        return error(401, "unauthorized", why)
    limit = state.settings.webhook.max_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return error(413, "body_too_large", f"body exceeds {limit} bytes", limit=limit)
    try:
        payload = decode_payload(body)
    except PayloadError as e:
        log.warning("webhook rejected", extra={"webhook": name, "status": 400, "why": e.detail})
        return error(400, e.code, e.detail, **({"fields": e.fields} if e.fields else {}))
    try:
        result = await request.app[SERVICES].intake.ingest(payload, webhook=name)
    except Exception as e:
        # Anything that kept the body from being committed is transient for Alertmanager
        # (a retryable 503), including a fault inside a client library (seen with redis-py's
        # cluster client under a cold burst); only the unexpected ones get a traceback.
        expected = isinstance(e, TimeoutError | RedisError | OSError | IntakeContention)
        state.metrics.redis_errors.labels("intake").inc()
        log.error("webhook not recorded, answering 503", exc_info=not expected,
                  extra={"webhook": name, "error": repr(e),
                         "redis": state.redis_target})  # fmt: skip
        return error(503, "unavailable", "state store unavailable; retry", retry=True)
    state.observe_intake(result)
    summary = result.summary()
    logs.info_line(log, "webhook", webhook=name, groupKey=payload.groupKey, **summary,
                   ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
    return web.Response(body=orjson.dumps({"status": "ok", **summary}),
                        content_type="application/json")  # fmt: skip
