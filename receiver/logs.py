"""Structured JSON logs: one object per line on stderr.

Info lines (one per webhook) are buffered and written every 200 ms, in batches: a write
syscall per webhook was a sixth of the intake's CPU. Warnings and errors are written at
once, and the buffer is flushed at exit. A warning or error repeated within REPEAT_WINDOW_S
(same logger, same message template) is written once; the next one after the window says
how many were left out (`"repeated": 37`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}
FLUSH_EVERY_S = 0.2
_MAX_BUFFER = 256 * 1024
REPEAT_WINDOW_S = 10.0
LEVELS = ("debug", "info", "warning", "error")


def _fields(record: logging.LogRecord) -> str:
    """The record's own fields (`extra=`), as text, for telling identical lines apart."""
    own = [(k, repr(v)) for k, v in record.__dict__.items()
           if k not in _RESERVED and not k.startswith("_") and k != "repeated"]  # fmt: skip
    return repr(sorted(own))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class RepeatFilter(logging.Filter):
    """At most one WARNING-or-above line per `window_s` per identical line: same logger,
    message and fields (a different alert, error or reason is a different line).

    An outage makes the same warning several times a second; the first passes, the rest
    of its window are counted, and the first one after the window carries `repeated`: how
    many were left out. Lines below WARNING, and different messages, always pass.
    """

    _MAX_KEYS = 1024

    def __init__(
        self, window_s: float = REPEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window_s, self.clock = window_s, clock
        self._lock = threading.Lock()
        # (logger, message, fields) → [when the last written line's window started,
        # left out since]
        self._seen: dict[tuple[str, str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.getMessage(), _fields(record))
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.window_s:
                seen[1] += 1
                return False
            if seen is not None and seen[1]:
                record.repeated = int(seen[1])
            if seen is None and len(self._seen) >= self._MAX_KEYS:
                self._forget(now)
            self._seen[key] = [now, 0]
        return True

    def _forget(self, now: float) -> None:
        """Drops keys whose window has closed (their left-out count is lost)."""
        for key, (start, _n) in list(self._seen.items()):
            if now - start >= self.window_s:
                del self._seen[key]


class BufferedHandler(logging.Handler):
    """Collects formatted lines; a daemon thread writes them to `fd` every FLUSH_EVERY_S."""

    def __init__(self, fd: int = 2) -> None:
        super().__init__()
        self.fd = fd
        self._buf: list[bytes] = []
        self._size = 0
        self._stop = threading.Event()
        self._second, self._stamp = -1, ""
        threading.Thread(target=self._run, name="log-flush", daemon=True).start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode()
        except Exception:
            self.handleError(record)
            return
        self._buf.append(line)
        self._size += len(line)
        if record.levelno >= logging.WARNING or self._size > _MAX_BUFFER:
            self._write()

    def timestamp(self, now: float) -> str:
        """`now` as in JsonFormatter; the date and time part is formatted once a second."""
        second = int(now)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int(now % 1 * 1000):03d}Z"

    def _write(self) -> None:
        # Called with the handler lock held (emit) or taken (flush).
        if not self._buf:
            return
        data, self._buf, self._size = b"".join(self._buf), [], 0
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            pass  # stderr closed: nothing sensible to do with a log line

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


_fast: BufferedHandler | None = None


def info_line(logger: logging.Logger, msg: str, **fields: Any) -> None:
    """An info line on the hot path (one per webhook): the same JSON as JsonFormatter,
    without building a LogRecord. Falls back to `logger.info` when not set up by us."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _fast
    if handler is None:
        logger.info(msg, extra=fields)
        return
    out = {"ts": handler.timestamp(time.time()), "level": "info", "logger": logger.name,
           "msg": msg, **fields}  # fmt: skip
    line = orjson.dumps(out, default=str) + b"\n"
    with handler.lock:  # type: ignore[union-attr]
        handler._buf.append(line)
        handler._size += len(line)


LEVEL_ENV = "ALERT_RECEIVER_LOG_LEVEL"


def choose_level(
    flag: str | None, config: str, environ: Mapping[str, str] = os.environ
) -> tuple[str, str]:
    """The log level and where it came from: `--log-level`, else $ALERT_RECEIVER_LOG_LEVEL,
    else the config's `log_level`. A set but invalid variable is a ValueError, flag or not."""
    env = environ.get(LEVEL_ENV, "").strip().lower()
    if env and env not in LEVELS:
        raise ValueError(
            f"{LEVEL_ENV}={environ[LEVEL_ENV]!r} is not a log level; use one of {', '.join(LEVELS)}"
        )
    if flag:
        return flag, "--log-level"
    if env:
        return env, LEVEL_ENV
    return config, "config"


def setup(level: str = "info", repeat_window_s: float = REPEAT_WINDOW_S) -> None:
    global _fast
    # No caller lookup, thread or process names: not in our lines, and they cost per record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = _fast = BufferedHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatFilter(repeat_window_s))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would double our one-line-per-webhook log.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
