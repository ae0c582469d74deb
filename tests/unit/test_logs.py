"""The repeat filter (with an injected clock) and how the log level is chosen."""

from __future__ import annotations

import json
import logging

import pytest

from receiver.logs import LEVEL_ENV, JsonFormatter, RepeatFilter, choose_level


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(
    msg: str, level: int = logging.WARNING, name: str = "receiver.worker", *args: object
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_a_repeated_warning_passes_once_per_window_then_says_how_many_were_left_out() -> None:
    clock = Clock()
    f = RepeatFilter(window_s=10, clock=clock)
    first = record("worker: redis unavailable")
    assert f.filter(first) and not hasattr(first, "repeated")
    for _ in range(37):
        clock.now += 0.25
        assert not f.filter(record("worker: redis unavailable"))
    clock.now = 1010.0  # the window closes
    nxt = record("worker: redis unavailable")
    assert f.filter(nxt)
    assert nxt.repeated == 37  # type: ignore[attr-defined]
    assert json.loads(JsonFormatter().format(nxt))["repeated"] == 37
    # A new window: suppressed again, and nothing left out means no count.
    clock.now += 1
    assert not f.filter(record("worker: redis unavailable"))
    clock.now += 10
    again = record("worker: redis unavailable")
    assert f.filter(again) and again.repeated == 1  # type: ignore[attr-defined]
    clock.now += 60
    quiet = record("worker: redis unavailable")
    assert f.filter(quiet) and not hasattr(quiet, "repeated")


def test_keys_are_identical_lines_and_info_always_passes() -> None:
    clock = Clock()
    f = RepeatFilter(window_s=10, clock=clock)
    assert f.filter(record("redis unavailable"))
    assert f.filter(record("redis unavailable", logging.WARNING, "receiver.scheduler"))
    assert f.filter(record("something else"))
    assert f.filter(record("dead-lettered", logging.ERROR))
    assert not f.filter(record("dead-lettered", logging.ERROR))
    # Different arguments or fields are different lines (another alert, another reason).
    assert f.filter(record("refused %s", logging.WARNING, "x", "a"))
    assert f.filter(record("refused %s", logging.WARNING, "x", "b"))
    assert not f.filter(record("refused %s", logging.WARNING, "x", "b"))
    first = record("webhook rejected", logging.WARNING)
    first.why = "invalid bearer token"
    other = record("webhook rejected", logging.WARNING)
    other.why = "missing Authorization header"
    same = record("webhook rejected", logging.WARNING)
    same.why = "missing Authorization header"
    assert f.filter(first) and f.filter(other) and not f.filter(same)
    for _ in range(100):
        assert f.filter(record("webhook", logging.INFO))
        assert f.filter(record("redis unavailable", logging.DEBUG))


def test_the_filter_forgets_closed_windows_when_full() -> None:
    clock = Clock()
    f = RepeatFilter(window_s=10, clock=clock)
    for i in range(f._MAX_KEYS):
        assert f.filter(record(f"config warning {i}"))
    clock.now += 11
    assert f.filter(record("one more"))
    assert len(f._seen) == 1


def test_setup_installs_the_filter_on_the_handler() -> None:
    from receiver import logs

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        logs.setup("info")
        (handler,) = root.handlers
        assert any(isinstance(f, RepeatFilter) for f in handler.filters)
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved
        root.setLevel(level)
        logs._fast = None


@pytest.mark.parametrize(
    ("flag", "env", "config", "expected"),
    [
        (None, None, "info", ("info", "config")),
        (None, "debug", "info", ("debug", LEVEL_ENV)),
        (None, " WARNING ", "info", ("warning", LEVEL_ENV)),
        (None, "", "error", ("error", "config")),
        ("error", "debug", "info", ("error", "--log-level")),
        ("warning", None, "debug", ("warning", "--log-level")),
    ],
)
def test_level_precedence_flag_then_env_then_config(
    flag: str | None, env: str | None, config: str, expected: tuple[str, str]
) -> None:
    environ = {} if env is None else {LEVEL_ENV: env}
    assert choose_level(flag, config, environ) == expected


def test_an_invalid_env_level_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"ALERT_RECEIVER_LOG_LEVEL='loud' .*debug, info"):
        choose_level(None, "info", {LEVEL_ENV: "loud"})
    with pytest.raises(ValueError):
        choose_level("debug", "info", {LEVEL_ENV: "verbose"})
