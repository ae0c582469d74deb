"""What `redis.durability` costs: intake alerts/s for each setting, as ratios to the default.

    .venv/bin/python bench/run.py --only durability   (also part of `make bench`)
    .venv/bin/python bench/durability.py --duration 5

One receiver process per setting, each with its own fresh Redis, driven by wrk exactly as
the intake figures are (1- and 20-alert bodies, ~50 % re-sends, 64 connections):

- `everysec`: the default, the embedded redis-server (AOF fsynced every second);
- `fsync: always`: the embedded server with `appendfsync always` (one fsync per Redis
  event-loop turn, before its replies);
- `url + replica, no WAIT`: a redis-server on a loopback port (AOF everysec, as embedded)
  with a local replica, no durability: the transport's share of the next figure;
- `replicas: 1`: the same, and WAIT 1 after each batch.

The replica shares the 2 cores with everything else, so `replicas: 1` here is an upper
bound on the cost of a replica on its own host (which adds a network round trip instead).
Every process listens on 127.0.0.1 and stops by itself; each wrk run is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import redis as sync_redis
from harness import (
    MIN_NEW_SHARE,
    RATE_CAP,
    RESIZE_MARGIN,
    BodyFactory,
    BodySet,
    Proc,
    WrkResult,
    free_port,
    new_share,
    receiver_config,
    receiver_with,
    redis_server,
    report,
    run_wrk,
    running,
    wait_port,
    write_body_set,
)

CONNECTIONS, THREADS = 64, 2
Setting = tuple[str, str, Callable[[str | None], str]]  # key, label, redis: section for a url


def redis_section(url: str | None, durability: str) -> str:
    where = f"  url: {url}\n" if url else ""
    return f"redis:\n{where}  durability: {{{durability}}}\n" if where or durability else ""


SETTINGS: tuple[Setting, ...] = (
    ("everysec", "everysec (embedded, the default)", lambda _url: ""),
    ("fsync_always", "fsync: always (embedded)",
     lambda _url: redis_section(None, "fsync: always")),
    ("url_no_wait", "url + local replica, no WAIT", lambda url: redis_section(url, "")),
    ("replicas_1", "replicas: 1 (url + local replica)",
     lambda url: redis_section(url, "replicas: 1")),
)  # fmt: skip


@contextlib.contextmanager
def master_and_replica(workdir: Path) -> Iterator[str]:
    """A redis-server on a loopback port (AOF everysec, like the embedded one) and a replica
    of it, its link up: yields the master's URL."""
    binary, _version = redis_server()
    mport, rport = free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
              "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0"]  # fmt: skip
    (workdir / "m").mkdir()
    (workdir / "r").mkdir()
    master_cmd = [binary, "--port", str(mport), "--dir", str(workdir / "m"), *common]
    replica_cmd = [binary, "--port", str(rport), "--dir", str(workdir / "r"), *common,
                   "--replicaof", "127.0.0.1", str(mport)]  # fmt: skip
    with (
        running(Proc("redis-master", master_cmd, workdir / "master.log")) as master,
        running(Proc("redis-replica", replica_cmd, workdir / "replica.log")) as replica,
    ):
        wait_port(mport, master)
        wait_port(rport, replica)
        client = sync_redis.Redis(port=mport, socket_timeout=2, decode_responses=True)
        deadline = time.monotonic() + 20
        with client:
            while client.info("replication").get("connected_slaves", 0) < 1 or not client.wait(
                1, 100
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the bench replica did not come up within 20 s")
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{mport}/0"


def measure(
    setting: Setting, receiver: str | None, url: str | None, sets: list[BodySet],
    warm: BodySet, duration: float, factory: BodyFactory, workdir: Path,
) -> list[tuple[WrkResult, BodySet]]:  # fmt: skip
    """Each body set against a receiver with `setting`: (figure, the set it used)."""
    key, label, section = setting

    def text(listen: str, data: Path) -> str:
        return receiver_config(listen, data, True, "info") + section(url)

    out = []
    with receiver_with(f"durability-{key}", receiver, text) as (base, rx, _data):
        webhook = f"{base}/webhook"
        run_wrk("warm-up", webhook, warm, duration=min(3.0, max(1.0, duration / 5)),
                connections=CONNECTIONS, threads=THREADS, quiet=True)  # fmt: skip
        for bodies in sets:
            for sizing in range(2):
                r = run_wrk(f"{label}, {bodies.alerts_per_body}-alert", webhook, bodies,
                            duration=duration, connections=CONNECTIONS,
                            threads=THREADS)  # fmt: skip
                if new_share(r, bodies, THREADS) >= MIN_NEW_SHARE or sizing:
                    break
                # The rotation wrapped (faster than RATE_CAP assumed), as in run.py's intake.
                unique = math.ceil(r.rps * duration * RESIZE_MARGIN / 2)
                bodies = write_body_set(workdir, f"{bodies.name}-sized", factory,
                                        bodies.alerts_per_body, unique, THREADS)  # fmt: skip
            out.append((r, bodies))
        if not rx.alive():
            raise RuntimeError(f"receiver died during the run:\n{rx.log_tail()}")
    return out


def filesystem(path: Path) -> str:
    out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return out.stdout.strip() or "?"


def run(duration: float = 20.0, receiver: str | None = None) -> list[str]:
    """Every setting measured one after the other; returns the summary lines."""
    workdir = Path(tempfile.mkdtemp(prefix="alert-receiver-durability-"))
    factory = BodyFactory(f"dur{int(time.time()) % 100000}", seed=int(time.time()))
    warm = write_body_set(workdir, "warm", factory, 1, 2_000, THREADS)
    figures: dict[str, list[WrkResult]] = {}
    fails: list[str] = []
    # The same bodies for every setting: each receiver has a Redis of its own, so ~50 % of
    # them are new fingerprints to each.
    sets = [write_body_set(workdir, f"set-{n}", factory, n,
                           math.ceil(RATE_CAP[n] * duration / 2), THREADS)
            for n in (1, 20)]  # fmt: skip
    try:
        with master_and_replica(workdir) as url:
            for setting in SETTINGS:
                results = measure(setting, receiver, url, sets, warm, duration, factory,
                                  workdir)  # fmt: skip
                figures[setting[0]] = [r for r, _ in results]
                fails += [problem for r, used in results if (problem := check(r, used))]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = [f"durability: intake alerts/s, ratio to everysec ({duration:.0f}s each, "
             f"{CONNECTIONS} conns, data on {filesystem(Path(tempfile.gettempdir()))}, "
             f"redis-server {redis_server()[1]})"]  # fmt: skip
    base = figures["everysec"]
    for key, label, _ in SETTINGS:
        cells = [f"{n}-alert {r.rps * n:>7,.0f} ({r.rps / b.rps:.2f}x, p99 {r.p99_ms:.1f} ms)"
                 for r, b, n in zip(figures[key], base, (1, 20), strict=True)]  # fmt: skip
        lines.append(f"  {label:<35} " + "   ".join(cells))
    return lines + fails


def check(r: WrkResult, bodies: BodySet) -> str | None:
    """Why a figure does not count, or None."""
    if r.non_2xx or r.errors:
        return f"  FAIL: {r.label}: {r.non_2xx} non-2xx, {r.errors} socket errors"
    share = new_share(r, bodies, THREADS)
    if share < MIN_NEW_SHARE:  # the rotation wrapped: re-sends inflated the figure
        return f"  FAIL: {r.label}: {share:.0%} new fingerprints, not 50 %"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per figure")
    ap.add_argument("--receiver", default=None, help="alert-receiver binary (default .venv)")
    args = ap.parse_args()
    if not 0 < args.duration <= 600:
        ap.error("--duration in (0, 600]")
    lines = run(args.duration, args.receiver)
    return report(lines)


if __name__ == "__main__":
    sys.exit(main())
