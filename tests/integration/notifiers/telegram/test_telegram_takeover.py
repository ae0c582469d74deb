"""Two `serve` replicas on one Redis, Telegram's answers to edits held while the replica
that sent them (and holds the polling lease) is killed with SIGKILL. The survivor takes over
the jobs and the lease: every alert is still one message, edited to its last state; a press
after the kill is polled by the survivor and handled once."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from receiver.store.keys import Keys
from tests.conftest import RedisServer, auth, fixture_body
from tests.helpers import until, wait_deliveries_idle
from tests.integration.delivery.faults import ROUTING_KEY, replica
from tests.servers.pagerduty import FakePagerDuty
from tests.servers.telegram import CHAT, TOKEN, FakeTelegram

FP = "0f3ef813eb86bd39"  # api-1: resolved while its edit is held
OTHER = "1d3f58b2d7994044"  # api-2: acknowledged by its button while its edit is held
BOT = "123456789"
KEYS = Keys()


async def test_sigkill_with_edits_in_flight_still_one_message_each_and_polling_moves(
    tmp_path: Path, redis: aioredis.Redis, redis_server: RedisServer,
    telegram: FakeTelegram, pd: FakePagerDuty,
) -> None:  # fmt: skip
    receivers: dict[str, Any] = {
        "tg": {"type": "telegram", "token": TOKEN, "chat_id": CHAT, "api_url": telegram.base_url,
               "rate": "none", "poll_timeout": 2},
        "pd": {"type": "pagerduty", "routing_key": ROUTING_KEY, "base_url": pd.base_url,
               "rate": "none"},
    }  # fmt: skip
    a = replica(tmp_path, "a", redis_server.url, receivers)
    b = replica(tmp_path, "b", redis_server.url, receivers)
    try:
        await asyncio.to_thread(a.start)
        async with httpx.AsyncClient() as c:
            for name in ("critical-group-firing", "warning-firing"):
                r = await c.post(a.url + "/webhook", json=fixture_body(name), headers=auth())
                assert r.status_code == 200
        await until(lambda: len(telegram.posted()) == 3, 30, "three messages")
        await wait_deliveries_idle(redis)
        # Message texts carry no fingerprint; the buttons' data do.
        other = next(m for m in telegram.posted() if any(OTHER in d for d in m.callback_data()))
        first = next(m for m in telegram.posted() if any(FP in d for d in m.callback_data()))
        stale_data = other.callback_data()[0]

        telegram.hang_method("editMessageText", 1000)
        pressed = await telegram.press(other)  # polled by A, the only replica
        qid = pressed["callback_query"]["id"]
        await until(lambda: qid in telegram.answers, 30, "the press answered")
        assert telegram.answers[qid] == "Acknowledged"
        async with httpx.AsyncClient() as c:
            r = await c.post(a.url + "/webhook", json=fixture_body(
                "critical-group-mixed-resolved"), headers=auth())  # fmt: skip
            assert r.status_code == 200
        await until(lambda: len(telegram.held("editMessageText")) == 2, 30, "A's edits held")
        assert await redis.get(KEYS.telegram_lease(BOT)), "A holds the polling lease"

        await asyncio.to_thread(b.start)
        a.kill()  # SIGKILL: A's two edits reached Telegram, their outcome is not recorded
        telegram.release()
        # A press after the kill (a stale client's copy of the button): B must poll it.
        late = telegram.callback_update(other, data=stale_data)
        telegram.pending.append(late)
        telegram._new_update.set()
        late_qid = late["callback_query"]["id"]
        await until(lambda: late_qid in telegram.answers, 40, "the late press, by B")
        assert telegram.answers[late_qid] == "Already acknowledged"
        await until(lambda: pd.incidents.get(f"alert-receiver/{FP}") == "resolved", 30, "PD")
        await wait_deliveries_idle(redis, limit_s=40)

        # Still one message per alert: B edited what A had sent, posted nothing new.
        assert len(telegram.posted()) == 3
        assert len([r for r in telegram.calls("sendMessage") if r.status == 200]) == 3
        assert first.plain.startswith("✅ [RESOLVED]") and first.callback_data() == []
        assert "[ACKNOWLEDGED]" in other.plain and other.callback_data() == []
        assert "Acknowledged by alice (4242)" in other.plain
        assert pd.incidents[f"alert-receiver/{OTHER}"] == "acknowledged"
        history = [h for h in await redis.lrange(KEYS.history(OTHER), 0, -1) if '"ack"' in h]
        assert len(history) == 1  # acked once, whichever replica saw the press
        assert int(await redis.get(KEYS.telegram_offset(BOT))) == late["update_id"] + 1
        # B redid A's two unrecorded edits: Telegram found them made already.
        redone = [r for r in telegram.calls("editMessageText") if r.status == 400]
        assert len(redone) == 2 and all("not modified" in r.description for r in redone)
        assert b.proc is not None
        holder = await redis.get(KEYS.telegram_lease(BOT)) or ""
        assert holder.startswith(f"{socket.gethostname()}-{b.proc.pid}:"), holder
    finally:
        telegram.release()
        for s in (a, b):
            if s.proc is not None:
                s.kill()
