"""API tokens with scopes: the one auth model for people and tools calling the API.

The webhook keeps its own credentials (`auth`, what Alertmanager sends); everything else
under /api and /-/ asks for a scope and is granted it by a named bearer token:

    api_tokens:
      - {name: grafana, token_file: /run/secrets/grafana-token, scopes: [read]}
      - {name: ops, token: "${OPS_TOKEN}", scopes: [admin]}

Every scope implies `read`; `admin` implies all. Who called is logged by the token's name,
never by its value. `authorize()` decides purely; receiver/api/guard.py does the I/O.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from receiver.config.loader import SecretHolder

# `openssl rand -hex 32` gives 64; 16 characters is the least we take.
MIN_TOKEN_CHARS = 16
NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
ANONYMOUS = "anonymous"


class Scope(enum.StrEnum):
    """What a token may do; `implied()` says what else it grants."""

    READ = "read"  # GET /api/v1/alerts…
    ACK = "ack"  # acknowledge alerts (and read them)
    ONCALL = "oncall"  # manage on-call overrides (and read)
    ADMIN = "admin"  # dead letters, reload (and everything else)

    def implied(self) -> frozenset[Scope]:
        if self is Scope.ADMIN:
            return frozenset(Scope)
        return frozenset({Scope.READ, self})


class ApiToken(SecretHolder):
    """One `api_tokens` entry: a name for the logs, the token (inline or from a file), and
    its scopes. The file is read when the service builds its tables, not when parsed."""

    secret_field = "token"
    name: str = Field(pattern=NAME_PATTERN)
    token: str | None = None
    token_file: str | None = None
    scopes: list[Scope] = Field(min_length=1)


def token_problems(tokens: Sequence[ApiToken], webhook: Sequence[str]) -> list[tuple[int, str]]:
    """Secrets of the wrong shape, as (index in api_tokens, message): unreadable files,
    short tokens, a value given twice, a value that is also a webhook token."""
    out: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for i, t in enumerate(tokens):
        try:
            value = t.secret()
        except ValueError as e:
            out.append((i, str(e)))
            continue
        if len(value) < MIN_TOKEN_CHARS:
            short = f"token of {t.name!r} has {len(value)} characters; use at least "
            out.append((i, short + f"{MIN_TOKEN_CHARS} random ones (`openssl rand -hex 32`)"))
        elif value in seen:
            out.append((i, f"token of {t.name!r} is also the token of {seen[value]!r}: "
                           "give each its own, so the logs say who called"))  # fmt: skip
        elif value in webhook:
            out.append((i, f"token of {t.name!r} is also a webhook token (auth.bearer_tokens):"
                           " give the API its own"))  # fmt: skip
        seen.setdefault(value, t.name)
    return out


@dataclass(frozen=True)
class Token:
    name: str
    secret: bytes
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class Access:
    """Who may call what: built from the config at start and on each reload."""

    tokens: tuple[Token, ...] = ()
    anonymous: frozenset[Scope] = frozenset()  # {READ} with `anonymous_read: true`
    webhook: tuple[bytes, ...] = ()  # webhook bearer tokens: recognised, then refused (403)

    @classmethod
    def build(
        cls, tokens: Sequence[ApiToken], anonymous_read: bool, webhook: Sequence[bytes]
    ) -> Access:
        """Reads token files (ValueError if unreadable)."""
        table = tuple(
            Token(t.name, t.secret().encode(), frozenset().union(*(s.implied() for s in t.scopes)))
            for t in tokens
        )
        return cls(table, frozenset({Scope.READ}) if anonymous_read else frozenset(),
                   tuple(webhook))  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """The answer for one request: `status` 200 lets it through as `principal`."""

    status: int
    principal: str = ""
    code: str = ""
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Header:
    """The request's single Authorization value, or why it cannot be read (`refusal`)."""

    scheme: str = ""
    value: str = ""
    present: bool = False
    refusal: Decision | None = field(default=None)


def read_authorization(values: Sequence[str]) -> Header:
    """Parses the Authorization header(s). Two are refused (400): proxies and frameworks
    disagree on which one counts, so none does. Credentials are ASCII (RFC 9110 token68);
    anything else cannot match and is refused as such (401), not failed on."""
    if not values:
        return Header()
    if len(values) > 1:
        return Header(refusal=Decision(400, code="invalid_request",
                                       detail="more than one Authorization header"))  # fmt: skip
    scheme, _, value = values[0].strip().partition(" ")
    value = value.strip()
    if not (scheme.isascii() and value.isascii()):
        return Header(present=True, refusal=Decision(401, code="unauthorized",
                      detail="credentials must be ASCII"))  # fmt: skip
    return Header(scheme.lower(), value, True)


def _match(candidates: Sequence[bytes], value: bytes) -> bool:
    ok = False
    for c in candidates:  # every one compared in constant time, whatever matched before
        ok |= hmac.compare_digest(value, c)
    return ok


def _find(access: Access, value: bytes) -> Token | None:
    found = None
    for t in access.tokens:  # every one compared in constant time, whatever matched before
        if hmac.compare_digest(value, t.secret) and found is None:
            found = t
    return found


# What a URL token refused for its scopes is told (and the log says).
URL_TOKEN_READ_ONLY = (
    "a token in the URL must be read-only: use a token whose scopes are exactly [read] for "
    "calendar URLs (URLs end up in proxy logs, browser history and calendar providers)"
)


def authorize_url_token(access: Access, value: str) -> Decision:
    """May a token given in a URL (the calendar feed's `?token=`) read? As `authorize` for
    `read`, and a token with any scope besides `read` is refused (403): a URL leaks, so it
    must never carry the power to change anything. Anything else (an unknown token) as
    `authorize`."""
    decision = authorize(access, [f"Bearer {value}"], Scope.READ)
    found = _find(access, value.encode()) if decision.allowed else None
    if found is not None and found.scopes != {Scope.READ}:
        granted = ", ".join(sorted(found.scopes))
        return Decision(403, found.name, "read_only_token_required",
                        f"token {found.name!r} grants [{granted}]: {URL_TOKEN_READ_ONLY}; "
                        "rotate it if this URL was shared")  # fmt: skip
    return decision


def authorize(access: Access, values: Sequence[str], scope: Scope) -> Decision:
    """May a request with these Authorization header values use `scope`?

    200 as the token's name (or "anonymous"); 400 two headers; 401 no or unknown
    credentials; 403 known credentials without the scope (a `read` token on an admin
    endpoint, the webhook's token on the API).
    """
    header = read_authorization(values)
    if header.refusal is not None:
        return header.refusal
    if not header.present:
        if scope in access.anonymous:
            return Decision(200, ANONYMOUS)
        return Decision(401, code="unauthorized",
                        detail=f"this endpoint needs an API token with scope {scope}")  # fmt: skip
    if header.scheme != "bearer":
        return Decision(401, code="unauthorized",
                        detail="send API tokens as `Authorization: Bearer <token>`")  # fmt: skip
    value = header.value.encode()
    found = _find(access, value)
    if found is None:
        if _match(access.webhook, value):
            return Decision(403, code="forbidden", detail="the webhook's credentials do not "
                            "grant API access: use a token from api_tokens")  # fmt: skip
        return Decision(401, code="unauthorized", detail="invalid bearer token")
    if scope not in found.scopes:
        return Decision(403, found.name, "forbidden",
                        f"token {found.name!r} lacks scope {scope}")  # fmt: skip
    return Decision(200, found.name)
