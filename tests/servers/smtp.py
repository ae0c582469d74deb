"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

Recipients listed in `refuse` get "550 5.1.1 user unknown" at RCPT, those in `tempfail`
"450 4.2.0"; with `users` set, AUTH LOGIN/PLAIN is offered (without TLS, for tests).

With `tls="starttls"` and a server `ssl_context`, STARTTLS is offered and required before
MAIL/AUTH (AUTH is not even advertised before it); with `tls="implicit"` the port speaks TLS
from the first byte (SMTPS). Each message and AUTH attempt records the TLS version it
arrived under, so a test can prove nothing was sent in the clear.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: Any  # (host, port) of the client connection that delivered it
    tls: str | None = None  # TLS version of that connection ("TLSv1.3"), None when plaintext
    starttls: bool = False  # the connection was upgraded by STARTTLS (not implicit TLS)


@dataclass
class AuthAttempt:
    login: str
    success: bool
    tls: str | None  # TLS version the credentials travelled under, None when plaintext
    starttls: bool


def tls_version(server: Any) -> str | None:
    """The TLS version of an aiosmtpd SMTP protocol's current transport, None if plaintext."""
    transport = getattr(server, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return None if ssl_object is None else str(ssl_object.version())


@dataclass
class RecordingHandler:
    refuse: set[str] = field(default_factory=set)
    tempfail: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address in self.tempfail:
            return f"450 4.2.0 <{address}>: Recipient address rejected: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), msg, session.peer,
                    tls_version(server), session.ssl is not None,
                )
            )  # fmt: skip
        return "250 2.0.0 Ok: queued"


class SMTPServer:
    """`start()` / `stop()` (blocking, the server runs in its own thread); restartable on
    the same port, to test a client whose connection the server dropped."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        port: int | None = None,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if (tls == "none") != (ssl_context is None):
            raise ValueError("an ssl_context goes with tls='starttls' or 'implicit', only")
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.users = users
        self.tls = tls
        self.ssl_context = ssl_context
        self.auths: list[AuthAttempt] = []
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def connections(self) -> int:
        """Distinct client connections that delivered at least one message."""
        return len({r.peer for r in self.messages})

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users is not None
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
        with self.handler.lock:
            self.auths.append(AuthAttempt(login, ok, tls_version(server), session.ssl is not None))
        return AuthResult(success=ok, handled=False)

    def start(self) -> SMTPServer:
        kwargs: dict[str, Any] = {}
        if self.users is not None:
            # aiosmtpd's auth_require_tls only counts STARTTLS, so it is left off for plaintext
            # (these tests) and for implicit TLS (the whole connection is encrypted anyway).
            kwargs = {"authenticator": self._authenticate,
                      "auth_require_tls": self.tls == "starttls"}  # fmt: skip
        if self.tls == "starttls":
            kwargs |= {"tls_context": self.ssl_context, "require_starttls": True}
        elif self.tls == "implicit":
            kwargs["ssl_context"] = self.ssl_context
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
