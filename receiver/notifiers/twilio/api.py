"""Twilio's REST API on the shared aiohttp session: send a text, place a call; classified.

Create a Message: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To,
From, Body, StatusCallback, HTTP Basic auth AccountSid:AuthToken, 201 with the message's
`sid` (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
Create a Call: POST …/Calls.json with To, From, Twiml, StatusCallback, MachineDetection
(https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource). Errors are
JSON {code, message, more_info, status} (https://www.twilio.com/docs/api/errors): 21211
invalid To, 21614 not a mobile number, 21610 the number replied STOP, 21408 region not
enabled → permanent; 20003 (401) bad credentials → invalid config; 429 / 20429 → rate
limited; 5xx and timeouts → retryable.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import orjson

from receiver.notifiers.base import (
    DeliveryResult,
    Outcome,
    classify_exception,
    classify_http,
    ok,
    snippet,
)

INVALID_NUMBER = 21211
NOT_MOBILE = 21614
UNSUBSCRIBED = 21610
TOO_MANY = 20429


def error_of(body: str) -> tuple[int, str]:
    """(Twilio error code, message) of an error answer; (0, "") when it has none."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0, ""
    if not isinstance(doc, dict):
        return 0, ""
    code = doc.get("code")
    return (code if isinstance(code, int) else 0), str(doc.get("message") or "")


def classify(status: int, headers: Mapping[str, str], body: str, what: str) -> DeliveryResult:
    """Twilio's answer as a delivery result; `state` names the provider and the sid."""
    code, message = error_of(body) if status >= 400 else (0, "")
    if 200 <= status < 300:
        try:
            sid = str(orjson.loads(body).get("sid") or "")
        except (orjson.JSONDecodeError, AttributeError):
            sid = ""
        return ok(f"{what}: {sid}", {"provider": "twilio", "sid": sid})
    if code == TOO_MANY:
        status = 429
    result = classify_http(status, headers, body, what)
    detail = f"{what}: HTTP {status} error {code} {snippet(message)}" if code else result.detail
    if status in (401, 403):
        return DeliveryResult(Outcome.INVALID_CONFIG, False, detail)
    return DeliveryResult(result.outcome, result.retryable, detail, result.retry_after_s)


class TwilioClient:
    """One account's REST calls. Never raises: every failure is a DeliveryResult."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str, account_sid: str,
                 auth_token: str, number: str, timeout_s: float) -> None:  # fmt: skip
        self.session, self.number, self.timeout_s = session, number, timeout_s
        self.base = f"{api_url}/2010-04-01/Accounts/{account_sid}"
        self.auth = aiohttp.encode_basic_auth(account_sid, auth_token)

    async def send_sms(self, to: str, body: str, status_url: str = "") -> DeliveryResult:
        form = {"To": to, "From": self.number, "Body": body}
        if status_url:
            form["StatusCallback"] = status_url
        return await self._post("Messages.json", form, f"twilio sms {to[:4]}…")

    async def call(self, to: str, twiml: str, status_url: str = "",
                   machine_detection: bool = True) -> DeliveryResult:  # fmt: skip
        form = {"To": to, "From": self.number, "Twiml": twiml}
        if status_url:
            form["StatusCallback"] = status_url
            form["StatusCallbackEvent"] = "completed"
        if machine_detection:
            form["MachineDetection"] = "Enable"
        return await self._post("Calls.json", form, f"twilio call {to[:4]}…")

    async def _post(self, path: str, form: dict[str, str], what: str) -> DeliveryResult:
        try:
            async with self.session.post(
                f"{self.base}/{path}", data=form,
                headers={"User-Agent": "alert-receiver", "Accept": "application/json",
                         "Authorization": self.auth},
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as resp:  # fmt: skip
                text = await resp.text(errors="replace")
                return classify(resp.status, resp.headers, text, what)
        except Exception as exc:
            return classify_exception(exc, what)
