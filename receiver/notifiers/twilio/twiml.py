"""The TwiML of a call and of its keypad answers, built with twilio.twiml; pure.

A call says the alert, then gathers one digit: 1 acknowledge, 3 repeat
(https://www.twilio.com/docs/voice/twiml/gather: `numDigits`, `action`, `method`). The
`action` URL carries the alert, its episode and the person (Twilio signs the whole URL it
calls back, so they cannot be changed in transit).
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse  # type: ignore[import-untyped]

from receiver.notifiers.sms.text import MENU

GATHER_TIMEOUT_S = 8
REPEATS = 2  # the menu is said this many times when nothing is pressed


def call_twiml(script: str, action_url: str) -> str:
    r = VoiceResponse()
    for _ in range(REPEATS):
        g = Gather(num_digits=1, action=action_url, method="POST", timeout=GATHER_TIMEOUT_S)
        g.say(f"{script} {MENU}")
        r.append(g)
    r.say("No input. Goodbye.")
    r.hangup()
    return str(r.to_xml())


def say_twiml(text: str) -> str:
    """A keypad answer: say it, hang up."""
    r = VoiceResponse()
    r.say(text)
    r.hangup()
    return str(r.to_xml())
