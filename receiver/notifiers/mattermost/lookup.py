"""Did an earlier attempt already post? The channel's recent posts answer it.

Every post carries a marker in its props (message.py `marker`: job key, destination,
alert fingerprint, episode `startsAt`). A job whose earlier attempt may have posted (taken
over from a replica that died, or retried after an unclear outcome) walks the channel's
posts, newest first (`GET /api/v4/channels/{id}/posts`, pages of 200), down to the oldest
time its post could have been made, and uses the post it finds instead of posting again.
A storm summary matches by job key; any other job by (destination, fingerprint, episode):
one post per alert episode, whichever job made it.

The jobs that ask while a walk is out share the next one (`Coalescer`), as Slack's do
(notifiers/slack/lookup.py): after a replica dies, one walk answers all its jobs. A job
whose window the walk could not cover (LOOKUP_PAGES pages) gets NOT_SURE: the caller
posts, a possible duplicate rather than a lost alert.

Besides, every create carries a `pending_post_id` made from the job key: a Mattermost app
server that sees the same one again within 30 seconds answers with the first post instead
of a second (mattermost/mattermost#10006; per app server, not shared in a cluster). That
covers a quick retry after a lost answer; the walk covers the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from receiver.coalesce import Coalescer
from receiver.models import Notification
from receiver.notifiers.mattermost.api import MattermostApi
from receiver.notifiers.mattermost.message import PROPS_KEY

T = TypeVar("T")

LOOKUP_MARGIN_MS = 60_000  # clock skew between replicas and the Mattermost server
LOOKUP_PAGES = 10
LOOKUP_PAGE_SIZE = 200  # the API's largest page
NOT_SURE: Final = "not-sure"


@dataclass(frozen=True)
class Query:
    """What a post for the job would say in its marker (`fingerprint` "" matches by key)."""

    key: str
    destination: str
    fingerprint: str
    starts_at: str
    oldest_ms: int  # the earliest `create_at` its post could have


def query_of(n: Notification) -> Query:
    by_key = n.summary_total > 0  # a storm summary is not the sample alert's post
    oldest = n.enqueued_at_ms
    started = _ms(n.alert.startsAt)
    if started is not None and not by_key:
        oldest = min(oldest, started)  # a resolve's post may be the episode's first one
    fp, starts_at = ("", "") if by_key else (n.alert.fingerprint, n.alert.startsAt)
    return Query(n.key, n.destination, fp, starts_at, max(0, oldest - LOOKUP_MARGIN_MS))


def matches(q: Query, post: Mapping[str, Any]) -> bool:
    props = post.get("props")
    mark = props.get(PROPS_KEY) if isinstance(props, Mapping) else None
    if not isinstance(mark, Mapping) or post.get("delete_at"):
        return False
    if not q.fingerprint:
        return mark.get("key") == q.key
    return (mark.get("destination"), mark.get("fingerprint"), mark.get("starts_at")) == (
        q.destination, q.fingerprint, q.starts_at)  # fmt: skip


# What a lookup answers: the post's ID, None (no earlier post), or NOT_SURE.
Answer = str | None


class PostLookup:
    """The channel's earlier posts by marker; `timed` bounds each call."""

    def __init__(
        self,
        api: MattermostApi,
        channel_id: str,
        timed: Callable[[Awaitable[Any]], Awaitable[Any]],
    ) -> None:
        self._api, self._channel, self._timed = api, channel_id, timed
        self.batcher: Coalescer[Query, Answer] = Coalescer(self._walk, max_batch=10_000)

    async def find(self, n: Notification) -> Answer:
        """The ID of the post an earlier attempt of `n` made, None, or NOT_SURE. Raises
        MattermostApiError (or a network error) when Mattermost could not answer."""
        return await self.batcher.call(query_of(n))

    async def _walk(self, queries: list[Query]) -> list[Answer | Exception]:
        found: dict[Query, str] = {}
        oldest = min(q.oldest_ms for q in queries)
        reached = float("inf")  # the oldest create_at the walk has seen
        complete = False
        for page in range(LOOKUP_PAGES):
            resp = await self._timed(self._api.channel_posts(self._channel, page,
                                                             LOOKUP_PAGE_SIZE))  # fmt: skip
            posts = resp.get("posts") or {}
            order = [p for p in resp.get("order") or [] if isinstance(posts.get(p), Mapping)]
            for pid in order:
                post = posts[pid]
                for q in queries:
                    if q not in found and matches(q, post):
                        found[q] = str(post.get("id") or pid)
                reached = min(reached, _create_at(post))
            if len(order) < LOOKUP_PAGE_SIZE:
                complete = True
                break
            if len(found) == len(queries) or reached < oldest:
                break
        return [found.get(q) or (None if complete or reached < q.oldest_ms else NOT_SURE)
                for q in queries]  # fmt: skip


def _create_at(post: Mapping[str, Any]) -> float:
    value = post.get("create_at")
    return float(value) if isinstance(value, int | float) else float("inf")


def _ms(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
