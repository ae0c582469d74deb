"""The few Slack calls the notifier makes, straight on the app's aiohttp session.

slack-sdk's AsyncWebClient spent more CPU per call than the HTTP request itself (URL
parsing, header building, block-object conversion, deprecation checks: ~9 % of a busy
worker, bench/README.md "Delivery"); these calls need none of it.

- Write methods (chat.postMessage, chat.update) send a JSON body with the token as a
  Bearer header (https://api.slack.com/web#posting_json); read methods
  (conversations.history, .list) send query parameters.
- Slack answers most errors with HTTP 200 and {"ok": false, "error": "..."}
  (https://api.slack.com/web#evaluating_responses): anything but 200 with "ok": true
  raises `SlackApiError`.
- A 429 carries Retry-After (https://api.slack.com/apis/rate-limits): one inline retry
  when it is a whole number of seconds up to `max_inline_retry_after`; a longer wait
  comes back as the error, for the pipeline to schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

USER_AGENT = "alert-receiver"


class SlackApiError(Exception):
    """Slack refused a call: the HTTP status, the answer's JSON (or its text) and headers."""

    def __init__(self, status: int, data: Any, headers: Mapping[str, str]) -> None:
        self.status, self.data, self.headers = status, data, headers
        super().__init__(f"slack: HTTP {status} {self.error or str(data)[:200]}".rstrip())

    @property
    def error(self) -> str:
        """Slack's error code ("channel_not_found"), or "" when the answer had none."""
        return str(self.data.get("error", "")) if isinstance(self.data, dict) else ""


def inline_wait(status: int, headers: Mapping[str, str], max_wait: float) -> float | None:
    """Seconds to wait before the one inline retry of a 429, or None for no retry."""
    value = (headers.get("Retry-After") or "").strip()
    if status != 429 or not value.isdigit() or int(value) > max_wait:
        return None
    return float(value)


class HttpAnswer:
    """Status, headers and body of one answer (read in full)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    max_inline_wait: float,
    **kwargs: Any,
) -> HttpAnswer:
    """One HTTP request, retried once inline after a short 429 (see `inline_wait`)."""
    for attempt in range(2):
        async with session.request(method, url, **kwargs) as resp:
            answer = HttpAnswer(resp.status, resp.headers, await resp.read())
        wait = inline_wait(answer.status, answer.headers, max_inline_wait)
        if attempt or wait is None:
            break
        await asyncio.sleep(wait)
    return answer


class SlackApi:
    """Slack Web API methods with a bot token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        max_inline_retry_after: float,
    ) -> None:
        self._session = session
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._max_wait = max_inline_retry_after
        self._auth = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
        self._json = {**self._auth, "Content-Type": "application/json; charset=utf-8"}

    async def post(self, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A write method with a JSON body; its answer when ok, else SlackApiError."""
        answer = await request(self._session, "POST", self._base + method, self._max_wait,
                               data=orjson.dumps(body), headers=self._json)  # fmt: skip
        return self._ok(answer)

    async def get(self, method: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """A read method with query parameters; its answer when ok, else SlackApiError."""
        answer = await request(self._session, "GET", self._base + method, self._max_wait,
                               params=dict(params), headers=self._auth)  # fmt: skip
        return self._ok(answer)

    @staticmethod
    def _ok(answer: HttpAnswer) -> dict[str, Any]:
        try:
            data: Any = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            data = answer.text
        if answer.status != 200 or not isinstance(data, dict) or data.get("ok") is not True:
            raise SlackApiError(answer.status, data, answer.headers)
        return data
