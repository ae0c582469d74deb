"""The Teams notifier against the local Workflows webhook: a card per alert with the ack
link, follow-up cards naming the first, the 28 KB limit, throttling, errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from receiver.models import AckInfo, Reason
from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.render import TRUNCATED, Renderer
from receiver.notifiers.teams.config import TeamsConfig
from receiver.notifiers.teams.notifier import TeamsNotifier
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.teams import FakeTeams

ACK_BASE = "https://alerts.example.org/ack/"
NOW = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    server = FakeTeams()
    await server.start()
    yield server
    await server.stop()


def make(teams: FakeTeams, session: aiohttp.ClientSession, links: bool = True,
         url: str = "") -> TeamsNotifier:  # fmt: skip
    ack_url = (lambda fp, starts, via="email": f"{ACK_BASE}{fp}") if links else None
    cfg = TeamsConfig.model_validate({"webhook_url": url or teams.webhook_url()})
    return TeamsNotifier("teams", cfg, session, Renderer(ack_url=ack_url), clock=lambda: NOW)


def acked(n: Any, reason: Reason = Reason.ACKNOWLEDGED) -> Any:
    info = AckInfo(by="alice", at_ms=int(time.time() * 1000), via="email")
    return n.model_copy(update={"reason": reason, "ack": info, "key": f"{n.key}:{reason}"})


async def test_card_with_acknowledge_then_follow_ups_that_name_it(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    notifier = make(teams, session)
    first = await notifier.send(notification(alert), {})
    assert first.ok and "HTTP 202" in first.detail, first.detail
    (card,) = teams.cards
    assert card.title == "🔴 [FIRING] HighErrorRate"
    assert card.actions()["Acknowledge"] == f"{ACK_BASE}{alert.fingerprint}"
    assert card.actions()["Source"] == "http://prom:9090/graph"
    assert card.facts()["instance"] == "api-1:8080"
    assert first.state == {"starts_at": alert.startsAt, "first": card.title,
                           "posted_at": "2026-11-30 00:53:20 UTC",
                           "last": notification(alert).key}  # fmt: skip

    ack = await notifier.send(acked(notification(alert)), first.state)
    assert ack.ok, ack.detail
    named = "Follows up “🔴 [FIRING] HighErrorRate”, posted 2026-11-30 00:53:20 UTC."
    assert teams.cards[1].title.startswith("👀 [ACKNOWLEDGED]")
    assert named in teams.cards[1].texts() and "👀 Acknowledged by **alice**" in (
        teams.cards[1].texts()
    )
    assert "Acknowledge" not in teams.cards[1].actions()

    done = await notifier.send(notification(resolved(alert)), ack.state)
    assert done.ok and done.state["first"] == card.title, done.detail
    assert teams.cards[2].title == "✅ [RESOLVED] HighErrorRate"
    assert named in teams.cards[2].texts() and "Acknowledge" not in teams.cards[2].actions()
    assert len(teams.cards) == 3 and not teams.failed_runs


async def test_a_recorded_job_or_a_redelivered_new_posts_nothing_more(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    first = await make(teams, session).send(notification(alert), {})
    # Taken over by another process after its record was written: the same job again.
    again = await make(teams, session).send(notification(alert),
                                            {**first.state, UNCERTAIN: "reclaimed"})  # fmt: skip
    assert again.ok and again.state == first.state and "already" in again.detail
    other_key = notification(alert, key="replayed")
    assert (await make(teams, session).send(other_key, first.state)).ok
    assert len(teams.requests) == 1 and len(teams.cards) == 1


async def test_new_episode_is_a_new_first_card_and_an_old_episodes_ack_posts_nothing(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(teams, session)
    old = await notifier.send(notification(alert), {})
    refired = alert.model_copy(update={"startsAt": "2026-11-22T09:00:00Z"})
    result = await notifier.send(acked(notification(refired)), old.state)
    assert result.ok and result.state == old.state and len(teams.requests) == 1
    new = await notifier.send(notification(refired), old.state)
    assert new.ok and not any(t.startswith("Follows up") for t in teams.cards[1].texts())
    assert new.state["starts_at"] == refired.startsAt


async def test_repeat_and_unack_follow_up(teams: FakeTeams, session: aiohttp.ClientSession) -> None:
    alert = fixture_alerts("warning-firing")[0]
    notifier = make(teams, session)
    first = await notifier.send(notification(alert), {})
    repeat = await notifier.send(notification(alert, Reason.REPEAT), first.state)
    assert repeat.ok and teams.cards[1].title.startswith("🟠 [FIRING]")
    assert any(t.startswith("Follows up") for t in teams.cards[1].texts())
    unack = await notifier.send(acked(notification(alert), Reason.UNACKNOWLEDGED), repeat.state)
    assert unack.ok and any("withdrawn" in t for t in teams.cards[2].texts())
    assert teams.cards[2].actions()["Acknowledge"] == f"{ACK_BASE}{alert.fingerprint}"


async def test_storm_summary_keeps_no_state(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    alerts = fixture_alerts("critical-group-firing")
    notifier = make(teams, session)
    first = await notifier.send(notification(alerts[0]), {})
    storm = notification(alerts[0], key="storm:1", summary_of=alerts, summary_total=9)
    result = await notifier.send(storm, first.state)
    assert result.ok and result.state == {}
    assert len(teams.cards) == 2 and teams.cards[1].actions() == {}


async def test_a_huge_alert_is_shrunk_under_28_kb_and_posted(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    keys = ("instance", "job", "service", "namespace", "pod", "cluster")
    labels = {**alert.labels, **{k: "é" * 5000 for k in keys}}
    alert = alert.model_copy(update={"labels": labels,
                                     "annotations": {"description": "d" * 100_000}})  # fmt: skip
    result = await make(teams, session).send(notification(alert), {})
    assert result.ok, result.detail
    assert not teams.failed_runs, teams.failed_runs  # the stand-in fails runs over 28 KB
    (card,) = teams.cards
    assert any(t.endswith(TRUNCATED) for t in card.texts())
    assert teams.requests[0].size <= 28 * 1024 and "Acknowledge" in card.actions()


async def test_throttled_429_carries_retry_after(
    teams: FakeTeams, session: aiohttp.ClientSession
) -> None:
    teams.rate_limit_next(1, retry_after=7)
    result = await make(teams, session).send(notification(fixture_alerts("warning-firing")[0]), {})
    assert result.outcome is Outcome.RATE_LIMITED and result.retry_after_s == 7.0
    assert "WorkflowRequestsThrottled" in result.detail and not teams.cards


@pytest.mark.parametrize(
    ("which", "outcome"),
    [("sig", Outcome.INVALID_CONFIG), ("workflow", Outcome.INVALID_CONFIG)],
)
async def test_wrong_webhook_urls_are_config_errors(
    teams: FakeTeams, session: aiohttp.ClientSession, which: str, outcome: Outcome
) -> None:
    url = teams.webhook_url(sig="forged") if which == "sig" else teams.webhook_url(workflow="x")
    result = await make(teams, session, url=url).send(
        notification(fixture_alerts("warning-firing")[0]), {}
    )
    assert result.outcome is outcome and not result.retryable, result.detail
    assert not teams.cards


async def test_server_error_is_retryable_and_an_unreadable_secret_is_a_config_error(
    session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    down = TeamsConfig.model_validate({"webhook_url": "http://127.0.0.1:9/x"})
    result = await TeamsNotifier("t", down, session, Renderer()).send(notification(alert), {})
    assert result.outcome is Outcome.NETWORK_ERROR and result.retryable
    missing = TeamsConfig.model_validate({"webhook_url_file": str(tmp_path / "none")})
    result = await TeamsNotifier("t", missing, session, Renderer()).send(notification(alert), {})
    assert result.outcome is Outcome.INVALID_CONFIG
