"""A local Teams Workflows webhook ("When a Teams webhook request is received" → "Post
card in a chat or channel"), checked and answered as Power Automate and Teams document.

- The URL carries `api-version`, `sp`, `sv` and `sig` (a SAS signature): a wrong `sig`
  answers 401, an unknown workflow 404 WorkflowNotFound, a body that is not JSON 400
  InvalidRequestContent; errors are `{"error": {"code", "message"}}`.
  https://learn.microsoft.com/en-us/power-automate/teams/teams-webhook-trigger
- An accepted request answers 202 with no body and no message id before the flow runs;
  the run then posts the card, or fails (recorded in `failed_runs`, nothing posted, the
  caller never hears of it): a message over 28 KB
  (https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/format-your-bot-messages),
  no `attachments[0]` of contentType application/vnd.microsoft.card.adaptive, or a card
  that is not an AdaptiveCard with a version and a body.
  https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card
- Throttling: 429 with Retry-After (https://learn.microsoft.com/en-us/power-automate/limits-and-config);
  `rate_limit_next(n, retry_after)` answers the next `n` requests so, and any request
  within that wait is refused again with what is left of it.

For benches: `arrivals` holds (card number, time.monotonic()) per posted card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.servers.base import FakeServer

WORKFLOW = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SIG = "sig-teams-0123456789abcdef"
MAX_BYTES = 28 * 1024
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass
class Request:
    at: float
    size: int
    status: int = 0
    early: bool = False  # came before the wait a 429 asked for


@dataclass
class Card:
    number: int
    content: dict[str, Any]
    at: float

    def texts(self) -> list[str]:
        return [b.get("text", "") for b in self.content.get("body", [])
                if b.get("type") == "TextBlock"]  # fmt: skip

    @property
    def title(self) -> str:
        return self.texts()[0]

    def actions(self) -> dict[str, str]:
        return {a["title"]: a["url"] for a in self.content.get("actions", [])}

    def facts(self) -> dict[str, str]:
        return {f["title"]: f["value"] for b in self.content.get("body", [])
                if b.get("type") == "FactSet" for f in b["facts"]}  # fmt: skip


def run_errors(message: Any, size: int) -> list[str]:
    """Why the flow run would fail to post the card."""
    if size > MAX_BYTES:
        return [f"RequestEntityTooLarge: the message is {size} bytes, over 28 KB"]
    if not isinstance(message, dict) or message.get("type") != "message":
        return ["the body is not a message"]
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["no attachments"]
    first = attachments[0]
    if not isinstance(first, dict) or first.get("contentType") != CARD_TYPE:
        return ["attachments[0] is not an Adaptive Card"]
    card = first.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ["the content is not an AdaptiveCard"]
    if not isinstance(card.get("version"), str) or not isinstance(card.get("body"), list):
        return ["the card needs a version and a body"]
    errs = []
    for a in card.get("actions", []):
        url = a.get("url", "")
        if a.get("type") != "Action.OpenUrl" or not url.startswith(("https://", "http://")):
            errs.append(f"action {a.get('title')!r} is not an Action.OpenUrl to a web URL")
    return errs


class FakeTeams(FakeServer):
    client_max_size = 8 * 1024**2  # the trigger takes big bodies; the post then fails

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[Card] = []
        self.failed_runs: list[str] = []
        self.requests: list[Request] = []
        self.arrivals: list[tuple[int, float]] = []
        self._forced: list[float] = []
        self._blocked_until = 0.0

    def webhook_url(self, sig: str = SIG, workflow: str = WORKFLOW) -> str:
        return (f"{self.base_url}/powerautomate/automations/direct/workflows/{workflow}"
                f"/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun"
                f"&sv=1.0&sig={sig}")  # fmt: skip

    def rate_limit_next(self, n: int, retry_after: int = 3) -> None:
        self._forced += [float(retry_after)] * n

    def routes(self, app: web.Application) -> None:
        app.router.add_post(
            "/powerautomate/automations/direct/workflows/{wf}/triggers/manual/paths/invoke",
            self._invoke,
        )

    async def _invoke(self, request: web.Request) -> web.Response:
        raw = await request.read()
        now = time.monotonic()
        req = Request(now, len(raw), early=now < self._blocked_until)
        self.requests.append(req)
        await self.hold()  # recorded first: a held request has reached Teams
        q = request.query
        if request.match_info["wf"] != WORKFLOW:
            return self._error(req, 404, "WorkflowNotFound", "The workflow was not found.")
        if not q.get("api-version") or q.get("sv") != "1.0" or not q.get("sp"):
            return self._error(req, 400, "InvalidRequest", "api-version, sp and sv are required")
        if q.get("sig") != SIG:
            return self._error(req, 401, "DirectApiAuthorizationRequired",
                               "The request must be authenticated: invalid signature.")  # fmt: skip
        if self._forced or now < self._blocked_until:  # throttled, or still within the wait
            wait = self._forced.pop(0) if self._forced else self._blocked_until - now
            self._blocked_until = max(self._blocked_until, now + wait)
            retry = {"Retry-After": str(max(1, round(wait)))}
            return self._error(req, 429, "WorkflowRequestsThrottled", "Rate limit is exceeded.",
                               retry)  # fmt: skip
        try:
            message = await request.json()
        except ValueError:
            return self._error(req, 400, "InvalidRequestContent", "The body is not valid JSON.")
        req.status = 202
        errs = run_errors(message, len(raw))
        if errs:
            self.failed_runs.extend(errs)
        else:
            card = Card(len(self.cards) + 1, message["attachments"][0]["content"], now)
            self.cards.append(card)
            self.arrivals.append((card.number, now))
        return web.Response(status=202)

    @staticmethod
    def _error(req: Request, status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
        req.status = status
        return web.json_response({"error": {"code": code, "message": message}}, status=status,
                                 headers=headers)  # fmt: skip
