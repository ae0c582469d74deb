"""Signed Slack clicks already acted on, remembered in Redis so that a replay does nothing.

Slack's signature proves a request came from Slack, not that it comes once: a captured
click stays valid for its 5-minute window (receiver/ack/slack.py WINDOW_S). Before acting,
the handler claims the request's signature with SET NX (`Keys.slack_seen`), with a TTL
that outlasts the window; whoever gets the claim acts, on whichever replica, and any other
copy of the request (a replay, or the same click racing on another replica) is answered
without acting.
"""

from __future__ import annotations

import math
from typing import Any

from receiver.store.keys import Keys

# Replicas' clocks differ a little: the claim outlives the window by this much.
CLOCK_SKEW_S = 60


def claim_ttl(timestamp: str, now: float, window_s: int) -> int:
    """Seconds the claim must live: until the request's timestamp is out of the window
    (it is refused as stale then), plus the skew allowance; at least 1."""
    return max(1, math.ceil(int(timestamp) + window_s - now) + CLOCK_SKEW_S)


def signature_id(signature: str) -> str:
    """The part of `X-Slack-Signature` ("v0=<hex>") that names the request."""
    return signature.removeprefix("v0=")


class SeenClicks:
    """Claims on signed Slack requests, shared by every replica through Redis."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def claim(self, signature: str, ttl_s: int) -> bool:
        """True for the first claim of this request; False if it was claimed before."""
        key = self.keys.slack_seen(signature_id(signature))
        return bool(await self.redis.set(key, "1", nx=True, ex=ttl_s))

    async def release(self, signature: str) -> None:
        """Forgets a claim whose action failed (so Slack's own retry is not a replay)."""
        await self.redis.delete(self.keys.slack_seen(signature_id(signature)))
