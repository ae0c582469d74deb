"""The Discord notifier against the local Discord webhook API: one message per alert,
edited on resolve and ack, rate limits honoured, errors classified."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from receiver.models import AckInfo, EscalationInfo, Reason
from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.discord.config import DiscordConfig
from receiver.notifiers.discord.notifier import DiscordNotifier
from receiver.notifiers.render import TRUNCATED, Renderer
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.discord import FakeDiscord

ACK_BASE = "https://alerts.example.org/ack/"


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


def make(discord: FakeDiscord, session: aiohttp.ClientSession, links: bool = True,
         **cfg: Any) -> DiscordNotifier:  # fmt: skip
    ack_url = (lambda fp, starts, via="email": f"{ACK_BASE}{fp}.{starts}") if links else None
    config = DiscordConfig.model_validate({"webhook_url": discord.webhook_url(), **cfg})
    return DiscordNotifier("discord", config, session, Renderer(ack_url=ack_url))


def acked(n: Any, by: str = "alice") -> Any:
    info = AckInfo(by=by, at_ms=int(time.time() * 1000), via="email")
    return n.model_copy(update={"reason": Reason.ACKNOWLEDGED, "ack": info,
                                "key": n.key + ":ack"})  # fmt: skip


async def test_one_message_with_the_ack_link_edited_on_ack_and_resolve(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    notifier = make(discord, session)
    first = await notifier.send(notification(alert), {})
    assert first.ok, first.detail
    (msg,) = discord.messages.values()
    assert first.state == {"message_id": msg.id, "starts_at": alert.startsAt}
    embed = msg.embed
    assert embed["title"] == "🔴 [FIRING] HighErrorRate"
    assert f"[Acknowledge]({ACK_BASE}{alert.fingerprint}.{alert.startsAt})" in embed["description"]
    assert {"name": "instance", "value": "api-1:8080", "inline": True} in embed["fields"]
    assert msg.body["allowed_mentions"] == {"parse": []}  # alert text never pings anyone

    ack = await notifier.send(acked(notification(alert)), first.state)
    assert ack.ok and ack.state == first.state, ack.detail
    assert "Acknowledged by **alice**" in msg.embed["description"]
    assert "[Acknowledge]" not in msg.embed["description"]
    assert msg.embed["title"].startswith("👀 [ACKNOWLEDGED]")

    unack = await notifier.send(acked(notification(alert)).model_copy(
        update={"reason": Reason.UNACKNOWLEDGED, "key": "unack"}), ack.state)  # fmt: skip
    assert unack.ok and "[Acknowledge](" in msg.embed["description"]  # it can be acked again
    assert msg.embed["title"].startswith("🔴 [FIRING]")

    done = await notifier.send(notification(resolved(alert)), ack.state)
    assert done.ok and done.state == first.state, done.detail
    assert len(discord.posts()) == 1 and len(discord.edits()) == 3
    assert msg.embed["title"] == "✅ [RESOLVED] HighErrorRate"
    assert "resolved 2026-11-22T05:20:00Z" in msg.embed["footer"]["text"]
    assert len(msg.edits) == 3 and len(discord.messages) == 1


async def test_without_ack_links_there_is_no_link(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    result = await make(discord, session, links=False).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert result.ok, result.detail
    (msg,) = discord.messages.values()
    assert "Acknowledge" not in msg.embed["description"]


async def test_new_episode_posts_anew_and_an_old_episodes_ack_changes_nothing(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(discord, session)
    old = await notifier.send(notification(alert), {})
    refired = alert.model_copy(update={"startsAt": "2026-11-22T09:00:00Z"})
    new = await notifier.send(notification(refired), old.state)
    assert new.ok and new.state["message_id"] != old.state["message_id"]
    assert len(discord.posts()) == 2
    # An ack job of the new episode that finds the old episode's state: no request.
    before = len(discord.requests)
    result = await notifier.send(acked(notification(refired)), old.state)
    assert result.ok and result.state == old.state and len(discord.requests) == before
    assert all(not m.edits for m in discord.messages.values())


async def test_redelivered_and_reclaimed_jobs_with_a_record_edit(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    first = await make(discord, session).send(notification(alert), {})
    # Another process takes the same job over after its record was written.
    again = await make(discord, session).send(notification(alert),
                                              {**first.state, UNCERTAIN: "reclaimed"})  # fmt: skip
    assert again.ok and again.state == first.state
    assert len(discord.posts()) == 1 and len(discord.edits()) == 1


async def test_deleted_message_gets_a_new_one(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(discord, session)
    first = await notifier.send(notification(alert), {})
    discord.messages.clear()  # someone deleted it
    result = await notifier.send(notification(resolved(alert)), first.state)
    assert result.ok and result.state["message_id"] != first.state["message_id"]
    (msg,) = discord.messages.values()
    assert msg.embed["title"].startswith("✅ [RESOLVED]")
    # An ack of a deleted message is nothing to do, not a failure.
    discord.messages.clear()
    gone = await notifier.send(acked(notification(alert)), result.state)
    assert gone.ok and not discord.messages


async def test_storm_summary_keeps_no_state(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alerts = fixture_alerts("critical-group-firing")
    notifier = make(discord, session)
    first = await notifier.send(notification(alerts[0]), {})
    storm = notification(alerts[0], key="storm:1", summary_of=alerts, summary_total=9)
    result = await notifier.send(storm, first.state)
    assert result.ok and result.state == {}
    assert len(discord.posts()) == 2 and not discord.edits()
    assert "[Acknowledge]" not in list(discord.messages.values())[1].embed["description"]


async def test_huge_alert_is_shrunk_within_the_limits_not_refused(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    keys = ("instance", "job", "service", "namespace", "pod", "cluster")
    labels = {**alert.labels, **{k: "v" * 2000 for k in keys}}
    notes = {"summary": "s" * 300, "description": "d" * 20_000, "runbook_url": "https://rb/x"}
    alert = alert.model_copy(update={"labels": labels, "annotations": notes})
    result = await make(discord, session).send(notification(alert), {})
    assert result.ok, result.detail  # the stand-in checks every limit (400 otherwise)
    (msg,) = discord.messages.values()
    description = msg.embed["description"]
    assert TRUNCATED in description and description.endswith("[Runbook](https://rb/x)")
    assert "[Acknowledge](" in description


async def test_markdown_in_alert_text_is_shown_as_text(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    alert = alert.model_copy(
        update={"annotations": {"summary": "*bold* [x](http://evil) @everyone"}}
    )
    assert (await make(discord, session).send(notification(alert), {})).ok
    (msg,) = discord.messages.values()
    assert r"\*bold\* \[x\](http://evil) @everyone" in msg.embed["description"]


async def test_429_retry_after_is_honoured_before_any_new_request(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alerts = fixture_alerts("critical-group-firing")
    notifier = make(discord, session)
    discord.rate_limit_next(1, retry_after=30.0, global_=True)
    limited = await notifier.send(notification(alerts[0]), {})
    assert limited.outcome is Outcome.RATE_LIMITED and limited.retryable
    assert limited.retry_after_s == pytest.approx(30.0) and "(global)" in limited.detail
    # The notifier remembers: no request goes out before the wait is over.
    again = await notifier.send(notification(alerts[1]), {})
    assert again.outcome is Outcome.RATE_LIMITED and "no request made" in again.detail
    assert 28.0 < (again.retry_after_s or 0) <= 30.0
    assert len(discord.requests) == 1 and not discord.messages


async def test_an_empty_bucket_is_waited_for_per_its_headers(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    """X-RateLimit-Remaining 0: a short reset is slept before the request, a long one
    comes back as RATE_LIMITED; Discord never answers a 429."""
    alerts = fixture_alerts("critical-group-firing")
    discord.bucket_limit, discord.bucket_window = 2, 0.5
    notifier = make(discord, session)
    for a in alerts[:2] * 2:
        result = await notifier.send(notification(a, key=f"{a.fingerprint}:{time.time()}"), {})
        assert result.ok, result.detail
    assert [r.status for r in discord.requests] == [200] * 4
    discord.bucket_window = 60.0
    discord._window.clear()
    long = make(discord, session)
    for a in alerts[:2]:
        assert (await long.send(notification(a), {})).ok
    third = await long.send(notification(alerts[0]), {})
    assert third.outcome is Outcome.RATE_LIMITED and "no request made" in third.detail
    assert all(r.status != 429 for r in discord.requests)


@pytest.mark.parametrize(
    ("url", "outcome"),
    [("wrong-token", Outcome.INVALID_CONFIG), ("unknown", Outcome.INVALID_CONFIG)],
)
async def test_wrong_webhook_urls_are_config_errors(
    discord: FakeDiscord, session: aiohttp.ClientSession, url: str, outcome: Outcome
) -> None:
    hook = (discord.webhook_url().rsplit("/", 1)[0] + "/nope" if url == "wrong-token"
            else discord.webhook_url("999"))  # fmt: skip
    cfg = DiscordConfig.model_validate({"webhook_url": hook})
    result = await DiscordNotifier("d", cfg, session, Renderer()).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert result.outcome is outcome and not result.retryable, result.detail
    assert "Unknown Webhook" in result.detail or "Invalid Webhook Token" in result.detail


async def test_not_a_webhook_url_and_an_unreachable_one(
    session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    (tmp_path / "hook").write_text("ftp://example.org/x\n")
    bad = DiscordConfig.model_validate({"webhook_url_file": str(tmp_path / "hook")})
    result = await DiscordNotifier("d", bad, session, Renderer()).send(notification(alert), {})
    assert result.outcome is Outcome.INVALID_CONFIG and "not a Discord webhook URL" in result.detail
    down = DiscordConfig.model_validate({"webhook_url": "http://127.0.0.1:9/api/webhooks/1/t"})
    result = await DiscordNotifier("d", down, session, Renderer()).send(notification(alert), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable


async def test_an_escalation_step_edits_and_posts_a_short_note(
    discord: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    notifier = make(discord, session)
    first = await notifier.send(notification(alert), {})
    step = notification(alert, Reason.ESCALATED, escalation=EscalationInfo(
        policy="p0", level=2, levels=3, unanswered=["alice (primary)"]))  # fmt: skip
    result = await notifier.send(step, first.state)
    assert result.ok and result.state == first.state, result.detail
    original = discord.messages[first.state["message_id"]]
    assert "Escalation level 2 of 3" in original.embed["description"] and original.edits
    (note,) = [m for m in discord.messages.values() if m.id != original.id]
    assert note.body["content"] == (
        "⬆️ Escalation level 2 of 3 (p0): not acknowledged by alice (primary): High error rate"
    )
    assert note.body["allowed_mentions"] == {"parse": []}
