"""The few Mattermost REST API v4 calls the notifier makes, on the app's aiohttp session
(https://api.mattermost.com/):

- `POST /api/v4/posts` (create a post; 201 with the post),
- `PUT /api/v4/posts/{post_id}/patch` (change its message and props in place),
- `GET /api/v4/channels/{channel_id}/posts?page=&per_page=` (the channel's posts, newest
  first: `order` lists IDs, `posts` maps them; at most 200 per page).

Every call carries the token as `Authorization: Bearer`. An error is JSON
{"id": "api.…app_error", "message": …, "status_code": …} with a matching HTTP status; any
answer but 2xx raises `MattermostApiError`. A 429 tells when to come back in `Retry-After`
(seconds) and `X-Ratelimit-Reset` (seconds until the window resets; read as a Unix time
when it is one) — https://api.mattermost.com/#tag/rate-limiting.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from receiver.notifiers.base import parse_retry_after

USER_AGENT = "alert-receiver"
_EPOCH_THRESHOLD = 1_000_000_000.0  # a "reset" this large is a Unix time, not a delta


class MattermostApiError(Exception):
    """Mattermost refused a call: the HTTP status, the answer's JSON (or text), headers."""

    def __init__(self, status: int, data: Any, headers: Mapping[str, str]) -> None:
        self.status, self.data, self.headers = status, data, headers
        super().__init__(f"mattermost: HTTP {status} {self.error or str(data)[:200]}".rstrip())

    @property
    def error(self) -> str:
        """Mattermost's error id ("api.context.session_expired.app_error"), or ""."""
        return str(self.data.get("id", "")) if isinstance(self.data, dict) else ""

    @property
    def message(self) -> str:
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


def retry_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait after a 429: Retry-After, else X-Ratelimit-Reset, else None."""
    after = parse_retry_after(headers.get("Retry-After"))
    if after is not None:
        return after
    raw = (headers.get("X-Ratelimit-Reset") or "").strip()
    try:
        reset = float(raw)
    except ValueError:
        return None
    if reset >= _EPOCH_THRESHOLD:
        reset -= time.time() if now is None else now
    return max(0.0, reset)


class MattermostApi:
    """REST API v4 with one token; `base_url` is the server (".../api/v4" is added)."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str, timeout_s: float
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/") + "/api/v4/"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._auth = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        self._json = {**self._auth, "Content-Type": "application/json"}

    async def create_post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "posts", data=orjson.dumps(body), headers=self._json)

    async def patch_post(self, post_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"posts/{post_id}/patch", data=orjson.dumps(body),
                                headers=self._json)  # fmt: skip

    async def channel_posts(self, channel_id: str, page: int, per_page: int) -> dict[str, Any]:
        params = {"page": str(page), "per_page": str(per_page)}
        return await self._call("GET", f"channels/{channel_id}/posts", params=params,
                                headers=self._auth)  # fmt: skip

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with self._session.request(
            method, self._base + path, timeout=self._timeout, **kwargs
        ) as resp:
            status, headers, body = resp.status, resp.headers, await resp.read()
        try:
            data: Any = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            data = body.decode("utf-8", "replace")
        if not 200 <= status < 300 or not isinstance(data, dict):
            raise MattermostApiError(status, data, headers)
        return data
