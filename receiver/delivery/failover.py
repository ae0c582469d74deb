"""Which provider a person's text or call goes to next when one fails; pure.

A phone job goes to one provider receiver at a time (`type: twilio`, `type: vonage`: one
destination each, so each has its own circuit, receiver/delivery/backpressure.py). The
order is the phone channel's `providers: [twilio, vonage]`. What moves a job on:

- the provider's trouble: a 5xx, a timeout or network error, a 429, a paused destination
  (its circuit is open), bad credentials at that provider; or its status callback says
  the text `failed`/`undelivered` or the call `failed`;
- not: a refusal of the number itself (invalid, not mobile: every provider would refuse
  it), nor a call that rang out, was busy or met voicemail: the person was "not reached",
  which is the person's next rule's business, not a provider fault.

After the last provider the job stays with the usual retry policy on the first one (nothing
is dropped); a job is never handed to a provider it already went through.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from receiver.notifiers.base import DeliveryResult, Outcome


class Cause(enum.StrEnum):
    """Why a phone job ended at one provider. Doubles as a metric label."""

    DELIVERED = "delivered"
    PROVIDER_FAULT = "provider_fault"
    NUMBER_REFUSED = "number_refused"
    NOT_REACHED = "not_reached"


# Provider status callbacks (Twilio MessageStatus/CallStatus; Vonage Messages and Voice
# event `status`) and what they mean here; others ("queued", "ringing", …) mean nothing yet.
STATUS_CAUSES = {
    "delivered": Cause.DELIVERED, "read": Cause.DELIVERED, "completed": Cause.DELIVERED,
    "answered": Cause.DELIVERED,
    "failed": Cause.PROVIDER_FAULT, "undelivered": Cause.PROVIDER_FAULT,
    "rejected": Cause.PROVIDER_FAULT, "undeliverable": Cause.PROVIDER_FAULT,
    "no-answer": Cause.NOT_REACHED, "busy": Cause.NOT_REACHED, "unanswered": Cause.NOT_REACHED,
    "timeout": Cause.NOT_REACHED, "machine": Cause.NOT_REACHED, "canceled": Cause.NOT_REACHED,
    "cancelled": Cause.NOT_REACHED,
}  # fmt: skip
_FAULTS = {Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.NETWORK_ERROR, Outcome.RATE_LIMITED,
           Outcome.INVALID_CONFIG}  # fmt: skip


def cause_of(result: DeliveryResult) -> Cause:
    if result.ok:
        return Cause.DELIVERED
    return Cause.PROVIDER_FAULT if result.outcome in _FAULTS else Cause.NUMBER_REFUSED


def cause_of_status(status: str) -> Cause | None:
    """None: not final yet (queued, sent, ringing, …)."""
    return STATUS_CAUSES.get(status.strip().lower())


def next_provider(providers: Sequence[str], tried: Sequence[str], cause: Cause) -> str | None:
    """The provider to try now, given those tried (in order) and why the last one ended;
    None: none (delivered, the number's fault, not reached, or every provider tried)."""
    if cause is not Cause.PROVIDER_FAULT:
        return None
    for p in providers:
        if p not in tried:
            return p
    return None
