"""Ack as an Alertmanager silence, against the real Alertmanager binary (issue #11, item 6),
plus a local stub Alertmanager for the answers the real one does not give on demand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from receiver.ack.silence import DESTINATION, SilenceConfig, SilenceNotifier
from receiver.models import AckInfo, AlertSnapshot, Notification, Reason, Status, fingerprint
from receiver.notifiers.base import Outcome
from tests.e2e.alertmanager import Alertmanager, make_alert, require_alertmanager
from tests.helpers import free_port
from tests.servers import notification
from tests.servers.base import FakeServer

pytestmark = pytest.mark.e2e

LABELS = {"alertname": "DiskFull", "service": "api", "severity": "critical", "note": 'a "q" \\'}
STARTS_AT = "2026-11-22T05:00:00Z"


def alert(status: Status = Status.FIRING, labels: dict[str, str] | None = None) -> AlertSnapshot:
    labels = labels or LABELS
    return AlertSnapshot(
        fingerprint=fingerprint(labels), status=status, labels=labels, startsAt=STARTS_AT
    )


def ack_job(until_s: float = 600, at_ms: int | None = None, attempt: int = 0) -> Notification:
    at_ms = at_ms if at_ms is not None else int(time.time() * 1000)
    until_ms = at_ms + int(until_s * 1000) if until_s else 0
    ack = AckInfo(by="ana", at_ms=at_ms, via="api", comment="on it", until_ms=until_ms)
    return notification(
        alert(), Reason.ACKNOWLEDGED, DESTINATION, ack=ack, attempt=attempt, key=f"ack:{at_ms}"
    )


def unack_job() -> Notification:
    ack = AckInfo(by="ana", at_ms=int(time.time() * 1000), via="api")
    return notification(alert(), Reason.UNACKNOWLEDGED, DESTINATION, ack=ack, key="unack")


def to_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.fixture
async def am(recorder: Any) -> AsyncIterator[Alertmanager]:
    binary = require_alertmanager()
    async with Alertmanager(recorder.url("am"), binary=binary) as running:
        yield running


async def silences(session: aiohttp.ClientSession, am: Alertmanager) -> list[dict[str, Any]]:
    async with session.get(f"{am.url}/api/v2/silences") as r:
        assert r.status == 200
        data: list[dict[str, Any]] = await r.json()
        return data


def active(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in listed if s["status"]["state"] == "active"]


def notifier(session: aiohttp.ClientSession, url: str, **cfg: Any) -> SilenceNotifier:
    return SilenceNotifier(DESTINATION, SilenceConfig(url=url, **cfg), session)


# -- the real Alertmanager ----------------------------------------------------------------


async def test_ack_creates_one_matching_silence_that_mutes_the_alert(
    am: Alertmanager, session: aiohttp.ClientSession
) -> None:
    n = ack_job(until_s=600)
    sn = notifier(session, am.url)
    result = await sn.send(n, {})
    assert result.ok and not result.retryable, result.detail
    assert result.state["starts_at"] == STARTS_AT

    [s] = active(await silences(session, am))
    assert s["id"] == result.state["silence_id"]
    assert {(m["name"], m["value"]) for m in s["matchers"]} == set(LABELS.items())
    assert all(m["isEqual"] and not m["isRegex"] for m in s["matchers"])
    assert n.ack is not None
    assert abs(to_ms(s["endsAt"]) - n.ack.until_ms) <= 1000
    assert s["createdBy"] == "ana"
    assert s["comment"] == "Acknowledged in alert-receiver via api: on it"

    # Alertmanager holds the alert back: it stops re-sending it.
    await am.post_alerts([make_alert(LABELS)])
    [a] = await am.get_alerts()
    assert a["status"]["state"] == "suppressed"
    assert a["status"]["silencedBy"] == [s["id"]]


async def test_retried_ack_keeps_one_silence(
    am: Alertmanager, session: aiohttp.ClientSession
) -> None:
    n = ack_job(until_s=0)  # until resolved: max_duration after the ack
    sn = notifier(session, am.url, max_duration="2h")
    first = await sn.send(n, {})
    assert first.ok, first.detail
    # A retry with the recorded state, and one whose first answer was lost (no state).
    again = await sn.send(n.model_copy(update={"attempt": 1}), first.state)
    lost = await sn.send(n.model_copy(update={"attempt": 2}), {})
    assert again.ok and lost.ok
    assert again.state == lost.state == first.state
    [s] = active(await silences(session, am))
    assert n.ack is not None
    assert abs(to_ms(s["endsAt"]) - (n.ack.at_ms + 2 * 3_600_000)) <= 1000


async def test_a_new_ack_replaces_the_silence(
    am: Alertmanager, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, am.url)
    first = await sn.send(ack_job(until_s=600), {})
    later = ack_job(until_s=3600, at_ms=int(time.time() * 1000) + 1)
    second = await sn.send(later, first.state)
    assert second.ok, second.detail
    [s] = active(await silences(session, am))
    assert s["id"] == second.state["silence_id"]
    assert later.ack is not None
    assert abs(to_ms(s["endsAt"]) - later.ack.until_ms) <= 1000


@pytest.mark.parametrize("reason", [Reason.UNACKNOWLEDGED, Reason.RESOLVED])
async def test_unack_or_resolve_expires_the_silence(
    am: Alertmanager, session: aiohttp.ClientSession, reason: Reason
) -> None:
    sn = notifier(session, am.url)
    acked = await sn.send(ack_job(), {})
    status = Status.RESOLVED if reason is Reason.RESOLVED else Status.FIRING
    job = notification(alert(status), reason, DESTINATION, key="end")
    result = await sn.send(job, acked.state)
    assert result.ok, result.detail
    # Non-empty, so that the worker records that the silence is gone.
    assert result.state == {"silence_id": "", "starts_at": STARTS_AT}
    [s] = await silences(session, am)
    assert s["id"] == acked.state["silence_id"]
    assert s["status"]["state"] == "expired"
    assert active(await silences(session, am)) == []
    # A job retried after that answer was lost finds nothing left to do.
    assert (await sn.send(job, acked.state)).ok


async def test_unack_expires_a_duplicate_left_by_a_lost_answer(
    am: Alertmanager, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, am.url)
    acked = await sn.send(ack_job(), {})
    # Another ack of the same alert whose answer never came back (so no state for it).
    await sn.send(ack_job(until_s=900, at_ms=int(time.time() * 1000) + 5), {})
    assert len(active(await silences(session, am))) == 1  # replaced, not added
    result = await sn.send(unack_job(), acked.state)
    assert result.ok, result.detail
    assert active(await silences(session, am)) == []


async def test_unack_when_alertmanager_already_dropped_the_silence(
    am: Alertmanager, recorder: Any, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, am.url)
    acked = await sn.send(ack_job(), {})
    # Someone expired it in Alertmanager's UI.
    async with session.delete(f"{am.url}/api/v2/silence/{acked.state['silence_id']}") as r:
        assert r.status == 200
    result = await sn.send(unack_job(), acked.state)
    assert result.ok, result.detail
    # A new Alertmanager with empty storage never heard of it (0.25 answers 500 there).
    async with Alertmanager(recorder.url("am2"), binary=am.binary) as fresh:
        result = await notifier(session, fresh.url).send(unack_job(), acked.state)
        assert result.ok, result.detail
        assert await silences(session, fresh) == []


async def test_other_reasons_need_nothing(session: aiohttp.ClientSession) -> None:
    sn = notifier(session, f"http://127.0.0.1:{free_port()}")
    result = await sn.send(notification(alert(), Reason.NEW, DESTINATION), {})
    assert result.ok and result.state == {}


# -- faults ----------------------------------------------------------------------------------


async def test_alertmanager_down_is_a_retryable_network_error(
    session: aiohttp.ClientSession,
) -> None:
    sn = notifier(session, f"http://127.0.0.1:{free_port()}", timeout=5)
    for job in (ack_job(), unack_job()):
        result = await sn.send(job, {"silence_id": "x", "starts_at": STARTS_AT})
        assert result.outcome is Outcome.NETWORK_ERROR and result.retryable, result.detail


class StubAlertmanager(FakeServer):
    """Answers the silence API with a set status per method; records each request."""

    shutdown_timeout = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, tuple[int, Any]] = {"GET": (200, [])}
        self.seen: list[tuple[str, str, str]] = []  # method, path, Authorization

    @property
    def url(self) -> str:
        return self.base_url

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path, request.headers.get("Authorization", "")))
        status, body = self.answers.get(request.method, (200, {"silenceID": "stub-id"}))
        return web.json_response(body, status=status, headers={"Retry-After": "7"})

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{path:.*}", self._handle)


@pytest.fixture
async def stub() -> AsyncIterator[StubAlertmanager]:
    server = StubAlertmanager()
    await server.start()
    yield server
    await server.stop()


async def test_server_errors_are_retryable(
    stub: StubAlertmanager, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, stub.url, bearer_token="am-token")
    stub.answers["POST"] = (500, "boom")
    result = await sn.send(ack_job(), {})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    assert result.retry_after_s == 7 and "HTTP 500" in result.detail
    stub.answers["DELETE"] = (503, "unavailable")
    result = await sn.send(unack_job(), {"silence_id": "s1", "starts_at": STARTS_AT})
    assert result.outcome is Outcome.SERVER_ERROR and result.retryable
    stub.answers["GET"] = (429, "slow down")
    result = await sn.send(ack_job(), {})
    assert result.outcome is Outcome.RATE_LIMITED and result.retryable
    assert {auth for _, _, auth in stub.seen} == {"Bearer am-token"}


async def test_client_errors_are_permanent(
    stub: StubAlertmanager, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, stub.url)
    stub.answers["POST"] = (400, "bad matchers")
    result = await sn.send(ack_job(), {})
    assert result.outcome is Outcome.CLIENT_ERROR and not result.retryable
    assert "bad matchers" in result.detail
    stub.answers["GET"] = (200, "<html>not an Alertmanager</html>")
    result = await sn.send(ack_job(), {})
    assert result.outcome is Outcome.CLIENT_ERROR and not result.retryable
    assert "not a list" in result.detail
    assert all(auth == "" for _, _, auth in stub.seen)


async def test_unreadable_token_file_fails_only_its_sends(
    stub: StubAlertmanager, session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    sn = notifier(session, stub.url, bearer_token_file=tmp_path / "missing")
    result = await sn.send(ack_job(), {})
    assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable
    assert "cannot read secret file" in result.detail and stub.seen == []


async def test_stale_ack_and_missing_ack_send_nothing(
    stub: StubAlertmanager, session: aiohttp.ClientSession
) -> None:
    sn = notifier(session, stub.url)
    expired = ack_job(until_s=60, at_ms=int(time.time() * 1000) - 120_000)
    assert (await sn.send(expired, {})).ok
    bare = notification(alert(), Reason.ACKNOWLEDGED, DESTINATION)
    result = await sn.send(bare, {})
    assert result.outcome is Outcome.CLIENT_ERROR and not result.retryable
    assert stub.seen == []


async def test_ack_through_the_api_silences_in_alertmanager_until_unack(
    app_client: Any, am: Alertmanager, session: aiohttp.ClientSession
) -> None:
    """Acceptance: ack with `ack.alertmanager_silence` on → Alertmanager lists a silence
    matching the alert; after the unack it is no longer active."""
    from tests.conftest import auth
    from tests.integration.ack.test_ack_api import ACK_TOKEN, FP, ack_auth, body

    async def settle(want: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while len(found := active(await silences(session, am))) != want:
            assert time.monotonic() < deadline, f"{len(found)} active silences, not {want}"
            await asyncio.sleep(0.1)
        return found

    client = await app_client(
        run_workers=True, ack={"alertmanager_silence": {"url": am.url}},
        api_tokens=[{"name": "oncall", "token": ACK_TOKEN, "scopes": ["ack"]}],
    )  # fmt: skip
    sent = body()
    assert (await client.post("/webhook", json=sent, headers=auth())).status == 200
    r = await client.post(f"/api/v1/alerts/{FP}/ack", headers=ack_auth(),
                          json={"by": "ana", "expires": "30m"})  # fmt: skip
    assert r.status == 200
    (silence,) = await settle(1)
    labels = sent["alerts"][0]["labels"]
    assert {m["name"]: m["value"] for m in silence["matchers"]} == labels
    assert all(m["isEqual"] and not m["isRegex"] for m in silence["matchers"])
    assert silence["createdBy"] == "ana"
    assert abs(to_ms(silence["endsAt"]) - (time.time() + 1800) * 1000) < 60_000

    r = await client.post(f"/api/v1/alerts/{FP}/unack", headers=ack_auth())
    assert r.status == 200
    await settle(0)
