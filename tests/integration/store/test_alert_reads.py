"""Bounded reads: the secondary indexes stay exact, lists agree with a full scan, the scan
budget ends a page early with a cursor that finds the rest, and the backfill indexes
records written before the indexes existed. All against a real redis-server."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from receiver.models import Severity, fingerprint
from receiver.store.alerts import SEVERITIES, STATUSES, AlertFilter, AlertReader, ReadsBusy
from receiver.store.keys import Keys
from receiver.store.reindex import INDEX_VERSION, Reindexer
from tests.conftest import AppFactory, auth

K = Keys("ar")
Client = TestClient[Any, Any]
FIRING_END = "0001-01-01T00:00:00Z"


def alert(labels: dict[str, str], status: str = "firing", starts: str = "2026-11-22T05:00:00Z",
          summary: str = "s") -> dict[str, Any]:  # fmt: skip
    """One Alertmanager v4 alert with its real fingerprint."""
    return {
        "status": status, "labels": labels, "annotations": {"summary": summary},
        "startsAt": starts,
        "endsAt": "2026-11-22T06:00:00Z" if status == "resolved" else FIRING_END,
        "generatorURL": "", "fingerprint": fingerprint(labels),
    }  # fmt: skip


def body(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": "rx", "status": "firing" if firing else "resolved", "alerts": alerts,
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am:9093", "version": "4", "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }  # fmt: skip


def labels(i: int, severity: str | None = "warning", **extra: str) -> dict[str, str]:
    out = {"alertname": f"A{i % 5}", "instance": f"host-{i:04d}", "team": f"t{i % 3}", **extra}
    if severity is not None:
        out["severity"] = severity
    return out


async def post(client: Client, alerts: list[dict[str, Any]]) -> None:
    for i in range(0, len(alerts), 50):
        resp = await client.post("/webhook", json=body(alerts[i : i + 50]), headers=auth())
        assert resp.status == 200, await resp.text()


async def wait_indexed(redis: aioredis.Redis) -> None:
    """The app's start-up backfill has finished (within 20 s)."""
    deadline = time.monotonic() + 20
    while await redis.get(K.index_version) != INDEX_VERSION:
        assert time.monotonic() < deadline, "backfill did not finish"
        await asyncio.sleep(0.05)


# --- indexes vs. a full scan of the state records -------------------------------------


async def scanned_records(redis: aioredis.Redis) -> dict[str, dict[str, Any]]:
    """Every stored state record, found by SCAN (not through any index)."""
    out: dict[str, dict[str, Any]] = {}
    async for key in redis.scan_iter(match=K.alert("*"), count=1000):
        raw: dict[str, str] = await redis.hgetall(key)
        if raw:
            out[key.rsplit(":", 1)[1]] = {**raw, "doc": json.loads(raw["doc"])}
    return out


async def assert_indexes_exact(redis: aioredis.Redis) -> dict[str, dict[str, Any]]:
    """The fingerprint index, the status x severity partitions and the firing-since sets
    hold exactly what a full scan of the records says; firing-since scores are the time
    of the record's newest history entry. Returns the scanned records."""
    records = await scanned_records(redis)
    want: dict[tuple[str, str], set[str]] = {(st, s): set() for st in STATUSES for s in SEVERITIES}
    for fp, rec in records.items():
        sev = Severity.of(rec["doc"]["labels"]).value
        assert rec["doc"]["severity"] == sev
        want[(rec["status"], sev)].add(fp)
    assert set(await redis.zrange(K.index, 0, -1)) == set(records)
    for (st, sev), fps in want.items():
        assert set(await redis.zrange(K.by_state(st, sev), 0, -1)) == fps, (st, sev)
    for sev in SEVERITIES:
        scored: list[tuple[str, float]] = await redis.zrange(
            K.firing_since(sev), 0, -1, withscores=True
        )
        since = dict(scored)
        assert set(since) == want[("firing", sev)], sev
        for fp, score in since.items():
            head = json.loads((await redis.lrange(K.history(fp), 0, 0))[0])
            assert head["status"] == "firing" and int(score) == head["at"], fp
    return records


async def test_indexes_stay_exact_through_an_alerts_life(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client(state={"resolved_retention": "1s"})
    crit, warn = labels(1, "critical"), labels(2, "warning")
    info, odd = labels(3, None), labels(4, "CRITICAL")  # no label → info; any case counts
    await post(client, [alert(crit), alert(warn, "resolved"), alert(info), alert(odd)])
    recs = await assert_indexes_exact(redis)
    assert recs[fingerprint(odd)]["doc"]["severity"] == "critical"
    shown = await (await client.get(f"/api/v1/alerts/{fingerprint(odd)}")).json()
    assert shown["severity"] == "critical" and "sev" not in shown  # internal field

    await post(client, [alert(crit, "resolved"), alert(info, summary="changed text")])
    await assert_indexes_exact(redis)  # resolved; changed content, same status

    await post(client, [alert(crit, "firing")])  # a stale re-send after its resolve
    recs = await assert_indexes_exact(redis)
    assert recs[fingerprint(crit)]["status"] == "resolved"

    await asyncio.sleep(0.01)
    await post(client, [alert(crit, starts="2026-11-22T07:00:00Z")])  # re-fired
    recs = await assert_indexes_exact(redis)
    assert recs[fingerprint(crit)]["status"] == "firing"

    await post(client, [alert(info, starts="2026-11-22T07:30:00Z")])  # new episode, no resolve
    await assert_indexes_exact(redis)

    await asyncio.sleep(1.2)  # the resolved warning's record expires (retention 1 s)
    assert not await redis.exists(K.alert(fingerprint(warn)))
    await post(client, [alert(labels(5, "info"))])  # any intake prunes expired entries
    recs = await assert_indexes_exact(redis)
    assert fingerprint(warn) not in recs and len(recs) == 4


async def test_an_index_entry_outlives_no_record_when_clocks_disagree(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """The pruning step runs on the receiver's clock, records expire on Redis's: an entry
    due by our clock whose record still exists is looked at again later, not forgotten."""
    offset = [0.0]
    client = await app_client(clock=lambda: time.time() + offset[0],
                              state={"resolved_retention": "1s"})  # fmt: skip
    warn = labels(1, "warning")
    await post(client, [alert(warn, "resolved")])
    await redis.pexpire(K.alert(fingerprint(warn)), 1500)  # Redis is "behind" our clock
    offset[0] = 1.1
    await post(client, [alert(labels(2))])  # prunes by our clock: the record still exists
    assert await redis.zscore(K.expiry, fingerprint(warn)) is not None  # looked at again
    await assert_indexes_exact(redis)
    await asyncio.sleep(1.6)
    offset[0] = 3.0
    await post(client, [alert(labels(3))])
    recs = await assert_indexes_exact(redis)
    assert fingerprint(warn) not in recs


# --- lists agree with a full scan -----------------------------------------------------


def mixed_alerts(n: int) -> list[dict[str, Any]]:
    sevs = ["critical", "warning", "info", None, "Warning", "page"]
    return [
        alert(labels(i, sevs[i % len(sevs)]), "resolved" if i % 4 == 0 else "firing")
        for i in range(n)
    ]


async def list_all(client: Client, params: dict[str, str], limit: int) -> list[dict[str, Any]]:
    """Every page of a listing, following next_cursor (bounded)."""
    out: list[dict[str, Any]] = []
    query = {**params, "limit": str(limit)}
    for _ in range(1000):
        resp = await client.get("/api/v1/alerts", params=query)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        assert page["count"] == len(page["alerts"]) <= limit
        assert page["complete"] is (page["next_cursor"] is None)
        out += page["alerts"]
        if page["complete"]:
            return out
        query["cursor"] = page["next_cursor"]
    raise AssertionError("listing did not end")


QUERIES: list[dict[str, str]] = [
    {},
    {"status": "firing"},
    {"status": "resolved"},
    {"severity": "critical"},
    {"severity": "info"},
    {"status": "firing", "severity": "warning"},
    {"status": "resolved", "severity": "info"},
    {"team": "t1"},
    {"team": "t2", "status": "firing"},
    {"team": "t0", "severity": "critical", "status": "resolved"},
    {"label": "alertname=A3", "severity": "info"},
    {"team": "nobody"},
]


async def test_filtered_lists_return_what_a_full_scan_finds(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client()
    await wait_indexed(redis)
    await post(client, mixed_alerts(150))
    records = await assert_indexes_exact(redis)
    for params, limit in itertools.product(QUERIES, (1, 7, 100, 1000)):
        label = params.get("label", "=").split("=")
        flt = AlertFilter(
            params.get("status"), params.get("severity"),
            tuple((k, v) for k, v in params.items() if k not in ("status", "severity", "label"))
            + ((label[0], label[1]),) * ("label" in params),
        )  # fmt: skip
        want = sorted(fp for fp, r in records.items()
                      if flt.matches({**r, **r["doc"]}))  # fmt: skip
        got = [a["fingerprint"] for a in await list_all(client, params, limit)]
        assert got == want, (params, limit)  # in fingerprint order, each once
    assert len(records) == 150


# --- the scan budget and its cursor -------------------------------------------------


async def test_a_label_filter_over_more_than_the_budget_continues_by_cursor(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """1,200 alerts, budget 1,000 records per request: a filter matching nothing answers
    an empty, incomplete page with a cursor; the continuation examines the rest."""
    client = await app_client()
    await wait_indexed(redis)
    needle = labels(600, "warning", needle="yes")
    alerts = [alert(labels(i)) for i in range(1199)] + [alert(needle)]
    await post(client, alerts)

    first = await (await client.get("/api/v1/alerts", params={"team": "nobody"})).json()
    assert first["alerts"] == [] and first["complete"] is False
    assert first["scanned"] == 1000 and first["next_cursor"]
    rest = await (await client.get("/api/v1/alerts", params={
        "team": "nobody", "cursor": first["next_cursor"]})).json()  # fmt: skip
    assert rest == {"alerts": [], "count": 0, "next_cursor": None, "complete": True,
                    "scanned": 200}  # fmt: skip

    found = await list_all(client, {"needle": "yes"}, 100)
    assert [a["fingerprint"] for a in found] == [fingerprint(needle)]
    # Status and severity come from the indexes: no budget spent on other records.
    crit = await (await client.get("/api/v1/alerts", params={"severity": "critical"})).json()
    assert crit == {"alerts": [], "count": 0, "next_cursor": None, "complete": True,
                    "scanned": 0}  # fmt: skip


async def test_budget_pages_are_bounded_and_find_every_match(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client()
    await wait_indexed(redis)
    await post(client, mixed_alerts(300))
    records = await scanned_records(redis)
    reader = AlertReader(redis, K, scan_budget=40)
    for flt, limit in itertools.product(
        [AlertFilter(labels=(("team", "t1"),)), AlertFilter("firing", None, (("alertname", "A2"),)),
         AlertFilter(None, "warning", (("team", "t0"),))],
        (5, 40),
    ):  # fmt: skip
        want = sorted(fp for fp, r in records.items() if flt.matches({**r, **r["doc"]}))
        got: list[str] = []
        cursor, pages = None, 0
        for _ in range(300):
            page = await reader.list(flt, limit, cursor)
            assert page.scanned <= 40 and len(page.alerts) <= limit
            got += [a["fingerprint"] for a in page.alerts]
            pages += 1
            if page.complete:
                break
            cursor = page.next_cursor
        assert got == want, flt
        assert pages > 1


async def test_bad_list_queries_are_400_json(app_client: AppFactory, redis: aioredis.Redis) -> None:
    client = await app_client()
    await post(client, [alert(labels(1))])
    before = await redis.dbsize()
    for params in [{"cursor": "zzz"}, {"cursor": "0123456789ABCDEF"}, {"cursor": "1" * 17},
                   {"cursor": "../../x"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "x"},
                   {"status": "open"}, {"severity": "page"}, {"label": "team"}]:  # fmt: skip
        resp = await client.get("/api/v1/alerts", params=params)
        assert resp.status == 400, params
        assert (await resp.json())["error"] == "invalid_query", params
    assert await redis.dbsize() == before


# --- records written before the indexes existed ---------------------------------------


async def make_pre_index(redis: aioredis.Redis) -> None:
    """Turn the stored data into what an older version left: no secondary indexes, no
    `sev` on the records, no version mark."""
    for st, sev in itertools.product(STATUSES, SEVERITIES):
        await redis.delete(K.by_state(st, sev), K.firing_since(sev))
    await redis.delete(K.index_version, K.reindex_cursor)
    async for key in redis.scan_iter(match=K.alert("*")):
        await redis.hdel(key, "sev")


async def test_start_up_backfills_records_written_before_the_indexes(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    old = await app_client()
    await post(old, mixed_alerts(400))
    await wait_indexed(redis)
    await make_pre_index(redis)
    # Damage an older replica might have left: a wrong partition, an index entry whose
    # record is gone.
    some = fingerprint(labels(1, "warning"))
    await redis.zadd(K.by_state("resolved", "critical"), {some: 0})
    await redis.zadd(K.index, {"ffffffffffffffff": 0})

    # Until the backfill is done, a list still finds everything (it scans instead).
    reader = AlertReader(redis, K)
    page = await reader.list(AlertFilter("firing", "warning"), 1000, None)
    want = {fp for fp, r in (await scanned_records(redis)).items()
            if r["status"] == "firing" and r["doc"]["severity"] == "warning"}  # fmt: skip
    assert {a["fingerprint"] for a in page.alerts} == want and page.complete

    restarted = await app_client()  # its start-up runs the backfill
    await wait_indexed(redis)
    records = await assert_indexes_exact(redis)
    assert all(r["sev"] == r["doc"]["severity"] for r in records.values())
    got = [a["fingerprint"] for a in await list_all(restarted, {"status": "firing"}, 1000)]
    assert got == sorted(fp for fp, r in records.items() if r["status"] == "firing")


async def test_the_backfill_goes_in_chunks_and_resumes(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    client = await app_client()
    await post(client, mixed_alerts(50))
    await wait_indexed(redis)
    await make_pre_index(redis)

    first = Reindexer(redis, K, chunk=20, pause_s=0)
    assert not await first.ready()
    assert await first.step() == (False, 20)
    assert await redis.get(K.reindex_cursor) is not None
    # A restart: another run continues after the 20 done, not from the start.
    assert await Reindexer(redis, K, chunk=20, pause_s=0).run() == 30
    assert await first.ready() and await redis.get(K.reindex_cursor) is None
    await assert_indexes_exact(redis)
    assert await first.run() == 0  # done is done: nothing examined again


@pytest.mark.parametrize("limit", [1, 3])
async def test_a_full_last_page_says_complete(
    app_client: AppFactory, redis: aioredis.Redis, limit: int
) -> None:
    client = await app_client()
    await wait_indexed(redis)
    await post(client, [alert(labels(i, "critical")) for i in range(3)])
    pages = []
    query: dict[str, str] = {"severity": "critical", "limit": str(limit)}
    for _ in range(5):
        page = await (await client.get("/api/v1/alerts", params=query)).json()
        pages.append(page["count"])
        if page["complete"]:
            break
        query["cursor"] = page["next_cursor"]
    assert pages == [limit] * (3 // limit)  # no empty page at the end


# --- concurrency --------------------------------------------------------------------


async def test_concurrent_lists_queue_for_a_slot_and_all_answer(
    app_client: AppFactory, redis: aioredis.Redis
) -> None:
    """32 list requests at once: each gets its whole, right answer (they take turns)."""
    client = await app_client()
    await wait_indexed(redis)
    await post(client, mixed_alerts(300))
    want = await list_all(client, {"team": "t1"}, 1000)

    async def one() -> list[str]:
        resp = await client.get("/api/v1/alerts", params={"team": "t1", "limit": "1000"})
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        assert page["complete"]
        return [a["fingerprint"] for a in page["alerts"]]

    answers = await asyncio.gather(*(one() for _ in range(32)))
    assert all(a == [w["fingerprint"] for w in want] for a in answers)
    assert len(want) == 100


async def test_a_list_that_finds_no_free_slot_in_time_is_busy(redis: aioredis.Redis) -> None:
    reader = AlertReader(redis, K, max_lists=1, queue_timeout_s=0.2)
    page = await reader.list(AlertFilter(), 10, None)
    assert page.alerts == [] and page.complete
    async with reader._slots:  # another list holds the only slot
        with pytest.raises(ReadsBusy):
            await reader.list(AlertFilter(), 10, None)
    assert (await reader.list(AlertFilter(), 10, None)).complete  # free again
