"""The Bot API calls the service makes, on the app's aiohttp session, and their errors.

Every method is `POST {api_url}/bot<token>/<method>` with a JSON body; every answer is
JSON `{"ok": true, "result": …}` or `{"ok": false, "error_code": N, "description": "…",
"parameters": {"retry_after": S, "migrate_to_chat_id": ID}}`
(https://core.telegram.org/bots/api#making-requests,
https://core.telegram.org/bots/api#responseparameters). A 429 carries `retry_after`
(seconds) in `parameters`; its description reads "Too Many Requests: retry after S".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from receiver.notifiers.base import (
    DeliveryResult,
    Outcome,
    client_error,
    invalid_config,
    snippet,
)

USER_AGENT = "alert-receiver"
# Derives the webhook's secret_token from the bot token (see `webhook_secret`).
_SECRET_CONTEXT = b"alert-receiver telegram webhook v1"


class TelegramError(Exception):
    """Telegram refused a call: HTTP status, error_code, description, parameters."""

    def __init__(self, status: int, data: Any) -> None:
        self.status = status
        d = data if isinstance(data, dict) else {}
        self.code = int(d.get("error_code") or status)
        self.description = str(d.get("description") or (data if isinstance(data, str) else ""))
        params = d.get("parameters")
        self.parameters: dict[str, Any] = params if isinstance(params, dict) else {}
        super().__init__(f"telegram: {self.code} {snippet(self.description)}".rstrip())

    @property
    def retry_after(self) -> float | None:
        value = self.parameters.get("retry_after")
        return float(value) if isinstance(value, int | float) and value >= 0 else None


def bot_id(token: str) -> str:
    """The bot's numeric id: the part of its token before ":" (public, unlike the rest)."""
    head = token.partition(":")[0]
    return head if head.isdigit() else hashlib.sha256(token.encode()).hexdigest()[:16]


def webhook_secret(token: str) -> str:
    """The webhook's secret_token, derived from the bot token: HMAC-SHA256 in base64url
    (43 characters of A-Z a-z 0-9 _ -, within setWebhook's 1-256). Every replica and a
    restart derive the same one; whoever can forge it has the bot token anyway."""
    digest = hmac.new(token.encode(), _SECRET_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# Answers (HTTP 400 descriptions) that are the config's fault, not the message's.
_CONFIG_400 = ("chat not found", "chat_id is empty", "group chat was upgraded",
               "not enough rights", "need administrator rights")  # fmt: skip


def classify(e: TelegramError) -> DeliveryResult:
    """429 rate limited (retry_after honoured); 5xx retryable; 401/403/404 and a chat that
    does not exist (or moved: migrate_to_chat_id) the config's; other 4xx permanent."""
    detail = str(e)
    if e.code == 429 or e.status == 429:
        return DeliveryResult(Outcome.RATE_LIMITED, True, detail, retry_after_s=e.retry_after)
    if e.status >= 500 or e.code >= 500:
        return DeliveryResult(Outcome.SERVER_ERROR, True, detail, retry_after_s=e.retry_after)
    if "migrate_to_chat_id" in e.parameters:
        return invalid_config(f"{detail} (set chat_id: {e.parameters['migrate_to_chat_id']})")
    lowered = e.description.lower()
    if e.code in (401, 403, 404) or any(m in lowered for m in _CONFIG_400):
        return invalid_config(detail)
    return client_error(detail)


class BotApi:
    """The Bot API methods of one bot."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str, token: str) -> None:
        self._session = session
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}

    async def call(self, method: str, body: Mapping[str, Any], timeout_s: float) -> Any:
        """The method's `result`; TelegramError when Telegram refused it. Network errors
        and timeouts (aiohttp.ClientError, TimeoutError) pass through."""
        async with self._session.post(
            self._base + method, data=orjson.dumps(body), headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as resp:  # fmt: skip
            raw = await resp.read()
            status = resp.status
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = raw.decode("utf-8", "replace")
        if status != 200 or not isinstance(data, dict) or data.get("ok") is not True:
            raise TelegramError(status, data)
        return data.get("result")
