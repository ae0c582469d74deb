"""Delivery benchmark: how fast the workers turn accepted alerts into notifications.

    .venv/bin/python bench/delivery.py                    also `bench/run.py --only delivery`
    .venv/bin/python bench/delivery.py --duration 5 --rates 50,200
    .venv/bin/python bench/delivery.py --stages ceiling,sustained --concurrency 32

Local vendors (bench/vendors.py, their own process) and one redis-server (the embedded
binary, appendonly everysec) on free 127.0.0.1 ports; receivers are `alert-receiver serve`
processes on that Redis with `rate: none` and no storm folding. Figures:

- `ceiling`: the vendors' own rate in this run, with a trivial client and nothing else
  running (HTTP: 64 requests in flight, PagerDuty + Slack + webhook in turn; SMTP: 4
  connections): what this box can deliver at all.
- `sustained`: one receiver, PagerDuty + Slack (bot) + webhook; a backlog of alerts is
  posted as fast as the intake takes it (100-alert bodies), and the notifications/s the
  workers deliver while the backlog drains (from the first arrival to the last).
- `email`: the same with one SMTP receiver only.
- `chat`: the same with the four chat channels of their own packages (Teams, Discord,
  Mattermost, Telegram: one receiver each), and each chat stand-in's own ceiling in this run
  (a trivial client sending it the request the channel sends, 64 in flight): per channel
  the notifications/s the workers deliver and its ratio to that stand-in's ceiling.
- `latency at R alerts/s`: two receivers, the same three destinations, 1-alert bodies at R
  alerts/s (open loop, alternately to each receiver) for --duration s: accepted→delivered
  p50 / p99 / max over all notifications, from the webhook's send to its arrival.
- `delivery summary`: the figures against the targets (ok / MISS) and as a share of the
  ceiling.

Each figure fails the run (FAIL) when a notification is missing or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import redis as sync_redis
import yaml
from harness import Proc, find_receiver, free_port, running, wait_http_ok, wait_port

from receiver.models import fingerprint
from receiver.store.embedded import find_redis_server

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

TARGET_RATE = 1_000  # notifications/s per process (PagerDuty + Slack + webhook)
TARGET_P99_S = 1.0  # at 200 alerts/s x 3 destinations on two replicas
DESTS = ("pd", "chat", "hook")
CHATS = ("teams", "discord", "mattermost", "telegram")  # bench/vendors.py "chats"
STAGES = ("ceiling", "sustained", "email", "chat", "latency")


def labels(run: str, i: int) -> dict[str, str]:
    return {"alertname": "DeliveryBench", "severity": "critical", "service": "bench",
            "instance": f"{run}-{i:07d}"}  # fmt: skip


def body(run: str, first: int, count: int) -> bytes:
    alerts = [{"status": "firing", "labels": labels(run, i), "annotations": {"summary": "b"},
               "startsAt": "2026-11-22T05:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": ""} for i in range(first, first + count)]  # fmt: skip
    return json.dumps({"receiver": "b", "status": "firing", "alerts": alerts,
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://am", "version": "4", "groupKey": "{}:{}",
                       "truncatedAlerts": 0}).encode()  # fmt: skip


def receivers(v: dict[str, Any], dests: tuple[str, ...]) -> dict[str, Any]:
    all_ = {
        "pd": {"type": "pagerduty", "routing_key": "R" * 32, "base_url": v["pagerduty"]},
        "chat": {"type": "slack", "token": "xoxb-test-token", "channel": "alerts",
                 "api_url": v["slack_api"]},
        "hook": {"type": "webhook", "url": v["webhook"]},
        "mail": {"type": "email", "host": "127.0.0.1", "port": v["smtp_port"], "tls": "none",
                 "from": "bench@example.com", "to": ["oncall@example.com"]},
        **v["chats"],
    }  # fmt: skip
    return {d: {**all_[d], "rate": "none"} for d in dests}


def redis_command(port: int, directory: Path) -> list[str]:
    """redis-server on 127.0.0.1:`port` with its data in `directory`: AOF, fsync every second."""
    return [find_redis_server(), "--bind", "127.0.0.1", "--port", str(port),
            "--dir", str(directory), "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec"]  # fmt: skip


def start_vendors(work: Path) -> tuple[Proc, dict[str, Any]]:
    """bench/vendors.py in its own process, and where it listens once it has said so."""
    ready = work / "vendors.json"
    proc = Proc("vendors", [sys.executable, str(BENCH / "vendors.py"), "--ready-file",
                            str(ready)], work / "vendors.log")  # fmt: skip
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline and proc.alive():
        time.sleep(0.05)
    try:
        return proc, json.loads(ready.read_text())
    except (OSError, ValueError):
        proc.stop()
        raise RuntimeError(f"vendors not ready; log:\n{proc.log_tail()}") from None


def receiver_dir(work: Path, name: str, redis_url: str, rx: dict[str, Any],
                 workers: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """A data directory with the config of one `serve` process on `redis_url`."""
    d = work / name
    d.mkdir()
    (d / "config.yml").write_text(yaml.safe_dump({
        "auth": "none", "log_level": "warning", "redis": {"url": redis_url},
        "receivers": rx, "route": {"receivers": sorted(rx)},
        "storm": {"threshold": 10_000_000}, "workers": workers or {},
    }))  # fmt: skip
    return d


def start_receiver(binary: str, d: Path, listen: str, name: str) -> Proc:
    """`serve` with the config in `d`, listening on `listen`, once ready (also a restart)."""
    cmd = [binary, "serve", "--config", str(d / "config.yml"), "--listen", listen,
           "--data-dir", str(d)]  # fmt: skip
    proc = Proc(name, cmd, d / "log", stdout_devnull=True)
    try:
        wait_http_ok(f"http://{listen}/health/ready", proc)
    except BaseException:
        proc.stop()
        raise
    return proc


@contextlib.contextmanager
def receiver_procs(
    binary: str,
    work: Path,
    redis_url: str,
    rx: dict[str, Any],
    count: int,
    label: str,
    workers: dict[str, Any] | None = None,
) -> Iterator[list[tuple[str, Proc]]]:
    """`count` serve processes on one Redis; yields their base URLs and processes."""
    with contextlib.ExitStack() as stack:
        urls: list[tuple[str, Proc]] = []
        for k in range(count):
            d = receiver_dir(work, f"{label}-{k}", redis_url, rx, workers)
            listen = f"127.0.0.1:{free_port()}"
            proc = stack.enter_context(running(start_receiver(binary, d, listen,
                                                              f"receiver-{k}")))  # fmt: skip
            urls.append((f"http://{listen}", proc))
        yield urls


class ArrivalLog:
    """Every arrival the vendors reported, fetched incrementally (`?since=`)."""

    def __init__(self, control: str) -> None:
        self.control = control
        self.all: list[tuple[str, str, float]] = []

    async def fetch(self) -> list[tuple[str, str, float]]:
        async with (
            aiohttp.ClientSession() as s,
            s.get(self.control + "/arrivals", params={"since": str(len(self.all))}) as r,
        ):
            self.all += [(d, i, t) for d, i, t in await r.json()]
        return self.all


async def wait_delivered(
    log: ArrivalLog, expected: set[tuple[str, str]], limit_s: float
) -> list[tuple[str, str, float]]:
    """The arrivals of the `expected` notifications, once all are in (or at the limit)."""
    deadline = time.monotonic() + limit_s
    got: list[tuple[str, str, float]] = []
    scanned = len(log.all)  # earlier stages' arrivals are not this one's
    while True:
        everything = await log.fetch()
        got += [a for a in everything[scanned:] if (a[0], a[1]) in expected]
        scanned = len(everything)
        # Every expected one in, counted once: a repeat must not stand in for a missing one.
        if len({(d, i) for d, i, _ in got}) >= len(expected) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.25)


def check(got: list[tuple[str, str, float]], expected: set[tuple[str, str]]) -> str:
    counts = Counter((d, i) for d, i, _ in got)
    lost = len(expected - set(counts))
    doubled = sum(1 for k, n in counts.items() if n > 1)
    return "" if not lost and not doubled else f"FAIL: {lost} missing, {doubled} doubled"


def ids(run: str, i: int, dest: str) -> str:
    lab = labels(run, i)
    return fingerprint(lab) if dest in ("chat", "mail") else lab["instance"]


async def sustained(url: str, log: ArrivalLog, run: str, alerts: int, dests: tuple[str, ...],
                    label: str, figures: dict[str, float]) -> list[str]:  # fmt: skip
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        for first in range(0, alerts, 100):
            async with s.post(url + "/webhook", data=body(run, first, min(100, alerts - first)),
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                assert r.status == 200, await r.text()
    posted = time.monotonic()
    expected = {(d, ids(run, i, d)) for i in range(alerts) for d in dests}
    got = await wait_delivered(log, expected, 120)
    times = sorted(t for _, _, t in got)
    span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
    rate = len(got) / span if span else float("nan")
    figures["mail" if "mail" in dests else "chat" if dests == CHATS else "mix"] = rate
    if dests == CHATS:
        for d in CHATS:  # each channel's own pace over its own arrivals
            t = sorted(at for dest, _, at in got if dest == d)
            figures[f"chat:{d}"] = len(t) / (t[-1] - t[0]) if len(t) > 1 else float("nan")
    line = (f"{label}: {len(got):,} notifications in {span:.1f} s = {rate:,.0f}/s per process "
            f"(intake of {alerts:,} alerts took {posted - started:.1f} s meanwhile)")  # fmt: skip
    out = [line]
    if bad := check(got, expected):
        out.append("  " + bad)
    return out


async def latency(urls: list[str], log: ArrivalLog, run: str, rate: float, duration: float,
                  figures: dict[str, float]) -> list[str]:  # fmt: skip
    n = int(rate * duration)
    sent: dict[str, float] = {}
    failed = 0
    conn = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def post(i: int) -> None:
            nonlocal failed
            t = time.monotonic()
            async with s.post(urls[i % len(urls)] + "/webhook", data=body(run, i, 1),
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                if r.status == 200:
                    sent[labels(run, i)["instance"]] = t
                else:
                    failed += 1

        start = time.monotonic()
        tasks = []
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(i)))
        await asyncio.gather(*tasks)
    expected = {(d, ids(run, i, d)) for i in range(n) for d in DESTS}
    got = await wait_delivered(log, expected, 60)
    fp_to_inst = {fingerprint(labels(run, i)): labels(run, i)["instance"] for i in range(n)}
    lat = sorted(t - sent[fp_to_inst.get(i, i)] for d, i, t in got
                 if fp_to_inst.get(i, i) in sent)  # fmt: skip
    if not lat:
        return [f"latency at {rate:.0f} alerts/s: nothing delivered; FAIL"]

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    figures[f"p50@{rate:g}"], figures[f"p99@{rate:g}"] = pct(0.5), pct(0.99)
    line = (f"latency at {rate:.0f} alerts/s x 3 destinations, {len(urls)} replicas, "
            f"{duration:.0f} s: accepted->delivered p50 {pct(0.5) * 1000:.0f} ms, "
            f"p99 {pct(0.99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms "
            f"({len(got):,} notifications, {failed} webhooks refused)")  # fmt: skip
    out = [line]
    if bad := check(got, expected):
        out.append("  " + bad)
    return out


def ceiling_requests(v: dict[str, Any]) -> list[tuple[str, bytes, dict[str, str]]]:
    """One valid request per HTTP vendor, as the receiver would send it (smaller)."""
    pd = {"routing_key": "R" * 32, "event_action": "trigger", "dedup_key": "ceiling",
          "payload": {"summary": "ceiling", "source": "bench", "severity": "critical",
                      "custom_details": {"instance": "ceiling"}}}  # fmt: skip
    chat = {"channel": "C0ALERTS", "text": "ceiling"}
    hook = {"alert": {"labels": {"instance": "ceiling"}}}
    js = {"Content-Type": "application/json"}
    return [
        (v["pagerduty"].rstrip("/") + "/v2/enqueue", json.dumps(pd).encode(), js),
        (v["slack_api"] + "chat.postMessage", json.dumps(chat).encode(),
         {**js, "Authorization": "Bearer xoxb-test-token"}),
        (v["webhook"], json.dumps(hook).encode(), js),
    ]  # fmt: skip


async def ceiling(v: dict[str, Any], seconds: float, figures: dict[str, float]) -> list[str]:
    """The vendors' own rate, same run: a trivial client (64 requests in flight, the three
    HTTP vendors in turn; 4 SMTP connections), nothing else running."""
    reqs = ceiling_requests(v)
    done = 0
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def loop(k: int, until: float) -> None:
            nonlocal done
            while time.monotonic() < until:
                url, data, headers = reqs[(done + k) % len(reqs)]
                async with s.post(url, data=data, headers=headers) as r:
                    await r.read()
                    assert r.status < 300, (url, r.status)
                done += 1

        t0 = time.monotonic()
        await asyncio.gather(*(loop(k, t0 + seconds) for k in range(64)))
        http = done / (time.monotonic() - t0)
    mails = 0

    async def mail_loop(until: float) -> None:
        nonlocal mails
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=v["smtp_port"], use_tls=False,
                               start_tls=False)  # fmt: skip
        await smtp.connect()
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bench@example.com", "x@example.com", "c"
        msg.set_content("ceiling\n")
        while time.monotonic() < until:
            await smtp.send_message(msg)
            mails += 1
        await smtp.quit()

    t0 = time.monotonic()
    await asyncio.gather(*(mail_loop(t0 + seconds) for _ in range(4)))
    smtp_rate = mails / (time.monotonic() - t0)
    figures["ceiling"], figures["mail_ceiling"] = http, smtp_rate
    return [f"ceiling: the local vendors with a trivial client: {http:,.0f} HTTP requests/s "
            f"(PagerDuty + Slack + webhook in turn, 64 in flight), {smtp_rate:,.0f} mails/s "
            f"(4 SMTP connections)"]  # fmt: skip


def chat_requests(v: dict[str, Any]) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """Per chat channel, the request its notifier sends for a firing alert (built by the
    channel's own message code from a sample notification)."""
    from receiver.notifiers.discord.message import build_message as discord_message
    from receiver.notifiers.mattermost.message import build_post
    from receiver.notifiers.render import Renderer
    from receiver.notifiers.samples import sample_notifications
    from receiver.notifiers.teams.card import build_card
    from receiver.notifiers.telegram.message import build_message as telegram_message

    n, r, c = sample_notifications()[0], Renderer(), v["chats"]
    js = {"Content-Type": "application/json"}
    message, props = build_post(n, r, None)
    text, _markup = telegram_message(n, r)
    mm, tg = c["mattermost"], c["telegram"]
    return {
        "teams": (c["teams"]["webhook_url"], json.dumps(build_card(n, r)[1]).encode(), js),
        "discord": (c["discord"]["webhook_url"] + "?wait=true",
                    json.dumps(discord_message(n, r)).encode(), js),
        "mattermost": (mm["url"] + "/api/v4/posts",
                       json.dumps({"channel_id": mm["channel_id"], "message": message,
                                   "props": props}).encode(),
                       {**js, "Authorization": f"Bearer {mm['token']}"}),
        "telegram": (f"{tg['api_url']}/bot{tg['token']}/sendMessage",
                     json.dumps({"chat_id": tg["chat_id"], "text": text,
                                 "parse_mode": "HTML"}).encode(), js),
    }  # fmt: skip


async def chat_ceiling(v: dict[str, Any], seconds: float, figures: dict[str, float]) -> list[str]:
    """Each chat stand-in's own rate, same run: a trivial client, 64 requests in flight."""
    out = []
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as s:
        for name, (url, data, headers) in chat_requests(v).items():
            done = 0

            async def loop(until: float, url: str = url, data: bytes = data,
                           headers: dict[str, str] = headers) -> None:  # fmt: skip
                nonlocal done
                while time.monotonic() < until:
                    async with s.post(url, data=data, headers=headers) as r:
                        await r.read()
                        assert r.status < 300, (url, r.status, await r.text())
                    done += 1

            t0 = time.monotonic()
            await asyncio.gather(*(loop(t0 + seconds) for _ in range(64)))
            figures[f"chat_ceiling:{name}"] = done / (time.monotonic() - t0)
    rates = ", ".join(f"{n} {figures[f'chat_ceiling:{n}']:,.0f}/s" for n in CHATS)
    out.append(f"chat ceiling: each chat stand-in with a trivial client (64 in flight): {rates}")
    return out


def verdict(f: dict[str, float]) -> list[str]:
    """The targets against the figures of this run (absent figures are skipped)."""
    out = ["delivery summary:"]
    if "mix" in f:
        ratio = f" = {f['mix'] / f['ceiling']:.2f}x the vendors' ceiling" if "ceiling" in f else ""
        ok = "ok" if f["mix"] >= TARGET_RATE else "MISS"
        out.append(f"  sustained PagerDuty + Slack + webhook: {f['mix']:,.0f} notifications/s "
                   f"per process{ratio}; target >= {TARGET_RATE:,}/s: {ok}")  # fmt: skip
    if "mail" in f:
        ratio = (f" = {f['mail'] / f['mail_ceiling']:.2f}x the SMTP ceiling"
                 if "mail_ceiling" in f else "")  # fmt: skip
        out.append(f"  email only: {f['mail']:,.0f} mails/s per process{ratio} (no target)")
    if "chat" in f:
        per = ", ".join(
            f"{d} {f[f'chat:{d}']:,.0f}/s = {f[f'chat:{d}'] / f[f'chat_ceiling:{d}']:.2f}x"
            for d in CHATS if f"chat_ceiling:{d}" in f
        )  # fmt: skip
        out.append(f"  sustained Teams + Discord + Mattermost + Telegram: {f['chat']:,.0f} "
                   f"notifications/s per process; per channel, against its stand-in's "
                   f"ceiling: {per} (no target)")  # fmt: skip
    for key in sorted((k for k in f if k.startswith("p50@")), key=lambda k: float(k[4:])):
        r = key[4:]
        line = (f"  accepted->delivered at {r} alerts/s x 3, two replicas: "
                f"p50 {f[key] * 1000:,.0f} ms, p99 {f['p99@' + r] * 1000:,.0f} ms")  # fmt: skip
        if float(r) == 200:
            line += f"; target p99 < {TARGET_P99_S:g} s: "
            line += "ok" if f["p99@" + r] < TARGET_P99_S else "MISS"
        out.append(line)
    return out


def run(duration: float = 10.0, rates: tuple[float, ...] = (50, 200, 500),
        receiver: str | None = None, alerts: int = 0,
        workers: dict[str, Any] | None = None,
        stages: tuple[str, ...] = STAGES) -> list[str]:  # fmt: skip
    """All delivery figures, as printable lines (a failed check has FAIL in its line, a
    missed target MISS)."""
    binary = receiver or find_receiver()
    if binary is None:
        raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")
    alerts = alerts or int(max(2000, 600 * duration))
    work = Path(tempfile.mkdtemp(prefix="alert-receiver-delivery-"))
    lines: list[str] = []
    figures: dict[str, float] = {}
    try:
        vendors, v = start_vendors(work)
        rport = free_port()
        (work / "redis").mkdir()
        redis_cmd = redis_command(rport, work / "redis")
        with running(vendors), running(Proc("redis", redis_cmd, work / "redis.log")) as redis:
            wait_port(rport, redis)
            log = ArrivalLog(v["control"])
            url = f"redis://127.0.0.1:{rport}/0"
            if "ceiling" in stages:
                print("bench: delivery: ceiling", flush=True)
                got = asyncio.run(ceiling(v, min(duration, 5.0), figures))
                print(*got, sep="\n", flush=True)
                lines += got
            if "chat" in stages:
                print("bench: delivery: chat ceiling", flush=True)
                got = asyncio.run(chat_ceiling(v, min(duration, 3.0), figures))
                print(*got, sep="\n", flush=True)
                lines += got
            plan: list[tuple[str, tuple[str, ...], int, Any]] = [
                *([("sustained (PagerDuty + Slack + webhook)", DESTS, 1, None)]
                  if "sustained" in stages else []),
                *([("email only", ("mail",), 1, None)] if "email" in stages else []),
                *([("chat (Teams + Discord + Mattermost + Telegram)", CHATS, 1, None)]
                  if "chat" in stages else []),
                *((f"latency {r:g}", DESTS, 2, r) for r in rates if "latency" in stages),
            ]  # fmt: skip
            for k, (label, dests, count, rate) in enumerate(plan):
                sync_redis.Redis(port=rport).flushall()
                print(f"bench: delivery: {label}", flush=True)
                with receiver_procs(binary, work, url, receivers(v, dests), count, f"s{k}",
                                    workers) as procs:  # fmt: skip
                    u = [base for base, _ in procs]
                    run_id = f"d{os.getpid()}x{k}"
                    if rate is None:
                        n = alerts if dests != ("mail",) else max(1000, alerts // 3)
                        got = asyncio.run(sustained(u[0], log, run_id, n, dests, label,
                                                    figures))  # fmt: skip
                    else:
                        got = asyncio.run(latency(u, log, run_id, rate, duration, figures))
                print(*got, sep="\n", flush=True)
                lines += got
        summary = verdict(figures)
        print(*summary, sep="\n", flush=True)
        lines += summary
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float,
                    default=float(os.environ.get("BENCH_DURATION", "10")))  # fmt: skip
    ap.add_argument("--rates", default="50,200,500", help="alerts/s for the latency figures")
    ap.add_argument("--alerts", type=int, default=0, help="backlog for `sustained`")
    ap.add_argument("--receiver", default=None)
    ap.add_argument("--stages", default=",".join(STAGES),
                    help=f"which figures, of {','.join(STAGES)}")  # fmt: skip
    ap.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="workers.concurrency of the receivers (default: the config default)",
    )
    args = ap.parse_args()
    if not 0 < args.duration <= 600:
        ap.error("--duration must be in (0, 600]")
    rates = tuple(float(r) for r in args.rates.split(",") if r)
    workers = {"concurrency": args.concurrency} if args.concurrency else None
    stages = tuple(x for x in args.stages.split(",") if x)
    if unknown := set(stages) - set(STAGES):
        ap.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    lines = run(args.duration, rates, args.receiver, args.alerts, workers, stages)
    return 1 if any("FAIL" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
