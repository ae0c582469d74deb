"""POST /mattermost/actions: the Mattermost server relaying a click on a post's
Acknowledge button (decisions in receiver/ack/mattermost.py).

Mattermost does not sign the request; the token in the action's context does: made by
the receiver that posted (its `actions.secret`), naming the alert and the firing episode.
A valid click acks that episode as the clicking user, via "mattermost", and is answered
with the updated post (`update`), which Mattermost applies at once; the ack's own edit job
(the pipeline) makes the same change again, harmlessly. A click for an earlier episode, a
resolved or unknown alert changes nothing and tells the user why (`ephemeral_text`).
Without a Mattermost receiver with `actions` the route answers 404 not_configured.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.mattermost import (
    MAX_BODY,
    Refusal,
    action_receivers,
    answer,
    check_token,
    parse_click,
)
from receiver.api.errors import error
from receiver.api.state import SERVICES, STATE
from receiver.notifiers.render import Renderer

log = logging.getLogger("receiver.mattermost_actions")

# The user waits on the answer (the server's own bound is OutgoingIntegrationRequestsTimeout,
# 30 s by default): a store that does not answer in time gets a 503, nothing half done.
ANSWER_WITHIN_S = 2.5


def add_routes(app: web.Application) -> None:
    app.router.add_post("/mattermost/actions", mattermost_actions)


def _refuse(r: Refusal) -> web.Response:
    log.warning("mattermost action refused", extra={"status": r.status, "why": r.code})
    return error(r.status, r.code, r.detail)


async def mattermost_actions(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    actions = action_receivers(settings.receivers)
    if not actions:
        return error(404, "not_configured",
                     "no Mattermost receiver has `actions` (the Acknowledge button)")  # fmt: skip
    if (request.content_length or 0) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    body = await request.read()
    if len(body) > MAX_BODY:
        return error(413, "too_large", f"the body is over {MAX_BODY} bytes")
    click = parse_click(body)
    if isinstance(click, Refusal):
        return _refuse(click)
    try:
        checked = check_token(click.token, actions)
    except ValueError as e:
        log.error("mattermost action not handled: %s", e)
        return error(503, "unavailable", "the action secret cannot be read")
    if isinstance(checked, Refusal):
        return _refuse(checked)
    claim, _ = checked
    acks = request.app[SERVICES].acks
    try:
        async with asyncio.timeout(ANSWER_WITHIN_S):
            result = await acks.ack(claim.fingerprint, click.by, "mattermost",
                                    starts_at=claim.starts_at)  # fmt: skip
            record = await acks.redis.hgetall(acks.keys.alert(claim.fingerprint))
    except (RedisError, TimeoutError) as e:
        log.error("mattermost action not recorded: %s", type(e).__name__,
                  extra={"fingerprint": claim.fingerprint, "by": click.by})  # fmt: skip
        return error(503, "unavailable", "state store unavailable; retry")
    log.info("mattermost action", extra={"fingerprint": claim.fingerprint, "by": click.by,
                                         "outcome": str(result.outcome)})  # fmt: skip
    renderer = Renderer(settings.templates_dir)
    return web.json_response(
        answer(result.outcome, claim.receiver, claim.fingerprint, record, result.ack, renderer)
    )
