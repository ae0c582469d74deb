"""Acknowledge by text message: what an inbound SMS (already verified as the provider's,
receiver/api/sms.py) does, and the reply it gets.

A code acts only when it was sent to the number the reply comes from (the code's key names
the number, receiver/notifiers/sms/codes.py) and only on the alert episode it was sent for:
the ack goes through the one ack service, `via: sms`, `by` the person paged, with that
`startsAt`, so an alert that fired again since is left alone ("fired again") and an ack does
what any ack does. A bundle's code acks each alert in it. STOP/START/HELP are answered as
carriers require. Every answer is a short text, and `outcome` a metric label.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from receiver.ack.service import AckOutcome, Acks
from receiver.notifiers.sms.codes import ReplyCodes
from receiver.notifiers.sms.text import (
    HELP_TEXT,
    START_TEXT,
    STOP_TEXT,
    ReplyKind,
    parse_reply,
)

log = logging.getLogger("receiver.sms_ack")
VIA = "sms"
UNKNOWN_TEXT = "alert-receiver: {code} is no reply code sent to this number (or it expired)."
NOTHING_TEXT = "alert-receiver: reply with the code from an alert text, or HELP."


@dataclass(frozen=True)
class Answer:
    outcome: str  # acked | already_acked | other_episode | not_firing | not_found |
    #               unknown_code | stop | start | help | unknown | unknown_person
    text: str
    acked: int = 0


def summarise(outcomes: list[AckOutcome]) -> Answer:
    """The reply to a code whose alerts got these outcomes (pure)."""
    n = Counter(outcomes)
    done = n[AckOutcome.ACKED] + n[AckOutcome.ALREADY]
    if len(outcomes) == 1:
        o = outcomes[0]
        say = {AckOutcome.ACKED: "acknowledged", AckOutcome.ALREADY: "already acknowledged",
               AckOutcome.NOT_FIRING: "resolved already: nothing to acknowledge",
               AckOutcome.OTHER_EPISODE: "fired again since that text: nothing done, use "
               "the code of the newer text",
               AckOutcome.NOT_FOUND: "no such alert any more"}  # fmt: skip
        return Answer(o.value, f"alert-receiver: {say.get(o, o.value)}.", n[AckOutcome.ACKED])
    parts = [f"{done} of {len(outcomes)} acknowledged"]
    for o, word in ((AckOutcome.NOT_FIRING, "resolved"), (AckOutcome.OTHER_EPISODE,
                    "fired again"), (AckOutcome.NOT_FOUND, "gone")):  # fmt: skip
        if n[o]:
            parts.append(f"{n[o]} {word}")
    outcome = AckOutcome.ACKED if n[AckOutcome.ACKED] else (
        AckOutcome.ALREADY if done else outcomes[0])  # fmt: skip
    return Answer(outcome.value, "alert-receiver: " + ", ".join(parts) + ".",
                  n[AckOutcome.ACKED])  # fmt: skip


async def handle_text(
    codes: ReplyCodes, acks: Acks, phone: str, body: str, known: Callable[[str], bool]
) -> Answer:
    """Act on one verified inbound text from `phone`; `known(person)`: still configured."""
    reply = parse_reply(body)
    if reply.kind is ReplyKind.STOP:
        await codes.stop(phone)
        return Answer("stop", STOP_TEXT)
    if reply.kind is ReplyKind.START:
        await codes.start(phone)
        return Answer("start", START_TEXT)
    if reply.kind is ReplyKind.HELP:
        return Answer("help", HELP_TEXT)
    if reply.kind is ReplyKind.UNKNOWN:
        return Answer("unknown", NOTHING_TEXT)
    entry = await codes.find(phone, reply.code)
    if entry is None:
        return Answer("unknown_code", UNKNOWN_TEXT.format(code=reply.code))
    if not known(entry.person):
        return Answer("unknown_person", f"alert-receiver: {entry.person} is no longer paged.")
    outcomes = []
    for fp, starts_at in entry.alerts:
        result = await acks.ack(fp, entry.person, VIA, starts_at=starts_at)
        outcomes.append(result.outcome)
    answer = summarise(outcomes)
    log.info("sms ack", extra={"by": entry.person, "alerts": len(entry.alerts),
                               "outcome": answer.outcome})  # fmt: skip
    return answer
