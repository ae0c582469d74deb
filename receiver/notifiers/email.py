"""Email over SMTP (aiosmtplib): multipart text + HTML, threaded by Message-ID.

The firing mail's Message-ID is derived from (fingerprint, startsAt), so a redelivery carries
the same id and the resolved mail can point at it (In-Reply-To / References) without state.
One SMTP connection is kept for a burst and closed after `idle_timeout` seconds unused.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from pathlib import Path
from typing import ClassVar, Literal

import aiohttp
import aiosmtplib
from pydantic import Field, SecretStr, field_validator, model_validator

from receiver.models import Notification, Reason
from receiver.notifiers.base import (
    ChannelBase,
    DeliveryResult,
    NotifierBase,
    Outcome,
    classify_exception,
    client_error,
    exactly_one,
    invalid_config,
    load_secret,
    ok,
)
from receiver.notifiers.render import Renderer, is_resolved
from receiver.pipeline.throttle import Rate

MAX_SUBJECT = 250
DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "none": 25}


def email_addresses(v: list[str]) -> list[str]:
    """`v` unchanged when each is an address ("a@b" or "Name <a@b>"), else ValueError."""
    for item in v:
        if "@" not in parseaddr(item)[1]:
            raise ValueError(f"not an email address: {item!r}")
    return v


class EmailConfig(ChannelBase):
    type: Literal["email"] = "email"
    # 30 per minute: friendly to ordinary SMTP relays and inboxes.
    default_rate: ClassVar[Rate | None] = Rate(2000, 5)
    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default by tls: 587 / 465 / 25
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    validate_certs: bool = True
    # PEM CA bundle to verify the server against INSTEAD of the system store (internal relays)
    ca_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: float = Field(10.0, gt=0, description="seconds for one whole send")
    idle_timeout: float = Field(5.0, ge=0, description="keep the connection this long unused")
    message_id_domain: str | None = None  # default: the domain of `from`
    hello: str | None = None  # EHLO name; default: this host's FQDN

    @field_validator("from_")
    @classmethod
    def _from_address(cls, v: str) -> str:
        return email_addresses([v])[0]

    @field_validator("to")
    @classmethod
    def _to_addresses(cls, v: list[str]) -> list[str]:
        return email_addresses(v)

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if self.username:
            exactly_one(self, "password", "password_file")
        elif self.password is not None or self.password_file is not None:
            raise ValueError("password needs a username")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls]


def _epoch(starts_at: str) -> str:
    try:
        return str(int(datetime.fromisoformat(starts_at.replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return hashlib.sha256(starts_at.encode()).hexdigest()[:16]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def message_ids(n: Notification, domain: str) -> tuple[str, str | None]:
    """(Message-ID of this mail, Message-ID of the firing mail it replies to, if any)."""
    if n.summary_total > 0:
        return f"<storm.{_short_hash(n.key)}@{domain}>", None
    a = n.alert
    firing = f"<{a.fingerprint}.{_epoch(a.startsAt)}@{domain}>"
    if is_resolved(n):
        return f"<{a.fingerprint}.{_epoch(a.startsAt)}.resolved@{domain}>", firing
    if n.reason is Reason.REPEAT:
        return f"<{a.fingerprint}.{_epoch(a.startsAt)}.r{_short_hash(n.key)}@{domain}>", firing
    return firing, None


def client_tls_context(cfg: EmailConfig) -> ssl.SSLContext | None:
    """The client context when `ca_file` is set; None leaves it to aiosmtplib (system CAs)."""
    if cfg.tls == "none" or cfg.ca_file is None:
        return None
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file))
    if not cfg.validate_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _cert_error(e: BaseException) -> ssl.SSLCertVerificationError | None:
    """aiosmtplib wraps a failed implicit-TLS handshake in SMTPConnectError; STARTTLS raises
    the ssl error itself."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def classify_smtp(e: BaseException) -> DeliveryResult:
    """SMTP 4xx and connection trouble are retryable; 5xx are final (RFC 5321 §4.2.1).

    An untrusted server certificate is a configuration problem (trust its CA with `ca_file`),
    and so is a server that lacks what the config requires (STARTTLS, AUTH): aiosmtplib raises
    the bare SMTPException for those. Neither is retried, and never falls back to plaintext.
    """
    if (cert := _cert_error(e)) is not None:
        why = cert.verify_message or str(cert)
        return invalid_config(f"email: TLS certificate of the server not accepted: {why}")
    if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
        detail = "email: every recipient refused: " + "; ".join(
            f"{r.recipient} ({r.code} {r.message})" for r in e.recipients
        )
        if any(400 <= r.code < 500 for r in e.recipients):
            return DeliveryResult(Outcome.SERVER_ERROR, True, detail)
        return client_error(detail)
    if isinstance(e, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPNotSupported) or (
        type(e) is aiosmtplib.SMTPException
    ):
        return invalid_config(f"email: {type(e).__name__}: {e}")
    if isinstance(e, aiosmtplib.SMTPResponseException):
        detail = f"email: {type(e).__name__}: {e.code} {e.message}"
        if 400 <= e.code < 500:
            return DeliveryResult(Outcome.SERVER_ERROR, True, detail)
        if isinstance(e, aiosmtplib.SMTPSenderRefused):
            return invalid_config(detail)
        return client_error(detail)
    return classify_exception(e, "email")


class EmailNotifier(NotifierBase[EmailConfig]):
    def __init__(
        self,
        name: str,
        cfg: EmailConfig,
        session: aiohttp.ClientSession,
        renderer: Renderer,
    ) -> None:
        super().__init__(name, cfg, session, renderer)
        self._password, self._config_error = load_secret(cfg.password, cfg.password_file)
        self._tls_context: ssl.SSLContext | None = None
        try:
            self._tls_context = client_tls_context(cfg)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            self._config_error = self._config_error or f"cannot load ca_file {cfg.ca_file}: {e}"
        self._sender = parseaddr(cfg.from_)[1]
        self._rcpts = [addr for _, addr in getaddresses(cfg.to)]
        self._domain = (
            cfg.message_id_domain or self._sender.rpartition("@")[2] or "alert-receiver.invalid"
        )
        self._lock = asyncio.Lock()
        self._smtp: aiosmtplib.SMTP | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._closer: asyncio.Task[None] | None = None
        self.connections = 0  # SMTP connections opened so far (reuse is visible in tests)

    def build(self, n: Notification) -> EmailMessage:
        mid, parent = message_ids(n, self._domain)
        msg = EmailMessage()
        msg["Subject"] = self._renderer.render_line("email_subject.txt", n, MAX_SUBJECT)
        msg["From"] = self.cfg.from_
        msg["To"] = ", ".join(n.recipients or self.cfg.to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = mid
        if parent:
            msg["In-Reply-To"] = parent
            msg["References"] = parent
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Alert-Fingerprint"] = n.alert.fingerprint
        msg["X-Alert-Status"] = "resolved" if is_resolved(n) else "firing"
        msg.set_content(self._renderer.render("email_body.txt", n) + "\n")
        msg.add_alternative(self._renderer.render("email_body.html", n) + "\n", subtype="html")
        return msg

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
        async with self._lock:
            self._cancel_idle_timer()
            try:
                async with asyncio.timeout(self.cfg.timeout):
                    smtp = await self._connection()
                    refused, _ = await smtp.send_message(
                        msg, sender=self._sender, recipients=recipients
                    )
            except Exception as e:
                self._drop_connection()
                return classify_smtp(e)
            finally:
                self._start_idle_timer()
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
        self._cancel_idle_timer()
        await self._close_connection()

    async def _connection(self) -> aiosmtplib.SMTP:
        smtp = self._smtp
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.noop()  # the server may have dropped an idle connection
                return smtp
            except (aiosmtplib.SMTPException, OSError):
                self._drop_connection()
        smtp = aiosmtplib.SMTP(
            hostname=self.cfg.host,
            port=self.cfg.effective_port,
            use_tls=self.cfg.tls == "implicit",
            start_tls=self.cfg.tls == "starttls",
            validate_certs=self.cfg.validate_certs,
            tls_context=self._tls_context,
            username=self.cfg.username,
            password=self._password if self.cfg.username else None,
            local_hostname=self.cfg.hello,
            timeout=self.cfg.timeout,
        )
        await smtp.connect()
        self.connections += 1
        self._smtp = smtp
        return smtp

    def _drop_connection(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def _close_connection(self) -> None:
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is None or not smtp.is_connected:
                return
            try:
                async with asyncio.timeout(min(self.cfg.timeout, 2.0)):
                    await smtp.quit()
            except Exception:
                smtp.close()

    def _start_idle_timer(self) -> None:
        if self._smtp is not None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.cfg.idle_timeout, self._on_idle)

    def _cancel_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _on_idle(self) -> None:
        self._idle = None
        if self._smtp is not None and not self._lock.locked():
            self._closer = asyncio.get_running_loop().create_task(self._close_connection())
