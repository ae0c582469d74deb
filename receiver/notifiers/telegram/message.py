"""A Telegram message for a notification: HTML text (parse_mode HTML) and the inline
keyboard, within Telegram's limits. Pure.

https://core.telegram.org/bots/api#html-style: only <b>, <i>, <a href>, <code>, … are
tags; every other `<`, `>` and `&` must be written as &lt; &gt; &amp;. The text may hold
1-4096 characters after the entities are parsed (https://core.telegram.org/bots/api#sendmessage),
counted here in UTF-16 code units as Telegram counts entity offsets. Each part is cut
before it is escaped, so a cut never splits a tag or an entity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from typing import Any

from receiver.models import Notification
from receiver.notifiers.render import (
    Renderer,
    escalation_line,
    is_resolved,
    key_labels,
    links,
    storm_info,
    summary_line,
    template_context,
    truncate,
)

MAX_TEXT = 4096
# Parts, in characters before escaping: together well under MAX_TEXT.
MAX_TITLE = 200
MAX_SUMMARY = 1000
MAX_DESCRIPTION = 1500
MAX_LABEL = 200
MAX_LINE = 300
MAX_STORM_LINE = 120
# InlineKeyboardButton.callback_data: 1-64 bytes
# (https://core.telegram.org/bots/api#inlinekeyboardbutton).
MAX_CALLBACK_DATA = 64
CALLBACK_PREFIX = "ack"
ACK_TEXT = "Acknowledge"
_NONCE_CONTEXT = b"alert-receiver telegram button v1\n"
_TAG = re.compile(r"<[^>]*>")


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def visible_length(text: str) -> int:
    """The text's length once Telegram parsed its HTML, in UTF-16 code units."""
    plain = html.unescape(_TAG.sub("", text))
    return len(plain.encode("utf-16-le")) // 2


def callback_data(fingerprint: str, nonce: str) -> str:
    """The Acknowledge button's data: "ack:<fingerprint>:<nonce>" (37 bytes). The nonce is
    unguessable (`button_nonce`) and kept in the delivery state, so data a client makes up
    acks nothing."""
    data = f"{CALLBACK_PREFIX}:{fingerprint}:{nonce}"
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError(f"callback_data over {MAX_CALLBACK_DATA} bytes")
    return data


def parse_callback_data(data: object) -> tuple[str, str] | None:
    """(fingerprint, nonce) of an Acknowledge button's data, else None."""
    if not isinstance(data, str) or len(data.encode()) > MAX_CALLBACK_DATA:
        return None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX:
        return None
    fp, nonce = parts[1], parts[2]
    if not re.fullmatch(r"[0-9a-f]{16}", fp) or not re.fullmatch(r"[A-Za-z0-9_-]{8,40}", nonce):
        return None
    return fp, nonce


def button_nonce(secret: str, job_key: str) -> str:
    """The random part of a job's Acknowledge button: HMAC-SHA256(bot token, job key) in
    base64url, 16 characters (96 bits). Unguessable without the token, and the same for
    every attempt of one job, so a message posted twice (an answer lost, the job taken
    over) carries the same button as the one recorded: either copy acknowledges."""
    digest = hmac.new(secret.encode(), _NONCE_CONTEXT + job_key.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:16]


def build_message(
    n: Notification, renderer: Renderer, nonce: str = "", acked_by: str = ""
) -> tuple[str, dict[str, Any]]:
    """(HTML text, reply_markup). The title is the `slack_title.txt` template (the one
    plain-text chat title of every chat channel); the rest is built here. The Acknowledge
    button (with `nonce`) only while the alert fires unacknowledged and is not a storm
    summary; the alert's links as URL buttons."""
    storm = storm_info(n)
    title = renderer.render_line("slack_title.txt", n, MAX_TITLE, acked_by)
    text = _storm_text(n, storm, title) if storm else _alert_text(n, acked_by, title)
    if visible_length(text) > MAX_TEXT:  # by construction it is not; never refused for it
        text = esc(truncate(html.unescape(_TAG.sub("", text)), MAX_TEXT // 2))
    rows: list[list[dict[str, str]]] = []
    if nonce and not storm and not acked_by and not is_resolved(n):
        rows.append([{"text": ACK_TEXT, "callback_data": callback_data(n.alert.fingerprint,
                                                                       nonce)}])  # fmt: skip
    url_buttons = [] if storm else [{"text": t, "url": u} for t, u in links(n.alert)]
    if url_buttons:
        rows.append(url_buttons)
    return text, {"inline_keyboard": rows}


def _alert_text(n: Notification, acked_by: str, title: str) -> str:
    ctx = template_context(n, acked_by)
    a = n.alert
    title = title or f"{ctx['emoji']} [{ctx['status_word']}] {ctx['alertname']}"
    lines = [f"<b>{esc(title)}</b>", esc(truncate(summary_line(a), MAX_SUMMARY))]
    description = str(ctx["description"]).strip()
    if description:
        lines.append(f"<i>{esc(truncate(description, MAX_DESCRIPTION))}</i>")
    labels = [f"<b>{esc(k)}</b>: {esc(truncate(v, MAX_LABEL))}" for k, v in key_labels(a)]
    if labels:
        lines += ["", *labels]
    escalation = escalation_line(n)
    if escalation:
        lines += ["", esc(truncate(escalation, MAX_LINE))]
    if acked_by:
        lines += ["", f"Acknowledged by <b>{esc(truncate(acked_by, MAX_LINE))}</b>"]
    return "\n".join(lines)


def _storm_text(n: Notification, storm: dict[str, Any], title: str) -> str:
    route = f" on route {n.route}" if n.route else ""
    title = title or f"🌩️ Storm: {storm['total']} alerts{route}"
    lines = [f"<b>{esc(title)}</b>", ""]  # the title names the top alertnames
    lines += [f"• {esc(truncate(summary_line(a), MAX_STORM_LINE))}" for a in storm["alerts"]]
    if storm["more"]:
        lines.append(f"… and {storm['more']} more")
    return "\n".join(lines)
