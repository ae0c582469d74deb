"""The NCCO of a call and of its keypad answers; pure
(https://developer.vonage.com/en/voice/voice-api/ncco-reference).

`talk` says the alert; `input` with `type: [dtmf]` and `maxDigits: 1` gathers the keypad
answer and POSTs it to `eventUrl` (which carries the alert, episode and person, signed
by us: see receiver/api/voice.py)."""

from __future__ import annotations

from typing import Any

from receiver.notifiers.sms.text import MENU

TIMEOUT_S = 8


def call_ncco(script: str, event_url: str) -> list[dict[str, Any]]:
    return [
        {"action": "talk", "text": f"{script} {MENU}", "bargeIn": True},
        {"action": "input", "type": ["dtmf"], "dtmf": {"maxDigits": 1, "timeOut": TIMEOUT_S},
         "eventUrl": [event_url], "eventMethod": "POST"},
    ]  # fmt: skip


def say_ncco(text: str) -> list[dict[str, Any]]:
    return [{"action": "talk", "text": text}]
