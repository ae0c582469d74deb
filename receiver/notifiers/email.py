"""Email over SMTP (aiosmtplib): multipart text + HTML, threaded by Message-ID.

The firing mail's Message-ID is derived from (fingerprint, startsAt), so a redelivery carries
the same id and the resolved mail can point at it (In-Reply-To / References) without state.
An escalation step's mail has its own id, from the step job's key; the resolve sent to its
recipients carries that key (thread_key) and replies to it.
SMTP connections are pooled per receiver: a few mails share one connection, a backlog opens
more (up to `connections`), and each is closed after `idle_timeout` seconds unused.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
import time
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
    idle_timeout: float = Field(5.0, ge=0, description="keep a connection this long unused")
    # The most SMTP connections open at once to this server (a backlog uses them in
    # parallel; a few mails share one). Counted in the file-descriptor reserve.
    connections: int = Field(4, ge=1, le=32)
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
    """(Message-ID of this mail, Message-ID of the mail it replies to, if any): a resolve
    or a repeat replies to the firing mail, or the resolve of what an escalation step
    mailed (n.thread_key) to that step's mail, which has an id of its own."""
    if n.summary_total > 0:
        return f"<storm.{_short_hash(n.key)}@{domain}>", None
    a = n.alert
    episode = f"{a.fingerprint}.{_epoch(a.startsAt)}"
    if n.reason is Reason.ESCALATED:
        return f"<{episode}.e{_short_hash(n.key)}@{domain}>", None
    if n.thread_key and is_resolved(n):
        step = f"{episode}.e{_short_hash(n.thread_key)}"
        return f"<{step}.resolved@{domain}>", f"<{step}@{domain}>"
    firing = f"<{episode}@{domain}>"
    if is_resolved(n):
        return f"<{episode}.resolved@{domain}>", firing
    if n.reason is Reason.REPEAT:
        return f"<{episode}.r{_short_hash(n.key)}@{domain}>", firing
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


# A new connection is opened only when this many sends per open connection are waiting:
# a few mails in a row share one connection (kind to the relay), a backlog fans out.
_QUEUE_PER_CONNECTION = 4


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
        # The pool: idle connections (most recently used last) with when they went idle,
        # how many are open (idle, in use or connecting) and sends waiting for one.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._reaper: asyncio.TimerHandle | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self._closed = False
        self.connections = 0  # SMTP connections opened so far (reuse is visible in tests)

    @property
    def open_connections(self) -> int:
        """SMTP connections open now (idle, in use or connecting)."""
        return self._open

    @property
    def _smtp(self) -> aiosmtplib.SMTP | None:
        """The idle connection the next send takes (None when none is open)."""
        return self._idle[-1][0] if self._idle else None

    def build(self, n: Notification) -> EmailMessage:
        mid, parent = message_ids(n, self._domain)
        msg = EmailMessage()
        bound = self._renderer.bind(n)
        msg["Subject"] = bound.render_line("email_subject.txt", MAX_SUBJECT)
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
        msg.set_content(bound.render("email_body.txt") + "\n")
        msg.add_alternative(bound.render("email_body.html") + "\n", subtype="html")
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
        smtp = await self._acquire()  # waiting for a pooled connection is not the send
        try:
            async with asyncio.timeout(self.cfg.timeout):
                if smtp is None:
                    smtp = await self._connect()
                refused, _ = await smtp.send_message(msg, sender=self._sender,
                                                     recipients=recipients)  # fmt: skip
        except Exception as e:
            self._release(smtp, healthy=False)
            return classify_smtp(e)
        except BaseException:  # cancelled: the connection is in an unknown state
            self._release(smtp, healthy=False)
            raise
        self._release(smtp, healthy=True)
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
        self._closed = True
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        self._wake(all_=True)
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        await asyncio.gather(*(self._quit(smtp) for smtp, _ in idle))
        if self._closers:
            await asyncio.gather(*self._closers, return_exceptions=True)

    async def _acquire(self) -> aiosmtplib.SMTP | None:
        """A checked idle connection, or None: the caller opens a new one (its place in
        the pool is taken). Waits while the pool is at its size or has few waiters."""
        while True:
            if self._idle:
                smtp, _ = self._idle.pop()
                try:
                    async with asyncio.timeout(self.cfg.timeout):
                        await smtp.noop()  # the server may have dropped an idle connection
                    return smtp
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    self._release(smtp, healthy=False)  # and take another
                    continue
                except BaseException:  # cancelled mid-check
                    self._release(smtp, healthy=False)
                    raise
            if (
                self._closed
                or self._open == 0
                or (
                    self._open < self.cfg.connections
                    and len(self._waiters) >= _QUEUE_PER_CONNECTION * self._open
                )
            ):
                self._open += 1
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._wake()  # woken, but cancelled before using it: pass it on
                raise
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def _wake(self, all_: bool = False) -> None:
        """Let the first waiting send (or all of them) look at the pool again."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                if not all_:
                    return

    async def _connect(self) -> aiosmtplib.SMTP:
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
        return smtp

    def _release(self, smtp: aiosmtplib.SMTP | None, healthy: bool) -> None:
        """Back to the pool after a send (None: the connection was never opened)."""
        if healthy and smtp is not None and smtp.is_connected and not self._closed:
            self._idle.append((smtp, time.monotonic()))
            self._schedule_reaper()
        else:
            self._open -= 1
            if smtp is not None:
                if healthy and smtp.is_connected:  # the pool was closed meanwhile
                    self._spawn_quit(smtp)
                else:
                    smtp.close()
        self._wake()

    def _schedule_reaper(self) -> None:
        if self._reaper is None and self._idle:
            oldest = self._idle[0][1]
            delay = max(0.0, oldest + self.cfg.idle_timeout - time.monotonic())
            self._reaper = asyncio.get_running_loop().call_later(delay, self._reap)

    def _reap(self) -> None:
        """Close the connections unused for `idle_timeout` (the oldest idle come first)."""
        self._reaper = None
        deadline = time.monotonic() - self.cfg.idle_timeout
        n = 0
        while n < len(self._idle) and self._idle[n][1] <= deadline:
            n += 1
        stale, self._idle = self._idle[:n], self._idle[n:]
        self._open -= len(stale)
        for smtp, _ in stale:
            self._spawn_quit(smtp)
        self._schedule_reaper()

    def _spawn_quit(self, smtp: aiosmtplib.SMTP) -> None:
        task = asyncio.get_running_loop().create_task(self._quit(smtp))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            async with asyncio.timeout(min(self.cfg.timeout, 2.0)):
                await smtp.quit()
        except Exception:
            smtp.close()
