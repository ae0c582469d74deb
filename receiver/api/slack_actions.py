"""POST /slack/actions: Slack's interactivity callback for the Acknowledge button.

The signature is checked over the raw body before anything in it is read (decisions in
receiver/ack/slack.py). A valid click on an alert's Acknowledge button acks that alert as
the clicking user, via "slack"; the message itself is updated by the pipeline (the ack
makes a chat.update job for the Slack destination), so the handler answers at once, well
within Slack's 3 seconds. A signed request is acted on once: its signature is claimed in
Redis first (receiver/ack/slack_replay.py), so a replay within the 5-minute window, or the
same click racing on another replica, gets an empty 200 and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.service import AckOutcome
from receiver.ack.slack import WINDOW_S, Click, Refusal, check_signature, parse_click
from receiver.ack.slack_replay import SeenClicks, claim_ttl
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE

log = logging.getLogger("receiver.slack_actions")

MAX_BODY = 1024 * 1024  # a block_actions payload carries the whole message: a few KiB
ANSWER_WITHIN_S = 2.5  # Slack shows the user an error after 3 s without an answer


@dataclass(frozen=True)
class SlackActions:
    """What the handler needs besides app state: the clock the 5-minute window uses."""

    clock: Callable[[], float] = time.time


SLACK_ACTIONS = web.AppKey("slack_actions", SlackActions)


def add_routes(app: web.Application, clock: Callable[[], float] = time.time) -> None:
    app[SLACK_ACTIONS] = SlackActions(clock)
    app.router.add_post("/slack/actions", slack_actions)


def _replayed(request: web.Request, click: Click) -> web.Response:
    """A signed request acted on before (a replay, or a copy another replica took): an
    empty 200, as for any click, so Slack shows nothing; nothing is done."""
    outcome = AckOutcome.REPLAYED
    request.app[STATE].metrics.acks.labels("slack", outcome.value).inc()
    log.warning("slack action replayed", extra={"fingerprint": click.fingerprint,
                                                "by": click.by, "why": outcome.value})  # fmt: skip
    return web.Response(status=200)


def _refuse(r: Refusal) -> web.Response:
    log.warning("slack action refused", extra={"status": r.status, "why": r.code})
    return error(r.status, r.code, r.detail)


async def slack_actions(request: web.Request) -> web.Response:
    cfg = request.app[STATE].settings.ack.slack
    if cfg is None:
        return error(404, "not_configured", "Slack actions are not configured (ack.slack)")
    if (request.content_length or 0) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    body = await request.read()  # chunked: bounded by the app's client_max_size
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        secret = cfg.secret()
    except ValueError as e:
        log.error("slack action not handled: %s", e)
        return error(503, "unavailable", "the signing secret cannot be read")
    h = request.headers
    now = request.app[SLACK_ACTIONS].clock()
    refused = check_signature(
        body, h.get("X-Slack-Request-Timestamp"), h.get("X-Slack-Signature"), secret, now
    )
    if refused is not None:
        return _refuse(refused)
    click = parse_click(body)
    if isinstance(click, Refusal):
        return _refuse(click)
    if click is None:  # one of the message's link buttons
        return web.Response(status=200)
    signature, ts = h["X-Slack-Signature"], h["X-Slack-Request-Timestamp"]  # checked above
    acks = request.app[SERVICES].acks
    seen = SeenClicks(acks.redis, acks.keys)
    claimed = False
    try:
        async with asyncio.timeout(ANSWER_WITHIN_S):
            claimed = await seen.claim(signature, claim_ttl(ts, now, WINDOW_S))
            if not claimed:
                return _replayed(request, click)
            result = await acks.ack(click.fingerprint, click.by, "slack")
    except (RedisError, TimeoutError) as e:
        log.error(
            "slack action not recorded: %s",
            type(e).__name__,
            extra={"fingerprint": click.fingerprint, "by": click.by},
        )
        if claimed:  # nothing was done: the same request again is not a replay
            with contextlib.suppress(RedisError, TimeoutError):
                async with asyncio.timeout(ANSWER_WITHIN_S / 5):
                    await seen.release(signature)
        return error(503, "unavailable", "state store unavailable; retry")
    log.info(
        "slack action",
        extra={"fingerprint": click.fingerprint, "by": click.by, "outcome": str(result.outcome)},
    )
    # Slack only needs the 200; the message shows the ack once the chat.update job runs.
    return web.Response(status=200)
