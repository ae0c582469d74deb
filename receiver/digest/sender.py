"""Sending a claimed digest window: the notifier of destination `digest:NAME`.

A window's job goes through the outbox like any notification (retries, dead letters). At
send time the batch is read back, each alert in its *current* state, rendered and mailed
through the digest's email receiver (its SMTP connection and sender) to `to` plus whoever
is on call then. Once the email is out the batch is dropped and the claim says "sent", so
a job handed out again (a worker that died after sending) sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate

from receiver.digest.config import DigestConfig
from receiver.digest.render import DigestRenderer
from receiver.digest.store import DigestStore
from receiver.digest.view import DigestView, Seen, build_view
from receiver.metrics import Metrics
from receiver.models import DIGEST_PREFIX, AlertSnapshot, Notification, Reason, Status
from receiver.notifiers.base import DeliveryResult, client_error, invalid_config, ok
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.render import AckUrl


def destination(name: str) -> str:
    return DIGEST_PREFIX + name


def digest_job(name: str, window_ms: int, now_ms: int) -> Notification:
    """The delivery job of one window. Its `alert` only names the digest (jobs carry an
    alert); the window end is the last part of the key."""
    started = datetime.fromtimestamp(window_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    alert = AlertSnapshot(
        fingerprint=f"digest.{name}",
        status=Status.FIRING,
        labels={"alertname": "digest", "digest": name},
        startsAt=started,
    )
    return Notification(
        key=f"{DIGEST_PREFIX}{name}:{window_ms}",
        destination=destination(name),
        reason=Reason.NEW,
        alert=alert,
        route=name,
        enqueued_at_ms=now_ms,
    )


def window_of(n: Notification) -> int:
    return int(n.key.rsplit(":", 1)[1])


class DigestSender:
    """Sends the windows of one digest."""

    def __init__(
        self,
        name: str,
        cfg: DigestConfig,
        email: EmailNotifier | None,
        store: DigestStore,
        oncall_emails: Callable[[str, float], Awaitable[list[str]]],
        metrics: Metrics,
        renderer: DigestRenderer | None = None,
        ack_url: AckUrl | None = None,
    ) -> None:
        self.name = destination(name)
        self.ack_url = ack_url  # ack links for firing alerts (ack.links), else None
        self.digest, self.cfg, self.email, self.store = name, cfg, email, store
        self.oncall_emails, self.metrics = oncall_emails, metrics
        self.renderer = renderer or DigestRenderer()

    async def view(
        self, window: tuple[float, float], batch: tuple[dict[str, Seen], int]
    ) -> DigestView:
        """The digest of `batch` (a buffer or claimed batch), alerts in their state now."""
        items, more = batch
        states = await self.store.states(list(items))
        return build_view(
            self.digest, items, more, states, window, self.cfg.timezone, self.cfg.include_resolved,
            self.ack_url,
        )  # fmt: skip

    async def recipients(self, at: float) -> list[str]:
        """`to`, plus whoever is on call in the digest's rotation at `at`."""
        out = list(self.cfg.to)
        if self.cfg.oncall is not None:
            out += [e for e in await self.oncall_emails(self.cfg.oncall, at) if e not in out]
        return out

    def message(self, view: DigestView, window_ms: int, recipients: list[str]) -> EmailMessage:
        assert self.email is not None
        msg = EmailMessage()
        msg["Subject"] = view.subject
        msg["From"] = self.email.cfg.from_
        msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(usegmt=True)
        # Stable per (digest, window): a resend after a crash is recognisably the same mail.
        msg["Message-ID"] = f"<digest.{self.digest}.{window_ms}@{self.email.domain}>"
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Alert-Digest"] = self.digest
        msg.set_content(self.renderer.text(view))
        msg.add_alternative(self.renderer.html(view), subtype="html")
        return msg

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if self.email is None:
            return invalid_config(
                f"digest {self.digest}: receiver {self.cfg.receiver!r} is not an email receiver"
            )
        window_ms = window_of(n)
        if await self.store.status(self.digest, window_ms) == "sent":
            return ok(f"digest {self.digest}: window {window_ms} already sent")
        end = window_ms / 1000
        window = (self.cfg.schedule().last_end(end - 0.001), end)
        view = await self.view(window, await self.store.batch(self.digest, window_ms))
        if not view.total and not self.cfg.send_empty:
            await self.store.mark_sent(self.digest, window_ms)
            return ok(f"digest {self.digest}: nothing left to send")
        recipients = await self.recipients(end)
        if not recipients:
            return client_error(
                f"digest {self.digest}: nobody to send to (rotation "
                f"{self.cfg.oncall!r} has no email for the person on call)"
            )
        result = await self.email.send_message(
            self.message(view, window_ms, recipients), recipients, remember=False
        )
        if result.ok:
            await self.store.mark_sent(self.digest, window_ms)
            self.metrics.digests_sent.labels(self.digest).inc()
            self.metrics.digest_alerts.labels(self.digest).observe(view.total)
        return result

    async def close(self) -> None:
        """The email receiver is closed with the other notifiers."""
