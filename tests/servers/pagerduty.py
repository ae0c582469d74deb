"""A local PagerDuty Events API v2 that validates events the way the real one documents.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.servers.base import FakeServer

MAX_BODY = 512 * 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Request:
    at: float  # time.monotonic() of arrival
    body: bytes
    status: int = 0


@dataclass
class _Faults:
    fail: list[int] = field(default_factory=list)  # status codes to answer, in order
    rate_limit: list[int] = field(default_factory=list)  # Retry-After seconds, in order
    # Until this time.monotonic(), answer every request with `window_status` (429 with
    # Retry-After `window_retry_after`, or a 5xx): an outage or a throttle of some seconds.
    window_until: float = 0.0
    window_status: int = 0
    window_retry_after: int | None = None


def validate(event: Any) -> list[str]:
    """The checks PagerDuty documents for an event; empty list when valid."""
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32 character string")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary:
            errors.append("'payload.summary' is missing or blank")
        elif len(summary) > 1024:
            errors.append("'payload.summary' must be at most 1024 characters")
        source = payload.get("source")
        if not isinstance(source, str) or not source:
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, dict | str):
            errors.append("'payload.custom_details' must be an object")
        for link in event.get("links", []):
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                errors.append("'links' entries need an 'href'")
    return errors


class FakePagerDuty(FakeServer):
    client_max_size = 4 * MAX_BODY  # bigger bodies reach the handler, to be refused as PD does

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []  # accepted events, in order
        self.requests: list[Request] = []  # every request, faults included
        self.incidents: dict[str, str] = {}  # dedup_key -> open | acknowledged | resolved
        self._faults = _Faults()
        self._counter = 0

    def fail_next(self, n: int, status: int = 500) -> None:
        self._faults.fail.extend([status] * n)

    def rate_limit_next(self, n: int, retry_after: int = 3) -> None:
        self._faults.rate_limit.extend([retry_after] * n)

    def answer_for(self, seconds: float, status: int, retry_after: int | None = None) -> None:
        """Answer every request with `status` for the next `seconds` (429: with Retry-After)."""
        f = self._faults
        f.window_until = time.monotonic() + seconds
        f.window_status, f.window_retry_after = status, retry_after

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    async def _enqueue(self, request: web.Request) -> web.Response:
        body = await request.read()
        req = Request(at=time.monotonic(), body=body)
        self.requests.append(req)
        resp = await self._answer(body)
        req.status = resp.status
        return resp

    async def _answer(self, body: bytes) -> web.Response:
        await self.hold()  # then answered as usual: the event got through
        f = self._faults
        if time.monotonic() < f.window_until:
            if f.window_status == 429:
                headers = {} if f.window_retry_after is None else {
                    "Retry-After": str(f.window_retry_after)}  # fmt: skip
                return web.json_response(
                    {"status": "throttle event", "message": "Requests are arriving too quickly."},
                    status=429, headers=headers,
                )  # fmt: skip
            return web.json_response({"status": "error"}, status=f.window_status)
        if f.rate_limit:
            retry_after = f.rate_limit.pop(0)
            return web.json_response(
                {"status": "throttle event", "message": "Requests are arriving too quickly."},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if f.fail:
            return web.json_response({"status": "error"}, status=f.fail.pop(0))
        if len(body) > MAX_BODY:
            return _invalid(["Event object is too large (limit 512 KB)"])
        try:
            event = json.loads(body)
        except ValueError:
            return _invalid(["Event object is not valid JSON"])
        errors = validate(event)
        if errors:
            return _invalid(errors)
        action = event["event_action"]
        key = event.get("dedup_key")
        if not key:
            self._counter += 1
            key = event["dedup_key"] = f"generated-{self._counter:08d}"
        self.events.append(event)
        current = self.incidents.get(key)
        if action == "trigger" and current in (None, "resolved"):
            self.incidents[key] = "open"
        elif action == "acknowledge" and current == "open":
            self.incidents[key] = "acknowledged"
        elif action == "resolve" and current in ("open", "acknowledged"):
            self.incidents[key] = "resolved"
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )


def _invalid(errors: list[str]) -> web.Response:
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=400,
    )
