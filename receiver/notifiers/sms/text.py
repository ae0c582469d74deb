"""The words of a text message and of a call, and what a reply means; pure.

A text names the alert and its reply code ("AR-4821 CRITICAL CheckoutErrors on checkout-1.
Reply 4821 to acknowledge"); a bundle names how many alerts it carries and one code for all
("3 alerts: … Reply 77 to acknowledge all"). A call reads the same line, then the keypad
menu. One GSM-7 segment is 160 characters, a concatenated text at most 10 segments here
(Twilio's documented ceiling is 1600 characters:
https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.models import AlertSnapshot

MAX_TEXT = 1600
PREFIX = "AR-"
TEST_MARK = "[TEST] "
HELP_TEXT = (
    "alert-receiver: reply with the code of a text to acknowledge its alert. "
    "STOP ends texts to this number, START resumes them."
)
STOP_TEXT = "alert-receiver: you will get no more texts at this number. Reply START to resume."
START_TEXT = "alert-receiver: texts to this number resumed."
# "2: escalate now" waits for an escalate-now operation in receiver/escalation (none yet):
# a key that leads nowhere is not offered.
MENU = "Press 1 to acknowledge. Press 3 to repeat."
# What carriers require a short/long code to honour (CTIA; Twilio's default opt-out
# keywords: https://help.twilio.com/articles/223134027).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_REPLY = re.compile(r"^\s*(?:AR-?)?(\d{2,6})\s*$", re.IGNORECASE)


def _line(a: AlertSnapshot) -> str:
    where = a.labels.get("instance") or a.labels.get("service") or a.labels.get("job") or ""
    name = a.labels.get("alertname", "alert")
    return f"{a.severity.value.upper()} {name}" + (f" on {where}" if where else "")


def alert_text(a: AlertSnapshot, code: str, test: bool = False) -> str:
    """The text for one alert, with its reply code ("" code: no reply possible)."""
    head = (TEST_MARK if test else "") + (f"{PREFIX}{code} " if code else "") + _line(a) + "."
    tail = f" Reply {code} to acknowledge." if code else ""
    summary = a.annotations.get("summary", "").strip()
    body = f"{head} {summary}" if summary else head
    return cut(body, MAX_TEXT - len(tail)) + tail


def resolved_text(a: AlertSnapshot) -> str:
    return cut(f"RESOLVED {_line(a)}.", MAX_TEXT)


def bundle_text(alerts: Sequence[AlertSnapshot], code: str) -> str:
    """One text for many alerts of one person: each named while room lasts, the count
    always, one code that acknowledges them all."""
    tail = f" Reply {code} to acknowledge all."
    head = f"{PREFIX}{code} {len(alerts)} alerts:"
    room = MAX_TEXT - len(head) - len(tail) - 20
    parts: list[str] = []
    for i, a in enumerate(alerts):
        line = f" {_line(a)};"
        if sum(map(len, parts)) + len(line) > room:
            parts.append(f" and {len(alerts) - i} more.")
            break
        parts.append(line)
    return head + "".join(parts) + tail


def call_script(a: AlertSnapshot, test: bool = False) -> str:
    """What a call says before its menu."""
    return (TEST_MARK.strip("[] ") + ". " if test else "") + f"Alert. {_line(a)}."


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReplyKind(enum.StrEnum):
    """What an inbound text asks. Doubles as a metric label."""

    ACK = "ack"
    STOP = "stop"
    START = "start"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    code: str = ""


def parse_reply(body: str) -> Reply:
    """'4821', 'AR-4821' → ack; carrier keywords; anything else unknown."""
    word = body.strip().upper()
    if word in STOP_WORDS:
        return Reply(ReplyKind.STOP)
    if word in START_WORDS:
        return Reply(ReplyKind.START)
    if word in HELP_WORDS:
        return Reply(ReplyKind.HELP)
    m = _REPLY.match(body)
    return Reply(ReplyKind.ACK, m.group(1)) if m else Reply(ReplyKind.UNKNOWN)
