"""POST /webhook and /webhook/{name}: auth → size → parse → one atomic intake step → 200.

A 2xx is the commit point: it is sent only after the intake script has run. Anything
transient (Redis down or slow, contention) answers 503, which Alertmanager retries; bad
input answers 4xx, which it does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

import orjson
from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from redis.exceptions import RedisError

from receiver import logs
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE, AppState
from receiver.config.durations import format_duration
from receiver.payload import PayloadError
from receiver.pipeline.intake import IntakeContention
from receiver.pipeline.large_body import decode_body

log = logging.getLogger("receiver.webhook")
# /webhook/{name}: the name is stored with each alert and printed in logs, so only plain
# names; it is checked here (after percent-decoding) so that the 404 is JSON like every
# other error (the router's own 404 is plain text).
_is_name = re.compile(r"[A-Za-z0-9_.-]{1,64}").fullmatch


async def _read_body(request: web.Request, state: AppState, name: str) -> bytes | web.Response:
    """The whole body, or the answer when it cannot be had: 413 over `webhook.max_body_bytes`
    (also after decompression), 400 `invalid_encoding` when its Content-Encoding does not
    decode, and 503 then close when it does not arrive within `server.read_timeout`.

    A stalled body is answered 503 (Alertmanager retries it), not 408: Alertmanager drops
    a notification on any 4xx, and a body that stops mid-way is usually the network, which
    is temporary trouble (invariant 2). The connection is closed at once after the answer:
    aiohttp would otherwise keep reading the rest for up to 10 s before closing it.
    """
    limit = state.settings.webhook.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    timeout = state.settings.server.read_timeout
    try:
        if request.content.is_eof():  # all here already (the usual case): no timer needed
            return await request.read()
        async with asyncio.timeout(timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:  # chunked or compressed: aiohttp counts while reading
        return _too_large(limit)
    except TimeoutError:
        state.metrics.child(state.metrics.connections_closed, "read_timeout").inc()
        why = f"body not received within {format_duration(timeout)}; retry"
        log.warning("webhook rejected", extra={"webhook": name, "status": 503, "why": why})
        return await _answer_and_close(request, error(503, "request_timeout", why, retry=True))
    except web.RequestPayloadError as e:
        encoding = request.headers.get("Content-Encoding", "")
        if isinstance(e.__cause__, ContentEncodingError):
            code, why = "invalid_encoding", f"body does not decode as Content-Encoding {encoding}"
        else:  # e.g. a malformed chunked encoding
            code, why = "invalid_body", f"body could not be read: {e}".replace("\n", " ")
        log.warning("webhook rejected", extra={"webhook": name, "status": 400, "why": why})
        return await _answer_and_close(request, error(400, code, why))


def _too_large(limit: int) -> web.Response:
    return error(413, "body_too_large", f"body exceeds {limit} bytes", limit=limit)


async def _answer_and_close(request: web.Request, resp: web.Response) -> web.Response:
    """Send `resp`, then close the connection (the rest of the body is not worth reading)."""
    resp.force_close()
    try:
        await resp.prepare(request)
        await resp.write_eof()
    except ConnectionError:  # the client is gone already
        pass
    request.protocol.force_close()  # no lingering read of a body that cannot come or decode
    return resp  # already sent: aiohttp sends nothing more


async def webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    started = time.perf_counter()
    resp = await _handle(request, state, started)
    state.metrics.child(state.metrics.webhook_requests, str(resp.status)).inc()
    state.metrics.intake_duration.observe(time.perf_counter() - started)
    return resp


async def _handle(request: web.Request, state: AppState, started: float) -> web.Response:
    name = request.match_info.get("name")
    if name is None:
        name = ""
    elif not _is_name(name):
        log.warning("webhook rejected", extra={"webhook": repr(name[:80]), "status": 404,
                                               "why": "bad webhook name"})  # fmt: skip
        return error(404, "not_found", "no such webhook: a name is 1 to 64 of A-Z a-z 0-9 _ . -")
    refused = state.credentials.check(request.headers.getall("Authorization", ()))
    if refused is not None:
        log.warning("webhook rejected", extra={"webhook": name, "status": refused.status,
                                               "why": refused.detail})  # fmt: skip
        return error(refused.status, refused.code, refused.detail)
    body = await _read_body(request, state, name)
    if isinstance(body, web.Response):
        return body
    try:
        payload = await decode_body(body)  # a large body in slices, others served meanwhile
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
