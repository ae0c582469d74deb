"""A Slack message for a notification: the text fallback and Block Kit blocks, within
Slack's limits (the Acknowledge button only while the alert fires unacknowledged)."""

from __future__ import annotations

from typing import Any

from receiver.models import Notification
from receiver.notifiers.render import (
    Renderer,
    is_resolved,
    key_labels,
    links,
    mrkdwn_escape,
    summary_line,
    truncate,
)

# Block Kit limits: https://api.slack.com/reference/block-kit/blocks
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_ACTION_ELEMENTS = 25
# Slack truncates `text` past 40,000 characters; a fallback is meant to be short.
MAX_FALLBACK_TEXT = 3000


def build_message(
    n: Notification, renderer: Renderer, ack_button: bool, acked_by: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    """(text fallback, Block Kit blocks) within Slack's limits; long parts get a marker."""
    a = n.alert
    storm = n.summary_total > 0
    bound = renderer.bind(n, acked_by)
    text = truncate(bound.render("slack_text.txt"), MAX_FALLBACK_TEXT)
    title = bound.render_line("slack_title.txt", MAX_HEADER_TEXT)
    body = bound.render("slack_body.md")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": title or a.alertname or "alert", "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(body or mrkdwn_escape(summary_line(a)), MAX_SECTION_TEXT),
            },
        },
    ]
    if not storm:
        fields = [
            {"type": "mrkdwn", "text": truncate(f"*{k}*\n{mrkdwn_escape(v)}", MAX_FIELD_TEXT)}
            for k, v in key_labels(a)[:MAX_FIELDS]
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields})
    elements: list[dict[str, Any]] = []
    firing = not is_resolved(n)
    if ack_button and firing and not acked_by and not storm:
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "action_id": "ack",
                "value": a.fingerprint,
            }
        )
    for i, (title_, url) in enumerate([] if storm else links(a)):
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": title_},
                "url": url,
                "action_id": f"link_{i}",
            }
        )
    if elements:
        blocks.append({"type": "actions", "elements": elements[:MAX_ACTION_ELEMENTS]})
    return text or mrkdwn_escape(summary_line(a)), blocks[:MAX_BLOCKS]
