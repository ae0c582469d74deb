"""The email notifier: builds the mail (message.py) and sends it over the receiver's SMTP
pool (pool.py); acks are not mailed."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import aiohttp
import aiosmtplib

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    DeliveryResult,
    NotifierBase,
    client_error,
    invalid_config,
    load_secret,
    ok,
)
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.message import build_message
from receiver.notifiers.email.pool import SmtpPool, classify_smtp, client_tls_context
from receiver.notifiers.render import Renderer


class EmailNotifier(NotifierBase[EmailConfig]):
    def __init__(
        self,
        name: str,
        cfg: EmailConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        password, self._config_error = load_secret(cfg.password, cfg.password_file)
        tls_context: ssl.SSLContext | None = None
        try:
            tls_context = client_tls_context(cfg)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            self._config_error = self._config_error or f"cannot load ca_file {cfg.ca_file}: {e}"
        self._sender = parseaddr(cfg.from_)[1]
        self._rcpts = [addr for _, addr in getaddresses(cfg.to)]
        self._domain = (
            cfg.message_id_domain or self._sender.rpartition("@")[2] or "alert-receiver.invalid"
        )
        self._pool = SmtpPool(cfg, password, tls_context)

    @property
    def connections(self) -> int:
        """SMTP connections opened so far (reuse is visible in tests)."""
        return self._pool.connections

    @property
    def open_connections(self) -> int:
        """SMTP connections open now (idle, in use or connecting)."""
        return self._pool.open_connections

    @property
    def _smtp(self) -> aiosmtplib.SMTP | None:
        """The idle connection the next send takes (None when none is open)."""
        return self._pool.next_idle

    def build(self, n: Notification) -> EmailMessage:
        return build_message(n, self.cfg, self._renderer, self._domain)

    @property
    def domain(self) -> str:
        """The domain of this sender's Message-IDs."""
        return self._domain

    async def send(self, n: Notification, state: Mapping[str, str]) -> DeliveryResult:
        if n.reason in (Reason.ACKNOWLEDGED, Reason.UNACKNOWLEDGED):
            return ok("email: acks are not mailed")  # the design: email stays quiet
        if self._config_error:
            return invalid_config(f"email: {self._config_error}")
        try:
            msg = self.build(n)
        except Exception as e:
            return client_error(f"email: cannot build the message: {type(e).__name__}: {e}")
        # A storm summary stands for many alerts: nothing to remember for its sample alert;
        # nor for a mail to an escalation's on-call person (n.recipients), who is not the
        # receiver's `to` that the state is about.
        rcpts = n.recipients or self._rcpts
        remember = n.summary_total == 0 and not n.recipients
        return await self.send_message(msg, rcpts, remember=remember)

    async def send_message(
        self, msg: EmailMessage, recipients: list[str], remember: bool = True
    ) -> DeliveryResult:
        """Sends a built message to `recipients` over the shared connection; the result's
        state has its Message-ID (`remember`) and the refused recipients, if any."""
        if self._config_error:
            return invalid_config(f"email: {self._config_error}")
        pool = self._pool
        smtp = await pool.acquire()  # waiting for a pooled connection is not the send
        try:
            async with asyncio.timeout(self.cfg.timeout):
                if smtp is None:
                    smtp = await pool.connect()
                refused, _ = await smtp.send_message(msg, sender=self._sender,
                                                     recipients=recipients)  # fmt: skip
        except Exception as e:
            pool.release(smtp, healthy=False)
            return classify_smtp(e)
        except BaseException:  # cancelled: the connection is in an unknown state
            pool.release(smtp, healthy=False)
            raise
        pool.release(smtp, healthy=True)
        mid = str(msg["Message-ID"])
        state = {"message_id": mid} if remember else {}
        if not refused:
            return ok(f"email: sent {mid} to {len(recipients)}", state)
        why = "; ".join(f"{r} ({c.code} {c.message})" for r, c in sorted(refused.items()))
        return ok(
            f"email: sent {mid} to {len(recipients) - len(refused)}, refused: {why}",
            {**state, "refused": ",".join(sorted(refused))},
        )

    async def close(self) -> None:
        """Close the idle connections now, those in use once their send is done."""
        await self._pool.close()
