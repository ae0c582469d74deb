"""Vonage's REST APIs on the shared aiohttp session: a text, a call; classified.

Auth: `Authorization: Bearer <JWT>`, RS256 with the application's private key, claims
application_id, iat, exp, jti
(https://developer.vonage.com/en/getting-started/concepts/authentication#json-web-tokens).
Text: POST /v1/messages {message_type: text, channel: sms, to, from, text} → 202
{message_uuid} (https://developer.vonage.com/en/api/messages#SendMessage). Call: POST
/v1/calls {to: [{type: phone, number}], from, ncco, event_url, machine_detection} → 201
{uuid} (https://developer.vonage.com/en/api/voice#createCall). Numbers go without the "+".
Errors are problem details {type, title, detail} (RFC 7807): 401 → invalid config, 422
(invalid number and other parameters) → permanent, 429 → rate limited, 5xx → retryable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import jwt
import orjson

from receiver.notifiers.base import (
    DeliveryResult,
    Outcome,
    classify_exception,
    classify_http,
    ok,
    snippet,
)

JWT_TTL_S = 900


def app_jwt(application_id: str, private_key: str, now: float) -> str:
    claims = {"application_id": application_id, "iat": int(now), "exp": int(now) + JWT_TTL_S,
              "jti": str(uuid.uuid4())}  # fmt: skip
    return jwt.encode(claims, private_key, algorithm="RS256")


def classify(status: int, headers: Mapping[str, str], body: str, what: str) -> DeliveryResult:
    if 200 <= status < 300:
        try:
            doc = orjson.loads(body)
            ref = str(doc.get("message_uuid") or doc.get("uuid") or "")
        except (orjson.JSONDecodeError, AttributeError):
            ref = ""
        return ok(f"{what}: {ref}", {"provider": "vonage", "sid": ref})
    result = classify_http(status, headers, body, what)
    title = ""
    try:
        doc = orjson.loads(body)
        if isinstance(doc, dict):
            title = f"{doc.get('title', '')}: {doc.get('detail', '')}"
    except orjson.JSONDecodeError:
        pass
    detail = f"{what}: HTTP {status} {snippet(title)}" if title else result.detail
    if status in (401, 403):
        return DeliveryResult(Outcome.INVALID_CONFIG, False, detail)
    return DeliveryResult(result.outcome, result.retryable, detail, result.retry_after_s)


class VonageClient:
    """One application's REST calls. Never raises: every failure is a DeliveryResult."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str, application_id: str,
                 private_key: str, number: str, timeout_s: float,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.session, self.api_url, self.timeout_s, self.clock = session, api_url, timeout_s, clock
        self.application_id, self.private_key = application_id, private_key
        self.number = number.lstrip("+")

    async def send_sms(self, to: str, body: str, client_ref: str = "") -> DeliveryResult:
        doc: dict[str, Any] = {"message_type": "text", "channel": "sms", "to": to.lstrip("+"),
                               "from": self.number, "text": body}  # fmt: skip
        if client_ref:
            doc["client_ref"] = client_ref[:100]
        return await self._post("/v1/messages", doc, f"vonage sms {to[:4]}…")

    async def call(self, to: str, ncco: list[dict[str, Any]], event_url: str) -> DeliveryResult:
        doc = {"to": [{"type": "phone", "number": to.lstrip("+")}],
               "from": {"type": "phone", "number": self.number}, "ncco": ncco,
               "event_url": [event_url], "event_method": "POST",
               "machine_detection": "hangup"}  # fmt: skip
        return await self._post("/v1/calls", doc, f"vonage call {to[:4]}…")

    async def _post(self, path: str, doc: dict[str, Any], what: str) -> DeliveryResult:
        try:
            token = app_jwt(self.application_id, self.private_key, self.clock())
            async with self.session.post(
                self.api_url + path, data=orjson.dumps(doc),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": "alert-receiver"},
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as resp:  # fmt: skip
                text = await resp.text(errors="replace")
                return classify(resp.status, resp.headers, text, what)
        except Exception as exc:
            return classify_exception(exc, what)
