"""A Discord message for a notification: one embed within Discord's limits
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits: title
256, description 4096, 25 fields of name 256 / value 1024, footer 2048, 6000 characters
in all). The ack link is a masked link in the embed (webhooks have no interactive
buttons); mentions in alert text never ping anyone (`allowed_mentions`)."""

from __future__ import annotations

import re
from typing import Any

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

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_TOTAL = 6000
MAX_USERNAME = 80
MAX_CONTENT = 2000
# Shrinking below this leaves a description that says nothing; fields go first then.
MIN_DESCRIPTION = 300

COLORS = {Severity.CRITICAL: 0xE01E5A, Severity.WARNING: 0xECB22E, Severity.INFO: 0x3AA3E3}
RESOLVED_COLOR = 0x2EB67D
ACKED_COLOR = 0x868686
# Parentheses need none: without an unescaped "]" before them they make no link.
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]<])")
_LINE_START = re.compile(r"^(\s*)([#-])", re.MULTILINE)  # a heading or list item


def md_escape(text: str) -> str:
    """Discord markdown's control characters backslash-escaped: alert text shows as is."""
    return _LINE_START.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", text))


def _link(title: str, url: str) -> str:
    return f"[{md_escape(title)}]({url.replace(')', '%29')})"


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts against the 6000 of a message's embeds."""
    fields = embed.get("fields") or []
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len((embed.get("footer") or {}).get("text", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )


def _description(n: Notification, acked_by: str) -> str:
    storm = storm_info(n)
    if storm:
        lines = [f"**{md_escape(summary_line(n.alert))}**"] if not n.summary_of else []
        for a in storm["alerts"]:
            what = a.annotations.get("summary") or a.labels.get("instance") or a.fingerprint
            lines.append(f"• {md_escape(a.alertname or 'alert')}: {md_escape(what)}")
        if storm["more"]:
            lines.append(f"…and {storm['more']} more")
        return "\n".join(lines)
    a = n.alert
    lines = [f"**{md_escape(summary_line(a))}**"]
    if escalation := escalation_line(n):
        lines.append(f"⬆️ **{md_escape(escalation)}**")
    if acked_by:
        lines.append(f"👀 Acknowledged by **{md_escape(acked_by)}**")
    description = a.annotations.get("description") or a.annotations.get("message", "")
    if description:
        lines.append(md_escape(description))
    return "\n".join(lines)


def _links_line(n: Notification, ack_url: str) -> str:
    parts = [f"**{_link('Acknowledge', ack_url)}**"] if ack_url else []
    if n.summary_total <= 0:
        parts += [_link(t, u) for t, u in links(n.alert)]
    return " · ".join(parts)


def _footer(n: Notification, acked_by: str) -> str:
    storm = storm_info(n)
    severity = storm["severity"] if storm else n.alert.severity
    text = f"Severity {severity} · started {n.alert.startsAt}"
    if is_resolved(n):
        text += f" · resolved {n.alert.endsAt}"
    if acked_by:
        text += f" · acknowledged by {acked_by}"
    return truncate(text, MAX_FOOTER)


def _color(n: Notification, acked_by: str) -> int:
    if is_resolved(n):
        return RESOLVED_COLOR
    if acked_by:
        return ACKED_COLOR
    storm = storm_info(n)
    return COLORS[storm["severity"] if storm else n.alert.severity]


def build_embed(n: Notification, renderer: Renderer, acked_by: str = "") -> dict[str, Any]:
    """The notification's embed, within every limit: a long description is cut (with a
    marker), then fields are dropped from the end, never the whole message refused."""
    bound = renderer.bind(n, acked_by, via="discord")
    title = bound.render_line("slack_title.txt", MAX_TITLE) or (n.alert.alertname or "alert")
    ack_url = str(bound.ctx["ack_url"])
    fields = [] if n.summary_total > 0 else [
        {"name": truncate(k, MAX_FIELD_NAME), "value": truncate(md_escape(v), MAX_FIELD_VALUE),
         "inline": True}
        for k, v in key_labels(n.alert)[:MAX_FIELDS]
    ]  # fmt: skip
    tail = _links_line(n, ack_url)
    embed: dict[str, Any] = {"title": title, "color": _color(n, acked_by),
                             "footer": {"text": _footer(n, acked_by)}}  # fmt: skip
    if fields:
        embed["fields"] = fields
    # The links line is kept whole: it carries the ack link.
    room = MAX_DESCRIPTION - (len(tail) + 2 if tail else 0)
    body = _description(n, acked_by)
    while True:
        cut = truncate(body, max(0, room))
        embed["description"] = f"{cut}\n\n{tail}" if tail else cut
        over = embed_size(embed) - MAX_TOTAL
        if over <= 0:
            return embed
        if room - over >= MIN_DESCRIPTION or not embed.get("fields"):
            room -= over
        else:
            embed["fields"].pop()
            if not embed["fields"]:
                del embed["fields"]


def build_message(
    n: Notification, renderer: Renderer, username: str | None = None, acked_by: str = ""
) -> dict[str, Any]:
    """The Execute/Edit Webhook JSON body for `n`."""
    body: dict[str, Any] = {
        "embeds": [build_embed(n, renderer, acked_by)],
        "allowed_mentions": {"parse": []},
    }
    if username:
        body["username"] = username[:MAX_USERNAME]
    return body
