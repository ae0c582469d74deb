"""The Telegram notifier against the local Bot API: one message per alert and episode,
edited on repeat, ack and resolve; Telegram's refusals classified."""

from __future__ import annotations

from typing import Any

import aiohttp

from receiver.models import AckInfo, EscalationInfo, Reason
from receiver.notifiers.base import UNCERTAIN, Outcome
from receiver.notifiers.render import Renderer
from receiver.notifiers.telegram.config import TelegramConfig
from receiver.notifiers.telegram.notifier import TelegramNotifier
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.telegram import CHAT, TOKEN, FakeTelegram


def make(tg: FakeTelegram, session: aiohttp.ClientSession, **cfg: Any) -> TelegramNotifier:
    doc = {"type": "telegram", "token": TOKEN, "chat_id": CHAT, "api_url": tg.base_url, **cfg}
    return TelegramNotifier("tg", TelegramConfig.model_validate(doc), session, Renderer())


async def test_one_message_edited_through_ack_and_resolve(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    tg = make(telegram, session)
    first = await tg.send(notification(alert), {})
    assert first.ok, first.detail
    (msg,) = telegram.posted()
    assert first.state == {"chat": CHAT, "message_id": str(msg.message_id),
                           "starts_at": alert.startsAt, "cb": first.state["cb"]}  # fmt: skip
    assert msg.callback_data() == [f"ack:{alert.fingerprint}:{first.state['cb']}"]
    assert msg.plain.startswith("🔴 [FIRING] HighErrorRate")

    ack = AckInfo(by="alice (4242)", at_ms=1, via="telegram")
    acked = await tg.send(notification(alert, Reason.ACKNOWLEDGED, ack=ack), first.state)
    assert acked.ok and acked.state == first.state
    assert "Acknowledged by alice (4242)" in msg.plain and msg.callback_data() == []
    unacked = await tg.send(notification(alert, Reason.UNACKNOWLEDGED), first.state)
    assert unacked.ok and msg.callback_data() == [f"ack:{alert.fingerprint}:{first.state['cb']}"]

    done = await tg.send(notification(resolved(alert)), first.state)
    assert done.ok and done.state["message_id"] == str(msg.message_id)
    assert msg.plain.startswith("✅ [RESOLVED]") and msg.callback_data() == []
    assert len(telegram.posted()) == 1 and len(msg.history) == 3
    assert len(telegram.calls("sendMessage")) == 1


async def test_new_episode_posts_anew_and_old_state_is_not_edited(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    tg = make(telegram, session)
    old = await tg.send(notification(alert), {})
    again = await tg.send(notification(alert), old.state)  # redelivered: same episode
    assert again.ok and again.state["message_id"] == old.state["message_id"]
    refired = alert.model_copy(update={"startsAt": "2026-11-22T09:00:00Z"})
    new = await tg.send(notification(refired), again.state)
    assert new.ok and new.state["message_id"] != old.state["message_id"]
    assert new.state["cb"] != old.state["cb"]
    # An ack job of the new episode with the old state: nothing to edit.
    ack = AckInfo(by="a", at_ms=1, via="api")
    stale = await tg.send(notification(refired, Reason.ACKNOWLEDGED, ack=ack), old.state)
    assert stale.ok and "no message of this episode" in stale.detail
    assert len(telegram.posted()) == 2 and len(telegram.calls("editMessageText")) == 1


async def test_redelivered_edit_and_deleted_message(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    tg = make(telegram, session)
    first = await tg.send(notification(alert), {})
    end = notification(resolved(alert))
    assert (await tg.send(end, first.state)).ok
    again = await tg.send(end, first.state)  # "message is not modified": already so
    assert again.ok and again.state["message_id"] == first.state["message_id"]
    telegram.messages.clear()  # someone deleted it
    result = await tg.send(end, first.state)
    assert result.ok and result.state["message_id"] != first.state["message_id"]
    assert [m.plain.split("]")[0] for m in telegram.posted()] == ["✅ [RESOLVED"]


async def test_uncertain_without_state_posts_and_with_state_edits(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    """Telegram cannot find an earlier post: a job taken over posts (no lookup exists),
    unless its state was recorded, then it edits that message."""
    alert = fixture_alerts("warning-firing")[0]
    tg = make(telegram, session)
    lost = await tg.send(notification(alert), {})  # posted, but its outcome never recorded
    first = await tg.send(notification(alert), {UNCERTAIN: "reclaimed"})
    assert first.ok and UNCERTAIN not in first.state
    # Two messages (nothing can find the first), with the same button: the job's.
    orphan, kept = telegram.posted()
    assert orphan.callback_data() == kept.callback_data() != []
    assert lost.state["cb"] == first.state["cb"]
    telegram.messages.pop((orphan.chat, orphan.message_id))
    repeat = await tg.send(notification(alert, Reason.REPEAT),
                           {**first.state, UNCERTAIN: "reclaimed"})  # fmt: skip
    assert repeat.ok and UNCERTAIN not in repeat.state
    assert len(telegram.posted()) == 1 and len(telegram.calls("editMessageText")) == 1


async def test_storm_summary_keeps_no_state(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alerts = fixture_alerts("critical-group-firing")
    tg = make(telegram, session)
    storm = notification(alerts[0], key="storm:1", summary_of=alerts, summary_total=9)
    result = await tg.send(storm, {})
    assert result.ok and result.state == {}
    (msg,) = telegram.posted()
    assert "9 more alerts on route" in msg.plain and msg.buttons() == []


async def test_refusals_are_classified(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("warning-firing")[0]
    telegram.rate_limit_next(1, retry_after=7)
    limited = await make(telegram, session).send(notification(alert), {})
    assert (limited.outcome, limited.retryable, limited.retry_after_s) == (
        Outcome.RATE_LIMITED, True, 7.0)  # fmt: skip
    telegram.fail_next(1, 502)
    assert (await make(telegram, session).send(notification(alert), {})).outcome is (
        Outcome.SERVER_ERROR)  # fmt: skip
    bad_token = await make(telegram, session, token="1:wrong").send(notification(alert), {})
    assert bad_token.outcome is Outcome.INVALID_CONFIG and "Unauthorized" in bad_token.detail
    bad_chat = await make(telegram, session, chat_id="-42").send(notification(alert), {})
    assert bad_chat.outcome is Outcome.INVALID_CONFIG and "chat not found" in bad_chat.detail
    missing = await make(telegram, session, token=None,
                         token_file="/nonexistent/token").send(notification(alert), {})  # fmt: skip
    assert missing.outcome is Outcome.INVALID_CONFIG
    await telegram.stop()
    down = await make(telegram, session).send(notification(alert), {})
    assert down.outcome is Outcome.NETWORK_ERROR and down.retryable
    assert telegram.posted() == []


async def test_an_escalation_edits_and_replies(
    telegram: FakeTelegram, session: aiohttp.ClientSession
) -> None:
    alert = fixture_alerts("critical-group-firing")[0]
    tg = make(telegram, session)
    first = await tg.send(notification(alert), {})
    step = EscalationInfo(policy="p0", level=2, levels=3, unanswered=["alice (primary)"],
                          after_ms=300_000)  # fmt: skip
    result = await tg.send(notification(alert, Reason.ESCALATED, escalation=step), first.state)
    assert result.ok and result.state == first.state
    msg, reply = telegram.posted()
    assert "Escalation level 2 of 3 (p0)" in msg.plain and msg.history
    assert reply.plain.startswith("Escalation level 2 of 3 (p0): not acknowledged by alice")
    (call,) = [r for r in telegram.calls("sendMessage") if "reply_parameters" in r.body]
    assert call.body["reply_parameters"]["message_id"] == msg.message_id
