"""A Mattermost post for a notification: its `message` (one status line) and `props` (one
message attachment with the details and, while the alert fires unacknowledged, the
Acknowledge button; a marker naming the alert and episode for takeover lookups). Pure.

Attachments: https://developers.mattermost.com/integrate/reference/message-attachments/
Buttons: https://developers.mattermost.com/integrate/plugins/interactive-messages/
A post's message is at most 16,383 characters (model.PostMessageMaxRunesV2); its props at
most 800,000 (PostPropsMaxRunes): the attachment's text is bounded well below that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from receiver.models import Notification, Severity
from receiver.notifiers.render import (
    Renderer,
    escalation_line,
    is_resolved,
    key_labels,
    summary_line,
    truncate,
)

MAX_MESSAGE = 16383
MAX_TEXT = 8000  # the attachment's text
MAX_FIELDS = 10
MAX_FIELD_VALUE = 500
PROPS_KEY = "alert_receiver"  # the marker prop (lookup.py matches on it)
ACK_ACTION_ID = "ack"  # Mattermost action IDs: letters and digits only
COLORS = {Severity.CRITICAL: "#d0021b", Severity.WARNING: "#f5a623", Severity.INFO: "#4a90e2"}
RESOLVED_COLOR, ACKED_COLOR, STORM_COLOR = "#2eb886", "#9b9b9b", "#7b61ff"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~<>])")


def md_escape(text: str) -> str:
    """Mattermost Markdown's special characters, backslash-escaped: alert text is shown
    as written, never as formatting, links or tables."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_link(title: str, url: str) -> str:
    return f"[{md_escape(title)}]({url.replace('(', '%28').replace(')', '%29')})"


@dataclass(frozen=True)
class Button:
    """The Acknowledge button: where the Mattermost server posts a click, and the signed
    token it sends back in the action's context."""

    url: str
    token: str


def marker(n: Notification) -> dict[str, str]:
    """What a post says it is for: the job that posted it, the alert and its episode."""
    return {"key": n.key, "destination": n.destination, "fingerprint": n.alert.fingerprint,
            "starts_at": n.alert.startsAt}  # fmt: skip


def build_post(
    n: Notification, renderer: Renderer, button: Button | None, acked_by: str = ""
) -> tuple[str, dict[str, Any]]:
    """(message, props) within Mattermost's limits; long parts end in "… (truncated)"."""
    ctx = renderer.bind(n, acked_by, via="mattermost").ctx
    storm = ctx["storm"]
    if storm:
        line = f"{ctx['emoji']} [{ctx['status_word']}] " + renderer.render("storm_summary.txt", n)
    else:
        line = f"{ctx['emoji']} [{ctx['status_word']}] {ctx['alertname']}: {ctx['summary']}"
    message = truncate(md_escape(" ".join(line.split())), MAX_MESSAGE)
    attachment: dict[str, Any] = {
        "fallback": truncate(" ".join(line.split()), 1000),
        "color": _color(n, acked_by, bool(storm)),
        "text": truncate(_text(ctx, storm, link=button is None), MAX_TEXT),
    }
    if not storm:
        fields = [{"short": True, "title": k, "value": truncate(md_escape(v), MAX_FIELD_VALUE)}
                  for k, v in key_labels(n.alert)[:MAX_FIELDS]]  # fmt: skip
        if fields:
            attachment["fields"] = fields
    firing = not is_resolved(n)
    if button is not None and firing and not acked_by and not storm:
        attachment["actions"] = [{
            "id": ACK_ACTION_ID, "type": "button", "name": "Acknowledge", "style": "primary",
            "integration": {"url": button.url, "context": {"token": button.token}},
        }]  # fmt: skip
    # @channel / @all / @here in alert text must not page the whole channel.
    props = {"attachments": [attachment], "disable_group_highlight": True, PROPS_KEY: marker(n)}
    return message, props


def escalation_reply(n: Notification) -> str:
    """The thread reply an escalation step adds under the alert's post (an edit notifies
    no one; a reply does)."""
    line = escalation_line(n) or "Escalated"
    return truncate(f":arrow_up: **{md_escape(line)}**", MAX_MESSAGE)


def _color(n: Notification, acked_by: str, storm: bool) -> str:
    if is_resolved(n):
        return RESOLVED_COLOR
    if acked_by:
        return ACKED_COLOR
    return STORM_COLOR if storm else COLORS[n.alert.severity]


def _text(ctx: dict[str, Any], storm: dict[str, Any] | None, link: bool) -> str:
    """The attachment's Markdown; the signed ack link (ack.links) only without a button."""
    lines: list[str] = []
    if storm:
        for a in storm["alerts"]:
            what = a.annotations.get("summary") or a.labels.get("instance") or a.fingerprint
            lines.append(f"- {md_escape(a.alertname or 'alert')}: {md_escape(what)}")
        if storm["more"]:
            lines.append(f"…and {storm['more']} more")
    else:
        lines.append(f"**{md_escape(ctx['summary'])}**")
        if ctx["escalation"]:
            lines.append(f":arrow_up: **{md_escape(ctx['escalation'])}**")
        if ctx["description"]:
            lines.append(md_escape(ctx["description"]))
    meta = f"Severity {ctx['severity']} · started {ctx['starts_at']}"
    if not ctx["firing"]:
        meta += f" · resolved {ctx['ends_at']}"
    if ctx["acked_by"]:
        meta += f" · acknowledged by {md_escape(ctx['acked_by'])}"
    lines.append(f"_{meta}_")
    shown = [md_link(t, u) for t, u in ([] if storm else ctx["links"])]
    if ctx["ack_url"] and link:
        shown.insert(0, md_link("Acknowledge", ctx["ack_url"]))
    if shown:
        lines.append(" · ".join(shown))
    return "\n".join(lines) or md_escape(summary_line(ctx["alert"]))
