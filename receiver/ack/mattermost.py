"""The Mattermost Acknowledge button's callback, decided purely: which receivers answer
it, whether a request is a click on one of our buttons, and what to answer. The handler
is receiver/api/mattermost_actions.py; the token is made and checked by
receiver/notifiers/mattermost/token.py.

Mattermost posts the click as JSON (user_id, user_name, channel_id, team_id, post_id,
trigger_id, type, context) and does not sign it
(https://developers.mattermost.com/integrate/plugins/interactive-messages/): the signed
token in `context` is the credential. The answer may carry `update` (the post's new
message and props) and `ephemeral_text` (shown only to the clicking user).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from receiver.ack.service import MAX_BY, AckOutcome
from receiver.models import AckInfo, Notification, Reason, snapshot_from_record
from receiver.notifiers.base import ChannelBase
from receiver.notifiers.mattermost.config import MattermostActions, MattermostConfig
from receiver.notifiers.mattermost.message import build_post
from receiver.notifiers.mattermost.token import (
    ActionClaim,
    TokenError,
    TokenErrorKind,
    unverified_receiver,
    verify,
)
from receiver.notifiers.render import Renderer
from receiver.text import TextError, check_name

MAX_BODY = 64 * 1024  # an action request is a few hundred bytes


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str


@dataclass(frozen=True)
class Click:
    token: str
    by: str  # user_name, else user_id
    post_id: str


def action_receivers(receivers: Mapping[str, ChannelBase]) -> dict[str, MattermostActions]:
    """The Mattermost receivers whose posts carry the button: name → its `actions`."""
    return {name: cfg.actions for name, cfg in receivers.items()
            if isinstance(cfg, MattermostConfig) and cfg.actions is not None}  # fmt: skip


def parse_click(body: bytes) -> Click | Refusal:
    """The click in an action request's JSON body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return Refusal(400, "invalid_payload", "expected an action request (a JSON object)")
    context = data.get("context")
    token = context.get("token") if isinstance(context, dict) else None
    if not isinstance(token, str) or not token:
        return Refusal(400, "invalid_payload", "the action's context has no token")
    try:
        by = clicked_by(data.get("user_name"), data.get("user_id"))
    except TextError as e:  # a name that would display as someone else's
        return Refusal(400, "invalid_name", str(e))
    return Click(token, by, str(data.get("post_id") or ""))


def clicked_by(user_name: Any, user_id: Any) -> str:
    """Who acknowledges: the Mattermost user name, else the user ID, else "mattermost
    user"; by receiver/text.py's rules (TextError for control or format characters)."""
    for field, raw in (("user_name", user_name), ("user_id", user_id)):
        if isinstance(raw, str) and raw.strip():
            return check_name(raw, field, 10 * MAX_BY)[:MAX_BY]
    return "mattermost user"


def check_token(
    token: str, actions: Mapping[str, MattermostActions]
) -> tuple[ActionClaim, MattermostActions] | Refusal:
    """The claim of a token of one of `actions`' receivers; ValueError from an unreadable
    secret file (the caller answers 503)."""
    name = unverified_receiver(token)
    if not name:
        return Refusal(400, "bad_token", "not an Acknowledge button of this service")
    cfg = actions.get(name)
    if cfg is None:
        return Refusal(403, "bad_token", "not an Acknowledge button of this service")
    claim = verify(token, cfg.secrets())
    if isinstance(claim, TokenError):
        status = 400 if claim.kind is TokenErrorKind.MALFORMED else 403
        return Refusal(status, "bad_token", claim.detail)
    return claim, cfg


# What the clicking user is told when nothing was acknowledged.
NOT_ACKED = {
    AckOutcome.NOT_FOUND: "This alert is no longer known. Nothing was acknowledged.",
    AckOutcome.NOT_FIRING: "This alert has resolved; there is nothing to acknowledge.",
    AckOutcome.OTHER_EPISODE: (
        "This post is for an earlier firing of the alert, which has resolved since. "
        "Nothing was acknowledged; use the newest post."
    ),
}


def answer(
    outcome: AckOutcome,
    receiver: str,
    fp: str,
    record: Mapping[str, str],
    ack: AckInfo | None,
    renderer: Renderer,
) -> dict[str, Any]:
    """The JSON answer to a verified click: the acknowledged post as `update` (ACKED or
    ALREADY, from the alert's state record), else only an ephemeral explanation."""
    if outcome not in (AckOutcome.ACKED, AckOutcome.ALREADY) or ack is None or not record:
        return {"ephemeral_text": NOT_ACKED.get(outcome, "Nothing was acknowledged.")}
    doc = orjson.loads(record.get("doc") or "{}")
    snap = snapshot_from_record(fp, record.get("status", "firing"), record.get("startsAt", ""),
                                record.get("endsAt", ""), doc)  # fmt: skip
    n = Notification(key=f"{fp}/{receiver}/action", destination=receiver,
                     reason=Reason.ACKNOWLEDGED, alert=snap, ack=ack)  # fmt: skip
    message, props = build_post(n, renderer, None, acked_by=ack.by or "someone")
    out: dict[str, Any] = {"update": {"message": message, "props": props}}
    if outcome is AckOutcome.ALREADY:
        out["ephemeral_text"] = f"Already acknowledged by {ack.by}."
    return out
