"""The Mattermost notifier against the local Mattermost server: one post per episode,
edited in place; a job whose earlier attempt may have posted finds that post; every
answer classified (401/403/404 config, 429 with its hint, 5xx retried)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from receiver.models import AckInfo, EscalationInfo, Reason
from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.mattermost import lookup as mm_lookup
from receiver.notifiers.mattermost.config import MattermostConfig
from receiver.notifiers.mattermost.notifier import MattermostNotifier
from receiver.notifiers.mattermost.token import ActionClaim, verify
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.mattermost import CHANNEL, TOKEN, FakeMattermost

SECRET = "0123456789abcdef0123456789abcdef"


def make(mm: FakeMattermost, session: aiohttp.ClientSession, **extra: Any) -> MattermostNotifier:
    doc = {
        "type": "mattermost",
        "url": mm.base_url,
        "token": TOKEN,
        "channel_id": CHANNEL,
        "actions": {"base_url": "https://alerts.example.org", "secret": SECRET},
        **extra,
    }
    return MattermostNotifier("mm", MattermostConfig.model_validate(doc), session, Renderer())


def job(i: int = 0, instance: str = "", **kw: Any) -> Any:
    alert = fixture_alerts("critical-group-firing")[i]
    if instance:
        labels = {**alert.labels, "instance": instance}
        alert = alert.model_copy(update={"labels": labels, "fingerprint": f"{instance:0>16}"})
    return notification(alert, destination="mm", enqueued_at_ms=int(time.time() * 1000), **kw)


def chatter(mm: FakeMattermost, count: int) -> None:
    """`count` posts by people in the channel (no marker), after the job's own."""
    from tests.servers.mattermost import Post, new_id

    for k in range(count):
        post = Post(new_id(), CHANNEL, f"chat {k}", {}, mm._now_ms())
        mm.posts[post.id] = post


async def test_post_then_edits_in_place(mattermost: FakeMattermost, session: Any) -> None:
    notifier, n = make(mattermost, session), job()
    first = await notifier.send(n, {})
    assert first.ok, first.detail
    (post,) = mattermost.posts.values()
    assert first.state == {"post_id": post.id, "channel_id": CHANNEL,
                           "starts_at": n.alert.startsAt}  # fmt: skip
    (button,) = post.buttons
    token = button["integration"]["context"]["token"]
    assert button["integration"]["url"] == "https://alerts.example.org/mattermost/actions"
    claim = verify(token, [SECRET])
    assert isinstance(claim, ActionClaim) and (claim.receiver, claim.fingerprint) == (
        "mm", n.alert.fingerprint)  # fmt: skip
    # The ack job edits the same post: acknowledged by, no button.
    ack = n.model_copy(update={"reason": Reason.ACKNOWLEDGED,
                               "ack": AckInfo(by="alice", at_ms=1, via="mattermost")})  # fmt: skip
    acked = await notifier.send(ack, first.state)
    assert acked.ok and acked.state == first.state, acked.detail
    assert "ACKNOWLEDGED" in post.message and post.buttons == []
    assert "acknowledged by alice" in post.attachment["text"]
    # An unack puts the button back; the ack again takes it away.
    unack = ack.model_copy(update={"reason": Reason.UNACKNOWLEDGED})
    assert (await notifier.send(unack, first.state)).ok
    assert "FIRING" in post.message and len(post.buttons) == 1
    assert (await notifier.send(ack, first.state)).ok and post.buttons == []
    # The resolve edits it again.
    done = await notifier.send(notification(resolved(n.alert), destination="mm"), acked.state)
    assert done.ok, done.detail
    assert "RESOLVED" in post.message and len(post.history) == 4
    assert len(mattermost.posts) == 1 and len(mattermost.calls("POST")) == 1
    # A new episode posts anew.
    again = n.alert.model_copy(update={"startsAt": "2026-11-23T05:00:00Z"})
    fresh = await notifier.send(notification(again, destination="mm"), done.state)
    assert fresh.ok and fresh.state["post_id"] != post.id
    assert len(mattermost.posts) == 2


async def test_an_escalation_edits_the_post_and_replies_in_its_thread(
    mattermost: FakeMattermost, session: Any
) -> None:
    notifier, n = make(mattermost, session), job()
    first = await notifier.send(n, {})
    step = n.model_copy(update={
        "reason": Reason.ESCALATED, "key": n.key + ":esc2",
        "escalation": EscalationInfo(policy="p1", level=2, levels=3, unanswered=["alice"]),
    })  # fmt: skip
    result = await notifier.send(step, first.state)
    assert result.ok and result.state == first.state, result.detail
    (post,) = mattermost.top_level()
    (reply,) = mattermost.replies(post.id)
    assert "Escalation level 2 of 3 \\(p1\\): not acknowledged by alice" in reply.message
    assert "Escalation level 2 of 3" in post.attachment["text"] and len(post.history) == 1


async def test_ack_job_without_a_post_changes_nothing(mattermost: FakeMattermost,
                                                      session: Any) -> None:  # fmt: skip
    ack = job(reason=Reason.ACKNOWLEDGED, ack=AckInfo(by="a", at_ms=1, via="api"))
    result = await make(mattermost, session).send(ack, {})
    assert result.ok and "no post" in result.detail
    assert mattermost.requests == []


async def test_a_deleted_post_is_posted_anew(mattermost: FakeMattermost, session: Any) -> None:
    notifier, n = make(mattermost, session), job()
    first = await notifier.send(n, {})
    mattermost.posts.clear()  # someone deleted it
    repeat = n.model_copy(update={"reason": Reason.REPEAT, "key": n.key + ":r"})
    result = await notifier.send(repeat, first.state)
    assert result.ok and result.state["post_id"] != first.state["post_id"]
    assert len(mattermost.posts) == 1


async def test_past_the_edit_time_limit_a_resolve_posts_anew(mattermost: FakeMattermost,
                                                             session: Any) -> None:  # fmt: skip
    notifier, n = make(mattermost, session), job()
    first = await notifier.send(n, {})
    mattermost.edit_time_limit_s = 0
    await asyncio.sleep(0.01)
    ack = n.model_copy(update={"reason": Reason.ACKNOWLEDGED,
                               "ack": AckInfo(by="alice", at_ms=1, via="api")})  # fmt: skip
    acked = await notifier.send(ack, first.state)
    assert acked.ok and "cannot be edited" in acked.detail and len(mattermost.posts) == 1
    done = await notifier.send(notification(resolved(n.alert), destination="mm"), first.state)
    assert done.ok and done.state["post_id"] != first.state["post_id"]
    assert "RESOLVED" in mattermost.posts[done.state["post_id"]].message


async def test_uncertain_job_finds_its_post(mattermost: FakeMattermost, session: Any) -> None:
    n, other = job(0), job(1)
    first = make(mattermost, session)
    posted = await first.send(n, {})
    await first.send(other, {})
    chatter(mattermost, 450)  # three pages of posts after it
    again = await make(mattermost, session).send(n, {UNCERTAIN: "reclaimed"})
    assert again.outcome is Outcome.OK and "already posted" in again.detail, again.detail
    assert again.state["post_id"] == posted.state["post_id"]
    assert len(mattermost.calls("POST")) == 2 and len(mattermost.calls("GET")) == 3


async def test_uncertain_resolve_edits_the_found_post(mattermost: FakeMattermost,
                                                      session: Any) -> None:  # fmt: skip
    """The record of the firing post was lost: the resolve finds it by episode and edits it."""
    n = job()
    await make(mattermost, session).send(n, {})
    done = notification(resolved(n.alert), destination="mm")
    result = await make(mattermost, session).send(done, {UNCERTAIN: "retry"})
    assert result.ok, result.detail
    (post,) = mattermost.posts.values()
    assert "RESOLVED" in post.message and result.state["post_id"] == post.id


async def test_uncertain_job_that_never_posted_posts_once(mattermost: FakeMattermost,
                                                          session: Any) -> None:  # fmt: skip
    result = await make(mattermost, session).send(job(), {UNCERTAIN: "reclaimed"})
    assert result.ok and len(mattermost.posts) == 1


async def test_jobs_taken_over_together_share_one_walk(mattermost: FakeMattermost,
                                                       session: Any) -> None:  # fmt: skip
    jobs = [job(instance=f"i{k}") for k in range(30)]
    first = make(mattermost, session)
    for n in jobs[:15]:
        assert (await first.send(n, {})).ok
    taker = make(mattermost, session)
    results = await asyncio.gather(*(taker.send(n, {UNCERTAIN: "reclaimed"}) for n in jobs))
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
    assert sum("already posted" in r.detail for r in results) == 15
    assert len(mattermost.calls("GET")) == 1
    per_alert = sorted(p.props["alert_receiver"]["fingerprint"] for p in mattermost.posts.values())
    assert per_alert == sorted(n.alert.fingerprint for n in jobs)


async def test_beyond_the_walk_bound_the_job_posts(
    mattermost: FakeMattermost, session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mm_lookup, "LOOKUP_PAGES", 2)
    monkeypatch.setattr(mm_lookup, "LOOKUP_PAGE_SIZE", 5)
    n = job()
    await make(mattermost, session).send(n, {})
    chatter(mattermost, 20)
    again = await make(mattermost, session).send(n, {UNCERTAIN: "reclaimed"})
    assert again.ok and "already" not in again.detail
    assert len(mattermost.calls("GET")) == 2 and len(mattermost.calls("POST")) == 2
    # Within 30 s the server answers the same pending_post_id with the first post; later
    # (the window passed: forgotten here), a second post is the possible duplicate.
    assert len(mattermost.posts) == 21
    mattermost._pending.clear()
    again = await make(mattermost, session).send(n, {UNCERTAIN: "reclaimed"})
    assert again.ok and len(mattermost.posts) == 22


async def test_lookup_failing_for_now_is_retried_not_posted(mattermost: FakeMattermost,
                                                            session: Any) -> None:  # fmt: skip
    mattermost.fail_next(1, status=503)
    result = await make(mattermost, session).send(job(), {UNCERTAIN: "reclaimed"})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    assert "looking for an earlier post" in result.detail and not mattermost.posts


async def test_a_quick_retry_is_deduplicated_by_pending_post_id(mattermost: FakeMattermost,
                                                                session: Any) -> None:  # fmt: skip
    """A retry of the same job (its first answer lost) gets the first post back."""
    n = job()
    a = await make(mattermost, session).send(n, {})
    b = await make(mattermost, session).send(n, {})
    assert a.state["post_id"] == b.state["post_id"] and len(mattermost.posts) == 1


@pytest.mark.parametrize(
    ("setup", "outcome", "retryable", "hint"),
    [
        (lambda m: m.rate_limit_next(1, reset_s=7), Outcome.RATE_LIMITED, True, 7.0),
        (lambda m: m.rate_limit_next(1, reset_s=4, retry_after=False), Outcome.RATE_LIMITED,
         True, 4.0),
        (lambda m: m.fail_next(1, 502), Outcome.SERVER_ERROR, True, None),
        (lambda m: m.tokens.clear(), Outcome.INVALID_CONFIG, False, None),
        (lambda m: m.channels.clear(), Outcome.INVALID_CONFIG, False, None),
        (lambda m: m.fail_next(1, 400), Outcome.CLIENT_ERROR, False, None),
    ],
    ids=["429-retry-after", "429-reset-only", "502", "401-token", "403-channel", "400"],
)  # fmt: skip
async def test_answers_are_classified(
    mattermost: FakeMattermost, session: Any, setup: Any, outcome: Outcome,
    retryable: bool, hint: float | None,
) -> None:  # fmt: skip
    setup(mattermost)
    result = await make(mattermost, session).send(job(), {})
    assert (result.outcome, result.retryable, result.retry_after_s) == (outcome, retryable, hint)
    assert not mattermost.posts and result.detail.startswith("mattermost: HTTP")


async def test_network_trouble_is_retryable(session: Any) -> None:
    mm = FakeMattermost()
    await mm.start()
    await mm.stop()  # nothing listens there any more
    result = await make(mm, session, timeout=2).send(job(), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable


async def test_unreadable_token_file_fails_the_send(mattermost: FakeMattermost, session: Any,
                                                    tmp_path: Any) -> None:  # fmt: skip
    doc = {"type": "mattermost", "url": mattermost.base_url, "channel_id": CHANNEL,
           "token_file": str(tmp_path / "missing")}  # fmt: skip
    notifier = MattermostNotifier("mm", MattermostConfig.model_validate(doc), session, Renderer())
    result = await notifier.send(job(), {})
    assert result.outcome is Outcome.INVALID_CONFIG and "cannot read" in result.detail
    assert mattermost.requests == []
