"""The Adaptive Card for a notification, in the message a Workflows webhook posts
(`attachments[0].contentType = "application/vnd.microsoft.card.adaptive"`), within Teams'
28 KB message limit: a long description is cut first, then facts go, never the card.
https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card
https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/format-your-bot-messages
(28 KB per message); Adaptive Card schema 1.4: https://adaptivecards.io/explorer/
"""

from __future__ import annotations

from typing import Any

import orjson

from receiver.models import Notification, Severity
from receiver.notifiers.render import (
    Renderer,
    escalation_line,
    is_resolved,
    key_labels,
    links,
    storm_info,
    summary_line,
    truncate,
)

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
MAX_BYTES = 28 * 1024  # the whole message, as JSON bytes
MAX_TITLE = 256
MAX_FACTS = 20
MAX_FACT = 500
MAX_ACTIONS = 6  # Teams shows at most six actions on a card
DESCRIPTION_STEPS = (8000, 4000, 2000, 1000, 500, 200)
COLORS = {Severity.CRITICAL: "Attention", Severity.WARNING: "Warning", Severity.INFO: "Accent"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _color(n: Notification, acked_by: str) -> str:
    if is_resolved(n):
        return "Good"
    if acked_by:
        return "Default"
    storm = storm_info(n)
    return COLORS[storm["severity"] if storm else n.alert.severity]


def _lines(n: Notification, acked_by: str, unacked: bool) -> list[str]:
    storm = storm_info(n)
    if storm:
        out = []
        for a in storm["alerts"]:
            what = a.annotations.get("summary") or a.labels.get("instance") or a.fingerprint
            out.append(f"- {a.alertname or 'alert'}: {what}")
        if storm["more"]:
            out.append(f"…and {storm['more']} more")
        return out
    out = []
    if acked_by:
        out.append(f"👀 Acknowledged by **{acked_by}**")
    if unacked:
        out.append("The acknowledgement was withdrawn: the alert is unacknowledged again.")
    if escalation := escalation_line(n):
        out.append(f"⬆️ **{escalation}**")
    return out


def _footer(n: Notification, acked_by: str) -> str:
    storm = storm_info(n)
    text = f"Severity {storm['severity'] if storm else n.alert.severity}"
    text += f" · started {n.alert.startsAt}"
    if is_resolved(n):
        text += f" · resolved {n.alert.endsAt}"
    if acked_by:
        text += f" · acknowledged by {acked_by}"
    return text


def build_card(
    n: Notification,
    renderer: Renderer,
    follows: str = "",
    acked_by: str = "",
    unacked: bool = False,
) -> tuple[str, dict[str, Any]]:
    """(title, the webhook's JSON message) for `n`; `follows` names the first card of the
    episode in a follow-up ("" on the first card). At most MAX_BYTES long."""
    bound = renderer.bind(n, acked_by, via="teams")
    title = bound.render_line("slack_title.txt", MAX_TITLE) or (n.alert.alertname or "alert")
    ack_url = str(bound.ctx["ack_url"])
    storm = n.summary_total > 0
    a = n.alert
    description = "" if storm else (a.annotations.get("description")
                                    or a.annotations.get("message", ""))  # fmt: skip
    facts = [] if storm else [
        {"title": k, "value": truncate(v, MAX_FACT)} for k, v in key_labels(a)[:MAX_FACTS]
    ]  # fmt: skip
    actions = [{"type": "Action.OpenUrl", "title": "Acknowledge", "url": ack_url,
                "style": "positive"}] if ack_url else []  # fmt: skip
    if not storm:
        actions += [{"type": "Action.OpenUrl", "title": t, "url": u} for t, u in links(a)]
    parts: dict[str, Any] = {"title": title, "follows": follows, "summary": summary_line(a),
             "lines": _lines(n, acked_by, unacked), "footer": _footer(n, acked_by),
             "color": _color(n, acked_by), "actions": actions[:MAX_ACTIONS]}  # fmt: skip
    message = _message(parts, description, facts)
    for limit in DESCRIPTION_STEPS:
        if _size(message) <= MAX_BYTES:
            return title, message
        message = _message(parts, truncate(description, limit), facts)
    while facts and _size(message) > MAX_BYTES:
        facts = facts[: len(facts) // 2]
        message = _message(parts, truncate(description, DESCRIPTION_STEPS[-1]), facts)
    if _size(message) > MAX_BYTES:  # a summary or a storm list of absurd length
        parts = {**parts, "summary": truncate(parts["summary"], 1000),
                 "lines": [truncate(line, 200) for line in parts["lines"][:20]]}  # fmt: skip
        message = _message(parts, "", [])
    return title, message


def _size(message: dict[str, Any]) -> int:
    return len(orjson.dumps(message))


def _message(
    parts: dict[str, Any], description: str, facts: list[dict[str, str]]
) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _text(parts["title"], weight="Bolder", size="Medium", color=parts["color"])
    ]
    if parts["follows"]:
        body.append(_text(parts["follows"], isSubtle=True, size="Small"))
    body.append(_text(parts["summary"], weight="Bolder"))
    body += [_text(line) for line in parts["lines"]]
    if description:
        body.append(_text(description))
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    body.append(_text(parts["footer"], isSubtle=True, size="Small"))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if parts["actions"]:
        card["actions"] = parts["actions"]
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }
