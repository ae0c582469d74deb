"""The console's alert list with 10,000 firing alerts: the first page within 300 ms.

    .venv/bin/python bench/console.py                  10,000 alerts, 200 requests per page
    .venv/bin/python bench/console.py --alerts 20000 --requests 500

One receiver process (embedded Redis, no workers' destinations: `receivers: []`) with the
console on. The alerts arrive in bodies of 500; the bench logs in with a read token and
requests pages one after the other over one keep-alive connection. The figure is the
server time of each page (the console's `Server-Timing: app;dur=` header: from the
request reaching the handler to the rendered HTML), p50 and p99, against 300 ms; the
round trip seen by the client is printed beside it. Measured pages: the first page
(firing, newest first, 50 per page), the 20th page (following Next links), and the first
page filtered on "not acknowledged" (which reads the records to check them). Everything
listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from harness import receiver_with, report

from receiver.models import fingerprint

TARGET_MS = 300.0
BODY = 500
TOKEN = "bench-console-read-token-0123456789"
SECRET = "bench-console-session-secret-0123456789abcdef"
_TIMING = re.compile(r"app;dur=([0-9.]+)")
_NEXT = re.compile(r'href="([^"]+)" rel="next"')


def config_text(listen: str, data: Path) -> str:
    return (f"listen: {listen}\ndata_dir: {data}\nauth: none\nlog_level: warning\n"
            "receivers: {}\nroute:\n  receivers: []\n"
            f"api_tokens:\n  - {{name: bench, token: {TOKEN}, scopes: [read]}}\n"
            f"console:\n  session_secret: {SECRET}\n")  # fmt: skip


def bodies(n: int, run: str) -> list[dict[str, Any]]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    services = ("api", "web", "db", "queue", "auth", "search", "billing", "edge")
    severities = ("critical", "warning", "warning", "info")
    out = []
    for start in range(0, n, BODY):
        alerts = []
        for i in range(start, min(n, start + BODY)):
            labels = {"alertname": f"Probe{i % 40}", "service": services[i % len(services)],
                      "severity": severities[i % len(severities)],
                      "instance": f"{run}-{i:06d}"}  # fmt: skip
            alerts.append({"status": "firing", "labels": labels,
                           "annotations": {"summary": f"probe {i} is unhappy"},
                           "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                           "generatorURL": "", "fingerprint": fingerprint(labels)})  # fmt: skip
        out.append({"version": "4", "groupKey": f"{{}}:{{run={run}}}", "status": "firing",
                    "receiver": "bench", "groupLabels": {}, "commonLabels": {},
                    "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
                    "alerts": alerts})  # fmt: skip
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(len(s) * p + 0.5) - 1))]


async def timed(http: httpx.AsyncClient, url: str, n: int) -> tuple[list[float], list[float]]:
    """(server ms, round-trip ms) of `n` GETs of `url`."""
    server, client = [], []
    for _ in range(n):
        started = time.perf_counter()
        r = await http.get(url)
        client.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url} -> {r.status_code}: {r.text[:200]}")
        m = _TIMING.search(r.headers.get("Server-Timing", ""))
        if m is None:
            raise RuntimeError("no Server-Timing header on the console's answer")
        server.append(float(m[1]))
    return server, client


async def measure(base: str, n: int, requests: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        started = time.monotonic()
        for b in bodies(n, str(int(time.time()))):
            (await http.post("/webhook", json=b)).raise_for_status()
        posted_s = time.monotonic() - started
        r = await http.post("/login", data={"token": TOKEN})
        if "ar_console" not in http.cookies:
            raise RuntimeError(f"login failed: {r.status_code}")
        first = "/console/alerts"
        page = (await http.get(first)).text
        if f"{n:,}" not in page and f">{n}<" not in page:
            raise RuntimeError("the console does not count every alert as firing")
        deep = first
        for _ in range(19):
            m = _NEXT.search((await http.get(deep)).text)
            if m is None:
                raise RuntimeError("fewer than 20 pages")
            deep = m[1].replace("&amp;", "&")
        out = [f"console: {n:,} firing alerts (posted in {posted_s:.1f} s), {requests} "
               "requests per page, one connection"]  # fmt: skip
        ok = True
        for label, url in (("first page", first), ("20th page", deep),
                           ("first page, not acknowledged", first + "?acked=no")):  # fmt: skip
            server, client = await timed(http, url, requests)
            p50, p99 = pct(server, 0.50), pct(server, 0.99)
            line = (
                f"  {label}: server p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                f"(round trip p50 {pct(client, 0.5):.1f} ms, p99 {pct(client, 0.99):.1f} ms)"
            )
            if label == "first page":
                ok = p99 < TARGET_MS
                line += f"  target p99 < {TARGET_MS:.0f} ms: " + ("ok" if ok else "FAIL")
            out.append(line)
    return out


def run(alerts: int = 10_000, requests: int = 200, receiver: str | None = None) -> list[str]:
    """Starts a receiver, measures, stops it; returns the summary lines."""
    with receiver_with("console", receiver, config_text) as (base, _rx, _data):
        return asyncio.run(measure(base, alerts, requests))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    args = ap.parse_args()
    if not 1000 <= args.alerts <= 100_000 or not 1 <= args.requests <= 10_000:
        ap.error("--alerts in [1000, 100000], --requests in [1, 10000]")
    lines = run(args.alerts, args.requests, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
