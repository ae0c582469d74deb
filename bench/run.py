"""Intake benchmark: wrk against one receiver process, plus a ceiling for comparison.

    make bench                       (= scripts/bench.sh = .venv/bin/python bench/run.py)
    BENCH_DURATION=5 make bench      shorter runs (seconds per figure, default 20)
    .venv/bin/python bench/run.py --only ceiling      just the ceiling figures
    .venv/bin/python bench/run.py --only reads        just the list figures (bench/reads.py)
    .venv/bin/python bench/run.py --only large        one 50,000-alert body (bench/large_body.py)
    .venv/bin/python bench/run.py --only escalation   1,000 ladders on time (bench/escalation.py)
    .venv/bin/python bench/run.py --only console      console list, 10,000 alerts (bench/console.py)
    .venv/bin/python bench/run.py --only delivery     delivery rate and latency (bench/delivery.py)
    .venv/bin/python bench/run.py --only people       2xx -> a paged push (bench/people.py)
    .venv/bin/python bench/run.py --only chaos        issue #14's fault run (bench/chaos.py)
    .venv/bin/python bench/run.py --only calendar     feeds vs /health/live (bench/calendar_feed.py)
    .venv/bin/python bench/run.py --only durability   redis.durability's cost (bench/durability.py)

Everything listens on 127.0.0.1 on free ports and stops by itself; each wrk run is bounded
by --duration. See bench/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import calendar_feed
import chaos
import console
import delivery
import durability
import escalation
import large_body
import people
import reads
from harness import (
    BENCH,
    CEILINGS,
    MIN_NEW_SHARE,
    RATE_CAP,
    RESIZE_MARGIN,
    RESULTS,
    ROOT,
    TARGET_1,
    TARGET_20,
    TARGET_P99_MS,
    BodyFactory,
    BodySet,
    Proc,
    WrkResult,
    children,
    cpu_line,
    cpu_snapshot,
    find_receiver,
    fmt_line,
    free_port,
    new_share,
    redis_server,
    run_wrk,
    running,
    verdict,
    wait_http_ok,
    wait_port,
    write_body_set,
    write_receiver_config,
)


@dataclass(frozen=True)
class Stage:
    """One stage after the intake figures: the lines it reports (a FAIL in one fails the run)."""

    lines: Callable[[], Iterable[str]]
    echo: bool = True  # print each line here (False: the stage prints them itself)
    before: str = ""  # printed before the stage starts


def stages(args: argparse.Namespace, duration: float) -> list[tuple[str, Stage]]:
    """The stages in run order, each under its `--only` name (bench/<module>.py)."""
    rx, short = args.receiver, min(duration, 10.0)
    chaos_note = "bench: chaos: 60 s of faults on two replicas"
    return [
        ("reads", Stage(lambda: reads.run(duration=min(duration, 15.0), receiver=rx))),
        ("escalation", Stage(lambda: escalation.run(receiver=rx))),  # steps on time
        ("console", Stage(lambda: console.run(receiver=rx))),  # 10,000 firing alerts
        ("large", Stage(lambda: large_body.run(notify=args.notify, receiver=rx))),
        ("delivery", Stage(lambda: delivery.run(duration=short, receiver=rx), echo=False)),
        ("people", Stage(lambda: people.run(duration=short, receiver=rx))),  # issue 23's
        ("chaos", Stage(lambda: chaos.run(receiver=rx), before=chaos_note)),  # issue #14's
        ("calendar", Stage(lambda: calendar_feed.run(duration=short, receiver=rx))),
        ("durability", Stage(lambda: durability.run(duration=duration, receiver=rx))),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("BENCH_DURATION", "20")),
        help="seconds per measured run (env BENCH_DURATION, default 20)",
    )
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default duration/5, ≤3)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--only",
        choices=[
            "all",
            "ceiling",
            "intake",
            "reads",
            "large",
            "escalation",
            "delivery",
            "people",
            "console",
            "chaos",
            "calendar",
            "durability",
        ],
        default="all",
        help="ceiling: bench/ceiling.py figures only; intake: the receiver only; "
        "reads: bench/reads.py (lists over 100,000 alerts) only; "
        "large: bench/large_body.py (a 50,000-alert body among small ones) only; "
        "delivery: bench/delivery.py (workers to local vendors: rate and latency) only"
        "; console: bench/console.py (the console's alert list over 10,000 alerts) only"
        "; chaos: bench/chaos.py (two replicas through kill -9, vendor 500s and 429s and a "
        "Redis restart; every arrival counted) only"
        "; calendar: bench/calendar_feed.py (/health/live while calendar feeds of a rotation "
        "with 200 overrides are requested) only"
        "; durability: bench/durability.py (intake alerts/s under each redis.durability "
        "setting, as ratios to everysec) only",
    )
    ap.add_argument(
        "--notify",
        choices=["none", "log"],
        default="none",
        help="none: route to no receiver (intake only); log: route every alert to the log "
        "notifier (adds outbox enqueue + delivery work; its stdout goes to /dev/null)",
    )
    ap.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="receiver log_level (info logs one line per webhook, as in production)",
    )
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="print raw wrk output")
    args = ap.parse_args()

    if args.duration <= 0 or args.duration > 600:
        ap.error("--duration must be in (0, 600] seconds")
    if not shutil.which("wrk"):
        print("bench: wrk not found (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    warmup = args.warmup if args.warmup is not None else min(3.0, max(1.0, args.duration / 5))
    conns, threads, duration = args.connections, args.threads, args.duration

    workdir = Path(tempfile.mkdtemp(prefix="alert-receiver-bench-"))
    run_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
    factory = BodyFactory(run_id, seed=int(time.time()))
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": duration,
        "connections": conns,
        "threads": threads,
        "cpus": os.cpu_count(),
        "figures": {},
    }
    lines: list[str] = []
    failed = False

    def record(key: str, r: WrkResult, body_set: BodySet, ceiling: bool = False) -> str:
        share = new_share(r, body_set, threads)
        results["figures"][key] = {
            **{k: v for k, v in asdict(r).items() if k != "raw"},
            "alerts_per_body": body_set.alerts_per_body,
            "alerts_per_s": r.rps * body_set.alerts_per_body,
            "bytes_per_body": body_set.bytes_per_body,
            "new_fingerprint_share": share,
        }
        if args.verbose:
            print(r.raw)
        return fmt_line(r, body_set.alerts_per_body, conns, None if ceiling else share)

    try:
        t0 = time.monotonic()
        print(f"bench: generating bodies in {workdir} ...", flush=True)
        warm = write_body_set(workdir, "warmup", factory, 1, 2_000, threads)
        one = write_body_set(
            workdir, "one", factory, 1, math.ceil(RATE_CAP[1] * duration / 2), threads
        )
        twenty = write_body_set(
            workdir, "twenty", factory, 20, math.ceil(RATE_CAP[20] * duration / 2), threads
        )
        print(
            f"bench: bodies ready in {time.monotonic() - t0:.1f}s "
            f"(1-alert ~{one.bytes_per_body} B, 20-alert ~{twenty.bytes_per_body} B)",
            flush=True,
        )

        # -- ceiling ---------------------------------------------------------------------
        if args.only in ("all", "ceiling"):
            redis_bin, redis_version = redis_server()
            rport, cport = free_port(), free_port()
            rdir = workdir / "ceiling-redis"
            rdir.mkdir()
            redis_cmd = [
                redis_bin,
                "--bind",
                "127.0.0.1",
                "--port",
                str(rport),
                "--dir",
                str(rdir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--daemonize",
                "no",
            ]
            print(f"bench: ceiling (redis-server {redis_bin} {redis_version})", flush=True)
            with (
                running(Proc("redis-server", redis_cmd, workdir / "redis.log")) as redis,
                running(
                    Proc(
                        "ceiling",
                        [
                            sys.executable,
                            str(BENCH / "ceiling.py"),
                            "--port",
                            str(cport),
                            "--redis-url",
                            f"redis://127.0.0.1:{rport}/0",
                        ],
                        workdir / "ceiling.log",
                    )
                ) as ceiling,
            ):
                wait_port(rport, redis)
                wait_http_ok(f"http://127.0.0.1:{cport}/health/ready", ceiling)
                base = f"http://127.0.0.1:{cport}"
                run_wrk(
                    "warm-up",
                    f"{base}/webhook",
                    warm,
                    duration=warmup,
                    connections=conns,
                    threads=threads,
                    quiet=True,
                )
                figures: dict[str, WrkResult] = {}
                for key, label, path in CEILINGS:
                    pids = {"ceiling": ceiling.p.pid, "redis": redis.p.pid}
                    before = cpu_snapshot(pids)
                    r = run_wrk(
                        label,
                        f"{base}/{path}",
                        one,
                        duration=duration,
                        connections=conns,
                        threads=threads,
                    )
                    spent = {k: v - before[k] for k, v in cpu_snapshot(pids).items()}
                    figures[key] = r
                    lines.append(record(key, r, one, ceiling=True))
                    print(lines[-1], flush=True)
                    if cpu := cpu_line(r, spent):
                        lines.append(cpu)
                        print(cpu, flush=True)
                wrk_alone = figures["ceiling_bare"].rps / TARGET_1
                lines.append(
                    f"wrk alone (bare aiohttp): {wrk_alone:.1f}x the 1-alert target of "
                    f"{TARGET_1:,} req/s ({verdict(wrk_alone >= 2)}: the load generator must "
                    f"reach >= 2x); 1 Redis RTT per request: "
                    f"{figures['ceiling_redis'].rps / TARGET_1:.1f}x; shared pipeline: "
                    f"{figures['ceiling_coalesced'].rps / TARGET_1:.1f}x"
                )
                print(lines[-1], flush=True)

        # -- receiver --------------------------------------------------------------------
        if args.only in ("all", "intake"):
            binary = args.receiver or find_receiver()
            if binary is None:
                raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")
            port = free_port()
            listen = f"127.0.0.1:{port}"
            data_dir = workdir / "receiver-data"
            data_dir.mkdir()
            cfg = write_receiver_config(
                binary, workdir, listen, data_dir, args.notify, args.log_level
            )
            cmd = [
                binary,
                "serve",
                "--config",
                str(cfg),
                "--listen",
                listen,
                "--data-dir",
                str(data_dir),
            ]
            print(f"bench: receiver: {' '.join(cmd)}", flush=True)
            redis_bin, redis_version = redis_server()
            lines.append(f"receiver: one process, embedded {redis_bin} ({redis_version})")
            print(lines[-1], flush=True)
            with running(
                Proc("alert-receiver", cmd, workdir / "receiver.log", stdout_devnull=True)
            ) as rx:
                wait_http_ok(f"http://{listen}/health/ready", rx)
                url = f"http://{listen}/webhook"
                run_wrk(
                    "warm-up",
                    url,
                    warm,
                    duration=warmup,
                    connections=conns,
                    threads=threads,
                    quiet=True,
                )
                for key, label, body_set, target in (
                    ("intake_1", "intake 1-alert bodies", one, TARGET_1),
                    ("intake_20", "intake 20-alert bodies", twenty, TARGET_20),
                ):
                    pids = {"receiver": rx.p.pid, "redis": next(iter(children(rx.p.pid)), 0)}
                    for sizing in range(2):
                        before = cpu_snapshot(pids)
                        r = run_wrk(label, url, body_set, duration=duration,
                                    connections=conns, threads=threads)  # fmt: skip
                        spent = {k: v - before[k] for k, v in cpu_snapshot(pids).items()}
                        share = new_share(r, body_set, threads)
                        if share >= MIN_NEW_SHARE or sizing:
                            break
                        # The rotation wrapped (a faster machine than RATE_CAP assumed):
                        # re-sends inflated the figure. Size the set from the measured rate.
                        unique = math.ceil(r.rps * duration * RESIZE_MARGIN / 2)
                        print(f"  {label}: only {share:.0%} new fingerprints at "
                              f"{r.rps:,.0f} req/s; {unique:,} new bodies, running again",
                              flush=True)  # fmt: skip
                        body_set = write_body_set(
                            workdir, f"{body_set.name}-sized", factory,
                            body_set.alerts_per_body, unique, threads,
                        )  # fmt: skip
                    lines.append(record(key, r, body_set))
                    if share < MIN_NEW_SHARE:
                        failed = True
                        lines.append(f"  FAIL: {share:.0%} new fingerprints, not 50 %: "
                                     "the figure counts re-sends")  # fmt: skip
                        print(lines[-1], flush=True)
                    print(lines[-1], flush=True)
                    if cpu := cpu_line(r, spent):
                        results["figures"][key]["cpu_s"] = spent
                        lines.append(cpu)
                        print(cpu, flush=True)
                    alerts_s = r.rps * body_set.alerts_per_body
                    lines.append(
                        f"  target >= {target:,} alerts/s: {verdict(alerts_s >= target)}; "
                        f"p99 < {TARGET_P99_MS:.0f} ms: {verdict(r.p99_ms < TARGET_P99_MS)}"
                    )
                    print(lines[-1], flush=True)
                    if r.non_2xx or r.errors:
                        failed = True
                        print(
                            f"  FAIL: receiver answered {r.non_2xx} non-2xx responses and had "
                            f"{r.errors} socket errors ({r.socket_errors}); log tail:\n"
                            f"{rx.log_tail()}",
                            flush=True,
                        )
                    if not rx.alive():
                        raise RuntimeError(f"receiver died during the run:\n{rx.log_tail()}")
        for only, stage in stages(args, duration):
            if args.only not in ("all", only):
                continue
            if stage.before:
                print(stage.before, flush=True)
            for line in stage.lines():
                lines.append(line)
                if stage.echo:  # delivery prints its own lines as it goes
                    print(line, flush=True)
                failed = failed or "FAIL" in line
    except Exception as exc:
        print(f"bench: ERROR: {exc}", file=sys.stderr)
        failed = True
    finally:
        if args.keep:
            print(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if lines:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        results["summary"] = lines
        out = RESULTS / f"bench-{stamp}.json"
        out.write_text(json.dumps(results, indent=2, default=str))
        print(
            f"\n== summary ({conns} connections, {threads} wrk threads, {duration:.0f}s each, "
            f"{os.cpu_count()} CPUs) =="
        )
        for line in lines:
            print(line)
        print(f"(saved {out.relative_to(ROOT)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
