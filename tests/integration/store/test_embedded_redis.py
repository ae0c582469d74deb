"""The embedded redis-server: persistence, the directory lock, a stale server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from receiver.store.embedded import EmbeddedRedis, EmbeddedRedisError


def test_data_survives_restart_and_lock_is_exclusive(tmp_path: Path) -> None:
    a = EmbeddedRedis(tmp_path)
    a.start()
    try:
        redis.Redis(unix_socket_path=str(a.socket)).set("k", "v")
        with pytest.raises(EmbeddedRedisError, match="in use by another alert-receiver"):
            EmbeddedRedis(tmp_path).start()
    finally:
        a.stop()
    b = EmbeddedRedis(tmp_path)
    b.start()
    try:
        assert redis.Redis(unix_socket_path=str(b.socket)).get("k") == b"v"
    finally:
        b.stop()


def test_stale_server_from_a_crashed_run_is_replaced(tmp_path: Path) -> None:
    crashed = EmbeddedRedis(tmp_path)
    crashed.start()
    redis.Redis(unix_socket_path=str(crashed.socket)).set("acked", "1")
    stale_pid = int(crashed.pidfile.read_text())
    # The owner dies (its lock goes with it) but its redis-server keeps running.
    assert crashed._lock_file is not None
    crashed._lock_file.close()
    stale = crashed._proc  # kept to reap it once the fresh owner has shut it down
    crashed._lock_file, crashed._proc = None, None
    fresh = EmbeddedRedis(tmp_path)
    fresh.start()
    try:
        assert int(fresh.pidfile.read_text()) != stale_pid
        assert (
            not Path(f"/proc/{stale_pid}/cmdline").exists()
            or b"redis" not in Path(f"/proc/{stale_pid}/cmdline").read_bytes()
        )
        # The stale server was shut down cleanly: what it had acknowledged is there.
        assert redis.Redis(unix_socket_path=str(fresh.socket)).get("acked") == b"1"
    finally:
        fresh.stop()
        if stale is not None:
            stale.wait(10)
