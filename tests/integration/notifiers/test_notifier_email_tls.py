"""Email notifier over TLS (STARTTLS and implicit) against a real aiosmtpd server.

A throwaway CA (trustme) signs the server's certificate for 127.0.0.1; the notifier trusts it
through `ca_file`, or does not trust it at all, or does not check (`validate_certs: false`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
import trustme

from receiver.notifiers.base import DeliveryResult, Outcome
from receiver.notifiers.email.config import EmailConfig
from receiver.notifiers.email.notifier import EmailNotifier
from receiver.notifiers.render import Renderer
from tests.servers import fixture_alerts, notification, resolved
from tests.servers.smtp import AuthAttempt, SMTPServer

TO = ["oncall@example.org", "lead@example.org"]
USERS = {"alerts": "s3cret"}

TLSMode = Literal["none", "starttls", "implicit"]
ServerFactory = Callable[..., SMTPServer]
NotifierFactory = Callable[..., EmailNotifier]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def other_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server's certificate."""
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


@pytest.fixture
def serve(ca: trustme.CA) -> Iterator[ServerFactory]:
    started: list[SMTPServer] = []

    def factory(
        tls: TLSMode, users: dict[str, str] | None = None, names: tuple[str, ...] = ()
    ) -> SMTPServer:
        ctx = None if tls == "none" else server_context(ca, *(names or ("127.0.0.1",)))
        server = SMTPServer(users=users, tls=tls, ssl_context=ctx)
        started.append(server.start())
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
async def make() -> AsyncIterator[NotifierFactory]:
    made: list[EmailNotifier] = []
    async with aiohttp.ClientSession() as session:

        def factory(server: SMTPServer, **cfg: Any) -> EmailNotifier:
            config = {"host": server.host, "port": server.port, "from": "alerts@example.org",
                      "to": TO, "timeout": 5, **cfg}  # fmt: skip
            n = EmailNotifier("mail", EmailConfig.model_validate(config), session, Renderer())
            made.append(n)
            return n

        yield factory
        for n in made:
            await n.close()


async def send_one(notifier: EmailNotifier) -> DeliveryResult:
    return await notifier.send(notification(fixture_alerts("warning-firing")[0]), {})


def assert_refused_config(result: DeliveryResult, *words: str) -> None:
    assert result.outcome is Outcome.INVALID_CONFIG and not result.retryable, result
    assert result.detail.startswith("email: ")
    for word in words:
        assert word in result.detail, result.detail


async def test_starttls_upgrades_before_auth(
    serve: ServerFactory, make: NotifierFactory, ca_file: Path
) -> None:
    server = serve("starttls", users=USERS)
    notifier = make(server, tls="starttls", ca_file=str(ca_file), username="alerts",
                    password="s3cret")  # fmt: skip
    firing = fixture_alerts("critical-group-firing")[0]
    first = await notifier.send(notification(firing), {})
    second = await notifier.send(notification(resolved(firing)), first.state)
    assert first.outcome is Outcome.OK and second.outcome is Outcome.OK, (first, second)
    assert first.detail == f"email: sent {first.state['message_id']} to 2"

    one, two = server.messages
    assert one.message["Subject"] == "[FIRING] HighErrorRate: High error rate"
    assert two.message["Subject"] == "[RESOLVED] HighErrorRate: High error rate"
    assert two.message["In-Reply-To"] == one.message["Message-ID"] == first.state["message_id"]
    for received in (one, two):
        assert received.starttls and received.tls in {"TLSv1.2", "TLSv1.3"}
        assert received.rcpt_tos == TO and received.mail_from == "alerts@example.org"
    # One login, after the upgrade; the burst reused the TLS connection (NOOP over TLS).
    assert server.auths == [AuthAttempt("alerts", True, one.tls, True)]
    assert notifier.connections == 1 and server.connections == 1


@pytest.mark.parametrize("username", [None, "alerts"])
async def test_starttls_server_refuses_a_plaintext_client(
    serve: ServerFactory, make: NotifierFactory, username: str | None
) -> None:
    """The positive test above is not vacuous: this server does not take mail in the clear."""
    server = serve("starttls", users=USERS)
    creds = {"username": username, "password": "s3cret"} if username else {}
    result = await send_one(make(server, tls="none", **creds))
    if username:  # AUTH is not even advertised before STARTTLS
        assert_refused_config(result, "SMTPException", "AUTH extension is not supported")
    else:
        assert_refused_config(result, "SMTPSenderRefused", "530")
    assert server.messages == [] and server.auths == []


async def test_implicit_tls_delivers(
    serve: ServerFactory, make: NotifierFactory, ca_file: Path
) -> None:
    server = serve("implicit", users=USERS)
    notifier = make(server, tls="implicit", ca_file=str(ca_file), username="alerts",
                    password="s3cret")  # fmt: skip
    result = await send_one(notifier)
    assert result.outcome is Outcome.OK and not result.retryable, result
    (received,) = server.messages
    assert received.tls in {"TLSv1.2", "TLSv1.3"} and not received.starttls
    assert received.message["Subject"].startswith("[FIRING]")
    assert received.rcpt_tos == TO
    assert server.auths == [AuthAttempt("alerts", True, received.tls, False)]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
@pytest.mark.parametrize("trust", ["system store", "another CA"])
async def test_untrusted_certificate_is_invalid_config(
    serve: ServerFactory, make: NotifierFactory, other_ca_file: Path, tls: str, trust: str
) -> None:
    server = serve(tls, users=USERS)
    extra = {"ca_file": str(other_ca_file)} if trust == "another CA" else {}
    notifier = make(server, tls=tls, validate_certs=True, username="alerts",
                    password="s3cret", **extra)  # fmt: skip
    result = await send_one(notifier)
    assert_refused_config(
        result, "TLS certificate of the server not accepted", "unable to get local issuer"
    )
    assert server.messages == [] and server.auths == []  # the password never left


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_certificate_for_another_name_is_invalid_config(
    serve: ServerFactory, make: NotifierFactory, ca_file: Path, tls: str
) -> None:
    server = serve(tls, names=("mail.internal.example",))
    result = await send_one(make(server, tls=tls, ca_file=str(ca_file)))
    assert_refused_config(result, "TLS certificate of the server not accepted", "mismatch")
    assert server.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
@pytest.mark.parametrize("trust", ["no ca_file", "another CA"])
async def test_validate_certs_false_delivers_without_the_ca(
    serve: ServerFactory, make: NotifierFactory, other_ca_file: Path, tls: str, trust: str
) -> None:
    server = serve(tls, names=("mail.internal.example",))  # wrong name too: nothing is checked
    extra = {"ca_file": str(other_ca_file)} if trust == "another CA" else {}
    result = await send_one(make(server, tls=tls, validate_certs=False, **extra))
    assert result.outcome is Outcome.OK, result
    (received,) = server.messages
    assert received.tls in {"TLSv1.2", "TLSv1.3"} and received.starttls is (tls == "starttls")


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
async def test_unusable_ca_file_is_invalid_config(
    serve: ServerFactory, make: NotifierFactory, tmp_path: Path, content: str | None
) -> None:
    server = serve("starttls")
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    notifier = make(server, tls="starttls", ca_file=str(path))
    result = await send_one(notifier)
    assert_refused_config(result, f"cannot load ca_file {path}")
    assert notifier.connections == 0 and server.messages == []


@pytest.mark.parametrize("username", [None, "alerts"])
async def test_starttls_required_but_not_offered_never_falls_back(
    serve: ServerFactory, make: NotifierFactory, ca_file: Path, username: str | None
) -> None:
    server = serve("none", users=USERS)  # plain; would even take AUTH in the clear
    creds = {"username": username, "password": "s3cret"} if username else {}
    notifier = make(server, tls="starttls", ca_file=str(ca_file), **creds)
    result = await send_one(notifier)
    assert_refused_config(result, "STARTTLS extension not supported by server")
    assert server.messages == [] and server.auths == []
    assert notifier.connections == 0
