"""GET and POST /ack/{token}: the signed one-click ack link of alert emails and digests.

GET shows what the link would acknowledge and a form; it never changes anything, since
mail gateways' link scanners and previews follow every link in a mail. The form's button
POSTs to the same URL and acks the alert via "email", bound to the firing episode the link
was made for (the service refuses another episode or a resolved alert).

The POST needs no API token and no CSRF token: the link itself is the credential, a
bearer secret only its recipients have, and a forged cross-site form would have to know
it. A POST from another site is refused all the same (guard.foreign_form, the check the
console's forms use: Sec-Fetch-Site, and an Origin other than ours or `null`), as is one
without the form's hidden field, so neither a stray request nor a scanner that submits
forms by accident acks. Pages have no scripts, load nothing and cannot be framed; they
send a Referer only to this service itself (`same-origin`: the token is in the URL, and
with `no-referrer` browsers would send `Origin: null` on the form's own POST, which the
check refuses); the token is never written into a page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import jinja2
from aiohttp import web
from redis.exceptions import RedisError

from receiver.ack.links import LinkClaim, LinkErrorKind, ack_in_force, verify
from receiver.ack.service import MAX_COMMENT, AckOutcome, check_text
from receiver.api.guard import foreign_form
from receiver.api.state import SERVICES, STATE
from receiver.models import AckInfo
from receiver.notifiers.render import builtin_environment
from receiver.text import TextError, check_comment, check_name

log = logging.getLogger("receiver.ack_links")

MAX_FORM = 16 * 1024
MAX_NAME = 100  # with the " (<via> link)" suffix, within the service's MAX_BY (128)
ANONYMOUS = "anonymous"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# What each link problem is called on its page, and its status.
_LINK_PAGES = {
    LinkErrorKind.MALFORMED: (
        400,
        "Link incomplete",
        "This acknowledgement link is incomplete or damaged. Copy the "
        "whole link from the email, or use a newer notification.",
    ),
    LinkErrorKind.TAMPERED: (
        403,
        "Link not valid",
        "This acknowledgement link was not issued by this service, or it "
        "was changed. Nothing was acknowledged.",
    ),
    LinkErrorKind.EXPIRED: (
        410,
        "Link expired",
        "This acknowledgement link has expired. Nothing was acknowledged; "
        "acknowledge from a newer notification, Slack or the API.",
    ),
}
_OUTCOME_PAGES = {
    AckOutcome.NOT_FOUND: (
        410,
        "Alert no longer known",
        "This alert resolved long ago and its record is gone. Nothing was acknowledged.",
    ),
    AckOutcome.NOT_FIRING: (
        410,
        "Alert already resolved",
        "This alert has resolved; there is nothing to acknowledge.",
    ),
    AckOutcome.OTHER_EPISODE: (
        410,
        "Link for an earlier firing",
        "This link is for an earlier firing of the alert, which has "
        "resolved since. Nothing was acknowledged; use the link of the "
        "newest notification.",
    ),
}


@dataclass
class AckPages:
    """The handlers' clock and page templates (built-in only: these are security pages)."""

    clock: Callable[[], float] = time.time
    env: jinja2.Environment = field(default_factory=builtin_environment)


ACK_PAGES = web.AppKey("ack_pages", AckPages)


def add_routes(app: web.Application, clock: Callable[[], float] = time.time) -> None:
    app[ACK_PAGES] = AckPages(clock)
    app.router.add_get("/ack/{token}", confirm_page)
    app.router.add_post("/ack/{token}", ack_from_link)


def _fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(request: web.Request, status: int, template: str, **ctx: Any) -> web.Response:
    html = request.app[ACK_PAGES].env.get_template(template).render(ctx)
    return web.Response(
        status=status,
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


def _result(
    request: web.Request,
    status: int,
    title: str,
    message: str,
    ack: AckInfo | None = None,
    **ctx: Any,
) -> web.Response:
    log.info("ack link", extra={"method": request.method, "status": status, "page": title})
    ack_at = _fmt_ms(ack.at_ms) if ack is not None else ""
    return _page(
        request,
        status,
        "ack_result.html",
        title=title,
        message=message,
        ack=ack,
        ack_at=ack_at,
        **ctx,
    )


def _claim(request: web.Request) -> LinkClaim | web.Response:
    """The link's claim, or the page saying why there is none."""
    cfg = request.app[STATE].settings.ack.links
    if cfg is None:
        return _result(
            request, 404, "Not available", "Acknowledgement links are not enabled on this service."
        )
    try:
        secrets = cfg.secrets()
    except ValueError as e:
        log.error("ack link not checked: %s", e)
        return _result(
            request, 503, "Try again later", "This service cannot check links right now."
        )
    got = verify(request.match_info["token"], secrets, request.app[ACK_PAGES].clock())
    if isinstance(got, LinkClaim):
        return got
    status, title, message = _LINK_PAGES[got.kind]
    return _result(request, status, title, message)


def _unavailable(request: web.Request) -> web.Response:
    return _result(
        request,
        503,
        "Try again later",
        "The alert store is unavailable right now. Nothing was acknowledged.",
    )


async def confirm_page(request: web.Request) -> web.Response:
    """The confirmation page. Reads only."""
    claim = _claim(request)
    if isinstance(claim, web.Response):
        return claim
    try:
        rec = await request.app[SERVICES].reader.get(claim.fingerprint)
    except RedisError:
        return _unavailable(request)
    outcome = _episode_problem(rec, claim)
    if outcome is not None:
        status, title, message = _OUTCOME_PAGES[outcome]
        return _result(request, status, title, message, alertname=_alertname(rec))
    assert rec is not None
    now_ms = int(request.app[ACK_PAGES].clock() * 1000)
    ack = ack_in_force(rec, now_ms)
    if ack is not None:
        return _result(
            request,
            200,
            "Already acknowledged",
            "Someone has this alert already.",
            ack,
            alertname=_alertname(rec),
            fingerprint=claim.fingerprint,
        )
    labels: Mapping[str, str] = rec.get("labels") or {}
    annotations: Mapping[str, str] = rec.get("annotations") or {}
    log.info("ack link", extra={"method": "GET", "status": 200, "page": "confirm"})
    return _page(
        request,
        200,
        "ack_confirm.html",
        alertname=_alertname(rec),
        labels=labels,
        summary=annotations.get("summary", "").strip() or _alertname(rec),
        starts_at=claim.starts_at,
        expires=_fmt_ms(claim.expires_s * 1000),
        max_name=MAX_NAME,
        max_comment=MAX_COMMENT,
    )


def _episode_problem(rec: Mapping[str, Any] | None, claim: LinkClaim) -> AckOutcome | None:
    """Why the link's episode cannot be acknowledged, judged from the state record."""
    if rec is None:
        return AckOutcome.NOT_FOUND
    if rec.get("status") != "firing":
        return AckOutcome.NOT_FIRING
    if rec.get("startsAt") != claim.starts_at:
        return AckOutcome.OTHER_EPISODE
    return None


def _alertname(rec: Mapping[str, Any] | None) -> str:
    return str(((rec or {}).get("labels") or {}).get("alertname") or "")


async def ack_from_link(request: web.Request) -> web.Response:
    """The form's POST: ack the link's episode via where the link was shown ("email",
    or the chat channel whose message carried it)."""
    claim = _claim(request)
    if isinstance(claim, web.Response):
        return claim
    links = request.app[STATE].settings.ack.links
    why = foreign_form(request, [links.base_url] if links is not None else [])
    if why:
        log.warning("ack link refused", extra={"status": 403, "why": why})
        return _result(
            request,
            403,
            "Not accepted",
            "Acknowledge from the link's own page. Nothing was acknowledged.",
        )
    form = await _form(request, claim.via)
    if isinstance(form, web.Response):
        return form
    by, comment = form
    try:
        result = await request.app[SERVICES].acks.ack(
            claim.fingerprint, by, claim.via, comment, starts_at=claim.starts_at
        )
    except RedisError:
        return _unavailable(request)
    if result.outcome in _OUTCOME_PAGES:
        status, title, message = _OUTCOME_PAGES[result.outcome]
        return _result(request, status, title, message, alertname=result.alertname)
    if result.outcome is AckOutcome.ALREADY:
        return _result(
            request,
            200,
            "Already acknowledged",
            "Someone has this alert already.",
            result.ack,
            alertname=result.alertname,
            fingerprint=claim.fingerprint,
        )
    return _result(
        request,
        200,
        "Acknowledged",
        "Repeat notifications and escalation stop for this firing of the alert.",
        result.ack,
        alertname=result.alertname,
        fingerprint=claim.fingerprint,
    )


async def _form(request: web.Request, via: str) -> tuple[str, str] | web.Response:
    """(by, comment) from the confirmation form, or the page refusing it."""
    if request.content_type != "application/x-www-form-urlencoded":
        return _result(
            request, 400, "Not accepted", "Use the Acknowledge button on the link's page."
        )
    if (request.content_length or 0) > MAX_FORM:
        return _result(request, 413, "Not accepted", "The form is too large.")
    body = await request.read()  # chunked: bounded by the app's client_max_size
    if len(body) > MAX_FORM:
        return _result(request, 413, "Not accepted", "The form is too large.")
    try:
        fields = parse_qs(body.decode(), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        fields = {}
    if fields.get("confirm") != ["yes"]:
        return _result(
            request, 400, "Not accepted", "Use the Acknowledge button on the link's page."
        )
    typed = (fields.get("name") or [""])[0]
    try:
        # Checked as typed, before whitespace is folded (split() would drop some refused
        # characters instead of refusing them), and named after the form's fields.
        name = " ".join(check_name(typed, "name", MAX_NAME).split()) if typed.strip() else ""
        comment = check_comment((fields.get("comment") or [""])[0].strip(), "comment", MAX_COMMENT)
    except TextError as e:
        return _result(request, 400, "Not accepted", f"Nothing was acknowledged: {e}.")
    by = f"{name or ANONYMOUS} ({via} link)"
    problem = check_text(by, comment, via)
    if problem is not None:
        return _result(request, 400, "Not accepted", f"Nothing was acknowledged: {problem}.")
    return by, comment
