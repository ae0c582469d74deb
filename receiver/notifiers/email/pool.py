"""The SMTP connection pool of one email receiver, and the verdict on an SMTP error.

A few mails share one connection, a backlog opens more (up to `connections`), and each is
closed after `idle_timeout` seconds unused.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time

import aiosmtplib

from receiver.notifiers.base import (
    DeliveryResult,
    Outcome,
    classify_exception,
    client_error,
    invalid_config,
)
from receiver.notifiers.email.config import EmailConfig


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


class SmtpPool:
    """Idle connections (most recently used last) with when they went idle, how many are
    open (idle, in use or connecting) and sends waiting for one."""

    def __init__(self, cfg: EmailConfig, password: str, tls_context: ssl.SSLContext | None) -> None:
        self.cfg = cfg
        self._password = password
        self._tls_context = tls_context
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
    def next_idle(self) -> aiosmtplib.SMTP | None:
        """The idle connection the next send takes (None when none is open)."""
        return self._idle[-1][0] if self._idle else None

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

    async def acquire(self) -> aiosmtplib.SMTP | None:
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
                    self.release(smtp, healthy=False)  # and take another
                    continue
                except BaseException:  # cancelled mid-check
                    self.release(smtp, healthy=False)
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

    async def connect(self) -> aiosmtplib.SMTP:
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

    def release(self, smtp: aiosmtplib.SMTP | None, healthy: bool) -> None:
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
