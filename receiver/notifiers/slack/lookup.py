"""Did an earlier attempt of this job already post? Slack message metadata answers it.

Every message the notifier posts carries metadata naming the job that posted it
(https://api.slack.com/metadata). A job whose earlier attempt may have posted (taken over
from a replica that died, or retried after an unclear outcome) looks for that message in
the channel's history (conversations.history) before posting a second one.

The jobs that ask while a lookup is out share the next one (`Coalescer`): after a replica
dies, the hundreds of jobs it left are taken over together, and one walk of the history
answers them all. That matters twice: conversations.history is a Tier 3 method (about 50
calls a minute, https://api.slack.com/apis/rate-limits), and one job alone could not see
far enough back when the channel is busy. A walk goes newest first down to the oldest time
any of its jobs could have posted (queued at, less LOOKUP_MARGIN_S for clock skew), at
most LOOKUP_PAGES pages of LOOKUP_PAGE_SIZE messages, and stops once every message is
found. A job whose window the walk could not cover gets NOT_SURE: the caller posts (a
possible duplicate rather than a lost alert) and says so in its log.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from receiver.coalesce import Coalescer
from receiver.models import Notification
from receiver.notifiers.slack.api import SlackApi

T = TypeVar("T")

METADATA_EVENT = "alert_receiver_notification"
LOOKUP_MARGIN_S = 60.0
LOOKUP_PAGES = 10
LOOKUP_PAGE_SIZE = 999  # Slack's largest page ("under 1000")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
NOT_SURE: Final = "not-sure"  # the walk ended before this job's window: unknown


def message_metadata(n: Notification) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT,
            "event_payload": {"key": n.key, "fingerprint": n.alert.fingerprint}}  # fmt: skip


def posted_for(message: Mapping[str, Any]) -> str:
    """The job key a message from conversations.history was posted for, or ""."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_EVENT:
        return ""
    payload = meta.get("event_payload")
    return str(payload.get("key", "")) if isinstance(payload, Mapping) else ""


@dataclass(frozen=True)
class Query:
    key: str  # the job's idempotency key, as in its messages' metadata
    oldest: float  # the earliest time (Slack ts, seconds) its earlier attempt could have posted


# What a lookup answers: the message's ts, None (no earlier post), or NOT_SURE.
Answer = str | None


class HistoryLookup:
    """The channel's earlier posts by job key; `timed` bounds each Slack call."""

    def __init__(
        self, api: SlackApi, channel: str, timed: Callable[[Awaitable[Any]], Awaitable[Any]]
    ) -> None:
        self._api, self._channel, self._timed = api, channel, timed
        self.channel_id = ""  # learned from Slack's answers (the config may give a name)
        self.batcher: Coalescer[Query, Answer] = Coalescer(self._walk, max_batch=10_000)

    async def find(self, n: Notification) -> Answer:
        """The ts of the message an earlier attempt of `n` posted, None, or NOT_SURE.
        Raises SlackApiError (or a network error) when Slack could not answer."""
        oldest = max(0.0, n.enqueued_at_ms / 1000 - LOOKUP_MARGIN_S)
        return await self.batcher.call(Query(n.key, oldest))

    async def _walk(self, queries: list[Query]) -> list[Answer | Exception]:
        channel = self.channel_id or await self.resolve_channel()
        if not channel:
            return [NOT_SURE] * len(queries)
        wanted = {q.key for q in queries}
        oldest = min(q.oldest for q in queries)
        found: dict[str, str] = {}
        reached = float("inf")  # the oldest message time the walk has seen
        cursor, complete = "", False
        for _ in range(LOOKUP_PAGES):
            resp = await self._timed(self._api.get("conversations.history", {
                "channel": channel, "oldest": f"{oldest:.6f}",
                "limit": LOOKUP_PAGE_SIZE, "include_all_metadata": "true",
                **({"cursor": cursor} if cursor else {}),
            }))  # fmt: skip
            for m in resp.get("messages") or []:
                key = posted_for(m)
                if key in wanted:
                    found.setdefault(key, str(m.get("ts", "")))
                reached = min(reached, _ts(m))
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not resp.get("has_more") or not cursor:
                complete = True
                break
            if len(found) == len(wanted):
                break
        return [found.get(q.key) or (None if complete or reached <= q.oldest else NOT_SURE)
                for q in queries]  # fmt: skip

    async def resolve_channel(self) -> str:
        """The configured channel's ID (conversations.history takes only IDs): the config's
        when it is one, else looked up by name (conversations.list, bounded), remembered."""
        name = self._channel.lstrip("#")
        if CHANNEL_ID.fullmatch(name):
            self.channel_id = name
            return name
        cursor = ""
        for _ in range(LOOKUP_PAGES):
            resp = await self._timed(self._api.get("conversations.list", {
                "types": "public_channel,private_channel", "exclude_archived": "true",
                "limit": LOOKUP_PAGE_SIZE, **({"cursor": cursor} if cursor else {}),
            }))  # fmt: skip
            for c in resp.get("channels") or []:
                if c.get("name") == name:
                    self.channel_id = str(c.get("id", ""))
                    return self.channel_id
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return ""


def _ts(message: Mapping[str, Any]) -> float:
    try:
        return float(message.get("ts") or "inf")
    except ValueError:
        return float("inf")
