"""The JSON an ntfy publish carries (https://docs.ntfy.sh/publish/#publish-as-json), pure.

Title and message come from the templates (slack_title.txt, log_message.txt: plain text),
the message cut to ntfy's 4096-byte limit (https://docs.ntfy.sh/publish/#limitations: a
longer one becomes an attachment or is refused). At most 3 actions
(https://docs.ntfy.sh/publish/#action-buttons): Acknowledge (an `http` action POSTing the
person's one-time token, no browser, no login), Open (the alert's console page), Runbook.
"""

from __future__ import annotations

from typing import Any

from receiver.models import Notification, Severity
from receiver.notifiers.ntfy.config import RESOLVED_PRIORITY, NtfyConfig
from receiver.notifiers.render import Renderer, is_resolved, is_web_url

MAX_MESSAGE_BYTES = 4096
MAX_TITLE = 250
MAX_ACTIONS = 3
TAGS = {Severity.CRITICAL: "rotating_light", Severity.WARNING: "warning",
        Severity.INFO: "information_source"}  # fmt: skip
TEST_PREFIX = "[TEST] "


def cut_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary, marked when cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    marker = "… (truncated)"
    room = limit - len(marker.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + marker


def topic_of(n: Notification, cfg: NtfyConfig) -> str | None:
    """A person's topic ("alice@topic" recipients), else the receiver's own."""
    if n.recipients:
        return n.recipients[0].partition("@")[2] or None
    return cfg.topic


def publish_body(
    n: Notification, cfg: NtfyConfig, renderer: Renderer, topic: str
) -> dict[str, Any]:
    resolved = is_resolved(n)
    bound = renderer.bind(n)
    test = n.route == "test"
    title = (TEST_PREFIX if test else "") + bound.render_line("slack_title.txt", MAX_TITLE)
    message = bound.render_line("log_message.txt", MAX_MESSAGE_BYTES)
    page = n.person
    if page is not None and not resolved:
        message += f"\nPaged: {page.name}"
    sev = n.alert.severity
    body: dict[str, Any] = {
        "topic": topic,
        "title": title[:MAX_TITLE],
        "message": cut_bytes(message, MAX_MESSAGE_BYTES),
        "priority": RESOLVED_PRIORITY if resolved else cfg.priorities[sev.value],
        "tags": ["white_check_mark" if resolved else TAGS[sev], sev.value],
    }
    actions: list[dict[str, Any]] = []
    if page is not None and page.ack_url and not resolved:
        actions.append({"action": "http", "label": "Acknowledge", "url": page.ack_url,
                        "method": "POST", "clear": True})  # fmt: skip
    open_url = page.open_url if page is not None else ""
    if open_url:
        actions.append({"action": "view", "label": "Open", "url": open_url})
        body["click"] = open_url
    elif is_web_url(n.alert.generatorURL):
        body["click"] = n.alert.generatorURL
    runbook = n.alert.annotations.get("runbook_url", "")
    if is_web_url(runbook):
        actions.append({"action": "view", "label": "Runbook", "url": runbook})
    if actions:
        body["actions"] = actions[:MAX_ACTIONS]
    return body
