"""describe_target / redact_url: where Redis is, for log lines, never with a password."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.store.config import RedisConfig
from receiver.store.connection import describe_target, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@127.0.0.1:6390/0", "redis://127.0.0.1:6390/0"),
        ("redis://user:hunter2@redis:6379/1", "redis://user@redis:6379/1"),
        ("redis://user@redis:6379/1", "redis://user@redis:6379/1"),
        ("rediss://default:hun%40ter2@h:6380", "rediss://default@h:6380"),
        # Raw "@", "/" or "?" in a password (invalid, but seen): nothing after it leaks.
        ("redis://:hun@ter2@h:6379/0", "redis://h:6379/0"),
        ("redis://:hun/ter2@h:6379/0", "redis://h:6379/0"),
        ("redis://u:hun?ter2@h/0", "redis://u@h/0"),
        ("redis://h:6379/0?password=hunter2&socket_timeout=1", "redis://h:6379/0?socket_timeout=1"),
        ("redis://h:6379/0?PASSWORD=hunter2", "redis://h:6379/0"),
        ("unix:///tmp/redis.sock?db=0&password=hunter2", "unix:///tmp/redis.sock?db=0"),
        ("unix://:hunter2@/tmp/redis.sock", "unix:///tmp/redis.sock"),
        ("unix:///run/redis@main/redis.sock", "unix:///run/redis@main/redis.sock"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "hunter2" not in redact_url(url) and "hun" not in redact_url(url)


@pytest.mark.parametrize(
    ("config", "url", "expected"),
    [
        ({"url": "redis://:hunter2@10.0.0.5:6379/0"}, None, "redis://10.0.0.5:6379/0"),
        ({"url": "redis://r:6379/0", "password": "hunter2"}, None, "redis://r:6379/0"),
        ({}, "unix:///data/redis.sock", "unix:///data/redis.sock (embedded)"),
        ({}, None, "embedded"),
        (
            {
                "sentinels": ["s1:26379", "s2:26379"],
                "master_name": "mymaster",
                "password": "hunter2",
            },
            None,
            "sentinel mymaster via s1:26379,s2:26379",
        ),
        (
            {"url": "redis://:hunter2@node-0:6379", "cluster": True},
            None,
            "cluster via redis://node-0:6379",
        ),
    ],
)
def test_describe_target(config: dict[str, Any], url: str | None, expected: str) -> None:
    assert describe_target(RedisConfig.model_validate(config), url) == expected
