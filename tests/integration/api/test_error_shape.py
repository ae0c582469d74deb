"""aiohttp's own refusals (unknown path, wrong method) answer the README's JSON error
shape, `{"error": "<code>", "detail": "…"}`, with the headers HTTP asks for (`Allow`)."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from tests.conftest import AppFactory
from tests.integration.api.test_webhook_intake import state_snapshot

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/webhook", 405, "method_not_allowed", {"POST"}),
        ("PUT", "/webhook/critical", 405, "method_not_allowed", {"POST"}),
        ("DELETE", "/api/v1/alerts", 405, "method_not_allowed", {"GET", "HEAD"}),
        ("POST", "/health", 405, "method_not_allowed", {"GET", "HEAD"}),
        ("GET", "/nope", 404, "not_found", None),
        ("GET", "/api/v2/alerts", 404, "not_found", None),
        ("POST", "/webhook/a/b", 404, "not_found", None),
        # The console is off here: its URLs do not exist, for browsers neither.
        ("GET", "/console/alerts", 404, "not_found", None),
    ],
)  # fmt: skip
@pytest.mark.parametrize("accept", [{}, BROWSER], ids=["script", "browser"])
async def test_routing_refusals_are_json(
    app_client: AppFactory, redis: aioredis.Redis, method: str, path: str, status: int,
    code: str, allow: set[str] | None, accept: dict[str, str],
) -> None:  # fmt: skip
    client = await app_client()
    before = await state_snapshot(redis)
    r = await client.request(method, path, headers=accept)
    assert r.status == status
    assert r.content_type == "application/json"
    got = await r.json()
    assert got["error"] == code and path in got["detail"] and method in got["detail"]
    if allow is not None:
        assert set(r.headers["Allow"].split(",")) == allow
        assert "allowed: " in got["detail"]
    else:
        assert "Allow" not in r.headers
    assert await state_snapshot(redis) == before


async def test_the_quoted_path_is_bounded(app_client: AppFactory) -> None:
    client = await app_client()
    r = await client.get("/x" * 2000)
    got = await r.json()
    assert r.status == 404 and len(got["detail"]) < 300
