"""The pure parts of receiver/server/connections.py: the fd budget and the `server:` section."""

from __future__ import annotations

import resource
from typing import Any

import pytest
from pydantic import ValidationError

from receiver.server.connections import (
    Budget,
    ServerConfig,
    connection_budget,
    fd_reserve,
    nofile_target,
)

INF = resource.RLIM_INFINITY


@pytest.mark.parametrize(
    ("requested", "fd_limit", "reserve", "expected"),
    [
        (None, 20_000, 300, Budget(19_700, 19_700, False)),  # derived from the fd limit
        (200, 20_000, 300, Budget(200, 19_700, False)),  # configured, fits
        (50_000, 20_000, 300, Budget(19_700, 19_700, True)),  # configured, clamped
        (None, 1024, 300, Budget(724, 724, False)),
        (None, 512, 300, Budget(256, 256, False)),  # tiny limit: half goes to connections
        (1000, 512, 300, Budget(256, 256, True)),
        (None, 1, 300, Budget(1, 1, False)),
    ],
)
def test_connection_budget(
    requested: int | None, fd_limit: int, reserve: int, expected: Budget
) -> None:
    assert connection_budget(requested, fd_limit, reserve) == expected


@pytest.mark.parametrize(
    ("soft", "hard", "expected"),
    [(1024, 4096, 4096), (4096, 4096, 4096), (1024, INF, 1 << 20), (2 << 20, INF, 2 << 20)],
)
def test_nofile_target_is_the_hard_limit(soft: int, hard: int, expected: int) -> None:
    assert nofile_target(soft, hard) == expected


def test_reserve_grows_with_the_redis_pool_and_workers() -> None:
    base = fd_reserve(64, 8)
    assert fd_reserve(128, 8) == base + 64
    assert fd_reserve(64, 16) == base + 8
    assert base > 64 + 8  # logs, listener and the outbound HTTP pool on top


def test_server_defaults_are_well_below_aiohttps_75s() -> None:
    s = ServerConfig()
    assert s.keepalive_timeout == 15.0 and s.read_timeout == 30.0
    assert s.max_connections is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"read_timeout": "0s"}, "read_timeout must be between 100ms and 1h (got 0s)"),
        ({"keepalive_timeout": "2h"}, "keepalive_timeout must be between 100ms and 1h (got 2h)"),
        ({"read_timeout": "soon"}, "not a valid duration"),
        ({"max_connections": 0}, "greater than or equal to 1"),
        ({"max_conections": 10}, "Extra inputs are not permitted"),
    ],
)
def test_server_refuses_bad_values(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        ServerConfig.model_validate(data)
    assert message in str(e.value)


def test_server_accepts_durations_and_numbers() -> None:
    s = ServerConfig.model_validate(
        {"keepalive_timeout": "1m", "read_timeout": 0.5, "max_connections": 10}
    )
    assert (s.keepalive_timeout, s.read_timeout, s.max_connections) == (60.0, 0.5, 10)
