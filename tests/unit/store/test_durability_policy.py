"""`redis.durability`: the config's rules, the wait each setting sends, what a reply that
falls short is, and which server versions can do what (a pure table: both redis-server
binaries on the dev VM are older than 7.2; the start-up path against a real one is in
tests/integration/store/test_durability.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receiver.config.loader import ConfigError
from receiver.server.check import load_settings
from receiver.store.config import RedisConfig
from receiver.store.durability import Policy, parse_version, refusal

URL = "redis://127.0.0.1:6379/0"
SENTINEL: dict[str, Any] = {"sentinels": ["127.0.0.1:26379"], "master_name": "mymaster"}


def policy(**redis: Any) -> Policy:
    return Policy.of(RedisConfig.model_validate(redis))


@pytest.mark.parametrize(
    ("redis", "command", "appendfsync"),
    [
        ({}, None, "everysec"),  # the default: the quick start's speed
        ({"durability": {"fsync": "always"}}, None, "always"),  # embedded: the server fsyncs
        ({"url": URL}, None, "everysec"),
        ({"url": URL, "durability": {"replicas": 1}}, ("WAIT", 1, 1000), "everysec"),
        ({**SENTINEL, "durability": {"replicas": 2, "timeout": "250ms"}}, ("WAIT", 2, 250),
         "everysec"),
        ({"url": URL, "durability": {"fsync": "always"}}, ("WAITAOF", 1, 0, 1000), "everysec"),
        ({"url": URL, "durability": {"replicas": 1, "replicas_fsync": True}},
         ("WAITAOF", 0, 1, 1000), "everysec"),
        ({"url": URL, "durability": {"replicas": 1, "replicas_fsync": True, "fsync": "always"}},
         ("WAITAOF", 1, 1, 1000), "everysec"),
    ],
)  # fmt: skip
def test_each_setting_sends_its_wait(
    redis: dict[str, Any], command: tuple[Any, ...] | None, appendfsync: str
) -> None:
    p = policy(**redis)
    assert p.command == command
    assert p.appendfsync == appendfsync


@pytest.mark.parametrize(
    ("redis", "message"),
    [
        ({"durability": {"replicas": 1}}, "the embedded redis-server has no replicas"),
        ({"url": URL, "cluster": True, "durability": {"replicas": 1}},
         "not supported with cluster: true"),
        ({"url": URL, "cluster": True, "durability": {"fsync": "always"}},
         "not supported with cluster: true"),
        ({"url": URL, "durability": {"replicas_fsync": True}}, "replicas_fsync needs replicas"),
        ({"url": URL, "durability": {"replicas": 1, "timeout": "2s"}},
         "must be below socket_timeout (2s)"),
        ({"url": URL, "durability": {"replicas": 1, "timeout": "0s"}}, "between 10ms and 60s"),
        ({"url": URL, "durability": {"replicas": -1}}, "greater than or equal to 0"),
        ({"url": URL, "durability": {"fsync": "no"}}, "'everysec' or 'always'"),
        ({"url": URL, "durability": {"replica": 1}}, "replica"),
    ],
)  # fmt: skip
def test_check_config_refuses(tmp_path: Path, redis: dict[str, Any], message: str) -> None:
    """What `check-config` (and `serve`) says, with the file and line."""
    import yaml

    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"auth": "none", "redis": redis}))
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, secrets=False)
    text = "\n".join(str(i) for i in e.value.issues)
    assert message in text, text
    assert f"{cfg}:" in text and "redis" in text


def test_a_longer_timeout_needs_a_longer_socket_timeout() -> None:
    p = policy(url=URL, socket_timeout="5s", durability={"replicas": 1, "timeout": "3s"})
    assert p.command == ("WAIT", 1, 3000)


@pytest.mark.parametrize(
    ("reply", "short"),
    [(1, None), (2, None), (0, "replicas")],
)
def test_wait_reply(reply: int, short: str | None) -> None:
    got = policy(url=URL, durability={"replicas": 1}).shortfall(reply)
    assert (got[0] if got else None) == short


@pytest.mark.parametrize(
    ("durability", "reply", "short"),
    [
        ({"fsync": "always"}, [1, 0], None),
        ({"fsync": "always"}, [0, 0], "local_fsync"),
        ({"replicas": 1, "replicas_fsync": True}, [0, 1], None),
        ({"replicas": 1, "replicas_fsync": True}, [0, 0], "replicas"),
        ({"replicas": 2, "replicas_fsync": True, "fsync": "always"}, [1, 1], "replicas"),
        ({"replicas": 2, "replicas_fsync": True, "fsync": "always"}, [0, 2], "local_fsync"),
    ],
)
def test_waitaof_reply(durability: dict[str, Any], reply: list[int], short: str | None) -> None:
    got = policy(url=URL, durability=durability).shortfall(reply)
    assert (got[0] if got else None) == short


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("7.0.15", (7, 0, 15)),
        ("6.2.14", (6, 2, 14)),
        ("7.2", (7, 2, 0)),
        ("255.255.255", (255,) * 3),
    ],
)
def test_parse_version(version: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(version) == expected


WAITAOF_LOCAL = {"url": URL, "durability": {"fsync": "always"}}
WAITAOF_REPLICAS = {"url": URL, "durability": {"replicas": 1, "replicas_fsync": True}}
WAIT = {"url": URL, "durability": {"replicas": 1}}


@pytest.mark.parametrize(
    ("redis", "version", "aof", "refused"),
    [
        (WAITAOF_LOCAL, "6.2.14", True, "fsync: always needs WAITAOF (Redis >= 7.2); the server "
         "runs Redis 6.2.14"),
        (WAITAOF_LOCAL, "7.0.15", True, "runs Redis 7.0.15"),
        (WAITAOF_LOCAL, "7.1.242", True, "runs Redis 7.1.242"),  # 7.2's release candidates
        (WAITAOF_LOCAL, "7.2.0", True, None),
        (WAITAOF_LOCAL, "7.2.4", True, None),  # also what Valkey 7.2 / 8 report
        (WAITAOF_LOCAL, "8.0.1", True, None),
        (WAITAOF_LOCAL, "7.2.4", False, "needs the server's AOF (appendonly yes); it is off"),
        (WAITAOF_REPLICAS, "7.0.15", True, "replicas_fsync: true needs WAITAOF (Redis >= 7.2)"),
        (WAITAOF_REPLICAS, "7.2.4", False, None),  # the replicas' AOF, not this one's
        (WAITAOF_LOCAL, "unknown", True, "the server reports version 'unknown'"),
        (WAIT, "3.0.0", False, None),  # WAIT is older than anything else the receiver needs
        (WAIT, "6.2.14", False, None),
        ({"durability": {"fsync": "always"}}, "6.2.14", True, None),  # embedded: appendfsync
    ],
)  # fmt: skip
def test_what_a_server_version_can_do(
    redis: dict[str, Any], version: str, aof: bool, refused: str | None
) -> None:
    why = refusal(policy(**redis), version, aof)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why, why
